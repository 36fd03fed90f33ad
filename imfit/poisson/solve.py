"""Poisson image editing (Pérez, Gangnet, Blake 2003): seamless cloning with an exact solve.

The discrete problem, for every pixel p of the region Omega (the mask, moved by the offset and
clipped to the destination), with N_p its 4 neighbours inside the image:

    |N_p| f_p - sum_{q in N_p, q in Omega} f_q = sum_{q in N_p, q not in Omega} f*_q + sum_q v_pq

f* is the destination (Dirichlet values on Omega's outer ring), v_pq the guidance across edge pq:
the source difference g_p - g_q, or with mixed gradients whichever of the source and destination
differences is larger in magnitude, chosen per edge and per channel. Pixels outside Omega are
the destination's, untouched; the float result is rounded once when saved.

`poisson_system` builds the system once (shared with the GLSL solver in viewer/gl_poisson.py),
`solve_poisson` solves it with conjugate gradients in float64 to a relative residual `tol` (the
operator is symmetric positive definite whenever Omega leaves at least one ring pixel),
preconditioned by one multigrid V-cycle per iteration (imfit/multigrid.py): ~15 iterations for
a 256x256 region where plain CG, still available as the tested twin, takes ~400.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imfit.errors import ImfitError


@dataclass(frozen=True)
class PoissonSystem:
    """The blend problem cropped to Omega's bounding box plus its ring.

    Arrays are (h, w[, 3]) over the crop; `box` = (y0, x0) of the crop in the destination.
    """

    dst: np.ndarray        # (H, W, 3) float32 destination, the whole picture
    inside: np.ndarray     # (h, w) bool, Omega
    count: np.ndarray      # (h, w) float, |N_p| (neighbours inside the image)
    rhs: np.ndarray        # (h, w, 3) float64, sum of v_pq + Dirichlet values from the ring
    guide: np.ndarray      # (h, w, 3) float64, sum of v_pq only (the GL solver adds f* itself)
    start: np.ndarray      # (h, w, 3) float32, the source pasted in Omega: a warm start
    box: tuple[int, int]


def _as_rgb(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a, np.float32)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, -1)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ImfitError(f"{what} must be an (H, W, 3) image, got shape {a.shape}")
    return a


def poisson_system(src: np.ndarray, dst: np.ndarray, mask: np.ndarray,
             offset: tuple[int, int] | None = None, mixed: bool = False) -> PoissonSystem:
    """Build the Pérez system for pasting `src` (with `mask`, same size) into `dst` at `offset`
    (x, y of src's top-left corner in dst; default: centred)."""
    src, dst = _as_rgb(src, "source"), _as_rgb(dst, "destination")
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask.mean(-1)
    if mask.shape != src.shape[:2]:
        raise ImfitError(f"mask is {mask.shape[1]}x{mask.shape[0]} but the source is "
                         f"{src.shape[1]}x{src.shape[0]}; they must be the same size")
    sel = mask > 0.5
    if not sel.any():
        raise ImfitError("mask is empty (no pixel above 50% grey)")
    hs, ws = src.shape[:2]
    hd, wd = dst.shape[:2]
    if offset is None:
        offset = ((wd - ws) // 2, (hd - hs) // 2)
    ox, oy = int(offset[0]), int(offset[1])
    # Omega in destination coordinates
    omega = np.zeros((hd, wd), bool)
    srcd = np.zeros((hd, wd, 3), np.float64)
    ys0, xs0 = max(0, -oy), max(0, -ox)
    ys1, xs1 = min(hs, hd - oy), min(ws, wd - ox)
    if ys1 <= ys0 or xs1 <= xs0 or not sel[ys0:ys1, xs0:xs1].any():
        raise ImfitError(f"the mask lies outside the destination at offset {ox},{oy}")
    omega[ys0 + oy:ys1 + oy, xs0 + ox:xs1 + ox] = sel[ys0:ys1, xs0:xs1]
    srcd[ys0 + oy:ys1 + oy, xs0 + ox:xs1 + ox] = src[ys0:ys1, xs0:xs1]
    if omega.all():
        raise ImfitError("the mask covers the whole destination: no border is left to blend "
                         "into")
    ys, xs = np.nonzero(omega)
    y0, y1 = max(0, ys.min() - 1), min(hd, ys.max() + 2)
    x0, x1 = max(0, xs.min() - 1), min(wd, xs.max() + 2)
    om = omega[y0:y1, x0:x1]
    g = srcd[y0:y1, x0:x1]
    fs = dst[y0:y1, x0:x1].astype(np.float64)
    h, w = om.shape
    count = np.zeros((h, w))
    guide = np.zeros((h, w, 3))
    ring = np.zeros((h, w, 3))
    # the four neighbours as (slice of p, slice of q), each edge seen from p's side; pairs that
    # leave the crop but stay inside the image cannot touch Omega (the crop has a 1-px margin)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        py = slice(max(0, -dy), h - max(0, dy))
        px = slice(max(0, -dx), w - max(0, dx))
        qy = slice(max(0, dy), h - max(0, -dy))
        qx = slice(max(0, dx), w - max(0, -dx))
        # a neighbour exists when q is inside the destination image
        count[py, px] += 1
        v = g[py, px] - g[qy, qx]
        if mixed:
            vd = fs[py, px] - fs[qy, qx]
            v = np.where(np.abs(vd) > np.abs(v), vd, v)
        guide[py, px] += v
        ring[py, px] += np.where(om[qy, qx][..., None], 0.0, fs[qy, qx])
    # image borders: the crop's outer rows/cols that are image borders have fewer neighbours,
    # which the slices above already count; crop edges inside the image got none for the
    # missing side, but those pixels are never in Omega (margin), so their count is unused
    rhs = np.where(om[..., None], guide + ring, 0.0)
    start = np.where(om[..., None], g, fs).astype(np.float32)
    return PoissonSystem(dst=dst, inside=om, count=count, rhs=rhs,
                         guide=np.where(om[..., None], guide, 0.0), start=start, box=(y0, x0))


def solve_poisson(system: PoissonSystem, tol: float = 1e-6, max_iter: int = 20_000,
             x0: np.ndarray | None = None, precondition: bool = True,
             device: Any = "cpu") -> tuple[np.ndarray, int, float]:
    """Conjugate gradients on the exact system (float64, torch), all in preallocated buffers.

    Returns (the whole destination with Omega solved, float32 (H, W, 3) unclipped; iterations;
    final relative residual ||b - A x|| / ||b||, the max over channels). `x0` (crop-sized)
    warm-starts it, e.g. the previous drag position. Three channels run as three independent
    CGs side by side. `precondition`: one multigrid V-cycle per iteration (imfit.poisson.multigrid),
    tens of iterations instead of hundreds; False runs plain CG, its tested twin.
    `device` is any name `imfit.device.resolve` takes: every tensor of the solve lives there
    (float64, except on Apple's MPS, which has none: float32 there, so ask it for tol >= 1e-5).
    """
    from imfit.device import resolve
    from imfit.native import single_thread

    dev = resolve(device)
    with single_thread():
        return _solve_cg(system, tol, max_iter, x0, precondition, dev)


def _solve_cg(system: PoissonSystem, tol: float, max_iter: int, x0: np.ndarray | None,
              precondition: bool, dev: Any) -> tuple[np.ndarray, int, float]:
    import torch

    from imfit.poisson.multigrid import VCycle, apply_level, fine_level, hierarchy

    dt = torch.float32 if dev.type == "mps" else torch.float64
    fine = fine_level(system.inside, system.count)
    levels = hierarchy(fine) if precondition else [fine]
    cycle = VCycle(levels, device=dev) if precondition else None
    lv = levels[0]  # padded to even sides when there are coarser levels

    def put(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a)).to(device=dev, dtype=dt)

    d, wx, wy = put(lv.d), put(lv.wx[:, :-1]), put(lv.wy[:-1])
    h, w = system.inside.shape

    def crop_tensor(a: np.ndarray) -> Any:  # (h, w, 3) -> (3, H, W) float64, zero padded
        t = torch.zeros(3, *lv.shape, dtype=dt, device=dev)
        t[:, :h, :w] = put(np.asarray(a, np.float64)).permute(2, 0, 1)
        return t

    b = crop_tensor(system.rhs)
    x = crop_tensor(system.start if x0 is None else x0).mul_(d > 0)
    r = apply_level(d, wx, wy, x, torch.empty_like(b), b)
    z = torch.empty_like(b) if cycle else r
    ap = torch.empty_like(b)
    rr = _dots(r, r)
    bn = _dots(b, b).sqrt()
    # b = 0 (e.g. a flat source into black) has the solution 0: measure against the start
    bn = torch.where(bn > 0, bn, rr.sqrt()).clamp_min(1e-300)
    res = float((rr.sqrt() / bn).max())
    if cycle:
        cycle(r, z)
    p = z.clone()
    rz = _dots(r, z) if cycle else rr
    it = 0
    while res > tol and it < max_iter:
        apply_level(d, wx, wy, p, ap)
        alpha = (rz / _dots(p, ap).clamp_min(1e-300)).view(3, 1, 1)
        x.addcmul_(p, alpha)
        r.addcmul_(ap, alpha, value=-1.0)
        rr = _dots(r, r)
        res = float((rr.sqrt() / bn).max())
        it += 1
        if res <= tol:
            break  # no preconditioner for a direction that will not be taken
        if cycle:
            cycle(r, z)
        rz_new = _dots(r, z) if cycle else rr
        torch.addcmul(z, p, (rz_new / rz.clamp_min(1e-300)).view(3, 1, 1), out=p)
        rz = rz_new
    return place(system, x[:, :h, :w].permute(1, 2, 0).cpu().double().numpy()), it, res


def _dots(a: Any, b: Any) -> Any:
    """Per-channel dot products of (C, h, w) tensors: C BLAS dots, several times faster
    single-threaded than a batched matmul or a reduction over a product."""
    import torch

    return torch.stack([torch.dot(a[c].view(-1), b[c].view(-1)) for c in range(a.shape[0])])


def place(system: PoissonSystem, crop_values: np.ndarray) -> np.ndarray:
    """The destination with Omega's pixels replaced by `crop_values` (crop-sized, (h, w, 3))."""
    out = system.dst.copy()
    y0, x0 = system.box
    h, w = system.inside.shape
    np.copyto(out[y0:y0 + h, x0:x0 + w], crop_values, where=system.inside[..., None])
    return out


def blend(src: np.ndarray, dst: np.ndarray, mask: np.ndarray,
          offset: tuple[int, int] | None = None, mixed: bool = False,
          tol: float = 1e-6, device: Any = "cpu") -> np.ndarray:
    """Seamless clone of `src` into `dst` inside `mask`: float32 (H, W, 3) in 0..1.

    Outside the region the destination is returned bit for bit.
    """
    system = poisson_system(src, dst, mask, offset, mixed)
    out, _, res = solve_poisson(system, tol, device=device)
    if not res <= tol * 10:
        raise ImfitError(f"Poisson solve did not converge (residual {res:.2e})")
    y0, x0 = system.box
    h, w = system.inside.shape
    crop = out[y0:y0 + h, x0:x0 + w]
    crop[system.inside] = np.clip(crop[system.inside], 0.0, 1.0)
    return out


def blend_files(src: str | Path, dst: str | Path, mask: str | Path,
                offset: tuple[int, int] | None = None, mixed: bool = False,
                solver: Any = None, tol: float = 1e-6,
                device: Any = "cpu") -> tuple[np.ndarray, str]:
    """`imfit blend`: read the three pictures, solve, return (image, a one-line summary).
    `device` (the torch solve's, see solve_poisson) is checked before anything is read.

    `solver(system) -> (image, iterations, residual)` replaces the torch solve (the GL one).
    """
    import time

    from imfit.device import resolve
    from imfit.formats.images import read_image

    resolve(device)  # an absent device: one line, before the pictures are read
    s, _ = read_image(src)
    d, _ = read_image(dst)
    m_rgb, m_alpha = read_image(mask)
    m = m_rgb.mean(-1) if m_alpha is None else m_rgb.mean(-1) * m_alpha
    if solver is None:
        import torch  # noqa: F401 - its first import (~1 s) is not the solve's time
    t0 = time.perf_counter()
    system = poisson_system(s, d, m, offset, mixed)
    out, iters, res = (solver or (lambda sy: solve_poisson(sy, tol, device=device)))(system)
    secs = time.perf_counter() - t0
    y0, x0 = system.box
    h, w = system.inside.shape
    crop = out[y0:y0 + h, x0:x0 + w]
    crop[system.inside] = np.clip(crop[system.inside], 0.0, 1.0)
    n = int(system.inside.sum())
    return out, (f"{n} pixels solved, {'mixed' if mixed else 'normal'} gradients, "
                 f"{iters} iterations, residual {res:.1e}, {secs:.2f} s")
