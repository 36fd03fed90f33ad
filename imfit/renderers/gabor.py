"""Torch renderers: a dense reference and a fast tiled one with a fused analytic backward.

Both evaluate the model of `imfit.model.gaborset` (and mirror `viewer/glsl/gabor.glsl` line by line:
same u/v rotation, same window, same cosine). The dense one is the obviously-correct twin used by
tests; the fast one is what the fitter and `imfit render --backend torch` use.

The fast renderer cuts each wavelet at the ellipse u^2/sigma^2 + v^2/gamma^2 <= radius^2
(radius 4.5 by default: the window is exp(-10.1) = 4e-5 there), bins wavelets into 16x16 pixel
tiles, and evaluates only (wavelet, tile) pairs, in chunks. It never builds an N x 3 x H x W
tensor: memory is O(N + HW) plus one chunk. Its backward is written out by hand and recomputes
each chunk, so autograd stores nothing per pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from imfit import validate
from imfit.errors import ImfitError
from imfit.model.gaborset import GaborSet

TWO_PI = 2.0 * math.pi
DEFAULT_RADIUS = 4.5  # in standard deviations along each axis; >= 4 as the spec asks
TILE = 16
# Elements (pair x pixel) evaluated per chunk: ~8 MB of float32 per temporary on the CPU, where
# chunks must stay near the caches; a GPU wants few, large launches instead (~64 MB per
# temporary on CUDA, half that on Apple's shared memory).
CHUNK_ELEMS = 1 << 21
CHUNK_ELEMS_DEVICE = {"cuda": 1 << 24, "mps": 1 << 23}


@dataclass(frozen=True)
class View:
    """Which part of the plane an output image shows.

    Output pixel (row i, col j) centre maps to x = x0 + (j + 0.5) * scale,
    y = y0 + (i + 0.5) * scale. Square pixels always.
    """

    width: int
    height: int
    x0: float
    y0: float
    scale: float  # plane units per pixel

    @staticmethod
    def of(width: int, height: int, center: tuple[float, float] = (0.0, 0.0),
           zoom: float = 1.0) -> View:
        """The frame `height` pixels tall showing 2/zoom units vertically around `center`.

        With zoom 1, centre 0 and the fitted aspect, this is exactly the fitted image.
        """
        scale = 2.0 / (zoom * height)
        return View(width, height, center[0] - width / 2 * scale, center[1] - height / 2 * scale,
                    scale)

    def grid(self, device: torch.device | str = "cpu",
             dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel-centre coordinates: xs (W,), ys (H,)."""
        xs = self.x0 + (torch.arange(self.width, device=device, dtype=dtype) + 0.5) * self.scale
        ys = self.y0 + (torch.arange(self.height, device=device, dtype=dtype) + 0.5) * self.scale
        return xs, ys


def coefficients(params: torch.Tensor) -> torch.Tensor:  # (N, 12) -> (N, 3, 2)
    """amp*cos(ku + phase) = A cos(ku) + B sin(ku): returns (A, B) per channel.

    The model is linear in (A, B) for fixed geometry; the fitter solves them in closed form.
    """
    amp, ph = params[:, 9:12], params[:, 6:9]
    return torch.stack([amp * torch.cos(ph), -amp * torch.sin(ph)], dim=-1)


# -- dense reference --------------------------------------------------------------------------
def render_dense(params: torch.Tensor, view: View, bias: Any = 0.5,
                 clamp: bool = True) -> torch.Tensor:
    """Exact sum over all wavelets at every pixel; (N, 12) -> (H, W, 3). Reference only."""
    xs, ys = view.grid(params.device, params.dtype)
    X, Y = xs[None, None, :], ys[None, :, None]
    p = params[:, :, None, None]
    x, y, th, sig, gam, wl = (p[:, i] for i in range(6))
    dx, dy = X - x, Y - y
    c, s = torch.cos(th), torch.sin(th)
    u = dx * c + dy * s
    v = -dx * s + dy * c
    env = torch.exp(-0.5 * (u * u / (sig * sig) + v * v / (gam * gam)))
    arg = TWO_PI * u / wl
    amp, ph = params[:, 9:12, None, None], params[:, 6:9, None, None]
    out = (amp * env[:, None] * torch.cos(arg[:, None] + ph)).sum(0).permute(1, 2, 0)
    out = out + torch.as_tensor(bias, dtype=params.dtype, device=params.device)
    return out.clamp(0, 1) if clamp else out


# -- fast tiled renderer --------------------------------------------------------------------------
@dataclass
class Pairs:
    """(wavelet, tile) pairs touching the view; row-aligned int64 tensors of length P.

    A fixed-capacity list (`bin_tiles(..., capacity=)`) pads with pairs whose tile lies
    outside the view (they write only to the discarded padding pixel) and carries `total`,
    the number of pairs really needed, as a 0-dim device tensor.
    """

    wid: torch.Tensor
    tx: torch.Tensor
    ty: torch.Tensor
    ntx: int
    nty: int
    total: torch.Tensor | None = None


def bin_tiles(geom: torch.Tensor, view: View, radius: float = DEFAULT_RADIUS,
              tile: int = TILE, capacity: int | None = None) -> Pairs:
    """Tiles each wavelet's truncated window overlaps (its axis-aligned bounding box).

    The exact list has a data-dependent length, which a GPU can only learn by stopping for a
    host read; with `capacity` the list has that fixed length instead (no host read): the
    first `total` slots are the exact pairs in the same order, the rest are padding, and
    pairs beyond the capacity are dropped (the caller checks `total`).
    """
    g = geom.detach()
    th, sig, gam = g[:, 2], g[:, 3], g[:, 4]
    c, s = torch.cos(th), torch.sin(th)
    ex = radius * torch.sqrt((sig * c) ** 2 + (gam * s) ** 2)
    ey = radius * torch.sqrt((sig * s) ** 2 + (gam * c) ** 2)
    px = (g[:, 0] - view.x0) / view.scale - 0.5  # pixel column of the centre
    py = (g[:, 1] - view.y0) / view.scale - 0.5
    ntx = (view.width + tile - 1) // tile
    nty = (view.height + tile - 1) // tile
    j0 = torch.floor((px - ex / view.scale) / tile).clamp(-1, ntx).long()
    j1 = torch.floor((px + ex / view.scale) / tile + 1e-6).clamp(-1, ntx).long()
    i0 = torch.floor((py - ey / view.scale) / tile).clamp(-1, nty).long()
    i1 = torch.floor((py + ey / view.scale) / tile + 1e-6).clamp(-1, nty).long()
    j0, j1 = j0.clamp(min=0), j1.clamp(max=ntx - 1)
    i0, i1 = i0.clamp(min=0), i1.clamp(max=nty - 1)
    nx = (j1 - j0 + 1).clamp(min=0)
    ny = (i1 - i0 + 1).clamp(min=0)
    counts = nx * ny
    dev = geom.device
    if capacity is not None:
        return _bin_fixed(j0, i0, nx, counts, ntx, nty, capacity)
    wid = torch.repeat_interleave(torch.arange(len(g), device=dev), counts)
    if wid.numel() == 0:
        e = torch.zeros(0, dtype=torch.long, device=dev)
        return Pairs(e, e, e, ntx, nty)
    starts = torch.cumsum(counts, 0) - counts
    k = torch.arange(wid.numel(), device=dev) - starts[wid]
    nxw = nx[wid]
    return Pairs(wid, j0[wid] + k % nxw, i0[wid] + k // nxw, ntx, nty)


def _bin_fixed(j0: torch.Tensor, i0: torch.Tensor, nx: torch.Tensor, counts: torch.Tensor,
               ntx: int, nty: int, capacity: int) -> Pairs:
    """Pair slot k belongs to the wavelet whose running count first exceeds k (searchsorted),
    so the slots hold the exact pairs in the exact order, all in device ops."""
    dev = counts.device
    if len(counts) == 0 or capacity <= 0:
        e = torch.zeros(0, dtype=torch.long, device=dev)
        return Pairs(e, e, e, ntx, nty, torch.zeros((), dtype=torch.long, device=dev))
    ends = torch.cumsum(counts, 0)
    total = ends[-1]
    k = torch.arange(capacity, device=dev)
    wid = torch.searchsorted(ends, k, right=True).clamp(max=len(counts) - 1)
    valid = k < total
    local = k - (ends[wid] - counts[wid])
    nxw = nx[wid].clamp(min=1)
    tx = torch.where(valid, j0[wid] + local % nxw, ntx)
    ty = torch.where(valid, i0[wid] + local // nxw, nty)
    return Pairs(wid, tx, ty, ntx, nty, total)


def _chunk_eval(geom: torch.Tensor, wid: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor,
                view: View, radius: float, tile: int) -> tuple[torch.Tensor, ...]:
    """Per (pair, pixel): flat pixel index, dx, dy, u, v, env (masked), cos, sin of the wave."""
    dev, dt = geom.device, geom.dtype
    loc = torch.arange(tile, device=dev)
    colj = tx[:, None, None] * tile + loc[None, None, :]  # (P, 1, T)
    rowi = ty[:, None, None] * tile + loc[None, :, None]  # (P, T, 1)
    inside = (colj < view.width) & (rowi < view.height)
    flat = torch.where(inside, rowi * view.width + colj, view.width * view.height)
    flat = flat.reshape(len(wid), -1)
    g = geom[wid]
    xs = view.x0 + (colj.to(dt) + 0.5) * view.scale
    ys = view.y0 + (rowi.to(dt) + 0.5) * view.scale
    dx = (xs - g[:, 0, None, None]).expand(-1, tile, tile).reshape(len(wid), -1)
    dy = (ys - g[:, 1, None, None]).expand(-1, tile, tile).reshape(len(wid), -1)
    c, s = torch.cos(g[:, 2:3]), torch.sin(g[:, 2:3])
    u = dx * c + dy * s
    v = dy * c - dx * s
    q = (u / g[:, 3:4]) ** 2 + (v / g[:, 4:5]) ** 2
    env = torch.where(q <= radius * radius, torch.exp(-0.5 * q), torch.zeros((), dtype=dt,
                                                                             device=dev))
    arg = (TWO_PI / g[:, 5:6]) * u
    return flat, dx, dy, u, v, env, torch.cos(arg), torch.sin(arg)


def _chunks(p: int, tile: int, device: torch.device) -> list[tuple[int, int]]:
    step = max(1, CHUNK_ELEMS_DEVICE.get(device.type, CHUNK_ELEMS) // (tile * tile))
    return [(a, min(a + step, p)) for a in range(0, p, step)]


class _TiledGabor(torch.autograd.Function):
    """Sum of truncated wavelets, (geom (N,6), coef (N,3,2)) -> (H*W, 3), analytic backward."""

    @staticmethod
    def forward(ctx: Any, geom: torch.Tensor, coef: torch.Tensor, view: View,
                radius: float, tile: int, pairs: Pairs) -> torch.Tensor:
        hw = view.width * view.height
        out = torch.zeros(hw + 1, 3, dtype=geom.dtype, device=geom.device)
        for a, b in _chunks(len(pairs.wid), tile, geom.device):
            wid = pairs.wid[a:b]
            flat, _, _, _, _, env, cw, sw = _chunk_eval(geom, wid, pairs.tx[a:b], pairs.ty[a:b],
                                                        view, radius, tile)
            cf = coef[wid]  # (P, 3, 2)
            val = (env * cw)[:, :, None] * cf[:, None, :, 0] + (env * sw)[:, :, None] * cf[
                :, None, :, 1]
            out.index_add_(0, flat.reshape(-1), val.reshape(-1, 3))
        ctx.save_for_backward(geom, coef)
        ctx.view, ctx.radius, ctx.tile, ctx.pairs = view, radius, tile, pairs
        return out[:hw]

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        geom, coef = ctx.saved_tensors
        view, radius, tile, pairs = ctx.view, ctx.radius, ctx.tile, ctx.pairs
        go = torch.cat([grad_out, grad_out.new_zeros(1, 3)], 0)
        ggeom = torch.zeros_like(geom)
        gcoef = torch.zeros_like(coef)
        for a, b in _chunks(len(pairs.wid), tile, geom.device):
            wid = pairs.wid[a:b]
            flat, dx, dy, u, v, env, cw, sw = _chunk_eval(geom, wid, pairs.tx[a:b],
                                                          pairs.ty[a:b], view, radius, tile)
            g = go[flat]  # (P, T*T, 3)
            cf = coef[wid]
            ec, es = env * cw, env * sw
            gA = torch.einsum("pkc,pk->pc", g, ec)
            gB = torch.einsum("pkc,pk->pc", g, es)
            # S: d/d(env) of the value (per pixel); D: d/d(arg) of the value
            S = torch.einsum("pkc,pc->pk", g, cf[:, :, 0]) * cw + torch.einsum(
                "pkc,pc->pk", g, cf[:, :, 1]) * sw
            D = torch.einsum("pkc,pc->pk", g, cf[:, :, 1]) * cw - torch.einsum(
                "pkc,pc->pk", g, cf[:, :, 0]) * sw
            gg = geom[wid]
            c, s = torch.cos(gg[:, 2:3]), torch.sin(gg[:, 2:3])
            isig2, igam2 = 1.0 / gg[:, 3:4] ** 2, 1.0 / gg[:, 4:5] ** 2
            k = TWO_PI / gg[:, 5:6]
            eS, eD = env * S, env * D
            gu = -u * isig2 * eS + k * eD
            gv = -v * igam2 * eS
            r = torch.stack([
                (-c * gu + s * gv).sum(1),
                (-s * gu - c * gv).sum(1),
                (v * gu - u * gv).sum(1),
                (eS * u * u).sum(1) * isig2[:, 0] / gg[:, 3],
                (eS * v * v).sum(1) * igam2[:, 0] / gg[:, 4],
                -(eD * u).sum(1) * k[:, 0] / gg[:, 5],
            ], 1)
            ggeom.index_add_(0, wid, r)
            gcoef.index_add_(0, wid, torch.stack([gA, gB], -1))
        return ggeom, gcoef, None, None, None, None


class _FusedGabor(torch.autograd.Function):
    """The same truncated sum through the fused C kernel (imfit/_gabor_kernel.c)."""

    @staticmethod
    def forward(ctx: Any, geom: torch.Tensor, coef: torch.Tensor, view: View,
                radius: float) -> torch.Tensor:
        from imfit import native

        ctx.save_for_backward(geom, coef)
        ctx.view, ctx.radius = view, radius
        return native.forward(geom.detach(), coef.detach(), view.width, view.height, view.x0,
                               view.y0, view.scale, radius)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        from imfit import native

        geom, coef = ctx.saved_tensors
        v = ctx.view
        gg, gc = native.backward(geom.detach(), coef.detach(), grad_out, v.width, v.height,
                                  v.x0, v.y0, v.scale, ctx.radius)
        return gg, gc, None, None


def use_fused(*tensors: torch.Tensor) -> bool:
    """Whether the fused C kernel will run for these tensors (CPU float32, compiler found)."""
    from imfit import native

    return native.usable(*tensors)


def render_tiled_coef(geom: torch.Tensor, coef: torch.Tensor, view: View,
                      radius: float = DEFAULT_RADIUS, tile: int = TILE,
                      pairs: Pairs | None = None, kernel: str = "auto") -> torch.Tensor:
    """Unclamped, unbiased sum: geom (N, 6) [x y theta sigma gamma wavelength], coef (N, 3, 2)
    -> (H, W, 3). Differentiable in both inputs.

    kernel "auto" uses the fused C kernel for CPU float32 when it is available, else the
    pure-torch tiled path ("torch"), which is also the reference the C kernel is tested against.
    """
    if kernel != "torch" and use_fused(geom, coef):
        out = _FusedGabor.apply(geom, coef, view, radius)
    else:
        if kernel == "c":
            raise RuntimeError("the fused C kernel is not available here")
        if pairs is None:
            pairs = bin_tiles(geom, view, radius, tile)
        out = _TiledGabor.apply(geom, coef, view, radius, tile, pairs)
    return out.reshape(view.height, view.width, 3)


def render_tiled(params: torch.Tensor, view: View, bias: Any = 0.5, clamp: bool = True,
                 radius: float = DEFAULT_RADIUS, kernel: str = "auto") -> torch.Tensor:
    """Fast render of (N, 12) physical parameters -> (H, W, 3)."""
    out = render_tiled_coef(params[:, :6], coefficients(params), view, radius, kernel=kernel)
    out = out + torch.as_tensor(bias, dtype=params.dtype, device=params.device)
    return out.clamp(0, 1) if clamp else out


# -- the public API --------------------------------------------------------------------------
def render(gs: GaborSet, width: int | None = None, height: int | None = None,
           center: tuple[float, float] = (0.0, 0.0), zoom: float = 1.0,
           method: str = "tiled", device: str | torch.device = "cpu") -> np.ndarray:
    """Render a set to a float32 (H, W, 3) array in 0..1 with torch.

    Without a size, renders at the fitted size. The view can be any window of the plane:
    zoom > 1 magnifies, `center` pans (plane units, see imfit.model.gaborset). `device` is any
    name `imfit.device.resolve` takes ("auto" included).
    """
    from imfit.device import resolve

    dev = resolve(device)
    if method not in ("tiled", "dense"):
        raise ImfitError(f"render method must be 'tiled' or 'dense', got {method!r}")
    zoom = validate.number(zoom, "zoom", 0.0, 1e6, lo_open=True)
    center = validate.point(center, "center")
    width = width or gs.width
    height = height or (gs.height if width == gs.width else max(1, round(width / gs.aspect)))
    width, height = validate.image_size(width, height, "render size")
    view = View.of(width, height, center, zoom)
    p = torch.from_numpy(np.array(gs.params)).to(dev)
    with torch.no_grad():
        if method == "dense":
            img = _dense_chunked(p, view, gs.bias)
        else:
            img = render_tiled(p, view, gs.bias)
    return img.cpu().numpy().astype(np.float32)


def _dense_chunked(p: torch.Tensor, view: View, bias: Any) -> torch.Tensor:
    """The dense sum in wavelet chunks, so the reference fits in memory at large sizes."""
    per = max(1, (1 << 24) // max(1, view.width * view.height))
    out = torch.zeros(view.height, view.width, 3, dtype=p.dtype, device=p.device)
    for a in range(0, len(p), per):
        out += render_dense(p[a:a + per], view, 0.0, clamp=False)
    return (out + torch.as_tensor(bias, dtype=p.dtype, device=p.device)).clamp(0, 1)
