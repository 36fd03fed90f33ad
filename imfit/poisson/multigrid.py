"""Multigrid for the Pérez system of imfit/poisson/solve.py: an aggregation hierarchy, V-cycle.

Each level is a 5-point operator `A x = d x - sum_q w_pq x_q` on a grid; level 0 is the blend
region's crop (d = |N_p| inside Omega, w = 1 between two Omega pixels, 0 elsewhere). A coarse
cell is a 2x2 block of fine cells and the prolongation P copies a coarse value to its four
children (piecewise constant). The coarse operator is the Galerkin product P^T A P, which for
2x2 blocks of a 5-point operator is again 5-point, with

    d_c = sum of the four children's d - 2 * (weights of the 4 edges inside the block)
    w_c = sum of the weights of the 2 fine edges between two neighbouring blocks

so a mask of any shape, the image borders and the Dirichlet ring need no special case: a coarse
cell belongs to the region when d_c > 0, and every level is symmetric positive definite when
level 0 is. The hierarchy is plain numpy (exact small integers) and shared: the torch V-cycle
below and the GLSL one in viewer/gl_poisson.py run on the same levels.

Piecewise-constant Galerkin coarse grids correct smooth errors by about half (P^T A P is twice
the rediscretised Laplacian), so the prolonged correction is scaled by OVERCORRECT (Braess,
"Towards algebraic multigrid for elliptic problems of second order", 1995). Smoothing is damped
Jacobi, the same sweeps before and after, so the cycle is a symmetric positive definite linear
operator: a preconditioner for conjugate gradients (`imfit.poisson.solve.solve_poisson`),
which converges to the exact system's answer whatever the cycle's quality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Scale of the prolonged coarse correction. The cycle stays symmetric positive definite for any
# positive scale (the Jacobi sweeps around it contract in the energy norm), so this only moves
# the PCG's condition number: 2 would match the rediscretised Laplacian in the interior but
# overshoots near-Neumann regions (a mask covering all but a few border pixels); 1.5 gave the
# fewest iterations over discs, L shapes, noise masks and near-Neumann masks.
OVERCORRECT = 1.5
# Damped Jacobi weight: 4/5 is the smoothing optimum for the 5-point Laplacian.
JACOBI = 0.8
# Below this many cells the coarsest level is solved exactly (a dense inverse, one matmul):
# smaller levels would cost a few microseconds of dispatch per op and gain nothing.
COARSEST_CELLS = 256


@dataclass(frozen=True)
class Level:
    """One grid of the hierarchy, (h, w) arrays; couplings to the right/below, 0 on the last
    column/row (so the arrays are the grid's size, e.g. for a texture)."""

    d: np.ndarray   # (h, w) diagonal; 0 for cells outside the region
    wx: np.ndarray  # (h, w) weight of the edge (i, j)-(i, j+1)
    wy: np.ndarray  # (h, w) weight of the edge (i, j)-(i+1, j)

    @property
    def shape(self) -> tuple[int, int]:
        h, w = self.d.shape
        return h, w


def fine_level(inside: np.ndarray, count: np.ndarray) -> Level:
    """Level 0 from the Pérez system's crop: Omega (h, w) bool and |N_p| (h, w)."""
    d = np.where(inside, count, 0.0)
    wx = np.zeros(d.shape)
    wy = np.zeros(d.shape)
    wx[:, :-1] = inside[:, :-1] & inside[:, 1:]
    wy[:-1] = inside[:-1] & inside[1:]
    return Level(d, wx, wy)


def _pad_even(level: Level) -> Level:
    h, w = level.shape
    if h % 2 == 0 and w % 2 == 0:
        return level

    def pad(a: np.ndarray) -> np.ndarray:
        return np.pad(a, ((0, h % 2), (0, w % 2)))

    return Level(pad(level.d), pad(level.wx), pad(level.wy))


def coarsen(level: Level) -> Level:
    """The Galerkin coarse level P^T A P of an even-sized level (see the module docstring)."""
    h, w = level.shape
    hc, wc = h // 2, w // 2
    inner = (level.wx[:, 0::2].reshape(hc, 2, wc).sum(1)
             + level.wy[0::2].reshape(hc, wc, 2).sum(2))
    d = level.d.reshape(hc, 2, wc, 2).sum((1, 3)) - 2 * inner
    wx = level.wx[:, 1::2].reshape(hc, 2, wc).sum(1)
    wy = level.wy[1::2].reshape(hc, wc, 2).sum(2)
    return Level(d, wx, wy)


def hierarchy(fine: Level, coarsest_cells: int = COARSEST_CELLS) -> list[Level]:
    """Levels from fine to coarse. Every level but the last has even sides (padded with cells
    outside the region), so level k+1 is exactly level k's 2x2 blocks; the last has at most
    `coarsest_cells` cells or is 1x1."""
    levels = [fine]
    while levels[-1].d.size > coarsest_cells and max(levels[-1].shape) > 1:
        levels[-1] = _pad_even(levels[-1])
        levels.append(coarsen(levels[-1]))
    return levels


def dense(level: Level) -> np.ndarray:
    """The level's operator as a dense (h*w, h*w) matrix, rows of cells outside the region
    replaced by the identity (so it is invertible and keeps their zero right-hand sides)."""
    h, w = level.shape
    idx = np.arange(h * w).reshape(h, w)
    a = np.diag(np.where(level.d > 0, level.d, 1.0).ravel())
    for wgt, p, q in ((level.wx[:, :-1], idx[:, :-1], idx[:, 1:]),
                      (level.wy[:-1], idx[:-1], idx[1:])):
        a[p.ravel(), q.ravel()] -= wgt.ravel()
        a[q.ravel(), p.ravel()] -= wgt.ravel()
    return a


def apply_level(d: Any, wx: Any, wy: Any, x: Any, out: Any, b: Any = None) -> Any:
    """out = A x, or b - A x when b is given, for x (C, h, w) torch tensors; d (h, w), wx/wy
    trimmed to (h, w-1)/(h-1, w). Cells outside the region have d = 0 and zero couplings, so
    whatever x holds there never reaches a cell inside."""
    import torch

    if b is None:
        torch.mul(d, x, out=out)
        sign = -1.0
    else:
        torch.addcmul(b, d, x, value=-1.0, out=out)
        sign = 1.0
    out[:, :, 1:].addcmul_(wx, x[:, :, :-1], value=sign)
    out[:, :, :-1].addcmul_(wx, x[:, :, 1:], value=sign)
    out[:, 1:].addcmul_(wy, x[:, :-1], value=sign)
    out[:, :-1].addcmul_(wy, x[:, 1:], value=sign)
    return out


class _TorchLevel:
    """A level's coefficients and work buffers as float32 torch tensors, (C, h, w)."""

    def __init__(self, level: Level, channels: int, device: Any = None) -> None:
        import torch

        def t(a: np.ndarray) -> Any:
            return torch.from_numpy(np.ascontiguousarray(a, np.float32)).to(device)

        h, w = level.shape
        self.h, self.w = h, w
        self.d, self.wx, self.wy = t(level.d), t(level.wx[:, :-1]), t(level.wy[:-1])
        inv = np.divide(JACOBI, level.d, out=np.zeros(level.shape), where=level.d > 0)
        self.jacobi = t(inv)
        self.x = torch.zeros(channels, h, w, device=device)
        self.b = torch.zeros(channels, h, w, device=device)
        self.r = torch.zeros(channels, h, w, device=device)
        self.rows = torch.zeros(channels, h // 2, w, device=device)  # row pairs summed first

    def residual(self) -> Any:
        return apply_level(self.d, self.wx, self.wy, self.x, self.r, self.b)


def coarsest_inverse(level: Level) -> np.ndarray:
    """The dense inverse of the coarsest level (float32, (h*w, h*w), cells in row-major order):
    the cycle's exact bottom solve, shared by the torch and GLSL cycles."""
    return np.linalg.inv(dense(level)).astype(np.float32)


class VCycle:
    """z = B r: one symmetric V(1, 1) cycle on the hierarchy, in float32 torch buffers that
    are allocated once (the PCG calls it every iteration). float32 halves the memory traffic;
    the PCG around it stays float64, so only the preconditioner's quality sees the rounding.
    More sweeps per level (V(2, 2)) cut PCG iterations by a fifth but cost more than that.

    Transfers use strided views rather than one reduction over a (C, h/2, 2, w/2, 2) view: torch
    runs those 20-30x slower single-threaded.
    """

    def __init__(self, levels: list[Level], channels: int = 3, device: Any = None) -> None:
        import torch

        self.levels = [_TorchLevel(lv, channels, device) for lv in levels[:-1]]
        last = levels[-1]
        self.coarsest_x = torch.zeros(channels, *last.shape, device=device)
        self.coarsest_b = torch.zeros(channels, *last.shape, device=device)
        self.inverse_t = torch.from_numpy(coarsest_inverse(last).T.copy()).to(device)

    def __call__(self, r: Any, z: Any) -> Any:
        """z = B r for (C, h, w) tensors of level 0's (padded) shape, any float dtype."""
        import torch

        bs = [lv.b for lv in self.levels] + [self.coarsest_b]
        xs = [lv.x for lv in self.levels] + [self.coarsest_x]
        bs[0].copy_(r)
        for lv, coarse_b in zip(self.levels, bs[1:]):
            torch.mul(lv.jacobi, lv.b, out=lv.x)  # the first sweep, from x = 0
            res = lv.residual()
            hc, wc = lv.h // 2, lv.w // 2
            torch.add(res[:, 0::2], res[:, 1::2], out=lv.rows)
            torch.add(lv.rows[:, :, 0::2], lv.rows[:, :, 1::2], out=coarse_b[:, :hc, :wc])
        c = self.coarsest_b.shape[0]
        torch.mm(self.coarsest_b.view(c, -1), self.inverse_t, out=self.coarsest_x.view(c, -1))
        for lv, coarse_x in zip(reversed(self.levels), reversed(xs[1:])):
            hc, wc = lv.h // 2, lv.w // 2
            e = coarse_x[:, :hc, :wc]
            blocks = lv.x.view(-1, hc, 2, wc, 2)
            for i in (0, 1):
                for j in (0, 1):
                    blocks[:, :, i, :, j].add_(e, alpha=OVERCORRECT)
            lv.x.addcmul_(lv.jacobi, lv.residual())
        return z.copy_(xs[0])
