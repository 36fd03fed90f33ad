"""Pure edit functions on a GaborSet: a new set out, the input untouched.

The viewer's keys, `imfit edit` and the animation commands all call these, so a change made live
is the same change made from the command line. Angles in radians, positions in plane units.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from imfit import validate
from imfit.errors import ImfitError
from imfit.model.gaborset import COL, GaborSet


def _rgb(v: float | Sequence[float], name: str) -> np.ndarray:
    a = np.asarray(v, np.float64).reshape(-1)
    if a.size == 1:
        a = np.repeat(a, 3)
    if a.size != 3 or not np.isfinite(a).all():
        raise ImfitError(f"{name} must be one number or three (R,G,B), got {v!r}")
    return a


def _positive(v: float, name: str) -> float:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        raise ImfitError(f"{name} must be a positive number, got {v!r}")
    return float(v)


def _with(gs: GaborSet, p: np.ndarray, **kw: object) -> GaborSet:
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32 is inf: GaborSet
        p32 = p.astype(np.float32)  # refuses it in one line, without a warning first
    return gs.replace(params=p32, **kw)


def scale(gs: GaborSet, sigma: float = 1.0, gamma: float = 1.0,
          wavelength: float = 1.0) -> GaborSet:
    """Multiply window widths and the wavelength (1 = unchanged)."""
    p = gs.params.astype(np.float64)
    p[:, COL["sigma"]] *= _positive(sigma, "sigma scale")
    p[:, COL["gamma"]] *= _positive(gamma, "gamma scale")
    p[:, COL["wavelength"]] *= _positive(wavelength, "wavelength scale")
    return _with(gs, p)


def rotate_wavelets(gs: GaborSet, angle: float) -> GaborSet:
    """Turn every wavelet about its own centre by `angle` radians (positions stay)."""
    p = gs.params.astype(np.float64)
    p[:, COL["theta"]] += angle
    return _with(gs, p)


def rotate_field(gs: GaborSet, angle: float,
                 center: tuple[float, float] = (0.0, 0.0)) -> GaborSet:
    """Rotate the whole picture by `angle` radians about `center` (positions and orientations).

    With y pointing down, a positive angle turns the picture clockwise on screen.
    """
    p = gs.params.astype(np.float64)
    c, s = math.cos(angle), math.sin(angle)
    dx, dy = p[:, 0] - center[0], p[:, 1] - center[1]
    p[:, 0] = center[0] + c * dx - s * dy
    p[:, 1] = center[1] + s * dx + c * dy
    p[:, COL["theta"]] += angle
    return _with(gs, p)


def translate(gs: GaborSet, dx: float, dy: float) -> GaborSet:
    p = gs.params.astype(np.float64)
    p[:, 0] += dx
    p[:, 1] += dy
    return _with(gs, p)


def shift_phase(gs: GaborSet, radians: float | Sequence[float]) -> GaborSet:
    """Add to every phase (one number, or R,G,B): moves the stripes along each wave."""
    p = gs.params.astype(np.float64)
    p[:, 6:9] += _rgb(radians, "phase shift")
    return _with(gs, p)


def gain(gs: GaborSet, g: float | Sequence[float]) -> GaborSet:
    """Multiply amplitudes (one number, or per channel R,G,B). Negative flips the contrast."""
    p = gs.params.astype(np.float64)
    p[:, 9:12] *= _rgb(g, "gain")
    return _with(gs, p)


def with_bias(gs: GaborSet, bias: float | Sequence[float]) -> GaborSet:
    return gs.replace(bias=tuple(_rgb(bias, "bias")))


def top_k(gs: GaborSet, k: int) -> GaborSet:
    """The k highest-energy wavelets, strongest first."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ImfitError(f"top-k needs a count >= 0, got {k!r}")
    if k > len(gs):
        raise ImfitError(f"top-k {k} is more than the {len(gs)} wavelets in the set")
    return gs[gs.order_by_energy()[:k]]


# -- geometry of the whole field --------------------------------------------------------------
def _similarity(p: np.ndarray, s: float = 1.0, angle: float = 0.0, flip: bool = False,
                offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Rows after q = s * R(angle) * F * p + offset, F = diag(1, -1) when `flip` (float64 copy).

    A Gabor pushed through a similarity is again a Gabor: the wave axis turns to angle -/+ theta,
    every length scales by s and the phases stay (the along-wave direction keeps its sign).
    Non-uniform scalings have no such closed form, which is why tiling keeps the aspect.
    """
    q = p.astype(np.float64, copy=True)
    x, y = q[:, 0].copy(), q[:, 1] * (-1.0 if flip else 1.0)
    c, si = math.cos(angle), math.sin(angle)
    q[:, 0] = s * (c * x - si * y) + offset[0]
    q[:, 1] = s * (si * x + c * y) + offset[1]
    th = q[:, COL["theta"]]
    q[:, COL["theta"]] = angle + (-th if flip else th)
    q[:, COL["sigma"]:COL["wavelength"] + 1] *= s
    return q


def flip(gs: GaborSet, axis: str = "x") -> GaborSet:
    """Mirror the picture: axis "x" swaps left and right (x -> -x), "y" swaps top and bottom."""
    if axis == "x":
        return _with(gs, _similarity(gs.params, angle=math.pi, flip=True))
    if axis == "y":
        return _with(gs, _similarity(gs.params, flip=True))
    raise ImfitError(f"flip axis must be x (left-right) or y (top-bottom), got {axis!r}")


_SIDES = {"left": (0, -1.0), "right": (0, 1.0), "top": (1, -1.0), "bottom": (1, 1.0)}


def mirror(gs: GaborSet, side: str = "left") -> GaborSet:
    """Keep one half of the picture (`side`: left, right, top, bottom) and reflect it onto the
    other, for a symmetric image. Wavelets centred on the axis are kept once, not doubled."""
    if side not in _SIDES:
        raise ImfitError(f"mirror side must be one of {', '.join(_SIDES)}, got {side!r}")
    col, sign = _SIDES[side]
    pos = gs.params[:, col] * sign
    keep = gs[pos >= 0]
    off = keep[keep.params[:, col] * sign > 0]
    return merge(keep, flip(off, "x" if col == 0 else "y"), bias="a")


def kaleidoscope(gs: GaborSet, segments: int = 6, angle: float = 0.0,
                 center: tuple[float, float] = (0.0, 0.0)) -> GaborSet:
    """A kaleidoscope of `segments` mirrored pairs (2 * segments wedges of pi/segments each).

    The wavelets centred in the wedge [angle, angle + pi/segments) around `center` are copied
    into every other wedge, alternately mirrored, like the two mirrors of a toy kaleidoscope.
    """
    if isinstance(segments, bool) or not isinstance(segments, (int, np.integer)) or \
            not 1 <= segments <= 64:
        raise ImfitError(f"kaleidoscope segments must be a whole number 1..64, got {segments!r}")
    wedge = math.pi / segments
    p = gs.params.astype(np.float64)
    rel = p.copy()
    rel[:, 0] -= center[0]
    rel[:, 1] -= center[1]
    phi = np.mod(np.arctan2(rel[:, 1], rel[:, 0]) - angle, 2 * math.pi)
    # into the frame where the wedge starts at angle 0, so one reflection (y -> -y) suffices
    base = _similarity(rel[phi < wedge], angle=-angle)
    parts = []
    for k in range(segments):
        rot = angle + 2 * k * wedge
        parts.append(_similarity(base, angle=rot, offset=center))
        parts.append(_similarity(base, angle=rot, flip=True, offset=center))
    out = np.concatenate(parts) if parts else np.zeros((0, p.shape[1]))
    return _with(gs, out)


def tile(gs: GaborSet, n: int = 2, mirrored: bool = True) -> GaborSet:
    """An n x n grid of copies of the picture, each 1/n the size, filling the fitted frame.

    `mirrored` flips every other column and row so neighbouring tiles meet edge to edge like a
    folded paper (no seams); without it the copies repeat as they are.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= 16:
        raise ImfitError(f"tile count must be a whole number 1..16, got {n!r}")
    a = gs.aspect
    parts = []
    for j in range(n):
        for i in range(n):
            cx = -a + (2 * i + 1) * a / n
            cy = -1 + (2 * j + 1) / n
            q = gs.params
            if mirrored and i % 2:
                q = _similarity(q, angle=math.pi, flip=True)
            if mirrored and j % 2:
                q = _similarity(q, flip=True)
            parts.append(_similarity(q, s=1.0 / n, offset=(cx, cy)))
    return _with(gs, np.concatenate(parts))


def scale_field(gs: GaborSet, factor: float,
                center: tuple[float, float] = (0.0, 0.0)) -> GaborSet:
    """Zoom the whole picture by `factor` about `center` (positions and all lengths)."""
    f = _positive(factor, "field scale")
    q = gs.params.astype(np.float64, copy=True)
    q[:, 0:2] -= center
    q = _similarity(q, s=f, offset=center)
    return _with(gs, q)


# -- size by a ramp across the image ----------------------------------------------------------
RAMP_AXES = ("x", "y", "radial")
SCALE_PARAMS = ("sigma", "gamma", "wavelength", "size")


def ramp_position(gs: GaborSet, axis: str = "x") -> np.ndarray:  # (N,) in 0..1
    """Where each wavelet sits along a ramp: 0 at the left/top edge (or the centre for "radial",
    1 at the corners), 1 at the right/bottom edge; clamped outside the fitted frame."""
    x, y = gs.params[:, 0].astype(np.float64), gs.params[:, 1].astype(np.float64)
    if axis == "x":
        t = (x + gs.aspect) / (2 * gs.aspect)
    elif axis == "y":
        t = (y + 1) / 2
    elif axis == "radial":
        t = np.hypot(x, y) / math.hypot(gs.aspect, 1.0)
    else:
        raise ImfitError(f"ramp axis must be one of {', '.join(RAMP_AXES)}, got {axis!r}")
    return np.clip(t, 0.0, 1.0)


def scale_ramp(gs: GaborSet, param: str = "size", start: float = 1.0, end: float = 2.0,
               axis: str = "x") -> GaborSet:
    """Scale sigma, gamma, wavelength (or all three: "size") by a factor that changes smoothly
    across the image, from `start` at one edge to `end` at the other (geometric, so 0.5 -> 2
    passes 1 in the middle)."""
    if param not in SCALE_PARAMS:
        raise ImfitError(f"ramp scales one of {', '.join(SCALE_PARAMS)}, got {param!r}")
    a, b = _positive(start, "ramp start"), _positive(end, "ramp end")
    t = ramp_position(gs, axis)
    f = a * (b / a) ** t
    p = gs.params.astype(np.float64)
    cols = ("sigma", "gamma", "wavelength") if param == "size" else (param,)
    for c in cols:
        p[:, COL[c]] *= f
    return _with(gs, p)


# -- colour ----------------------------------------------------------------------------------
# A wavelet's three channels are amp_c * cos(k u + phase_c) = Re(z_c e^{i k u}) with the complex
# coefficient z_c = amp_c e^{i phase_c}. A real 3x3 colour matrix M applied to the picture (before
# the clamp) is exactly M applied to every wavelet's z and to the bias, so colour edits are exact.
def _complex(gs: GaborSet) -> np.ndarray:  # (N, 3) complex128
    p = gs.params.astype(np.float64)
    return p[:, 9:12] * np.exp(1j * p[:, 6:9])


def _from_complex(gs: GaborSet, z: np.ndarray, bias: np.ndarray) -> GaborSet:
    p = gs.params.astype(np.float64)
    p[:, 9:12] = np.abs(z)
    p[:, 6:9] = np.where(np.abs(z) > 0, np.angle(z), p[:, 6:9])
    return _with(gs, p, bias=tuple(float(b) for b in bias))


def color_matrix(gs: GaborSet, m: np.ndarray, bias: Sequence[float] | None = None) -> GaborSet:
    """Apply a 3x3 colour matrix to the picture (before the clamp): rendered = M @ rgb."""
    m = np.asarray(m, np.float64)
    if m.shape != (3, 3) or not np.isfinite(m).all():
        raise ImfitError("a colour matrix must be 3x3 finite numbers")
    z = _complex(gs) @ m.T
    b = m @ np.asarray(gs.bias, np.float64) if bias is None else _rgb(bias, "bias")
    return _from_complex(gs, z, b)


def hue_matrix(degrees: float) -> np.ndarray:  # (3, 3)
    """Rotation about the grey axis (1,1,1): keeps greys and brightness, turns hues; 120 degrees
    sends red to green, green to blue and blue to red exactly."""
    a = math.radians(degrees)
    k = np.full((3, 3), 1.0 / 3.0)
    cross = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]]) / math.sqrt(3.0)
    return math.cos(a) * np.eye(3) + math.sin(a) * cross + (1 - math.cos(a)) * k


LUMA = (0.299, 0.587, 0.114)  # Rec. 601 weights, applied to the file's 0..1 values as they are


def hue_rotate(gs: GaborSet, degrees: float) -> GaborSet:
    """Turn every colour's hue by `degrees` (greys stay grey)."""
    if not math.isfinite(degrees):
        raise ImfitError(f"hue rotation must be a finite number of degrees, got {degrees!r}")
    return color_matrix(gs, hue_matrix(degrees))


def grayscale(gs: GaborSet) -> GaborSet:
    """Replace every colour by its luma (R, G and B all equal afterwards)."""
    return color_matrix(gs, np.tile(np.asarray(LUMA), (3, 1)))


def parse_colors(spec: str | Sequence[str]) -> np.ndarray:  # (K, 3) in 0..1
    """'#1b1b3a+navy+ffcc00' (or a list of such names) -> RGB rows; any CSS name or hex works."""
    from PIL import ImageColor

    items = spec.split("+") if isinstance(spec, str) else list(spec)
    out = []
    for item in (s.strip() for s in items):
        if not item:
            continue
        text = item if item.startswith("#") or not all(c in "0123456789abcdefABCDEF"
                                                       for c in item) else "#" + item
        try:
            rgb = ImageColor.getrgb(text)
        except ValueError:
            raise ImfitError(f"{item!r} is not a colour (use a name like navy or hex like "
                             f"#ffcc00)") from None
        out.append([c / 255.0 for c in rgb[:3]])
    if not out:
        raise ImfitError("a palette needs at least one colour")
    return np.asarray(out, np.float64)


def image_palette(path: str, k: int = 6, seed: int = 0) -> np.ndarray:  # (k, 3)
    """The k main colours of a picture (k-means on up to 4096 of its pixels, seeded)."""
    from imfit.formats.images import read_image

    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 64:
        raise ImfitError(f"palette size must be a whole number 1..64, got {k!r}")
    rgb, _ = read_image(path)
    px = rgb.reshape(-1, 3).astype(np.float64)
    rng = np.random.default_rng(seed)
    if len(px) > 4096:
        px = px[rng.choice(len(px), 4096, replace=False)]
    # k-means++ seeding, then Lloyd steps; a handful of colours converge in a few dozen steps
    centres = [px[rng.integers(len(px))]]
    for _ in range(1, k):
        d = np.min(((px[:, None] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
        if d.sum() <= 0:
            break
        centres.append(px[rng.choice(len(px), p=d / d.sum())])
    c = np.asarray(centres)
    for _ in range(50):
        lab = np.argmin(((px[:, None] - c[None]) ** 2).sum(-1), axis=1)
        new = np.array([px[lab == j].mean(0) if (lab == j).any() else c[j]
                        for j in range(len(c))])
        if np.allclose(new, c, atol=1e-6):
            break
        c = new
    return c


def palette_map(gs: GaborSet, colors: np.ndarray) -> GaborSet:
    """Repaint the picture with a palette: the bias becomes the palette's mean colour and each
    wavelet swings along the palette direction (colour - mean) closest to its own colour swing.

    A wavelet oscillates around the bias along one main RGB direction (the best rank-1 fit of
    its complex coefficients); that direction is swapped for the nearest palette direction (either
    sign, by angle), keeping the wavelet's strength and its stripes. A palette of black and white
    gives a grayscale picture; an image's k-means colours give its mood.
    """
    pal = np.asarray(colors, np.float64).reshape(-1, 3)
    if not len(pal) or not np.isfinite(pal).all():
        raise ImfitError("a palette needs at least one finite colour")
    mean = pal.mean(0)
    dirs = pal - mean
    norms = np.linalg.norm(dirs, axis=1)
    dirs = dirs[norms > 1e-6] / norms[norms > 1e-6, None]
    z = _complex(gs)
    if not len(dirs):  # a one-colour palette: everything becomes that colour
        return _from_complex(gs, np.zeros_like(z), mean)
    re, im = z.real, z.imag
    cov = re[:, :, None] * re[:, None, :] + im[:, :, None] * im[:, None, :]  # (N, 3, 3)
    _, vec = np.linalg.eigh(cov)
    d = vec[:, :, -1]  # (N, 3) the main swing direction, unit
    w = np.einsum("nc,nc->n", d, re) + 1j * np.einsum("nc,nc->n", d, im)  # (N,) its strength
    cos = d @ dirs.T  # (N, K)
    best = np.argmax(np.abs(cos), axis=1)
    sign = np.sign(cos[np.arange(len(d)), best])
    sign[sign == 0] = 1.0
    znew = (sign * w)[:, None] * dirs[best]
    return _from_complex(gs, znew, mean)


# -- selection and order ---------------------------------------------------------------------
def keep_mask(gs: GaborSet, keep: np.ndarray, invert: bool = False) -> GaborSet:
    """The wavelets where the boolean (N,) `keep` is true (or false with `invert`)."""
    k = np.asarray(keep, bool).reshape(-1)
    if k.shape[0] != len(gs):
        raise ImfitError(f"mask has {k.shape[0]} entries for {len(gs)} wavelets")
    return gs[~k if invert else k]


def keep_rect(gs: GaborSet, x0: float, y0: float, x1: float, y1: float,
              invert: bool = False) -> GaborSet:
    """The wavelets centred inside the rectangle [x0, x1] x [y0, y1] (plane units)."""
    x, y = gs.params[:, 0], gs.params[:, 1]
    lo_x, hi_x = min(x0, x1), max(x0, x1)
    lo_y, hi_y = min(y0, y1), max(y0, y1)
    return keep_mask(gs, (x >= lo_x) & (x <= hi_x) & (y >= lo_y) & (y <= hi_y), invert)


def keep_circle(gs: GaborSet, cx: float, cy: float, r: float,
                invert: bool = False) -> GaborSet:
    """The wavelets centred within distance r of (cx, cy) (plane units)."""
    _positive(r, "circle radius")
    d = np.hypot(gs.params[:, 0] - cx, gs.params[:, 1] - cy)
    return keep_mask(gs, d <= r, invert)


def keep_image_mask(gs: GaborSet, path: str, invert: bool = False) -> GaborSet:
    """The wavelets whose centre falls on a light pixel (> 0.5) of a mask picture, stretched
    over the fitted frame; centres outside the frame read the nearest edge pixel."""
    from imfit.formats.images import read_image

    rgb, alpha = read_image(path)
    m = rgb.mean(-1) if alpha is None else rgb.mean(-1) * alpha
    h, w = m.shape
    col = np.floor((gs.params[:, 0] + gs.aspect) / (2 * gs.aspect) * w).astype(np.int64)
    row = np.floor((gs.params[:, 1] + 1) / 2 * h).astype(np.int64)
    return keep_mask(gs, m[row.clip(0, h - 1), col.clip(0, w - 1)] > 0.5, invert)


SORT_KEYS = ("energy", "size", "x", "y", "theta", "wavelength", "random")


def sort(gs: GaborSet, by: str = "energy", reverse: bool = False, seed: int = 0) -> GaborSet:
    """Reorder the wavelets (the picture is unchanged; order matters for build-up animations,
    strongest-first exports and top-k). Energy and size sort largest first; the others smallest
    first; `reverse` flips either."""
    p = gs.params.astype(np.float64)
    if by == "energy":
        key = -gs.energy()
    elif by == "size":
        key = -(p[:, COL["sigma"]] * p[:, COL["gamma"]])
    elif by in ("x", "y", "theta", "wavelength"):
        key = p[:, COL[by]]
    elif by == "random":
        key = np.random.default_rng(validate.seed(seed, "sort seed")).random(len(gs))
    else:
        raise ImfitError(f"sort by one of {', '.join(SORT_KEYS)}, got {by!r}")
    order = np.argsort(key, kind="stable")
    return gs[order[::-1] if reverse else order]


def jitter(gs: GaborSet, seed: int = 0, position: float = 0.0, angle: float = 0.0,
           scale: float = 0.0, phase: float = 0.0) -> GaborSet:
    """Random, repeatable nudges: Gaussian position (units) and angle/phase (radians) offsets,
    and a log-normal size factor (`scale` is its log standard deviation). Same seed, same set."""
    for v, name in ((position, "position"), (angle, "angle"), (scale, "scale"),
                    (phase, "phase")):
        if not (math.isfinite(v) and v >= 0):
            raise ImfitError(f"jitter {name} must be a number >= 0, got {v!r}")
    rng = np.random.default_rng(validate.seed(seed, "jitter seed"))
    n = len(gs)
    p = gs.params.astype(np.float64)
    p[:, 0:2] += rng.normal(0.0, 1.0, (n, 2)) * position
    p[:, COL["theta"]] += rng.normal(0.0, 1.0, n) * angle
    p[:, COL["sigma"]:COL["wavelength"] + 1] *= np.exp(rng.normal(0.0, 1.0, (n, 1)) * scale)
    p[:, 6:9] += rng.normal(0.0, 1.0, (n, 1)) * phase
    return _with(gs, p)


MERGE_BIAS = ("a", "b", "mean", "sum")


def merge(a: GaborSet, b: GaborSet, bias: str = "mean") -> GaborSet:
    """Both sets' wavelets in one, in `a`'s frame (positions are in half-heights, so `b` lands
    over the same area whatever its pixel size). `bias`: keep a's, b's, their mean, or the sum
    a + b - 0.5 (two pictures added as offsets from grey)."""
    ba, bb = np.asarray(a.bias, np.float64), np.asarray(b.bias, np.float64)
    choice = {"a": ba, "b": bb, "mean": (ba + bb) / 2, "sum": ba + bb - 0.5}
    if bias not in choice:
        raise ImfitError(f"merge bias must be one of {', '.join(MERGE_BIAS)}, got {bias!r}")
    return a.replace(params=np.concatenate([a.params, b.params]),
                     bias=tuple(float(v) for v in choice[bias]))


DRIFT_KEYS = ("phase", "theta", "rotate")


def parse_drift(spec: str) -> dict[str, float]:
    """'phase=0.5,theta=0.1' -> {'phase': 0.5, 'theta': 0.1}; rates in turns per second."""
    out: dict[str, float] = {}
    for part in filter(None, (s.strip() for s in spec.split(","))):
        key, sep, val = part.partition("=")
        if not sep or key.strip() not in DRIFT_KEYS:
            raise ImfitError(f"drift {part!r}: use KEY=TURNS_PER_SECOND with KEY in "
                             f"{', '.join(DRIFT_KEYS)}")
        try:
            out[key.strip()] = float(val)
        except ValueError:
            raise ImfitError(f"drift {part!r}: {val!r} is not a number") from None
        if not math.isfinite(out[key.strip()]):
            raise ImfitError(f"drift {part!r}: not a finite number")
    return out


def drift(gs: GaborSet, t: float, phase: float = 0.0, theta: float = 0.0,
          rotate: float = 0.0) -> GaborSet:
    """The set after `t` seconds of steady drift (rates in turns per second).

    phase: every phase advances (stripes travel); theta: every wavelet spins about its centre;
    rotate: the whole field turns about the origin. A whole number of turns over a loop's length
    makes the loop seamless.
    """
    out = gs
    if phase:
        out = shift_phase(out, 2 * math.pi * phase * t)
    if theta:
        out = rotate_wavelets(out, 2 * math.pi * theta * t)
    if rotate:
        out = rotate_field(out, 2 * math.pi * rotate * t)
    return out


def drift_frames(gs: GaborSet, frames: int, fps: float,
                 rates: dict[str, float]) -> Iterator[GaborSet]:
    """The sets of an animation: frame i is `drift(gs, i / fps, **rates)` (rates from
    `parse_drift`). Renderers map over this; `imfit render --frames` writes the result."""
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ImfitError(f"--frames must be at least 1, got {frames!r}")
    validate.frame_count(int(frames), "--frames")
    step = 1.0 / validate.fps(fps, "--fps")
    for i in range(int(frames)):
        yield drift(gs, i * step, **rates)
