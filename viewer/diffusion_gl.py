"""The GLSL twin of imfit/diffusion.py and imfit/poisson.py: ping-pong RGBA32F targets.

`GLDiffusion` runs a preset with the same `Controller` as the torch engine (same substeps,
schedule and SGD on the kernel), so the two agree to float precision; only the per-pixel work
moves to fragment shaders (`viewer/glsl/diffusion_*.glsl`). For the learned kernel the 81
gradient sums are reduced on the GPU (an atlas of 27 tiles, BxB blocks per level) and only 81
floats come back per substep.

`GLPoisson` solves the Pérez system of imfit.poisson.solve by multigrid-preconditioned CG, the
twin of imfit.poisson.solve.solve_cg on the same hierarchy; `GLPoissonSOR`, red-black SOR (two
passes per sweep) over the whole picture, is its plain twin. Both warm-start after a drag.

`DiffusionScene` is the live view (the viewer's Scene protocol: draw/key/drag/scroll/help/
status).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from imfit.diffusion.engine import Controller, Preset, as_rgb, load_preset
from imfit.errors import ImfitError
from imfit.poisson.solve import PoissonSystem, guidance
from viewer.context import FULLSCREEN_VS, fullscreen_quad
from viewer.shaders import assemble

REDUCE_BLOCK = 16
# The live view's Poisson CG stops here: float32 textures cannot hold the picture much closer
# to the exact solution (the true residual of the rounded answer is ~1e-6).
LIVE_TOL = 1e-6
# GLPoisson.solve restarts CG from the true residual at most this often when float32
# recurrences claim convergence the float64 check does not see.
MAX_RESTARTS = 3


class _Passes:
    """Compiled programs and their quads, built once per context."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self._progs: dict[str, tuple[Any, Any]] = {}

    def get(self, name: str, defines: dict[str, str] | None = None) -> tuple[Any, Any]:
        key = name + repr(sorted((defines or {}).items()))
        if key not in self._progs:
            prog = self.ctx.program(vertex_shader=FULLSCREEN_VS,
                                    fragment_shader=assemble(name, defines=defines))
            self._progs[key] = (prog, fullscreen_quad(self.ctx, prog))
        return self._progs[key]

    def run(self, name: str, target: Any, size: tuple[int, int],
            uniforms: dict[str, Any] | None = None, textures: dict[str, Any] | None = None,
            defines: dict[str, str] | None = None, raw: dict[str, bytes] | None = None) -> None:
        prog, vao = self.get(name, defines)
        for k, v in (uniforms or {}).items():
            if k in prog:
                prog[k].value = v
        for k, b in (raw or {}).items():
            if k in prog:
                prog[k].write(b)
        for unit, (k, tex) in enumerate((textures or {}).items()):
            tex.use(unit)
            if k in prog:
                prog[k].value = unit
        target.use()
        self.ctx.viewport = (0, 0, *size)
        vao.render()

    def release(self) -> None:
        for prog, vao in self._progs.values():
            vao.release()
            prog.release()
        self._progs.clear()


def _texture(ctx: Any, w: int, h: int, data: np.ndarray | None = None) -> Any:
    tex = ctx.texture((w, h), 4, dtype="f4")  # every pass reads with texelFetch: no filtering
    if data is not None:
        tex.write(_rgba(data).tobytes())
    return tex


def _rgba(img: np.ndarray) -> np.ndarray:
    out = np.ones((*img.shape[:2], 4), np.float32)
    out[..., :3] = img
    return out


def _read(fbo: Any, w: int, h: int) -> np.ndarray:
    """(h, w, 3) float32 in upload order (row 0 = image row 0; no flip: see the .glsl files)."""
    data = np.frombuffer(fbo.read(components=4, dtype="f4"), dtype=np.float32)
    return data.reshape(h, w, 4)[..., :3].copy()


class _Reduction:
    """Per-channel sums over a (w, h) image on the GPU, `tiles` of them side by side: each level
    sums REDUCE_BLOCK^2 blocks (diffusion_reduce.glsl) until a tile is one texel, so only
    `tiles` RGB values are read back."""

    def __init__(self, ctx: Any, w: int, h: int, tiles: int = 1) -> None:
        self.tiles = tiles
        self.levels: list[tuple[Any, Any, tuple[int, int], tuple[int, int]]] = []
        tw, th = w, h
        while True:  # (texture, fbo, input tile size, output tile size)
            ow, oh = -(-tw // REDUCE_BLOCK), -(-th // REDUCE_BLOCK)
            t = _texture(ctx, tiles * ow, oh)
            self.levels.append((t, ctx.framebuffer(color_attachments=[t]), (tw, th), (ow, oh)))
            if ow == 1 and oh == 1:
                break
            tw, th = ow, oh

    def run(self, passes: _Passes, data: Any, src: Any, first: str) -> np.ndarray:
        """(tiles, 3) sums; `first` is the first level's mode in diffusion_reduce.glsl (ATLAS,
        DOT)."""
        for lvl, (tex, fbo, (tw, th), (ow, oh)) in enumerate(self.levels):
            passes.run("diffusion_reduce.glsl", fbo, (self.tiles * ow, oh),
                       {"block": REDUCE_BLOCK, "tiles_x": ow, "tile_size": (tw, th)},
                       {"data": data, "src": src}, {first: "1"} if lvl == 0 else None)
            data = tex
        return _read(self.levels[-1][1], self.tiles, 1)[0]

    def release(self) -> None:
        for tex, fbo, _, _ in self.levels:
            fbo.release()
            tex.release()


class GLDiffusion:
    """A preset on the GPU; same interface as imfit.diffusion.engine.TorchDiffusion."""

    def __init__(self, ctx: Any, preset: Preset, image: np.ndarray,
                 passes: _Passes | None = None) -> None:
        self.ctx = ctx
        self.ctl = Controller(preset)
        img = as_rgb(image)
        self.h, self.w = img.shape[:2]
        self.passes = passes or _Passes(ctx)
        w, h = self.w, self.h
        self.tex = [_texture(ctx, w, h), _texture(ctx, w, h)]
        self.fbo = [ctx.framebuffer(color_attachments=[t]) for t in self.tex]
        self.orig = _texture(ctx, w, h, img)
        self.cur = 0
        if self.ctl.learned:
            self.etex = _texture(ctx, w, h)
            self.efbo = ctx.framebuffer(color_attachments=[self.etex])
            self.sums = _Reduction(ctx, w, h, 27)
        self.reset()

    @property
    def texture(self) -> Any:
        """The current state (RGBA32F), e.g. for display."""
        return self.tex[self.cur]

    def reset(self, image: np.ndarray | None = None) -> None:
        if image is not None:
            img = as_rgb(image)
            if img.shape[:2] != (self.h, self.w):
                raise ImfitError("reset image must keep the size")
            self.orig.write(_rgba(img).tobytes())
        self._mix(self.orig, self.orig, 0.0)
        self.ctl.step_count = 0
        self.ctl.reset_kernel(first=True)

    def new_frame(self, frame: np.ndarray) -> None:
        """Video warm start (see TorchDiffusion.new_frame)."""
        img = as_rgb(frame)
        if img.shape[:2] != (self.h, self.w):
            raise ImfitError(f"video frame is {img.shape[1]}x{img.shape[0]}, the first was "
                             f"{self.w}x{self.h}")
        self.orig.write(_rgba(img).tobytes())
        self._mix(self.tex[self.cur], self.orig, self.ctl.p["video_mix"])

    def image(self) -> np.ndarray:
        return _read(self.fbo[self.cur], self.w, self.h)

    def _mix(self, a: Any, b: Any, t: float) -> None:
        nxt = 1 - self.cur
        self.passes.run("diffusion_mix.glsl", self.fbo[nxt], (self.w, self.h), {"t": t},
                        {"a": a, "b": b})
        self.cur = nxt

    def step(self, n: int = 1) -> None:
        ctl = self.ctl
        for _ in range(n):
            subs = ctl.substeps()
            dt = ctl.p["dt"] / subs
            for _ in range(subs):
                if ctl.learned:
                    self._learned_substep(dt, 1.0 / subs)
                else:
                    self._pm_substep(dt)
            if ctl.end_step() and ctl.p["reinject"] > 0:
                self._mix(self.tex[self.cur], self.orig, ctl.p["reinject"])

    def _pm_substep(self, dt: float) -> None:
        p = self.ctl.p
        nxt = 1 - self.cur
        self.passes.run("diffusion_pm.glsl", self.fbo[nxt], (self.w, self.h),
                        {"dt": dt, "inv_k2": 1.0 / p["kappa"] ** 2, "beta": p["fidelity"],
                         "rational": int(p["g"] == "rational")},
                        {"src": self.tex[self.cur], "orig": self.orig})
        self.cur = nxt

    def _learned_substep(self, dt: float, fraction: float) -> None:
        p = self.ctl.p
        m = 3.0 * self.w * self.h
        k = self.ctl.kernel()
        # mat3 K[a*3+b] column-major: column i holds K[0..2, i, a, b]
        kbytes = np.ascontiguousarray(k.transpose(2, 3, 1, 0)).astype("f4").tobytes()
        uni = {"dt": dt, "inv_k2": 1.0 / p["kappa"] ** 2, "wf": 2 * p["w_fidelity"] / m,
               "we": p["w_edge"] / m, "wd": 2 * p["w_dark"] / m, "eps2": p["softness"] ** 2,
               "turn": p["kappa"] / math.sqrt(2.0), "back": float(p.get("backward", 0.0))}
        src = self.tex[self.cur]
        size = (self.w, self.h)
        self.passes.run("diffusion_learned.glsl", self.efbo, size, uni,
                        {"src": src, "orig": self.orig}, {"GRADIENT": "1"}, {"K": kbytes})
        nxt = 1 - self.cur
        self.passes.run("diffusion_learned.glsl", self.fbo[nxt], size, uni,
                        {"src": src, "orig": self.orig}, raw={"K": kbytes})
        sums = self.sums.run(self.passes, self.etex, src, "ATLAS")  # (27 = (a*3+b)*3+i, 3 = o)
        grad = sums.reshape(3, 3, 3, 3).transpose(3, 2, 0, 1)  # (a, b, i, o) -> (o, i, a, b)
        self.cur = nxt
        self.ctl.learn(grad, fraction)

    def release(self) -> None:
        objs = [*self.fbo, *self.tex, self.orig]
        if self.ctl.learned:
            objs += [self.efbo, self.etex]
            self.sums.release()
        for o in objs:
            o.release()


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
    """Multigrid-preconditioned CG on the GPU: the twin of imfit.poisson.solve.solve_cg.

    The same hierarchy (imfit.poisson.multigrid, one coef texture per level over the padded
    crop), the same V(1, 1) Jacobi cycle, fused into one pass down and one pass up per level
    (poisson_restrict.glsl, poisson_prolong.glsl) plus a dense solve at the bottom, and the same
    CG with its inner products reduced on the GPU (3 RGB values read back each). Textures are
    float32 where torch's CG is float64, so `solve` checks the float64 residual on the CPU
    before it stops and restarts CG from the true residual when the recurrence drifted. One
    `sweep` is one CG iteration; the live view runs a few per frame, warm-started after a drag.
    """

    def __init__(self, ctx: Any, system: PoissonSystem, passes: _Passes | None = None) -> None:
        self.ctx = ctx
        self.passes = passes or _Passes(ctx)
        self.h, self.w = system.dst.shape[:2]
        self.dst = _texture(ctx, self.w, self.h)
        self.out = _texture(ctx, self.w, self.h)
        self.out_fbo = ctx.framebuffer(color_attachments=[self.out])
        self._owned: list[Any] = []  # everything sized by the system, released on load
        self.sums: _Reduction | None = None
        self.load(system)

    def _input(self, size: tuple[int, int], data: np.ndarray) -> Any:
        tex = _texture(self.ctx, size[1], size[0], data)
        self._owned.append(tex)
        return tex

    def _target(self, size: tuple[int, int], data: np.ndarray | None = None) -> tuple[Any, Any]:
        tex = _texture(self.ctx, size[1], size[0], data)
        fbo = self.ctx.framebuffer(color_attachments=[tex])
        self._owned += [fbo, tex]
        return tex, fbo

    def load(self, system: PoissonSystem, warm: np.ndarray | None = None) -> None:
        """A new system (e.g. after a drag). `warm`: full-size values to start Omega from."""
        from imfit.poisson.multigrid import coarsest_inverse, fine_level, hierarchy

        self._release_system()
        self.system = system
        self.dst.write(_rgba(system.dst).tobytes())
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
        self.sums = _Reduction(self.ctx, size[1], size[0])
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
        return _read(self.out_fbo, self.w, self.h)

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

    def __init__(self, ctx: Any, system: PoissonSystem, passes: _Passes | None = None) -> None:
        self.ctx = ctx
        self.passes = passes or _Passes(ctx)
        dst = system.dst
        self.h, self.w = dst.shape[:2]
        self.tex = [_texture(ctx, self.w, self.h), _texture(ctx, self.w, self.h)]
        self.fbo = [ctx.framebuffer(color_attachments=[t]) for t in self.tex]
        self.info = _texture(ctx, self.w, self.h)
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
        self.tex[self.cur].write(_rgba(f).tobytes())
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
        return _read(self.fbo[self.cur], self.w, self.h)

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


# -- live view ---------------------------------------------------------------------------------
class DiffusionScene:
    """A preset running live: `DiffusionScene(preset, image)` (a name or Preset; float (H, W, 3)
    0..1), or for `poisson`: `DiffusionScene("poisson", dst, blend_source=src, blend_mask=mask)`.

    Keys: up/down scale the preset's first live parameter, right/left the second (x1.25),
    m toggles mixed gradients (poisson), space pauses, period steps once while paused,
    [ and ] halve/double the steps per frame, r resets (recording is the window's one record
    key, v or f9, for every scene). Drag pans (poisson: moves the
    pasted source, the solve warm-starts from the moved solution), scroll zooms.
    """

    def __init__(self, preset: str | Preset, image: np.ndarray, steps_per_frame: int = 1,
                 blend_source: np.ndarray | None = None, blend_mask: np.ndarray | None = None,
                 blend_offset: tuple[int, int] | None = None) -> None:
        self.preset = load_preset(preset) if isinstance(preset, str) else preset
        self.image0 = as_rgb(image)
        self.steps_per_frame = max(1, int(steps_per_frame))
        self.params = dict(self.preset.params)
        self.paused = False
        self.single = False
        self.zoom = 1.0
        self.pan = np.zeros(2)
        self.message = ""
        self.engine: Any = None
        self.passes: _Passes | None = None
        self.ctx: Any = None
        self.poisson = self.preset.scheme == "poisson"
        if self.poisson:
            if blend_source is None or blend_mask is None:
                raise ImfitError("the poisson preset needs a source and a mask to blend")
            self.src = as_rgb(blend_source)
            self.mask = np.asarray(blend_mask)
            h, w = self.image0.shape[:2]
            self.offset = list(blend_offset or ((w - self.src.shape[1]) // 2,
                                                (h - self.src.shape[0]) // 2))
            self._system()  # validate now, not at the first frame
        else:
            Controller(self.preset)  # validate parameters now

    def _system(self) -> PoissonSystem:
        return guidance(self.src, self.image0, self.mask, (self.offset[0], self.offset[1]),
                        bool(self.params["mixed"]))

    def _build(self, ctx: Any) -> None:
        if self.engine is not None:
            self.engine.release()
        self.ctx = ctx
        self.passes = self.passes or _Passes(ctx)
        if self.poisson:
            self.engine = GLPoisson(ctx, self._system(), self.passes)
        else:
            self.engine = GLDiffusion(ctx, self.preset.with_params(**self.params), self.image0,
                                      self.passes)

    # -- Scene protocol ---------------------------------------------------------------------
    def draw(self, ctx: Any, width: int, height: int, t: float) -> None:
        target = ctx.fbo  # the framebuffer bound by the caller (window or test FBO)
        if self.engine is None or self.passes is None or ctx is not self.ctx:
            self._build(ctx)
        assert self.passes is not None  # for the type checker: _build sets it
        if not self.paused or self.single:
            if self.poisson:
                self.engine.sweep(self.steps_per_frame)
            else:
                self.engine.step(self.steps_per_frame)
            self.single = False
        prog, vao = self.passes.get("diffusion_display.glsl")
        self.engine.texture.use(0)
        prog["state"].value = 0
        prog["res"].value = (float(width), float(height))
        prog["pan"].value = (float(self.pan[0]), float(self.pan[1]))
        prog["zoom"].value = float(self.zoom)
        target.use()
        ctx.viewport = (0, 0, width, height)
        vao.render()

    def _live(self, i: int) -> str | None:
        live = [k for k in self.preset.live if not isinstance(self.params[k], (bool, str))]
        return live[i] if i < len(live) else None

    def _scale(self, name: str | None, factor: float) -> bool:
        if name is None:
            return False
        self._set(name, self.params[name] * factor)
        return True

    def _set(self, name: str, value: Any) -> None:
        try:
            if self.poisson:
                from imfit.diffusion.engine import check_params

                self.params = check_params("poisson", {**self.params, name: value})
                if self.engine is not None:
                    self.engine.load(self._system(), warm=self.engine.image())
            else:
                if self.engine is not None:
                    self.engine.ctl.set(name, value)
                    self.params = dict(self.engine.ctl.p)
                else:
                    self.params = Controller(self.preset.with_params(
                        **{**self.params, name: value})).p
            self.message = ""
        except ImfitError as e:
            self.message = str(e)

    def key(self, key: str, shift: bool) -> bool:
        if key == "up":
            return self._scale(self._live(0), 1.25)
        if key == "down":
            return self._scale(self._live(0), 1 / 1.25)
        if key == "right":
            return self._scale(self._live(1), 1.25)
        if key == "left":
            return self._scale(self._live(1), 1 / 1.25)
        if key == "m" and self.poisson:
            self._set("mixed", not self.params["mixed"])
            return True
        if key == "space":
            self.paused = not self.paused
            return True
        if key == "period":
            self.single = True
            return True
        if key == "right_bracket":
            self.steps_per_frame = min(1024, self.steps_per_frame * 2)
            return True
        if key == "left_bracket":
            self.steps_per_frame = max(1, self.steps_per_frame // 2)
            return True
        if key == "r":
            self.params = dict(self.preset.params)
            self.pan[:] = 0
            self.zoom = 1.0
            if self.engine is not None:
                self._build(self.ctx)
            return True
        return False

    def drag(self, dx: float, dy: float, width: int, height: int) -> None:
        h, w = self.image0.shape[:2]
        scale = min(width / w, height / h) * self.zoom  # window px per image px
        if self.poisson:
            # move the pasted source with the mouse, warm-starting from the moved solution
            mx, my = round(dx / scale), round(dy / scale)
            if (mx, my) == (0, 0):
                return
            old = list(self.offset)
            self.offset[0] += mx
            self.offset[1] += my
            try:
                system = self._system()
            except ImfitError as e:
                self.offset = old
                self.message = str(e)
                return
            if self.engine is not None:
                prev = self.engine.image()
                warm = np.roll(prev, (my, mx), axis=(0, 1))
                self.engine.load(system, warm=warm)
            return
        self.pan -= np.array([dx, dy]) / (scale * h)

    def scroll(self, amount: float, x: float, y: float, width: int, height: int) -> None:
        self.zoom = float(np.clip(self.zoom * 1.1 ** amount, 0.1, 64.0))

    def help(self) -> list[tuple[str, str]]:
        out = []
        for keys, i in (("up/down", 0), ("right/left", 1)):
            name = self._live(i)
            if name is not None:
                out.append((keys, f"{name} x1.25 / /1.25"))
        if self.poisson:
            out.append(("m", "normal / mixed gradients"))
            out.append(("drag", "move the pasted source"))
        else:
            out.append(("drag", "pan"))
        out += [("scroll", "zoom"), ("space", "pause"), ("period", "one step while paused"),
                ("[ / ]", "half / double steps per frame"), ("r", "reset")]
        return out

    def status(self) -> str:
        if self.poisson:
            its = self.engine.iterations if self.engine is not None else 0
            text = (f"poisson {'mixed' if self.params['mixed'] else 'normal'} "
                    f"offset {self.offset[0]},{self.offset[1]} iteration {its}")
        else:
            ctl = self.engine.ctl if self.engine is not None else None
            live = " ".join(f"{k} {self.params[k]:.4g}" if isinstance(self.params[k], float)
                            else f"{k} {self.params[k]}" for k in self.preset.live)
            text = (f"{self.preset.name} t {ctl.time if ctl else 0.0:.1f} {live} "
                    f"x{self.steps_per_frame}")
        if self.paused:
            text += " [paused]"
        if self.message:
            text += f" - {self.message}"
        return text

    def release(self) -> None:
        if self.engine is not None:
            self.engine.release()
            self.engine = None
        if self.passes is not None:
            self.passes.release()
            self.passes = None


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
