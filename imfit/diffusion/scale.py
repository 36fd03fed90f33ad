"""A preset's look at a picture-relative scale: run any diffusion engine at `look_size` and
bring every frame back to full resolution by guided upsampling against the full-size input.

Why: the diffusion step is a pixel-neighbourhood operator, so a preset's stipple, blobs and
drift have a size in pixels; the same preset on a 1024 px photo made a look 4x finer (and
cost 16x the 256 px run). Running the engine on the area-downsampled picture fixes the look's
scale to the picture (1/look_size of its longer side) and its cost to the look_size run.

Upsampling (the fast guided filter, He & Sun 2015, arXiv 1505.00996, with a colour guide as in
He, Sun & Tang's guided filter): over every (2r+1)^2 window of the low-resolution frame the look
is fitted as an affine map of the input's colour, `look ~ A guide + b` (A a 3x3 matrix, b a
3-vector; ridge `eps` on the guide's covariance), A and b are box-averaged, bilinearly enlarged
and applied to the full-resolution input. Where the look is locally a colour map of the photo
(a hue turn, a saturation, a tone curve) the photo's own edges and fine detail come through at
full resolution; a colour guide, not a per-channel or luminance one, because the learned
kernel's `spin` mixes the channels (red out depends on green in), which a per-channel fit
cannot express. What the map does not explain (the look's own stipple and blobs, which no
colour map of the photo makes) is the residual `look - (A guide + b)` at low resolution; it is
enlarged as blocks (nearest) with their corners softened by a Gaussian of DOT_SOFTNESS times
the enlargement, and added, so the look's texture keeps its picture-relative size and its
contrast instead of being averaged away by the box windows: the output's area-downsample is
the low-res look again (to ~1 %). Why blocks and not a smooth enlargement: the stipple looks
put their texture at the look's pixel scale, and a bilinear or bicubic enlargement of that
keeps only 20-40 % of its energy at the look's scale (measured on drugs-hold at 512 and
1024 px), a visibly duller stipple. Smoothing looks have no residual to speak of, so they stay
smooth, and a flat picture stays flat.

Torch on the engine's device, no GL: the wrapper takes whatever engine factory
`diffuse_frames` is given (the torch engine or the GLSL one) and keeps its interface (`step`,
`new_frame`, `image`, `reset`, `ctl`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from imfit.errors import ImfitError

# Chosen by eye at 1024 px on chelsea and the Hubble field (docs/presets.md, "Look size"):
# a 5x5 window at the look's resolution follows the look's blobs closely enough that the
# colour map does not bleed across the photo's edges, and eps (intensity^2, ~0.03 grey
# levels of standard deviation) keeps the fit from amplifying the photo's noise in flat areas.
RADIUS = 2
EPS = 1e-3
# the residual's blocks are blurred by a Gaussian of this many enlarged pixels (0.4 px at 4x):
# corners rounded, 88-99 % of the stipple's energy at the look's scale kept (0.15: 60 %)
DOT_SOFTNESS = 0.1
# back-projection passes (Irani & Peleg 1991): after the guided upsample, the output's area
# average is compared with the look at low resolution and the difference is spread back over
# the full-resolution pixels each low-res pixel covers, in proportion to their overlap (the
# transpose of the area average, so each pass is a gradient step on |area(out) - look|^2 and
# converges at any enlargement factor), then clamped. Why: the 0..1 clamp (engrave's plate tone
# holds channels at 0) and a non-integer enlargement (447 rows from 224: the blocks slide half a
# pixel against the area bins) made the area average of engrave's output lose 30-40 % of the
# 256 px look's one-pixel hatch energy (docs/presets.md, "Look size").
BACKPROJECT = 3


def low_size(w: int, h: int, look_size: int) -> tuple[int, int]:
    """(width, height) the engine runs at: the longer side `look_size` (aspect kept, as
    `imfit diffuse --size` rounds it), at least 4 px a side (the smallest diffusable picture)."""
    from imfit.formats.images import fit_size

    lw, lh = fit_size(w, h, look_size)
    return max(lw, min(w, 4)), max(lh, min(h, 4))


def _gauss(x: Any, sigma: float) -> Any:
    """(C, H, W) separable Gaussian blur with replicated borders, as shifted sums (a 5-tap
    conv2d over one channel at a time was 50x slower on CPU)."""
    import torch
    import torch.nn.functional as F

    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).tolist()
    h, w = x.shape[1:]
    p = F.pad(x[None], (r, r, 0, 0), mode="replicate")[0]
    y = sum(k[i] * p[:, :, i:i + w] for i in range(2 * r + 1))
    p = F.pad(y[None], (0, 0, r, r), mode="replicate")[0]
    return sum(k[i] * p[:, i:i + h] for i in range(2 * r + 1))


class Banded:
    """A sparse banded (m, n) matrix, such as the area average from n samples to m, applied
    along one axis as a few gathers: each output sample mixes at most a few neighbouring
    inputs. Why: as dense matmuls the back-projection cost 70 % of the guided upsample at
    1024 px; as gathers it is a few percent."""

    def __init__(self, mat: np.ndarray, device: Any) -> None:
        import torch

        nz = [np.flatnonzero(row) for row in mat]
        width = max(1, max(len(j) for j in nz))
        idx = np.zeros((len(nz), width), np.int64)
        wt = np.zeros((len(nz), width), np.float32)
        for k, j in enumerate(nz):
            idx[k, :len(j)], wt[k, :len(j)] = j, mat[k, j]
            idx[k, len(j):] = j[-1] if len(j) else 0
        self.idx = torch.from_numpy(idx).to(device)
        self.wt = torch.from_numpy(wt).to(device)

    def apply(self, x: Any, axis: int) -> Any:
        """`mat` applied along `axis` (1: rows, 2: columns) of a (C, H, W) tensor."""
        shape = (1, -1, 1) if axis == 1 else (1, 1, -1)
        out = None
        for t in range(self.idx.shape[1]):
            term = x.index_select(axis, self.idx[:, t]) * self.wt[:, t].view(shape)
            out = term if out is None else out.add_(term)
        return out


def _fit_dtype(x: Any) -> Any:
    """The window fits run in float64 (a 3x3 inverse of a nearly flat window's covariance),
    except on MPS, which has no float64."""
    import torch

    return torch.float32 if x.device.type == "mps" else torch.float64


def _box(x: Any, r: int) -> Any:
    """(C, H, W) mean over the (2r+1)^2 window clipped to the picture (He's normalised box)."""
    import torch.nn.functional as F

    return F.avg_pool2d(x[None], 2 * r + 1, stride=1, padding=r, count_include_pad=False)[0]


class GuideStats:
    """What guided upsampling needs of one input picture, computed once per input frame:
    the low-resolution guide, its window means and the inverse of its ridge-regularised
    window covariance (per low-res pixel, 3x3), and the full-resolution guide."""

    def __init__(self, full: Any, low: Any = None, radius: int = RADIUS, eps: float = EPS,
                 size: tuple[int, int] | None = None) -> None:
        """`full` (3, H, W) float32; `low` (3, h, w) the look's input, or None: the exact area
        average of `full` to `size` (w, h). Why exact: back-projection pulls the output's area
        average onto the look, so the look's input must be that same average of the photo, or
        the pull adds the difference between two downsamplers as blocks (PIL's BOX differs
        from exact overlap weights by ~0.01 on average at a non-integer factor)."""
        import torch

        from imfit.metrics import area_matrix

        hh, ww = full.shape[1:]
        w, h = size if low is None else (low.shape[2], low.shape[1])
        dev = full.device
        rows, cols = area_matrix(hh, h), area_matrix(ww, w)    # (h, H), (w, W)
        # exact area averaging full -> low (rows, then columns): the weights of
        # imfit.metrics.area_reduce; and its transpose scaled to keep a flat difference flat
        # (each low-res pixel's difference spread over the full-res pixels it covers, by
        # overlap): the back-projection's pair
        self.down = (Banded(rows, dev), Banded(cols, dev))
        self.up = (Banded(rows.T * (hh / h), dev), Banded(cols.T * (ww / w), dev))
        if low is None:
            low = self.reduce(full)
        self.full = full                     # (3, H, W) float32, the full-resolution guide
        self.low = low.to(_fit_dtype(low))  # (3, h, w)
        self.r = radius
        i = self.low
        self.mean = _box(i, radius)         # (3, h, w)
        prod = (i[:, None] * i[None]).reshape(9, *i.shape[1:])
        cov = (_box(prod, radius).reshape(3, 3, *i.shape[1:])
               - self.mean[:, None] * self.mean[None])
        cov = cov.permute(2, 3, 0, 1) + eps * torch.eye(3, dtype=cov.dtype, device=cov.device)
        self.inv = torch.linalg.inv(cov)     # (h, w, 3, 3)

    def reduce(self, x: Any) -> Any:
        """(3, H, W) -> (3, h, w): the exact area average."""
        return self.down[1].apply(self.down[0].apply(x, 1), 2)

    def enlarge(self, x: Any) -> Any:
        """(3, h, w) -> (3, H, W): the reduction's transpose, scaled (flat stays flat)."""
        return self.up[0].apply(self.up[1].apply(x, 2), 1)


def guided_upsample(look: Any, g: GuideStats, backproject: int = BACKPROJECT) -> Any:
    """(3, h, w) low-resolution look -> (3, H, W) float32 at the guide's full resolution;
    `backproject` passes then pull its area average back onto the look."""
    import torch
    import torch.nn.functional as F

    p = look.to(g.low.dtype)
    r = g.r
    mp = _box(p, r)                                                     # (3 out, h, w)
    prod = (p[:, None] * g.low[None]).reshape(9, *p.shape[1:])          # p_o I_i
    cov = _box(prod, r).reshape(3, 3, *p.shape[1:]) - mp[:, None] * g.mean[None]
    # a[o, :] = inv(Sigma + eps) cov[o, :] per pixel
    a = torch.einsum("hwij,ojhw->oihw", g.inv, cov)                     # (3 out, 3 in, h, w)
    b = mp - torch.einsum("oihw,ihw->ohw", a, g.mean)
    a, b = _box(a.reshape(9, *p.shape[1:]), r), _box(b, r)
    fit_low = torch.einsum("oihw,ihw->ohw", a.reshape(3, 3, *p.shape[1:]), g.low) + b
    size = tuple(g.full.shape[1:])
    up = F.interpolate(torch.cat([a, b]).float()[None], size=size, mode="bilinear",
                       align_corners=False)[0]                          # (12, H, W)
    res = F.interpolate((p - fit_low).float()[None], size=size, mode="nearest-exact")[0]
    sigma = DOT_SOFTNESS * 0.5 * (size[0] / p.shape[1] + size[1] / p.shape[2])
    out = up[9:12] + (_gauss(res, sigma) if sigma > 0 else res)
    out += torch.einsum("oihw,ihw->ohw", up[:9].reshape(3, 3, *size), g.full)
    out.clamp_(0.0, 1.0)
    target = p.float()
    for _ in range(backproject):
        out += g.enlarge(target - g.reduce(out))
        out.clamp_(0.0, 1.0)
    return out


class LookScale:
    """An engine run at the look's size, its frames guided-upsampled to the input's size; the
    same interface as the engines (`step`, `new_frame`, `image`, `reset`, `ctl`)."""

    def __init__(self, make: Callable[[Any, np.ndarray], Any], preset: Any, image: np.ndarray,
                 look_size: int, device: Any = "cpu", radius: int = RADIUS,
                 eps: float = EPS) -> None:
        import torch

        from imfit.diffusion.engine import as_rgb

        self.torch = torch
        self.device = torch.device(str(device))
        self.radius, self.eps = radius, eps
        img = as_rgb(image)
        self.h, self.w = img.shape[:2]
        self.lw, self.lh = low_size(self.w, self.h, look_size)
        low = self._guide(img)
        self.inner = make(preset, low)
        self.ctl = self.inner.ctl

    def _guide(self, img: np.ndarray) -> np.ndarray:
        """Area-downsample `img` (exact overlap weights, imfit.metrics.area_reduce's; within
        ~0.01 of `imfit diffuse --size`'s PIL box) and keep its guide stats."""
        full = self.torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        self.stats = GuideStats(full.to(self.device), None, self.radius, self.eps,
                                (self.lw, self.lh))
        low = self.stats.low.float().permute(1, 2, 0).cpu().numpy()
        return np.ascontiguousarray(np.clip(low, 0.0, 1.0))

    def _frame(self, frame: np.ndarray) -> np.ndarray:
        from imfit.diffusion.engine import as_rgb

        img = as_rgb(frame)
        if img.shape[:2] != (self.h, self.w):
            raise ImfitError(f"video frame is {img.shape[1]}x{img.shape[0]}, the first was "
                             f"{self.w}x{self.h}")
        return self._guide(img)

    def step(self, n: int = 1) -> None:
        self.inner.step(n)

    def new_frame(self, frame: np.ndarray) -> None:
        """Video: the new frame (full size) becomes the guide; its downsample goes in."""
        self.inner.new_frame(self._frame(frame))

    def reset(self, image: np.ndarray | None = None) -> None:
        self.inner.reset(None if image is None else self._frame(image))

    def image(self) -> np.ndarray:
        """The current state at full resolution, float32 (H, W, 3)."""
        t = self.torch
        look = t.from_numpy(np.ascontiguousarray(self.inner.image().transpose(2, 0, 1)))
        with t.no_grad():
            out = guided_upsample(look.to(self.device), self.stats)
        return out.permute(1, 2, 0).cpu().numpy().copy()


def at_look_size(make: Callable[[Any, np.ndarray], Any], preset: Any, image: np.ndarray,
                 device: Any = "cpu") -> Any:
    """`make(preset, image)`, or a `LookScale` around it when the picture's longer side is
    above the preset's `look_size` (0: always native). At or below it the engine itself is
    returned, so small pictures give exactly the frames they gave before look_size existed."""
    size = int(preset.params.get("look_size", 0) or 0)
    h, w = np.asarray(image).shape[:2]
    if size <= 0 or max(h, w) <= size:
        return make(preset, image)
    return LookScale(make, preset, image, size, device)
