"""The GLSL twin of imfit/poisson/solve.py: the Pérez system on RGBA32F textures.

`GLPoisson` solves it by multigrid-preconditioned CG, the twin of
imfit.poisson.solve.solve_poisson on the same hierarchy; `GLPoissonSOR`, red-black SOR (two
passes per sweep) over the whole picture, is its plain twin. Both warm-start after a drag.
`solve_gl` is `imfit blend --backend gl`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from imfit.errors import ImfitError
from imfit.poisson.solve import PoissonSystem
from viewer.gl_passes import Passes, Reduction, float_texture, read_rgb, rgba

# The live view's Poisson CG stops here: float32 textures cannot hold the picture much closer
# to the exact solution (the true residual of the rounded answer is ~1e-6).
LIVE_TOL = 1e-6
# GLPoisson.solve restarts CG from the true residual at most this often when float32
# recurrences claim convergence the float64 check does not see.
MAX_RESTARTS = 3


def _relative_residual(system: PoissonSystem, image: np.ndarray) -> float:
    """||b - A x|| / ||b|| (max over channels) of a whole-destination image, in float64 on the
    CPU: what both GL solvers stop on, whatever their float32 arithmetic believes."""
    y0, x0 = system.box
    h, w = system.inside.shape
    x = image[y0:y0 + h, x0:x0 + w].astype(np.float64)
    xi = np.where(system.inside[..., None], x, 0.0)
    ax = system.count[..., None] * xi
    ax[1:] -= xi[:-1]
    ax[:-1] -= xi[1:]
    ax[:, 1:] -= xi[:, :-1]
    ax[:, :-1] -= xi[:, 1:]
    r = np.where(system.inside[..., None], system.rhs - ax, 0.0)
    bn = np.sqrt((system.rhs ** 2).sum((0, 1)))
    bn = np.where(bn > 0, bn, 1.0)  # b = 0: the answer is 0, measure absolutely
    return float((np.sqrt((r ** 2).sum((0, 1))) / bn).max())


class GLPoisson:
    """Multigrid-preconditioned CG on the GPU: the twin of imfit.poisson.solve.solve_poisson.

    The same hierarchy (imfit.poisson.multigrid, one coef texture per level over the padded
    crop), the same V(1, 1) Jacobi cycle, fused into one pass down and one pass up per level
    (poisson_restrict.glsl, poisson_prolong.glsl) plus a dense solve at the bottom, and the same
    CG with its inner products reduced on the GPU (3 RGB values read back each). Textures are
    float32 where torch's CG is float64, so `solve` checks the float64 residual on the CPU
    before it stops and restarts CG from the true residual when the recurrence drifted. One
    `sweep` is one CG iteration; the live view runs a few per frame, warm-started after a drag.
    """

    def __init__(self, ctx: Any, system: PoissonSystem, passes: Passes | None = None) -> None:
        self.ctx = ctx
        self.passes = passes or Passes(ctx)
        self.h, self.w = system.dst.shape[:2]
        self.dst = float_texture(ctx, self.w, self.h)
        self.out = float_texture(ctx, self.w, self.h)
        self.out_fbo = ctx.framebuffer(color_attachments=[self.out])
        self._owned: list[Any] = []  # everything sized by the system, released on load
        self.sums: Reduction | None = None
        self.load(system)

    def _input(self, size: tuple[int, int], data: np.ndarray) -> Any:
        tex = float_texture(self.ctx, size[1], size[0], data)
        self._owned.append(tex)
        return tex

    def _target(self, size: tuple[int, int], data: np.ndarray | None = None) -> tuple[Any, Any]:
        tex = float_texture(self.ctx, size[1], size[0], data)
        fbo = self.ctx.framebuffer(color_attachments=[tex])
        self._owned += [fbo, tex]
        return tex, fbo

    def load(self, system: PoissonSystem, warm: np.ndarray | None = None) -> None:
        """A new system (e.g. after a drag). `warm`: full-size values to start Omega from."""
        from imfit.poisson.multigrid import coarsest_inverse, fine_level, hierarchy

        self._release_system()
        self.system = system
        self.dst.write(rgba(system.dst).tobytes())
        levels = hierarchy(fine_level(system.inside, system.count))
        self.sizes = [lv.shape for lv in levels]
        self.coef = [self._input(lv.shape, np.stack([lv.d, lv.wx, lv.wy], -1)) for lv in levels]
        inv = coarsest_inverse(levels[-1])
        self.inverse = self.ctx.texture(inv.shape[::-1], 1, inv.tobytes(), dtype="f4")
        self._owned.append(self.inverse)
        size = self.sizes[0]
        y0, x0 = system.box
        h, w = system.inside.shape

        def padded(a: np.ndarray) -> np.ndarray:
            out = np.zeros((*size, 3), np.float32)
            out[:h, :w] = np.where(system.inside[..., None], a, 0.0)
            return out

        start = system.start if warm is None else warm[y0:y0 + h, x0:x0 + w]
        self.b = self._input(size, padded(system.rhs))
        self.x = [self._target(size, padded(start)), self._target(size)]
        self.r = [self._target(size), self._target(size)]
        self.p = [self._target(size), self._target(size)]
        self.z, self.ap = self._target(size), self._target(size)
        # the cycle's right-hand sides and solutions below level 0 (level 0's are r and z)
        self.level_b = [self._target(sz) for sz in self.sizes[1:]]
        self.level_x = [self._target(sz) for sz in self.sizes[1:]]
        self.sums = Reduction(self.ctx, size[1], size[0])
        self.bn = np.sqrt((system.rhs ** 2).sum((0, 1)))
        self.iterations = 0
        self._restart()

    def _run(self, name: str, target: Any, level: int, uniforms: dict[str, Any],
             textures: dict[str, Any], defines: dict[str, str] | None = None) -> None:
        h, w = self.sizes[level]
        self.passes.run(name, target, (w, h), uniforms, textures, defines)

    def _dot(self, a: Any, b: Any) -> np.ndarray:
        return self.sums.run(self.passes, a, b, "DOT")[0].astype(np.float64)

    def _axpy(self, name: str, y: Any, a: np.ndarray, x: Any) -> None:
        """state `name` (x, r or p) <- y + a x, into its other ping-pong target."""
        pair = getattr(self, name)
        pair.reverse()
        self._run("poisson_axpy.glsl", pair[0][1], 0, {"a": tuple(a)}, {"x": x, "y": y})

    def _restart(self) -> None:
        """r = b - A x from the current x, z = B r, p = z: CG from scratch, keeping x."""
        x = self.x[0][0]
        self._run("poisson_apply.glsl", self.r[0][1], 0, {},
                  {"coef": self.coef[0], "x": x, "b": self.b}, {"RESIDUAL": "1"})
        rn = np.sqrt(self._dot(self.r[0][0], self.r[0][0]))
        if self.iterations == 0:
            self.bn = np.where(self.bn > 0, self.bn, rn)  # b = 0 (answer 0): vs the start, as torch
        self.res = float((rn / np.maximum(self.bn, 1e-30)).max())
        self._cycle()
        self.ctx.copy_framebuffer(self.p[0][1], self.z[1])
        self.rz = self._dot(self.r[0][0], self.z[0])
        self._place()

    def _cycle(self) -> None:
        """z = B r: imfit.poisson.multigrid.VCycle's passes."""
        from imfit.poisson.multigrid import JACOBI, OVERCORRECT

        bs = [self.r[0][0]] + [t for t, _ in self.level_b]
        xs = [self.z] + self.level_x
        bottom = len(self.sizes) - 1
        for lvl in range(bottom):
            self._run("poisson_restrict.glsl", self.level_b[lvl][1], lvl + 1, {"jacobi": JACOBI},
                      {"coef": self.coef[lvl], "b": bs[lvl]})
        self._run("poisson_coarsest.glsl", xs[bottom][1], bottom, {},
                  {"b": bs[bottom], "inverse": self.inverse})
        for lvl in reversed(range(bottom)):
            self._run("poisson_prolong.glsl", xs[lvl][1], lvl,
                      {"jacobi": JACOBI, "alpha": OVERCORRECT},
                      {"coef": self.coef[lvl], "b": bs[lvl], "coarse": xs[lvl + 1][0]})

    def _iterate(self, tol: float) -> None:
        """One CG iteration (imfit.poisson.solve._solve_cg's loop body)."""
        p = self.p[0][0]
        self._run("poisson_apply.glsl", self.ap[1], 0, {}, {"coef": self.coef[0], "x": p})
        alpha = self.rz / np.maximum(self._dot(p, self.ap[0]), 1e-30)
        self._axpy("x", self.x[0][0], alpha, p)
        self._axpy("r", self.r[0][0], -alpha, self.ap[0])
        r = self.r[0][0]
        self.res = float((np.sqrt(self._dot(r, r)) / np.maximum(self.bn, 1e-30)).max())
        self.iterations += 1
        if self.res <= tol:
            return  # no preconditioner for a direction that will not be taken
        self._cycle()
        rz = self._dot(r, self.z[0])
        self._axpy("p", self.z[0], rz / np.maximum(self.rz, 1e-30), p)
        self.rz = rz

    def _place(self) -> None:
        y0, x0 = self.system.box
        self.passes.run("poisson_place.glsl", self.out_fbo, (self.w, self.h), {"box": (x0, y0)},
                        {"dst": self.dst, "x": self.x[0][0], "coef": self.coef[0]})

    def sweep(self, n: int = 1) -> None:
        """n CG iterations (fewer once converged to LIVE_TOL), then the picture is updated."""
        for _ in range(n):
            if self.res <= LIVE_TOL:
                break
            self._iterate(LIVE_TOL)
        self._place()

    def image(self) -> np.ndarray:
        return read_rgb(self.out_fbo, self.w, self.h)

    @property
    def texture(self) -> Any:
        return self.out

    def residual(self) -> float:
        """Relative residual ||b - A x|| / ||b|| of the current state (max over channels)."""
        return _relative_residual(self.system, self.image())

    def solve(self, tol: float = 1e-5, max_iter: int = 2000,
              ) -> tuple[np.ndarray, int, float]:
        """Iterate until the float64 residual is below tol: (image, iterations, residual)."""
        res = math.inf
        for _ in range(MAX_RESTARTS + 1):
            while self.res > tol and self.iterations < max_iter:
                self._iterate(tol)
            self._place()
            res = self.residual()
            if res <= tol or self.iterations >= max_iter:
                break
            self._restart()
        return self.image(), self.iterations, res

    def _release_system(self) -> None:
        for o in self._owned:
            o.release()
        self._owned.clear()
        if self.sums is not None:
            self.sums.release()
            self.sums = None

    def release(self) -> None:
        self._release_system()
        for o in (self.out_fbo, self.out, self.dst):
            o.release()


class GLPoissonSOR:
    """Red-black SOR on the Pérez system over the whole destination: GLPoisson's plain twin
    (one shader, two whole-picture passes a sweep, hundreds of sweeps where GLPoisson takes
    about ten iterations)."""

    def __init__(self, ctx: Any, system: PoissonSystem, passes: Passes | None = None) -> None:
        self.ctx = ctx
        self.passes = passes or Passes(ctx)
        dst = system.dst
        self.h, self.w = dst.shape[:2]
        self.tex = [float_texture(ctx, self.w, self.h), float_texture(ctx, self.w, self.h)]
        self.fbo = [ctx.framebuffer(color_attachments=[t]) for t in self.tex]
        self.info = float_texture(ctx, self.w, self.h)
        self.cur = 0
        self.iterations = 0
        self.load(system)

    def load(self, system: PoissonSystem, warm: np.ndarray | None = None) -> None:
        """A new system (e.g. after a drag). `warm`: full-size values to start Omega from."""
        self.system = system
        y0, x0 = system.box
        h, w = system.inside.shape
        info = np.zeros((self.h, self.w, 4), np.float32)
        info[y0:y0 + h, x0:x0 + w, :3] = system.guide
        info[y0:y0 + h, x0:x0 + w, 3] = np.where(system.inside, system.count, 0.0)
        self.info.write(info.tobytes())
        f = system.dst.copy()
        crop = f[y0:y0 + h, x0:x0 + w]
        start = system.start if warm is None else warm[y0:y0 + h, x0:x0 + w]
        crop[system.inside] = start[system.inside]
        self.tex[self.cur].write(rgba(f).tobytes())
        n = max(h, w)
        self.omega = 2.0 / (1.0 + math.sin(math.pi / max(n, 2)))
        self.iterations = 0

    def sweep(self, n: int = 1) -> None:
        for _ in range(n):
            for parity in (0, 1):
                nxt = 1 - self.cur
                self.passes.run("diffusion_poisson.glsl", self.fbo[nxt], (self.w, self.h),
                                {"parity": parity, "omega": self.omega},
                                {"f": self.tex[self.cur], "info": self.info})
                self.cur = nxt
            self.iterations += 1

    def image(self) -> np.ndarray:
        return read_rgb(self.fbo[self.cur], self.w, self.h)

    @property
    def texture(self) -> Any:
        return self.tex[self.cur]

    def residual(self) -> float:
        """Relative residual ||b - A x|| / ||b|| of the current state (max over channels)."""
        return _relative_residual(self.system, self.image())

    def solve(self, tol: float = 1e-5, max_sweeps: int = 20_000, check_every: int = 25,
              ) -> tuple[np.ndarray, int, float]:
        """Sweep until the relative residual is below tol: (image, sweeps, residual)."""
        res = self.residual()
        while res > tol and self.iterations < max_sweeps:
            self.sweep(check_every)
            res = self.residual()
        return self.image(), self.iterations, res

    def release(self) -> None:
        for o in (*self.fbo, *self.tex, self.info):
            o.release()


def solve_gl(ctx: Any, system: PoissonSystem, tol: float = 1e-5,
             ) -> tuple[np.ndarray, int, float]:
    """`imfit blend --backend gl`: multigrid-preconditioned CG to a relative residual `tol`."""
    solver = GLPoisson(ctx, system)
    try:
        out, its, res = solver.solve(tol)
    finally:
        solver.release()
        solver.passes.release()
    if res > tol:
        raise ImfitError(f"GL Poisson solve stopped at residual {res:.1e} after {its} "
                         "iterations")
    return out, its, res


def gl_solver() -> Any:
    """The `gl-poisson` entry point of `imfit.renderers`: `solver(system)` solving on one
    headless context, made now so that a machine without GL raises ImfitError here."""
    from viewer.context import headless_context

    ctx = headless_context()

    def solver(system: PoissonSystem) -> tuple[np.ndarray, int, float]:
        return solve_gl(ctx, system)

    return solver
