"""Fitting a GaborSet to an image.

What makes it better than torch-imfit at the same wavelet count (see docs/benchmarks.md):
- data-driven start: positions drawn from gradient energy and uniformly, orientation from the
  local structure tensor, sizes from the local spacing, colours solved in closed form;
- a raw parametrisation inside the optimiser (log widths and wavelength, cos/sin colour
  coefficients that the model is linear in), per-group learning rates and a cosine schedule;
- periodic exact least-squares solves of all colours for the current geometry (matrix-free CG
  on the fast renderer), and re-placement of the weakest wavelets at the largest error;
- coarse-to-fine on area-resized targets with the wavelength kept >= 2 pixels at each scale;
  big fits (BIG_FIT_WORK) skip the coarse scales the set would fit almost exactly and spend
  fewer steps at full size, where a step costs most;
- the tiled renderer with its analytic backward (memory O(N + HW)).
It converts to physical units once, at the end; nothing downstream re-implements activations.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from imfit import validate
from imfit.device import generator as device_generator
from imfit.device import resolve as resolve_device
from imfit.errors import ImfitError
from imfit.formats.files import StopOnce, ctrl_c_once
from imfit.formats.images import resize_area
from imfit.metrics import psnr
from imfit.model.gaborset import NCOL, GaborSet
from imfit.renderers.gabor import Pairs, View, bin_tiles, render_tiled_coef, use_fused
from imfit.validate import MAX_FIT_SIDE

# learning rates above this make Adam's first steps throw the wavelets out of the picture
MAX_LR = 1.0
# 4096 halved 12 times is 1 pixel: coarser scales do not exist (and each adds steps)
MAX_RESCALES = 12
# steps a fit may plan: about a day at 10 steps/s; more is a typo, not a fit
MAX_STEPS = 1_000_000

# Big fits (wavelets x pixels of the picture >= BIG_FIT_WORK: 4096 at 512 x 512) follow a
# cheaper schedule, measured on astronaut 4096 at 512 px (docs/benchmarks.md): there a step
# costs about the same at 128 px as at 256 px (per-wavelet work dominates), so
# - a coarse scale with fewer pixels than MIN_COARSE_PIXELS_PER_WAVELET per wavelet is not
#   trained: the set has about as many floats (12 per wavelet) as that picture has values (3
#   per pixel), fits it almost exactly (49 dB at 128 px) and teaches the next scale little;
#   its 600 steps were 40% of the fit for 0.1 dB;
# - the full scale trains half the steps: a full-size step costs 2.5x a half-size one, and the
#   second 100 gained 0.6 dB for 25 CPU s where the whole coarse stage gains 5 dB for 20 s.
# Smaller fits keep torch-imfit's schedule: at 1024 wavelets at 256 px dropping the 64 px
# scale cost 0.2-0.4 dB.
# - the coarse scales that remain train BIG_FIT_COARSE_FRACTION of their steps (astronaut 4096
#   at 512: 250 instead of 300 steps, 18.3 s and 32.04 dB against 21.2 s and 32.21 dB idle; the
#   baseline's 1100 steps gave 32.03 dB);
# - beyond BIG_FIT_WORK every stage's steps shrink as (BIG_FIT_WORK / work)^BIG_FIT_STEP_EXPONENT,
#   so the fit's time grows as work^(3/4) instead of linearly: one step updates more wavelets
#   per pixel-second, and a fit 14x bigger (Hubble 16,384 at 1024) kept 2 dB over the
#   baseline's full schedule with about half the steps (docs/benchmarks.md).
BIG_FIT_WORK = 4096 * 512 * 512
BIG_FIT_COARSE_FRACTION = 5 / 6
BIG_FIT_STEP_EXPONENT = 0.25
MIN_COARSE_PIXELS_PER_WAVELET = 8
MIN_WAVELENGTH_PX = 2.0  # Nyquist: a shorter period aliases at the current scale
MIN_WIDTH_PX = 0.35
# the colour solve's ridge, relative to each wavelet's own energy: 0.1% shrinkage at most
RIDGE = 1e-3


@dataclass
class FitSettings:
    """torch-imfit's options with its defaults and meanings, plus our own knobs."""

    num_gabors: int = 256
    size: int = 256
    iterations: int = 200
    iter_multiple: float = 1.5
    rescales: int = 2
    global_lr: float = 0.01
    # the learning rate's factor each time the loss stops improving for 20 steps (torch-imfit's
    # --gamma, not the wavelet's gamma column)
    plateau_lr_decay: float = 0.997
    l1: float = 0.0
    gradient: float = 0.0
    sobel: float = 0.0
    mutation_scale: float = 0.0
    seed: int = 0
    device: str = "cpu"
    solve_every: int = 100  # closed-form colour solve period (steps); 0 = never
    replace_every: int = 100  # re-placement period (steps); 0 = never
    replace_fraction: float = 0.05
    warm_iterations: int | None = None  # steps for a warm-started frame (video); None = iterations
    early_stop: bool = True  # end a stage when the loss has plateaued

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> FitSettings:
        """Settings from keyword options or a saved `meta["settings"]`; torch-imfit's name
        `gamma` (and files written before the rename) still means `plateau_lr_decay`."""
        opts = dict(options)
        if "gamma" in opts:
            if "plateau_lr_decay" in opts:
                raise ImfitError("give gamma or plateau_lr_decay, not both (the same setting)")
            opts["plateau_lr_decay"] = opts.pop("gamma")
        return cls(**opts)

    def validate(self) -> None:
        for name in ("num_gabors", "size", "iterations"):
            if getattr(self, name) < 1:
                raise ImfitError(f"--{name.replace('_', '-')} must be at least 1, "
                                 f"got {getattr(self, name)}")
        if not 0 <= self.rescales <= MAX_RESCALES:
            raise ImfitError(f"--rescales must be 0..{MAX_RESCALES}, got {self.rescales}")
        if self.size < 8:
            raise ImfitError(f"--size must be at least 8 pixels, got {self.size}")
        if self.size > MAX_FIT_SIDE:  # beyond it torch.multinomial cannot place wavelets
            raise ImfitError(f"--size {self.size} is too large (at most {MAX_FIT_SIDE})")
        validate.seed(self.seed, "--seed")
        if self.num_gabors > 1_000_000:
            raise ImfitError(f"--num-gabors {self.num_gabors} is too large (at most 1000000)")
        if not (self.iter_multiple > 0 and math.isfinite(self.iter_multiple)):
            raise ImfitError(f"--iter-multiple must be positive, got {self.iter_multiple}")
        if not (0 < self.global_lr <= MAX_LR):  # Adam steps this far diverge at once
            raise ImfitError(f"--global-lr must be in (0, {MAX_LR:g}], got {self.global_lr}")
        if not (0 < self.plateau_lr_decay <= 1):
            raise ImfitError(f"--gamma must be in (0, 1], got {self.plateau_lr_decay}")
        for name in ("l1", "gradient", "sobel", "mutation_scale"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise ImfitError(f"--{name.replace('_', '-')} must be >= 0, got {v}")
        planned = sum(st for _, st in self.schedule(self.size, self.size))
        if planned > MAX_STEPS:
            raise ImfitError(f"this fit plans {planned:.3g} steps (--iterations x --rescales x "
                             f"--iter-multiple); at most {MAX_STEPS:g}")
        resolve_device(self.device)  # an absent device fails here, before any work

    def schedule(self, height: int, width: int | None = None) -> list[tuple[int, int]]:
        """[(height at this scale, steps)], coarse to fine, torch-imfit's rule: scale a of
        `rescales` trains at size/2^(rescales-a) for iterations*(rescales-a)*iter_multiple;
        big fits (see BIG_FIT_WORK) leave out the coarse scales with under
        MIN_COARSE_PIXELS_PER_WAVELET pixels per wavelet and halve the full scale's steps
        (`width` None: a square picture)."""
        aspect = (width or height) / height
        work = self.num_gabors * height * max(1, round(height * aspect))
        big = work >= BIG_FIT_WORK
        shrink = (BIG_FIT_WORK / work) ** BIG_FIT_STEP_EXPONENT if big else 1.0
        out = []
        for a in range(self.rescales):
            k = self.rescales - a
            h = max(8, round(height / 2**k))
            if big and h * max(1, round(h * aspect)) < MIN_COARSE_PIXELS_PER_WAVELET \
                    * self.num_gabors:
                continue
            steps = self.iterations * k * self.iter_multiple
            if big:
                steps *= BIG_FIT_COARSE_FRACTION * shrink
            out.append((h, int(min(steps, 2.0**62))))
        last = max(1, round(self.iterations // 2 * shrink)) if big and out else self.iterations
        out.append((height, last))
        return [(h, s) for h, s in out if s > 0]


@dataclass
class FitResult:
    gaborset: GaborSet
    psnr: float
    steps: int
    seconds: float
    # a Ctrl-C came during the fit; `gaborset.meta["incomplete"]` says whether it cut the
    # training short (a press while the result was built keeps the complete result)
    interrupted: bool = False
    history: list[tuple[int, float]] = field(default_factory=list)


Progress = Callable[[int, int, float], None]  # (step, total, psnr)
Snapshot = Callable[[GaborSet], None]  # receives the current set (no PSNR) while fitting


# -- image statistics for initialisation ----------------------------------------------------------
def _gauss_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (C, H, W) with reflect padding."""
    r = max(1, int(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[0]
    y = F.pad(x[None], (r, r, 0, 0), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous(), groups=c)
    y = F.pad(y, (0, 0, r, r), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, -1, 1).expand(c, 1, -1, 1).contiguous(), groups=c)
    return y[0]


def _sobel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel Sobel derivatives of (C, H, W) -> gx, gy (C, H, W)."""
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=x.dtype, device=x.device) / 8
    c = x.shape[0]
    xp = F.pad(x[None], (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(xp, kx.view(1, 1, 3, 3).expand(c, 1, 3, 3).contiguous(), groups=c)[0]
    gy = F.conv2d(xp, kx.t().reshape(1, 1, 3, 3).expand(c, 1, 3, 3).contiguous(), groups=c)[0]
    return gx, gy


def _sample_pixels(prob: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """n (row, col) float positions drawn with probability prob (H, W), jittered in the pixel."""
    h, w = prob.shape
    flat = prob.reshape(-1).clamp(min=0) + 1e-12
    idx = torch.multinomial(flat, n, replacement=True, generator=gen)
    dev = prob.device
    r = (idx // w).to(prob.dtype) + torch.rand(n, generator=gen, dtype=prob.dtype, device=dev)
    c = (idx % w).to(prob.dtype) + torch.rand(n, generator=gen, dtype=prob.dtype, device=dev)
    return torch.stack([r, c], 1)


class _Stats:
    """Gradient energy and structure-tensor orientation of a target, for placing wavelets."""

    def __init__(self, target: torch.Tensor) -> None:  # (H, W, 3)
        x = target.permute(2, 0, 1)
        gx, gy = _sobel(x)
        jxx = _gauss_blur((gx * gx).sum(0, keepdim=True), 1.5)[0]
        jxy = _gauss_blur((gx * gy).sum(0, keepdim=True), 1.5)[0]
        jyy = _gauss_blur((gy * gy).sum(0, keepdim=True), 1.5)[0]
        self.energy = (jxx + jyy).sqrt()
        # dominant gradient direction (the wave's u axis), image coordinates with y down
        self.orient = 0.5 * torch.atan2(2 * jxy, jxx - jyy)
        tr = jxx + jyy
        disc = ((jxx - jyy) ** 2 + 4 * jxy**2).sqrt()
        self.coherence = disc / (tr + 1e-8)


# -- the optimised parametrisation -----------------------------------------------------------
class _Params:
    """Raw, optimiser-friendly parameters; `geom()` and `coef` are what the renderer takes."""

    def __init__(self, pos: torch.Tensor, theta: torch.Tensor, log_sg: torch.Tensor,
                 log_wl: torch.Tensor, coef: torch.Tensor, bias: torch.Tensor) -> None:
        self.pos = pos.clone().requires_grad_()  # (N, 2)
        self.theta = theta.clone().requires_grad_()  # (N,)
        self.log_sg = log_sg.clone().requires_grad_()  # (N, 2) log sigma, log gamma
        self.log_wl = log_wl.clone().requires_grad_()  # (N,)
        self.coef = coef.clone().requires_grad_()  # (N, 3, 2)
        self.bias = bias.clone().requires_grad_()  # (3,)

    def groups(self, lr: float) -> list[dict[str, Any]]:
        # Per-group rates (after GaussianImage / Image-GS): positions move in units (1 unit =
        # half the image height), so they get a smaller step than log-scales and colours.
        return [
            {"params": [self.pos], "lr": lr * 0.25, "name": "pos"},
            {"params": [self.theta], "lr": lr * 2.0, "name": "theta"},
            {"params": [self.log_sg], "lr": lr * 2.0, "name": "log_sg"},
            {"params": [self.log_wl], "lr": lr * 2.0, "name": "log_wl"},
            {"params": [self.coef], "lr": lr * 1.0, "name": "coef"},
            {"params": [self.bias], "lr": lr * 0.2, "name": "bias"},
        ]

    def tensors(self) -> list[torch.Tensor]:
        return [self.pos, self.theta, self.log_sg, self.log_wl, self.coef, self.bias]

    def geom(self) -> torch.Tensor:  # (N, 6)
        sg = self.log_sg.exp()
        return torch.cat([self.pos, self.theta[:, None], sg, self.log_wl.exp()[:, None]], 1)

    def project(self, px_units: float) -> None:
        """Keep widths >= MIN_WIDTH_PX and wavelengths >= MIN_WAVELENGTH_PX at this scale."""
        with torch.no_grad():
            self.log_sg.clamp_(min=math.log(MIN_WIDTH_PX * px_units), max=math.log(8.0))
            self.log_wl.clamp_(min=math.log(MIN_WAVELENGTH_PX * px_units), max=math.log(64.0))
            self.theta.copy_(torch.remainder(self.theta + math.pi, 2 * math.pi) - math.pi)

    def to_gaborset(self, width: int, height: int, meta: dict[str, Any]) -> GaborSet:
        with torch.no_grad():
            g = self.geom().double().cpu()
            c = self.coef.detach().double().cpu()
            amp = torch.sqrt(c[..., 0] ** 2 + c[..., 1] ** 2)
            phase = torch.atan2(-c[..., 1], c[..., 0])
            p = torch.cat([g, phase, amp], 1).numpy().astype(np.float32)
            bias = tuple(float(b) for b in self.bias.detach().cpu())
        return GaborSet(p, width, height, bias, meta)

    @staticmethod
    def from_gaborset(gs: GaborSet, device: str) -> _Params:
        p = torch.from_numpy(np.array(gs.params, np.float32)).to(device)
        amp, ph = p[:, 9:12], p[:, 6:9]
        coef = torch.stack([amp * torch.cos(ph), -amp * torch.sin(ph)], -1)
        return _Params(p[:, 0:2], p[:, 2], p[:, 3:5].log(), p[:, 5].log(), coef,
                       torch.tensor(gs.bias, dtype=torch.float32, device=device))


# -- the fitter ------------------------------------------------------------------------------
def check_target(target: Any) -> np.ndarray:  # (H, W, 3) float32
    """The picture to fit, as the model sees it: float RGB in 0..1. A uint8 array (0..255)
    would be fitted as a blown-out white image; a grey (H, W) one has no colour axis."""
    a = np.asarray(target)
    if not np.issubdtype(a.dtype, np.floating):
        raise ImfitError(f"the target must be a float image in 0..1, got dtype {a.dtype} "
                         "(divide 8-bit pictures by 255)")
    if a.ndim != 3 or a.shape[2] != 3:
        raise ImfitError(f"the target must be an (H, W, 3) RGB image, got shape {a.shape}")
    if min(a.shape[:2]) < 1 or not np.isfinite(a).all():
        raise ImfitError("the target is empty or holds NaN/infinite values")
    if a.min() < -1e-3 or a.max() > 1 + 1e-3:
        raise ImfitError(f"the target must be in 0..1, its values span {a.min():g}..{a.max():g}")
    return np.clip(a, 0, 1).astype(np.float32)


class Fitter:
    """One fit in progress (state: parameters, optimiser, schedule). `run()` drives it."""

    def __init__(self, target: np.ndarray, settings: FitSettings,
                 weight: np.ndarray | None = None, init: GaborSet | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        settings.validate()
        self.s = settings
        self.device = resolve_device(settings.device)
        # On a GPU every host read (float(loss), a tensor in an `if`, a data-dependent size)
        # stalls the queue, so there losses are read in batches of `sync_every` steps and
        # tiles are binned into fixed-capacity pair lists; the CPU reads every step (cheap
        # there) and bins exactly, which keeps its results those of the plain schedule.
        self.sync_free = self.device.type != "cpu"
        self.sync_every = 16 if self.sync_free else 1
        self._capacity: dict[int, int] = {}
        self._peak: torch.Tensor | None = None
        self.target_np = check_target(target)
        self.height, self.width = self.target_np.shape[:2]
        if weight is not None and weight.shape != (self.height, self.width):
            raise ImfitError(f"weight map is {weight.shape[1]}x{weight.shape[0]} but the image "
                             f"is {self.width}x{self.height}")
        self.weight_np = None if weight is None else np.asarray(weight, np.float32)
        # every draw comes from this generator, on the fit's device (never torch's global one)
        self.gen = device_generator(self.device, settings.seed)
        self.host_rng = random.Random(settings.seed)  # host-side coin flips: no device read
        self.meta = dict(meta or {})
        self.warm = init is not None
        self.params = (_Params.from_gaborset(init, self.device) if init is not None
                       else self._initial(self.s.num_gabors))
        self.latest: GaborSet | None = None
        self._stats_cache: dict[int, _Stats] = {}

    # targets per scale
    def _scaled(self, h: int) -> tuple[torch.Tensor, torch.Tensor | None, View]:
        w = max(1, round(self.width * h / self.height))
        t = resize_area(self.target_np, w, h)
        wt = None
        if self.weight_np is not None:
            wm = resize_area(self.weight_np, w, h)
            wt = torch.from_numpy(wm / max(float(wm.mean()), 1e-8)).to(self.device)
        view = View(w, h, -self.width / self.height, -1.0, 2.0 / h)
        return torch.from_numpy(t).to(self.device), wt, view

    def _initial(self, n: int) -> _Params:
        target, wt, view = self._scaled(self.height)
        stats = _Stats(target)
        prob = stats.energy if wt is None else stats.energy * wt
        n_edge = int(round(0.6 * n))
        rc = torch.cat([_sample_pixels(prob, n_edge, self.gen),
                        _sample_pixels(torch.ones_like(prob) if wt is None else wt,
                                       n - n_edge, self.gen)], 0)
        pos, theta, sg, wl = self._shapes_at(rc, stats, view, n, edge=n_edge)
        bias = (target.reshape(-1, 3).mean(0) if wt is None
                else (target * wt[..., None]).reshape(-1, 3).sum(0) / wt.sum())
        coef = torch.zeros(n, 3, 2, device=self.device)
        return _Params(pos, theta, sg.log(), wl.log(), coef, bias)

    def _shapes_at(self, rc: torch.Tensor, stats: _Stats, view: View, n_total: int,
                   edge: int) -> tuple[torch.Tensor, ...]:
        """Geometry for wavelets placed at pixel positions rc (K, 2) at the full scale."""
        k = len(rc)
        h, w = stats.energy.shape
        ri = rc[:, 0].long().clamp(0, h - 1)
        ci = rc[:, 1].long().clamp(0, w - 1)
        pos = torch.stack([view.x0 + rc[:, 1] * view.scale, view.y0 + rc[:, 0] * view.scale], 1)
        theta = stats.orient[ri, ci].clone()
        # typical spacing if the budget were spread evenly, in units
        area = 4.0 * self.width / self.height
        d = math.sqrt(area / max(n_total, 1))
        dev = self.device
        jitter = torch.exp(0.3 * torch.randn(k, generator=self.gen, device=dev))
        is_edge = torch.arange(k, device=dev) < edge
        coh = stats.coherence[ri, ci]
        s_u = torch.where(is_edge, 0.25 * d * jitter, 0.5 * d * jitter)
        s_v = torch.where(is_edge, (0.5 + 0.5 * coh) * d * jitter, 0.5 * d * jitter)
        wl = torch.where(is_edge, 4.0 * s_u, 6.0 * s_u)
        return (pos.to(self.device), theta.to(self.device),
                torch.stack([s_u, s_v], 1).to(self.device), wl.to(self.device))

    # closed-form colours -----------------------------------------------------------------
    def solve_colours(self, target: torch.Tensor, wt: torch.Tensor | None, view: View,
                      iters: int = 12) -> None:
        """Least-squares colours and bias for the current geometry (CG on normal equations).

        The model is linear in (coef, bias), so this is the exact optimum up to CG tolerance;
        a tiny ridge keeps wavelets that see no pixels at zero instead of drifting. The ridge is
        relative (`RIDGE` of each wavelet's own diagonal, its analytic energy per pixel): an
        absolute one shrank every amplitude by ~N/30000 of itself, 1.9 dB lost at 4096 wavelets.
        """
        p = self.params
        geom = p.geom().detach()
        pairs = None if use_fused(geom) else self._bin(geom, view)
        hw = view.width * view.height
        # the normal matrix's diagonal for wavelet i: sum of window^2 cos^2 over its pixels / hw
        # = (pi sigma gamma / 2 in pixels^2) / hw
        ridge = (RIDGE * math.pi / 2 / hw / view.scale**2 * geom[:, 3] * geom[:, 4])[:, None, None]
        wgt = torch.ones(view.height, view.width, 1, device=self.device) if wt is None \
            else wt[..., None]

        def normal(c: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            c = c.detach().requires_grad_()
            out = render_tiled_coef(geom, c, view, pairs=pairs)
            r = (out + b) * wgt / hw
            (gc,) = torch.autograd.grad(out, c, grad_outputs=r)
            return gc + ridge * c.detach(), r.reshape(-1, 3).sum(0)

        with torch.enable_grad():
            x_c, x_b = p.coef.detach().clone(), p.bias.detach().clone()
            zc = torch.zeros_like(x_c).requires_grad_()
            outz = render_tiled_coef(geom, zc, view, pairs=pairs)
            rt = target * wgt / hw
            (bc,) = torch.autograd.grad(outz, zc, grad_outputs=rt)
            bb = rt.reshape(-1, 3).sum(0)
            ac, ab = normal(x_c, x_b)
            rc, rb = bc - ac, bb - ab
            # Jacobi preconditioner: the diagonal (each wavelet's energy; 1 for the bias, the
            # weights' mean). Wavelet energies span orders of magnitude, so plain CG spent its
            # few iterations on the big wavelets (10 -> 15 dB in 20 iterations at 4096).
            inv_m = 1.0 / (ridge * (1.0 + 1.0 / RIDGE))
            zc, zb = rc * inv_m, rb
            dc, db = zc.clone(), zb.clone()
            rz = (rc * zc).sum() + (rb * zb).sum()
            rz0 = rz
            for _ in range(iters):
                # the early exit reads rz on the host: the CPU only; on a GPU the last
                # iterations are just cheap no-ops (the clamps below keep them finite)
                if not self.sync_free and rz <= 1e-10 * rz0:
                    break
                qc, qb = normal(dc, db)
                alpha = rz / ((dc * qc).sum() + (db * qb).sum() + 1e-30)
                x_c, x_b = x_c + alpha * dc, x_b + alpha * db
                rc, rb = rc - alpha * qc, rb - alpha * qb
                zc, zb = rc * inv_m, rb
                rz_new = (rc * zc).sum() + (rb * zb).sum()
                beta = rz_new / rz.clamp(min=1e-30)
                dc, db = zc + beta * dc, zb + beta * db
                rz = rz_new
        with torch.no_grad():
            p.coef.copy_(x_c)
            p.bias.copy_(x_b)

    def _stats_at(self, target: torch.Tensor, view: View) -> _Stats:
        """Image statistics of this scale's target, computed once per scale (the target does
        not change while a scale trains; re-placement runs many times)."""
        if view.height not in self._stats_cache:
            self._stats_cache[view.height] = _Stats(target)
        return self._stats_cache[view.height]

    # re-placement --------------------------------------------------------------------------
    def replace_weak(self, target: torch.Tensor, render: torch.Tensor, view: View,
                     opt: torch.optim.Optimizer, fraction: float) -> int:
        """Move the weakest wavelets to where the error is largest; N stays constant."""
        p = self.params
        n = len(p.pos)
        k = max(1, int(n * fraction))
        with torch.no_grad():
            g = p.geom()
            amp2 = (p.coef**2).sum((1, 2))
            # energy on the plane, in pixels^2 at this scale: the contribution to the image
            contrib = amp2 * g[:, 3] * g[:, 4] / view.scale**2
            weak = torch.argsort(contrib)[:k]
            err = ((render - target) ** 2).sum(-1)
            err = _gauss_blur(err[None], max(1.0, 0.01 * view.height))[0]
            rc = _sample_pixels(err**2, k, self.gen)
            stats = self._stats_at(target, view)
            pos, theta, sg, wl = self._shapes_at(rc, stats, view, n_total=n, edge=k // 2)
            p.pos[weak] = pos
            p.theta[weak] = theta
            p.log_sg[weak] = sg.log()
            p.log_wl[weak] = wl.log()
            p.coef[weak] = 0
            for grp in opt.param_groups:
                for t in grp["params"]:
                    st = opt.state.get(t)
                    if st:
                        for key in ("exp_avg", "exp_avg_sq"):
                            if key in st and st[key].shape[:1] == t.shape[:1] and t.dim() > 0 \
                                    and t.shape[0] == n:
                                st[key][weak] = 0
        return k

    # the loop -------------------------------------------------------------------------------
    def current(self) -> GaborSet:
        """The parameters right now, in physical units (cheap: no render, no PSNR)."""
        return self.params.to_gaborset(self.width, self.height, dict(self.meta))

    def run(self, progress: Progress | None = None, snapshot: Snapshot | None = None,
            snapshot_every: int = 10) -> FitResult:
        """Optimise; `progress` every 10 steps, `snapshot` (e.g. a live viewer) every
        `snapshot_every` steps. Ctrl-C (KeyboardInterrupt) ends early and keeps the latest
        parameters, marked incomplete.

        Ctrl-C stops the training steps once (`ctrl_c_once`): a second press, typically 20-50 ms
        after the first, is only counted while the result is built, so it can never throw the
        trained parameters away; it shows as `interrupted` with `meta["incomplete"]` telling
        whether training was cut short. A KeyboardInterrupt raised inside the result building
        itself (not a signal) still keeps the parameters, without the PSNR render."""
        with ctrl_c_once() as once, self._threads():
            return self._run(once, progress, snapshot, snapshot_every)

    def _threads(self) -> contextlib.AbstractContextManager[Any]:
        """With the C kernel, torch runs on one thread and the kernel on all (see
        `native.kernel_threads_only`); the pure-torch path keeps torch's threads, its work."""
        if use_fused(self.params.pos):
            from imfit.native import kernel_threads_only

            return kernel_threads_only()
        return contextlib.nullcontext()

    def _run(self, once: StopOnce, progress: Progress | None, snapshot: Snapshot | None,
             snapshot_every: int) -> FitResult:
        s = self.s
        sched = s.schedule(self.height, self.width)
        if self.warm:
            sched = [(self.height, s.warm_iterations or s.iterations)]
        total = sum(st for _, st in sched)
        t0 = time.time()
        step = 0
        history: list[tuple[int, float]] = []
        interrupted = False
        last_psnr = float("nan")
        try:
            once.armed = True
            for stage, (h, steps) in enumerate(sched):
                target, wt, view = self._scaled(h)
                px = view.scale
                self.params.project(px)
                if s.solve_every and (stage == 0 or not self.warm):
                    self.solve_colours(target, wt, view, iters=20 if stage == 0 else 8)
                lr = s.global_lr * (1.0 if stage == 0 and not self.warm else 0.5)
                opt = torch.optim.Adam(self.params.groups(lr), betas=(0.9, 0.99), foreach=True)
                base = [g["lr"] for g in opt.param_groups]
                plateau, best = 1.0, float("inf")
                since_best = 0
                # early stop: the stage ends when the loss has not improved by 0.1% for
                # `patience` steps (after the schedule's last re-placement has had its chance)
                patience = max(60, steps // 4)
                stale, stale_best = 0, float("inf")
                pairs: Pairs | None = None
                fused = use_fused(self.params.pos)
                pending: list[torch.Tensor] = []  # losses not yet read on the host
                stop = False
                for i in range(steps):
                    frac = i / max(1, steps)
                    cos = 0.5 * (1 + math.cos(math.pi * frac))
                    for g, b0 in zip(opt.param_groups, base, strict=False):
                        g["lr"] = b0 * plateau * (0.05 + 0.95 * cos)
                    geom = self.params.geom()
                    if not fused and (pairs is None or i % 5 == 0):
                        pairs = self._bin(geom.detach(), view)
                    out = render_tiled_coef(geom, self.params.coef, view, pairs=pairs)
                    out = out + self.params.bias
                    loss = _loss(out, target, wt, s)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    self.params.project(px)
                    if s.mutation_scale > 0:
                        self._mutate(frac)
                    step += 1
                    pending.append(loss.detach())
                    last = i == steps - 1
                    report = progress is not None and (step % 10 == 0 or step == total)
                    if len(pending) >= self.sync_every or last or (report and not self.sync_free):
                        # the one host read of this batch of steps
                        if len(pending) == 1:
                            values = [float(pending[0])]
                        else:
                            values = torch.stack(pending).tolist()
                        pending = []
                        if not all(math.isfinite(lv) for lv in values):
                            raise ImfitError("the fit diverged (the loss is not a number); "
                                             "try a smaller --global-lr")
                        self._check_capacity(view)
                        for lv in values:
                            if lv < best * 0.9999:
                                best, since_best = lv, 0
                            else:
                                since_best += 1
                                if since_best > 20:
                                    plateau *= s.plateau_lr_decay
                                    since_best = 0
                            if lv < stale_best * 0.999:
                                stale_best, stale = lv, 0
                            else:
                                stale += 1
                                if stale > patience and s.early_stop:
                                    stop = True
                        if stop:
                            total -= steps - i - 1
                        report = progress is not None and (report or self.sync_free)
                    else:
                        report = False
                    if stop:
                        break
                    near_end = i >= steps - max(10, steps // 10)
                    if s.replace_every and (i + 1) % s.replace_every == 0 and not near_end \
                            and not self.warm:
                        self.replace_weak(target, out.detach(), view, opt, s.replace_fraction)
                        pairs = None
                    if s.solve_every and (i + 1) % s.solve_every == 0 and not near_end:
                        self.solve_colours(target, wt, view, iters=6)
                        pairs = None
                    if snapshot is not None and step % snapshot_every == 0:
                        snapshot(self.current())
                    if report and progress is not None:
                        with torch.no_grad():
                            mse = float(((out.detach().clamp(0, 1) - target) ** 2).mean())
                        last_psnr = 10 * math.log10(1 / max(mse, 1e-12))
                        history.append((step, last_psnr))
                        progress(step, total, last_psnr)
                # a final exact colour solve at the full scale is free quality
            if s.solve_every:
                target, wt, view = self._scaled(self.height)
                self.solve_colours(target, wt, view, iters=10)
            # from here on a Ctrl-C is counted, not raised; a press before this line is still
            # inside the try (caught below), and the press that lands there disarmed the
            # guard itself: no moment is left where one could escape
            once.armed = False
        except KeyboardInterrupt:
            interrupted = True
        seconds = time.time() - t0
        try:
            gs = self.result_set(interrupted, step, total, seconds)
        except KeyboardInterrupt:  # raised, not signalled: keep the parameters, skip the PSNR
            gs = self.result_set(interrupted, step, total, seconds, measure=False)
            once.got.append(2)
        return FitResult(gs, float(gs.meta.get("psnr") or float("nan")), step,
                         time.time() - t0, interrupted or bool(once.got), history)

    def _bin(self, geom: torch.Tensor, view: View) -> Pairs:
        """(wavelet, tile) pairs for this step. Exact on the CPU; on a GPU a fixed-capacity
        list (no data-dependent size, so no host read), sized from one exact binning per scale
        with 50% headroom and grown at the next loss read if a step ever needed more."""
        if not self.sync_free:
            return bin_tiles(geom, view)
        cap = self._capacity.get(view.height)
        if cap is None:
            exact = bin_tiles(geom, view)
            self._capacity[view.height] = len(exact.wid) * 3 // 2 + 64
            return exact
        pairs = bin_tiles(geom, view, capacity=cap)
        assert pairs.total is not None
        self._peak = pairs.total if self._peak is None else torch.maximum(self._peak,
                                                                           pairs.total)
        return pairs

    def _check_capacity(self, view: View) -> None:
        """At a loss read (a host sync anyway): grow the pair capacity if it ran short."""
        if self._peak is None:
            return
        peak = int(self._peak)
        self._peak = None
        if peak > self._capacity.get(view.height, 0):
            self._capacity[view.height] = peak * 3 // 2 + 64

    def _mutate(self, frac: float) -> None:
        """torch-imfit's optional mutation: rarely perturb ~1% of wavelets, cooling down."""
        if self.host_rng.random() > 0.02:  # a host coin: reading a device draw would sync
            return
        p = self.params
        n = len(p.pos)
        dev = self.device
        idx = torch.randperm(n, generator=self.gen, device=dev)[: max(1, n // 100)]
        t = self.s.mutation_scale * (1 - frac)
        with torch.no_grad():
            p.pos[idx] += t * 0.1 * torch.randn(len(idx), 2, generator=self.gen, device=dev)
            p.theta[idx] += t * torch.randn(len(idx), generator=self.gen, device=dev)
            p.log_sg[idx] += t * 0.2 * torch.randn(len(idx), 2, generator=self.gen, device=dev)

    def result_set(self, interrupted: bool, step: int, total: int, seconds: float,
                   measure: bool = True) -> GaborSet:
        """The current parameters in physical units, with fit metadata (PSNR at the fitted size,
        unless not `measure`: then `psnr` is None)."""
        meta = dict(self.meta)
        meta.update({"settings": asdict(self.s), "steps": step, "steps_planned": total,
                     "seconds": round(seconds, 2), "seed": self.s.seed,
                     "incomplete": bool(interrupted)})
        gs = self.params.to_gaborset(self.width, self.height, meta)
        if not measure:
            return gs.replace(meta={**meta, "psnr": None})
        from imfit.renderers.gabor import render

        img = render(gs, self.width, self.height, device=self.device)
        meta["psnr"] = round(psnr(img, self.target_np), 3)
        return gs.replace(meta=meta)


def _loss(out: torch.Tensor, target: torch.Tensor, wt: torch.Tensor | None,
          s: FitSettings) -> torch.Tensor:
    d = out - target
    w = 1.0 if wt is None else wt[..., None]
    loss = (w * d * d).mean()
    if s.l1:
        loss = loss + s.l1 * (w * d.abs()).mean()
    if s.gradient:
        loss = loss + s.gradient * ((d[1:] - d[:-1]).abs().mean() + (d[:, 1:] - d[:, :-1]).abs()
                                    .mean())
    if s.sobel:
        go, gt = _sobel(out.permute(2, 0, 1)), _sobel(target.permute(2, 0, 1))
        loss = loss + s.sobel * ((go[0] ** 2 + go[1] ** 2).sqrt() - (gt[0] ** 2 + gt[1] ** 2)
                                 .sqrt()).pow(2).mean()
    return loss


def fit_array(target: np.ndarray, settings: FitSettings, weight: np.ndarray | None = None,
              init: GaborSet | None = None, meta: dict[str, Any] | None = None,
              progress: Progress | None = None, snapshot: Snapshot | None = None) -> FitResult:
    """Fit `settings.num_gabors` wavelets to target (H, W, 3) in 0..1; see the module docstring."""
    return Fitter(target, settings, weight, init, meta).run(progress, snapshot)


def empty_params(n: int) -> np.ndarray:
    return np.zeros((n, NCOL), np.float32)
