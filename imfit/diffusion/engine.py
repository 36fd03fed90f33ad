"""Diffusion presets: data files in `imfit/presets/*.json`, run by a torch engine here and by the
GLSL ping-pong engine in `viewer/gl_diffusion.py`.

Two schemes share the machinery (the third, `poisson`, lives in `imfit/poisson/`):

- `perona-malik`: per channel, 4 neighbours, flux form, zero-flux borders,
  `I += dt * sum_n g(d_n) d_n` with `g = exp(-(d/kappa)^2)` or `1/(1+(d/kappa)^2)`, kappa on the
  0..1 intensity scale, plus an optional pull towards the original (`fidelity`).
- `learned-kernel` ("Perona-Malik on drugs"): `G = K * I` with a 3x3, 3-in/3-out kernel that
  starts as the Laplacian, `I <- clamp(I + dt G exp(-(G/kappa)^2), 0, 1)`, and K learned by SGD
  through one step on MEAN losses `w_f (I_t - I_0)^2 + w_e |G| + w_d I_t^2`, so a preset looks
  the same at any image size (the original summed them: K moved faster on bigger images).

Time is in diffusion units (pixel^2): `dt` is the time one step advances, whatever the number of
substeps. The explicit step is stable only below a limit (0.25 for the classic scheme, 2/|K| for
a kernel K); `cfl` in (0, 1] is the fraction of that limit a substep may use, and a `dt` above it
is split into equal substeps (said once by `Engine.notes`), never run unstable. The original's
speckle came from running 2.4x past this limit; here the look is made by the losses instead.

Both engines share `Controller` (parameters, substep counts, schedule, kernel and SGD state), so
the torch and GL runs take the same decisions. They agree to float precision only because the
learning is not chaotic: a saturating flux (`backward` 0), momentum 0.5 (the original's 0.9 made
K oscillate) and a smoothed |G| (`softness`); with the original's values a 1e-6 difference in
rounding becomes a different picture within 50 steps (docs/presets.md, "Reproducible learning").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imfit.errors import ImfitError
from imfit.formats.gabor_json import load_json

SCHEMES = ("perona-malik", "learned-kernel", "poisson")


@dataclass(frozen=True)
class Knob:
    """One scheme parameter: default, allowed range, and what it means (for --help and keys)."""

    default: Any
    lo: float | None = None
    hi: float | None = None
    doc: str = ""
    choices: tuple[str, ...] = ()


# look_size is 0 (native) or a whole number of pixels in this range: below 32 a look has too
# few pixels to be a look, above 4096 the "downsample" would be a full-size run anyway
LOOK_SIZE_MIN, LOOK_SIZE_MAX = 32, 4096

_COMMON = {
    "dt": Knob(0.25, 1e-6, 1e4, "diffusion time one step advances (pixel^2 units)"),
    "cfl": Knob(1.0, 1e-3, 1.0, "fraction of the explicit stability limit a substep may use"),
    "period": Knob(0.0, 0.0, 1e9, "every this much time: re-inject the original (0 = never)"),
    "reinject": Knob(0.0, 0.0, 1.0, "fraction of the original mixed back each period"),
    "video_mix": Knob(0.5, 0.0, 1.0, "video: fraction of each new frame mixed into the state"),
    "look_size": Knob(256, 0, LOOK_SIZE_MAX, "longer side (px) the look is designed at: a "
                      "larger picture runs at this size and is guided-upsampled back "
                      "(imfit.diffusion.scale), so the look keeps its size relative to the "
                      "picture; 0 = run at the native resolution"),
}

PARAMS: dict[str, dict[str, Knob]] = {
    "perona-malik": {
        "kappa": Knob(0.1, 1e-4, 10.0, "edge threshold on the 0..1 intensity scale"),
        "g": Knob("exp", doc="edge-stopping function", choices=("exp", "rational")),
        "fidelity": Knob(0.0, 0.0, 100.0, "pull towards the original per unit time"),
        **_COMMON,
    },
    "learned-kernel": {
        "kappa": Knob(0.07, 1e-4, 10.0, "edge threshold of the kernel response, 0..1 scale"),
        "coupling": Knob(1.0, 0.0, 2.0, "0: per-channel Laplacian, 1: Laplacian of the mean; "
                          "above 1 colour differences anti-diffuse (grow into stipple and "
                          "saturated dots, held by the saturating flux and the 0..1 clamp)"),
        "blur": Knob(1.0, -0.5, 1.0, "diffusion rate of brightness (the grey axis) in the "
                      "starting kernel: below 1 edges and faces stay sharp for longer; 0 "
                      "keeps them; below 0 brightness anti-diffuses (sharpens into engraved "
                      "lines and dither, held by the saturating flux and the 0..1 clamp)"),
        "spin": Knob(0.0, -2.0, 2.0, "hue rotation rate of the starting kernel: an "
                      "antisymmetric channel coupling at the centre tap that turns colours "
                      "around the grey axis (greys stay); the learning bends it from there"),
        "saturate": Knob(0.0, -2.0, 2.0, "saturation growth rate of the starting kernel: "
                          "colour differences from grey times this at the centre tap (neon "
                          "where positive, held by the flux's saturation and the clamp)"),
        "ink": Knob(0.0, -2.0, 2.0, "ink-toning rate of the starting kernel: brightness times "
                     "this pushes every pixel, greys too, toward the hue `ink_hue` at the "
                     "centre tap (a monochrome ink that `spin` turns and the 0 clamp lifts "
                     "into dark areas)"),
        "ink_hue": Knob(60.0, -360.0, 360.0, "hue of the ink term in degrees about the grey "
                         "axis: 30 red, 60 sepia, 90 yellow, 150 green, 270 blue"),
        "lr": Knob(0.8, 0.0, 1e3, "SGD learning rate on the kernel (mean losses)"),
        "momentum": Knob(0.5, 0.0, 0.999, "SGD momentum (the original's 0.9 makes the kernel "
                          "oscillate: chaotic, the look differs per machine)"),
        "weight_decay": Knob(5e-4, 0.0, 1.0, "SGD weight decay"),
        "w_fidelity": Knob(1.0, 0.0, 1e3, "loss weight of (I_t - I_0)^2"),
        "w_edge": Knob(1.0, 0.0, 1e3, "loss weight of |K * I|"),
        "softness": Knob(0.05, 1e-3, 1.0, "scale below which |K * I| is smoothed, "
                          "sqrt(G^2 + softness^2): its gradient's slope is 1/softness, so small "
                          "values make the kernel learning chaotic"),
        "w_dark": Knob(1.0, 0.0, 1e3, "loss weight of I_t^2"),
        "lr_decay": Knob(0.995, 0.0, 1.0, "learning-rate factor at each period's kernel reset"),
        "backward": Knob(0.0, 0.0, 1.0, "how much of the backward (sharpening) regime |G| > "
                          "kappa/sqrt(2) to keep: 0 = saturating, stable, reproducible flux; 1 = "
                          "the original's (sharpening; with momentum 0.9 and softness 0.01, "
                          "speckle that differs per machine)"),
        "rim": Knob(0.0, 0.0, 4.0, "pigment-rim rate: along edges each channel darkens at "
                     "rim * s toward the photo's colour at a higher pigment density (floor "
                     "I0 - rim_depth (I0 - I0^2)), never below it, and diffusion fades the "
                     "rim into the wash; s = q^2 / (q^2 + rim_edge^4), q the squared RGB "
                     "gradient over the pixel's four neighbours (not |K * I|, which a darkened "
                     "pixel raises itself: that grew dark dots in fur). Anchored, so it cannot "
                     "run to black; at most 4 so that dt * rim <= 1 on a stable substep"),
        "rim_depth": Knob(0.5, 0.0, 1.0, "how much denser the rim's pigment may get: the rim "
                           "darkens each channel no lower than I0 - rim_depth (I0 - I0^2) "
                           "(Bousseau's C - (C - C^2)(d - 1), d - 1 = rim_depth; 1: the photo's "
                           "pigment laid twice, I0^2)"),
        "rim_edge": Knob(0.07, 1e-3, 10.0, "edge strength (RGB gradient norm, central "
                          "differences, 0..1 scale) at which the rim runs at half its rate: "
                          "well below it (washes) almost no rim, above it (wash edges) all"),
        **_COMMON,
    },
    "poisson": {
        "mixed": Knob(False, doc="mixed gradients: per edge, the stronger of source and "
                       "destination"),
        "tol": Knob(1e-6, 1e-12, 1e-2, "relative residual at which the solve stops"),
    },
}


@dataclass(frozen=True)
class Preset:
    """A named look: a scheme plus parameter values (the rest take the scheme's defaults)."""

    name: str
    description: str
    scheme: str
    params: dict[str, Any]
    live: tuple[str, ...] = ()
    steps: int = 100
    every: int = 10
    path: Path | None = field(default=None, compare=False)
    # what a live "randomise" draws from, NAME: (lo, hi), each around the preset's own value:
    # measured per preset (bench/ranges.py), because one range for a whole scheme would
    # throw a look away (engrave lives on a negative blur, watercolor on a low coupling)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

    def with_params(self, **overrides: Any) -> Preset:
        """A copy with some parameters changed (validated)."""
        p = dict(self.params)
        p.update(overrides)
        return Preset(self.name, self.description, self.scheme, check_params(self.scheme, p),
                      self.live, self.steps, self.every, self.path, self.ranges)


def check_params(scheme: str, values: dict[str, Any]) -> dict[str, Any]:
    """All parameters of `scheme`, defaults filled in, each checked against its range."""
    if scheme not in PARAMS:
        raise ImfitError(f"unknown scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    spec = PARAMS[scheme]
    unknown = sorted(set(values) - set(spec))
    if unknown:
        raise ImfitError(f"scheme {scheme} has no parameter {unknown[0]!r}; "
                         f"it has {', '.join(spec)}")
    out: dict[str, Any] = {}
    for name, prm in spec.items():
        v = values.get(name, prm.default)
        if prm.choices:
            if v not in prm.choices:
                raise ImfitError(f"{name} must be one of {', '.join(prm.choices)}, got {v!r}")
        elif name == "look_size":
            if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                    or v != int(v)
                    or not (v == 0 or LOOK_SIZE_MIN <= v <= LOOK_SIZE_MAX)):
                raise ImfitError(f"look_size must be 0 (native resolution) or a whole number "
                                 f"of pixels in [{LOOK_SIZE_MIN}, {LOOK_SIZE_MAX}], got {v!r}")
            v = int(v)
        elif isinstance(prm.default, bool):
            if not isinstance(v, bool):
                raise ImfitError(f"{name} must be true or false, got {v!r}")
        else:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ImfitError(f"{name} must be a number, got {v!r}")
            v = float(v)
            if name == "cfl" and v > 1.0:
                raise ImfitError(f"cfl {v} is above 1: an explicit step past the stability "
                                 "limit grows noise instead of diffusing (use cfl <= 1)")
            if (prm.lo is not None and v < prm.lo) or (prm.hi is not None and v > prm.hi):
                raise ImfitError(f"{name} must be in [{prm.lo:g}, {prm.hi:g}], got {v:g}")
        out[name] = v
    if out.get("period", 0) > 0 and out.get("period", 0) < out.get("dt", 0):
        raise ImfitError(f"period {out['period']:g} is shorter than one step (dt "
                         f"{out['dt']:g})")
    return out


# -- preset files ------------------------------------------------------------------------------
def _preset_dir() -> Path:
    return Path(__file__).with_name("presets")


def parse_preset(data: Any, path: Path | None = None) -> Preset:
    """Validate one preset's JSON object; every bad field is one line naming it."""
    from imfit.validate import whole

    where = path.name if path else "preset"
    if not isinstance(data, dict):
        raise ImfitError(f"{where}: a preset is a JSON object")
    for key in ("name", "scheme"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ImfitError(f"{where}: {key!r} must be a non-empty string, got "
                             f"{data.get(key)!r}"[:200])
    name, scheme = data["name"], data["scheme"]
    params = data.get("parameters", {})
    if not isinstance(params, dict):
        raise ImfitError(f"{where}: 'parameters' must be an object of NAME: VALUE")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ImfitError(f"{where}: 'description' must be a string")
    try:
        steps = whole(data.get("steps", 100), "'steps'", 1, 10_000_000)
        every = whole(data.get("every", 10), "'every'", 1, 10_000_000)
    except ImfitError as e:
        raise ImfitError(f"{where}: {e}") from None
    live = data.get("live", [])
    if not isinstance(live, list) or not all(isinstance(k, str) for k in live):
        raise ImfitError(f"{where}: 'live' must be a list of parameter names, got {live!r}"[:200])
    try:
        checked = check_params(scheme, params)
    except ImfitError as e:
        raise ImfitError(f"{where}: {e}") from None
    for k in live:
        if k not in checked:
            raise ImfitError(f"{where}: live parameter {k!r} is not a parameter of {scheme}")
    try:
        ranges = check_ranges(scheme, checked, data.get("ranges", {}))
    except ImfitError as e:
        raise ImfitError(f"{where}: {e}") from None
    return Preset(name, description, scheme, checked, tuple(live), steps, every, path, ranges)


def check_ranges(scheme: str, params: dict[str, Any],
                 ranges: Any) -> dict[str, tuple[float, float]]:
    """A preset's randomise ranges, checked: numeric parameters of the scheme, lo < hi, both
    ends allowed values, and the preset's own value inside (a draw is a variation of the look,
    not another look)."""
    if not isinstance(ranges, dict):
        raise ImfitError("'ranges' must be an object of NAME: [LO, HI]")
    out: dict[str, tuple[float, float]] = {}
    spec = PARAMS[scheme]
    for name, pair in ranges.items():
        prm = spec.get(name)
        if prm is None or prm.choices or isinstance(prm.default, bool) or name == "look_size":
            raise ImfitError(f"range {name!r} is not a numeric parameter of {scheme}")
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v) for v in pair)):
            raise ImfitError(f"range {name!r} must be [LO, HI], two numbers, got {pair!r}"[:200])
        lo, hi = float(pair[0]), float(pair[1])
        if not lo < hi:
            raise ImfitError(f"range {name!r}: LO {lo:g} must be below HI {hi:g}")
        for v in (lo, hi):
            check_params(scheme, {**params, name: v})
        if not lo <= params[name] <= hi:
            raise ImfitError(f"range {name!r} [{lo:g}, {hi:g}] does not hold the preset's own "
                             f"value {params[name]:g}")
        out[name] = (lo, hi)
    return out


def list_presets() -> list[Preset]:
    """Every preset shipped in imfit/presets, sorted by name."""
    out = []
    for p in sorted(_preset_dir().glob("*.json")):
        out.append(parse_preset(load_json(p, "preset .json"), p))
    return sorted(out, key=lambda p: p.name)


def load_preset(name: str) -> Preset:
    """A shipped preset by name, or a preset .json file by path."""
    p = Path(name)
    if p.suffix.lower() == ".json":
        return parse_preset(load_json(p, "preset .json"), p)
    presets = {pr.name: pr for pr in list_presets()}
    if name not in presets:
        raise ImfitError(f"unknown preset {name!r}; known: {', '.join(sorted(presets))} "
                         "(or a path to a preset .json)")
    return presets[name]


FALLBACK_SPREAD = 0.05  # a preset without ranges varies its live numbers by +-5 %


def draw_ranges(preset: Preset) -> dict[str, tuple[float, float]]:
    """The ranges a randomise draws from: the preset's own, else +-FALLBACK_SPREAD of each of
    its nonzero live numbers (a user's preset has not been measured: vary it gently)."""
    if preset.ranges:
        return dict(preset.ranges)
    out = {}
    for k in preset.live:
        v = preset.params.get(k)
        if isinstance(v, float) and v != 0.0:
            lo, hi = sorted((v * (1 - FALLBACK_SPREAD), v * (1 + FALLBACK_SPREAD)))
            prm = PARAMS[preset.scheme][k]
            out[k] = (max(lo, prm.lo) if prm.lo is not None else lo,
                      min(hi, prm.hi) if prm.hi is not None else hi)
    return out


def randomise_params(preset: Preset, seed: int) -> Preset:
    """The preset with each of its `draw_ranges` parameters drawn uniformly (seeded: the same
    seed gives the same preset), named `NAME-rSEED` so that a saved copy says where it came
    from; the ranges travel with it, so randomising the copy again stays in the same look."""
    rng = np.random.default_rng(seed)
    ranges = draw_ranges(preset)
    draw = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in sorted(ranges.items())}
    out = preset.with_params(**draw)
    base = re.sub(r"-r\d+$", "", preset.name)
    desc = re.sub(r" \(randomised, seed \d+\)$", "", preset.description)
    return Preset(f"{base}-r{seed}", f"{desc} (randomised, seed {seed})", out.scheme,
                  out.params, out.live, out.steps, out.every, None, preset.ranges)


def preset_json(preset: Preset) -> str:
    """The preset as the JSON text `load_preset` reads back (parameters in full)."""
    return json.dumps({"name": preset.name, "description": preset.description,
                       "scheme": preset.scheme, "parameters": preset.params,
                       "live": list(preset.live), "steps": preset.steps,
                       "every": preset.every,
                       "ranges": {k: list(v) for k, v in preset.ranges.items()}},
                      indent=2) + "\n"


# -- the shared controller ---------------------------------------------------------------------
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float64)


# the generator of rotations about the grey axis (1, 1, 1)/sqrt(3): antisymmetric, rows sum to 0
HUE_ROTATION = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], np.float64) / math.sqrt(3)


def ink_direction(hue_deg: float) -> np.ndarray:
    """The unit chroma vector (zero-sum RGB) at `hue_deg` degrees about the grey axis, from
    (1, -1, 0)/sqrt 2 (0 degrees) toward (1, 1, -2)/sqrt 6 (90, yellow): red is at 30, blue at
    270; HUE_ROTATION turns colours the way the angle grows."""
    h = math.radians(hue_deg)
    return (math.cos(h) * np.array([1.0, -1.0, 0.0]) / math.sqrt(2)
            + math.sin(h) * np.array([1.0, 1.0, -2.0]) / math.sqrt(6))


def initial_kernel(coupling: float, spin: float = 0.0, saturate: float = 0.0,
                   blur: float = 1.0, ink: float = 0.0, ink_hue: float = 60.0) -> np.ndarray:
    """(3 out, 3 in, 3, 3): the Laplacian through a channel-mixing matrix, plus a hue rotation.

    The mixing matrix is `blur J/3 + (1 - coupling)(I - J/3)`: brightness (the grey axis)
    diffuses at rate `blur`, colour differences at rate 1 - coupling. coupling 0 gives each channel
    its own Laplacian; 1 gives every channel the Laplacian of the mean of R, G, B (the original
    used the Laplacian of their SUM, three times stronger, which is what put its dt = 0.2 past
    the stability limit); above 1 colour differences anti-diffuse, which is the original's
    coloured speckle made on purpose: brightness, hence the picture, stays readable.
    `spin` adds `spin * HUE_ROTATION` at the centre tap: dI/dt = spin R I turns each colour
    about the grey axis at `spin` radians per unit time, the palette drift; `saturate` adds
    `saturate * (I - J/3)`, which moves every colour away from grey at that rate; `ink` adds
    `ink * u (1, 1, 1)/3` with u = ink_direction(ink_hue): dI/dt = ink * mean(I) * u tints
    every pixel, greys included, in proportion to its brightness toward one hue (toning: the
    whole picture in one ink), keeping the mean of R, G, B (u sums to 0) until a channel
    reaches 0; with `spin` the ink's hue turns over time (sepia -> oxblood -> indigo).
    """
    mix = (1 - coupling) * np.eye(3) + (coupling - 1 + blur) * np.full((3, 3), 1 / 3)
    k = mix[:, :, None, None] * LAPLACIAN[None, None]
    k[:, :, 1, 1] += (spin * HUE_ROTATION + saturate * (np.eye(3) - 1 / 3)
                      + ink * np.outer(ink_direction(ink_hue), np.full(3, 1 / 3)))
    return k.astype(np.float32)


def kernel_bound(k: np.ndarray) -> float:
    """An upper bound on |K^(omega)| over all frequencies: the largest absolute row sum.

    The linearised step multiplies a Fourier mode by 1 + dt * phi' * K^(omega) with phi' in
    [-0.45, 1], so dt <= 2 / bound keeps every mode from growing. For the Laplacian the bound
    is exactly 8 (the checkerboard), giving the classic 0.25.
    """
    return float(np.abs(k.astype(np.float64)).reshape(3, -1).sum(1).max())


class Controller:
    """Everything both engines decide the same way: parameters, substeps, schedule, the kernel.

    The engines do the per-pixel work; for the learned kernel they hand back the gradient of
    the loss w.r.t. K after each substep (`learn`), and this class runs SGD on it.
    """

    def __init__(self, preset: Preset) -> None:
        if preset.scheme == "poisson":
            raise ImfitError("poisson is a blending preset: use `imfit blend SRC DST --mask M`")
        self.preset = preset
        self.p = dict(preset.params)
        self.step_count = 0
        self.notes: list[str] = []
        self._noted_substeps = 0
        self.reset_kernel(first=True)

    # parameters that may change while running (viewer keys)
    def set(self, name: str, value: Any) -> None:
        p = dict(self.p)
        p[name] = value
        self.p = check_params(self.preset.scheme, p)
        if name in ("coupling", "spin", "saturate", "blur", "ink", "ink_hue"):
            self.reset_kernel(first=True)

    @property
    def learned(self) -> bool:
        return self.preset.scheme == "learned-kernel"

    def reset_kernel(self, first: bool = False) -> None:
        if not self.learned:
            return
        self.k = initial_kernel(self.p["coupling"], self.p["spin"], self.p["saturate"],
                                self.p["blur"], self.p["ink"],
                                self.p["ink_hue"]).astype(np.float64)
        self.velocity: np.ndarray | None = None
        if first:
            self.lr = self.p["lr"]
        else:
            self.lr *= self.p["lr_decay"]

    def kernel(self) -> np.ndarray:
        """K as float32 (3, 3, 3, 3), what the engines convolve with."""
        return self.k.astype(np.float32)

    def limit(self) -> float:
        """The largest stable substep: 1/(4 + fidelity) for Perona-Malik; 2/8 for a kernel,
        whose bound is held at 8 * (limit / substep) by `learn` (the Laplacian's is 8)."""
        if self.learned:
            return 2.0 / 8.0
        return 1.0 / (4.0 + self.p["fidelity"])

    def substeps(self) -> int:
        """How many equal substeps a step needs so that each is within cfl * limit.

        It depends on the parameters only, never on the learned kernel, so two engines whose
        kernels differ by rounding never take a different number of substeps.
        """
        lim = self.p["cfl"] * self.limit()
        n = max(1, math.ceil(self.p["dt"] / lim - 1e-9))
        if n > 1 and n > self._noted_substeps:
            self._noted_substeps = n
            self.notes.append(f"dt {self.p['dt']:g} is above the stable step {lim:.4g} "
                              f"(cfl {self.p['cfl']:g}): running {n} substeps per step")
        if n > 10_000:
            raise ImfitError(f"dt {self.p['dt']:g} needs {n} substeps to stay stable; "
                             "use a smaller dt")
        return n

    def learn(self, grad: np.ndarray, fraction: float) -> None:
        """One SGD step (torch.optim.SGD's rule) on K, scaled by the substep's share of dt,
        then K is projected back into the stable set: bound(K) * substep <= 2 * cfl.

        The projection (a uniform rescale) is continuous in K, unlike changing the substep
        count, so the torch and GL runs cannot fall on different sides of a threshold.
        """
        g = grad.astype(np.float64) + self.p["weight_decay"] * self.k
        mu = self.p["momentum"]
        self.velocity = g.copy() if self.velocity is None else mu * self.velocity + g
        self.k = self.k - self.lr * fraction * self.velocity
        dt_sub = self.p["dt"] / self.substeps()
        cap = 2.0 * self.p["cfl"] / dt_sub
        bound = kernel_bound(self.k)
        if bound > cap:
            self.k *= cap / bound

    def end_step(self) -> bool:
        """Advance the step counter; True when a period ended (re-inject, kernel reset)."""
        self.step_count += 1
        per = self.p["period"]
        if per <= 0:
            return False
        dt = self.p["dt"]
        crossed = (math.floor(self.step_count * dt / per + 1e-9)
                   > math.floor((self.step_count - 1) * dt / per + 1e-9))
        if crossed:
            self.reset_kernel()
        return crossed

    @property
    def time(self) -> float:
        return self.step_count * self.p["dt"]


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Check and convert an input picture to float32 (H, W, 3) 0..1 (grey is replicated)."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, -1)
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ImfitError(f"expected an (H, W, 3) image, got shape {a.shape}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, -1)
    if a.shape[-1] == 4:
        a = a[..., :3] * a[..., 3:]
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    if min(a.shape[:2]) < 2:
        raise ImfitError(f"image is {a.shape[1]}x{a.shape[0]}; diffusion needs at least 2 "
                         "pixels a side")
    if not np.isfinite(a).all():
        raise ImfitError("image has NaN or infinite values")
    return np.clip(a, 0, 1).astype(np.float32)


# -- the torch engine --------------------------------------------------------------------------
class TorchDiffusion:
    """The torch reference engine: ping-pong between two padded buffers, one band of rows at a
    time through preallocated temporaries.

    Why bands: whole-image temporaries at 2048x2048 (50 MB each) make every op a page-fault
    storm; bands of ~64k values stay in cache and allocate nothing per step, so memory is
    constant over any number of steps. Why padded buffers: a one-pixel replicated border makes
    every neighbour a plain slice and gives zero-flux borders for free (the difference across
    the border is 0).

    On CPU, Perona-Malik substeps run the fused C step `imfit/_diffusion_kernel.c` (each edge's
    flux once, one pass over memory) when it builds; `fast=False`, another device or
    `IMFIT_NO_CKERNEL=1` keep the banded torch code, its tested twin. `threads` splits the C
    step's rows (the result does not depend on it).
    """

    # ~1 MB bands: at 64k values the per-op overhead of ~12 ops per band was most of the step
    BAND_VALUES = 1 << 18

    def __init__(self, preset: Preset, image: np.ndarray, device: str = "cpu",
                 fast: bool = True, threads: int = 1) -> None:
        import torch

        from imfit import native

        self.torch = torch
        self.ctl = Controller(preset)
        img = as_rgb(image)
        self.h, self.w = img.shape[:2]
        h, w = self.h, self.w
        self.device = torch.device(device)
        self.fast = (fast and not self.ctl.learned and self.device.type == "cpu"
                     and native.available(native.DIFFUSION))
        self.threads = max(1, threads)
        z = dict(dtype=torch.float32, device=self.device)
        self.buf = [torch.zeros(3, h + 2, w + 2, **z), torch.zeros(3, h + 2, w + 2, **z)]
        self.orig = torch.zeros(3, h + 2, w + 2, **z)
        self.cur = 0
        hb = max(1, min(h, self.BAND_VALUES // (3 * w)))
        self.hb = hb
        self.dv = torch.empty(3, hb + 1, w, **z)
        self.tv = torch.empty(3, hb + 1, w, **z)
        self.dh = torch.empty(3, hb, w + 1, **z)
        self.th = torch.empty(3, hb, w + 1, **z)
        self.acc = torch.empty(3, hb, w, **z)
        if self.ctl.learned:
            self.col = torch.empty(27, hb * w, **z)
            self.kmat = torch.empty(3, 27, **z)
            self.grad = torch.zeros(3, 27, **z)
            self.gb = torch.empty(3, hb * w, **z)
            self.t1 = torch.empty(3, hb * w, **z)
            self.t2 = torch.empty(3, hb * w, **z)
            self.t3 = torch.empty(3, hb * w, **z)
            self.t4 = torch.empty(3, hb * w, **z)   # the rim's (I - floor)+
            self.s1 = torch.empty(1, hb * w, **z)   # the rim's q = |grad I|^2
            self.s2 = torch.empty(1, hb * w, **z)   # rim s(q)
            self.s3 = torch.empty(1, hb * w, **z)   # q^2 + rim_edge^4
        self.reset(img)

    # -- state ---------------------------------------------------------------------------------
    def _load(self, dst: Any, img: np.ndarray) -> None:
        dst[:, 1:-1, 1:-1].copy_(self.torch.from_numpy(np.ascontiguousarray(
            img.transpose(2, 0, 1))))
        self._halo(dst)

    @staticmethod
    def _halo(p: Any) -> None:
        p[:, 0, :].copy_(p[:, 1, :])
        p[:, -1, :].copy_(p[:, -2, :])
        p[:, :, 0].copy_(p[:, :, 1])
        p[:, :, -1].copy_(p[:, :, -2])

    def reset(self, image: np.ndarray | None = None) -> None:
        """Start again from `image` (default: the original)."""
        if image is not None:
            self._load(self.orig, as_rgb(image))
        self.buf[0].copy_(self.orig)
        self.cur = 0
        self.ctl.step_count = 0
        self.ctl.reset_kernel(first=True)

    def new_frame(self, frame: np.ndarray) -> None:
        """Video warm start: the new frame becomes the original and is mixed into the state;
        the running state (and a learned kernel) carry over, which keeps flicker low."""
        img = as_rgb(frame)
        if img.shape[:2] != (self.h, self.w):
            raise ImfitError(f"video frame is {img.shape[1]}x{img.shape[0]}, the first was "
                             f"{self.w}x{self.h}")
        self._load(self.orig, img)
        self.buf[self.cur].lerp_(self.orig, self.ctl.p["video_mix"])

    def image(self) -> np.ndarray:
        """The current state as float32 (H, W, 3)."""
        return self.buf[self.cur][:, 1:-1, 1:-1].permute(1, 2, 0).cpu().numpy().copy()

    # -- stepping ------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance n steps (each of time dt, in as many substeps as stability needs)."""
        from imfit.native import single_thread

        ctl = self.ctl
        with self.torch.no_grad(), single_thread():
            for _ in range(n):
                subs = ctl.substeps()
                dt = ctl.p["dt"] / subs
                for _ in range(subs):
                    src, dst = self.buf[self.cur], self.buf[1 - self.cur]
                    if ctl.learned:
                        self._learned_substep(src, dst, dt, 1.0 / subs)
                    else:
                        self._pm_substep(src, dst, dt)
                    self._halo(dst)
                    self.cur = 1 - self.cur
                if ctl.end_step() and ctl.p["reinject"] > 0:
                    self.buf[self.cur].lerp_(self.orig, ctl.p["reinject"])

    def _bands(self) -> Any:
        for r0 in range(0, self.h, self.hb):
            yield r0, min(self.hb, self.h - r0)

    def _pm_substep(self, src: Any, dst: Any, dt: float) -> None:
        torch, w = self.torch, self.w
        p = self.ctl.p
        if self.fast:
            from imfit import native

            native.pm_step(src, dst, self.orig, dt, p["kappa"], p["g"] == "rational",
                            p["fidelity"], self.threads)
            return
        inv_k2 = 1.0 / (p["kappa"] ** 2)
        rational = p["g"] == "rational"
        beta = p["fidelity"]
        for r0, h in self._bands():
            dv, tv = self.dv[:, :h + 1], self.tv[:, :h + 1]
            dh, th = self.dh[:, :h], self.th[:, :h]
            acc = self.acc[:, :h]
            c = src[:, r0 + 1:r0 + 1 + h, 1:w + 1]
            # edges above each row of the band and below its last row
            torch.sub(src[:, r0 + 1:r0 + 2 + h, 1:w + 1], src[:, r0:r0 + 1 + h, 1:w + 1], out=dv)
            torch.sub(src[:, r0 + 1:r0 + 1 + h, 1:w + 2], src[:, r0 + 1:r0 + 1 + h, 0:w + 1],
                      out=dh)
            for d, t in ((dv, tv), (dh, th)):
                torch.mul(d, d, out=t)
                if rational:
                    t.mul_(inv_k2).add_(1.0).reciprocal_()
                else:
                    t.mul_(-inv_k2).exp_()
                t.mul_(d)  # flux g(d) d
            torch.sub(tv[:, 1:], tv[:, :-1], out=acc)
            acc.add_(th[:, :, 1:]).sub_(th[:, :, :-1])
            if beta > 0:
                acc.add_(self.orig[:, r0 + 1:r0 + 1 + h, 1:w + 1], alpha=beta)
                acc.sub_(c, alpha=beta)
            torch.add(c, acc, alpha=dt, out=dst[:, r0 + 1:r0 + 1 + h, 1:w + 1])

    def _learned_substep(self, src: Any, dst: Any, dt: float, fraction: float) -> None:
        """One substep of I <- clamp(I + dt (phi(K * I) - rim s (I - floor)+), 0, 1), then one
        SGD step on K from the exact gradient of the mean losses through it.

        The pigment-rim term (`rim` > 0) is gated by the RGB gradient over the four
        neighbours, which does not depend on K: so it changes the picture the loss sees, but
        adds nothing to dL/dK, and the gradient below is exact with or without it (autograd
        agrees, tests/test_rims.py). Why not |K * I| as the gate: a darkened pixel raises its
        own |K * I| and the rim fed on itself into dark dots in the fur. rim 0 skips the term
        entirely: the frames are bit for bit those without the knob.
        """
        torch, w = self.torch, self.w
        p = self.ctl.p
        k = self.ctl.kernel()
        # kmat[o, (a*3+b)*3 + i] = K[o, i, a, b], matching the im2col row order below
        self.kmat.copy_(torch.from_numpy(np.ascontiguousarray(k.transpose(0, 2, 3, 1)
                                                              .reshape(3, 27))))
        inv_k2 = 1.0 / (p["kappa"] ** 2)
        turn = p["kappa"] / math.sqrt(2.0)
        back = float(p.get("backward", 0.0))
        soft2 = p["softness"] ** 2
        rim, e4 = float(p.get("rim", 0.0)), float(p.get("rim_edge", 0.07)) ** 4
        depth = float(p.get("rim_depth", 0.5))
        m = 3.0 * self.h * self.w
        wf, we, wd = 2 * p["w_fidelity"] / m, p["w_edge"] / m, 2 * p["w_dark"] / m
        self.grad.zero_()
        for r0, h in self._bands():
            n = h * w
            col = self.col[:, :n]
            for a in range(3):
                for b in range(3):
                    j = (a * 3 + b) * 3
                    col[j:j + 3].view(3, h, w).copy_(src[:, r0 + a:r0 + a + h, b:b + w])
            g, t1, t2, t3 = self.gb[:, :n], self.t1[:, :n], self.t2[:, :n], self.t3[:, :n]
            torch.mm(self.kmat, col, out=g)                      # G = K * I
            # phi = Gs exp(-(Gs/k)^2) with Gs = G clamped at the flux's turning point k/sqrt(2)
            # (monotone, so the step cannot sharpen and rounding cannot grow), blended with the
            # unclamped flux by `backward`; see flux_blend()
            torch.clamp(g, -turn, turn, out=t2)                   # Gs
            torch.mul(t2, t2, out=t1).mul_(-inv_k2).exp_()       # e(Gs)
            t2.mul_(t1)                                          # phi_s = Gs e(Gs)
            if back > 0:
                torch.mul(g, g, out=t3).mul_(-inv_k2).exp_()     # e(G)
                t1.copy_(t3)                                     # keep e(G) for phi'
                t3.mul_(g).sub_(t2).mul_(back)                   # back (phi(G) - phi_s)
                t2.add_(t3)
            else:
                torch.mul(g, g, out=t1).mul_(-inv_k2).exp_()     # e(G) for phi' below
            c = col[12:15]                                       # the centre tap: I itself
            i0 = self.orig[:, r0 + 1:r0 + 1 + h, 1:w + 1]
            if rim > 0:
                # pigment rims: flow -= rim s (I - floor)+, s = q^2 / (q^2 + e^4), q = the RGB
                # |grad I|^2 by central differences over the 4 neighbours (taps of col)
                q, den, rs = self.s1[:, :n], self.s3[:, :n], self.s2[:, :n]
                d = self.t4[:, :n]
                torch.sub(col[15:18], col[9:12], out=t3).mul_(0.5)  # d/dx: right - left
                torch.mul(t3, t3, out=d)
                torch.sub(col[21:24], col[3:6], out=t3).mul_(0.5)   # d/dy: below - above
                d.addcmul_(t3, t3)
                torch.sum(d, 0, keepdim=True, out=q)                # q = |grad I|^2
                torch.mul(q, q, out=den).add_(e4)                   # q^2 + e^4
                dv = d.view(3, h, w)                                # the rim's floor:
                torch.mul(i0, i0, out=dv)
                torch.sub(i0, dv, out=dv).mul_(-depth).add_(i0)     # I0 - depth (I0 - I0^2)
                torch.sub(c, d, out=d).clamp_(min=0.0)              # (I - floor)+
                torch.reciprocal(den, out=rs).mul_(-e4).add_(1.0).mul_(rim)  # rim s
                torch.mul(d, rs, out=t3)
                t2.sub_(t3)
            torch.add(c, t2, alpha=dt, out=t3)                   # pre-clamp update
            out = dst[:, r0 + 1:r0 + 1 + h, 1:w + 1]
            out.copy_(t3.view(3, h, w)).clamp_(0.0, 1.0)
            # dL/dG through one step; the clamp passes the gradient straight through. The
            # hard clamp's zero gradient jumps whenever a saturated pixel's update rounds to
            # either side of 0 or 1, which let two engines' kernels drift apart.
            e = t2                                               # phi is no longer needed
            torch.sub(out, i0, out=e.view(3, h, w)).mul_(wf)     # dL/dI' = wf (I'-I0) + wd I'
            e.view(3, h, w).add_(out, alpha=wd)
            e.mul_(dt)
            t3.copy_(g).mul_(g).mul_(-2 * inv_k2).add_(1.0).mul_(t1)  # phi'(G), unclamped
            if back < 1:  # phi' < 0 exactly where |G| > turn: the saturated flux has slope 0
                t1.copy_(t3).clamp_(max=0.0).mul_(back - 1.0)
                t3.add_(t1)
            e.mul_(t3)
            # d|G|_eps/dG = G / sqrt(G^2 + eps^2): a smooth |G|, so that engines whose G differ
            # by rounding near 0 do not take opposite signs (sign() made torch and GL drift)
            torch.mul(g, g, out=t1).add_(soft2).rsqrt_().mul_(g)
            e.add_(t1, alpha=we)
            self.grad.addmm_(e, col.t())
        gk = self.grad.cpu().numpy().reshape(3, 3, 3, 3).transpose(0, 3, 1, 2)
        self.ctl.learn(gk, fraction)


# -- running a preset over an image or a video --------------------------------------------------
def diffuse_frames(preset: Preset, frames: list[np.ndarray], steps: int, every: int,
                   engine: Any = None, progress: Callable[[int], None] | None = None,
                   device: Any = "cpu") -> Any:
    """Yield output frames (float32 (H, W, 3)).

    One input picture: the picture itself, then the state every `every` steps up to `steps`.
    Several (a video): one output per input frame after `steps` steps, warm-started from the
    previous state (`new_frame`), so the look evolves smoothly instead of flickering.
    `engine(preset, image)` builds the engine (default TorchDiffusion on `device`, any name
    `imfit.device.resolve` takes; the GL one fits too); a picture larger than the preset's
    `look_size` runs at that size inside `imfit.diffusion.scale.LookScale`. `progress(n)` is
    told of every few steps done (n of them), for a progress bar; steps run in chunks of at
    most 10 so that a bar moves even when frames are far apart.
    """
    if steps < 1:
        raise ImfitError(f"--steps must be at least 1, got {steps}")
    if every < 1:
        raise ImfitError(f"--every must be at least 1, got {every}")
    if not frames:
        raise ImfitError("no input frames")
    from imfit.device import resolve

    dev = resolve(device)

    def torch_engine(p: Preset, img: np.ndarray) -> TorchDiffusion:
        return TorchDiffusion(p, img, device=str(dev))

    from imfit.diffusion.scale import at_look_size

    # above the preset's look_size the engine runs at it and frames come back guided-upsampled
    eng = at_look_size(engine or torch_engine, preset, frames[0], dev)

    def run(n: int) -> None:
        while n > 0:
            k = min(n, 10)
            eng.step(k)
            n -= k
            if progress is not None:
                progress(k)

    if len(frames) == 1:
        yield as_rgb(frames[0])
        done = 0
        while done < steps:
            n = min(every, steps - done)
            run(n)
            done += n
            yield eng.image()
        return
    for i, f in enumerate(frames):
        if i:
            eng.new_frame(f)
        run(steps)
        yield eng.image()


def read_diffusion_input(path: str | Path, size: int | None = None,
                         renderer: Any = None) -> tuple[list[np.ndarray], list[str]]:
    """The frames to diffuse and notes for the user: a picture, a fit (.gabor.json or
    torch-imfit .txt, rendered with `renderer(gs, w, h)`), a folder of frames or a video."""
    from imfit.formats.images import fit_size, read_image, resize_area
    from imfit.formats.video import read_frames
    from imfit.validate import MAX_SIDE, image_size, whole

    path = Path(path)
    notes: list[str] = []
    name = path.name.lower()
    if size is not None:  # before anything is read or allocated
        whole(size, "size", 4, MAX_SIDE)
    if name.endswith((".gabor.json", ".json", ".txt")):
        from imfit.formats.readers import read
        from imfit.renderers.gabor import render as torch_render

        gs = read(path)
        w, h = (gs.width, gs.height) if size is None else fit_size(gs.width, gs.height, size)
        image_size(w, h, "diffusion size")
        render = renderer or torch_render
        frames = [np.asarray(render(gs, w, h), np.float32)]
        notes.append(f"rendered the fit ({len(gs)} wavelets) at {w}x{h}")
    elif path.is_dir() or path.suffix.lower() in (".mp4", ".gif", ".mov", ".webm", ".mkv",
                                                  ".avi"):
        frames = read_frames(path)
        if not frames:
            raise ImfitError(f"{path}: no frames")
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise ImfitError(f"{path}: frames differ in size ({len(shapes)} sizes)")
    else:
        rgb, alpha = read_image(path)
        if alpha is not None:
            rgb = rgb * alpha[..., None]
            notes.append(f"{path.name} has alpha: composited on black")
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
            notes.append(f"{path.name} is grey: diffused as three equal channels")
        frames = [rgb]
    if size is not None and not name.endswith((".json", ".txt")):
        h, w = frames[0].shape[:2]
        tw, th = fit_size(w, h, size)
        image_size(tw, th, "diffusion size")
        frames = [resize_area(f, tw, th) for f in frames]
    for f in frames[:1]:
        if min(f.shape[:2]) < 4:
            raise ImfitError(f"{path}: {f.shape[1]}x{f.shape[0]} is too small to diffuse")
    return [as_rgb(f) for f in frames], notes
