"""The GLSL twin of imfit/diffusion/engine.py (ping-pong RGBA32F targets) and the live view.

`GLDiffusion` runs a preset with the same `Controller` as the torch engine (same substeps,
schedule and SGD on the kernel), so the two agree to float precision; only the per-pixel work
moves to fragment shaders (`viewer/glsl/diffusion_*.glsl`). For the learned kernel the 81
gradient sums are reduced on the GPU (an atlas of 27 tiles, BxB blocks per level) and only 81
floats come back per substep.

`DiffusionScene` is the live view (the viewer's Scene protocol: draw/key/drag/scroll/help/
status) of any preset, `poisson` included (through viewer/gl_poisson.py).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from imfit.diffusion.engine import Controller, Preset, as_rgb, list_presets, load_preset
from imfit.errors import ImfitError
from imfit.poisson.solve import PoissonSystem, poisson_system
from viewer.gl_passes import Passes, Reduction, float_texture, read_rgb, rgba
from viewer.gl_poisson import GLPoisson


class GLDiffusion:
    """A preset on the GPU; same interface as imfit.diffusion.engine.TorchDiffusion."""

    def __init__(self, ctx: Any, preset: Preset, image: np.ndarray,
                 passes: Passes | None = None) -> None:
        self.ctx = ctx
        self.ctl = Controller(preset)
        img = as_rgb(image)
        self.h, self.w = img.shape[:2]
        self.passes = passes or Passes(ctx)
        w, h = self.w, self.h
        self.tex = [float_texture(ctx, w, h), float_texture(ctx, w, h)]
        self.fbo = [ctx.framebuffer(color_attachments=[t]) for t in self.tex]
        self.orig = float_texture(ctx, w, h, img)
        self.cur = 0
        if self.ctl.learned:
            self.etex = float_texture(ctx, w, h)
            self.efbo = ctx.framebuffer(color_attachments=[self.etex])
            self.sums = Reduction(ctx, w, h, 27)
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
            self.orig.write(rgba(img).tobytes())
        self._mix(self.orig, self.orig, 0.0)
        self.ctl.step_count = 0
        self.ctl.reset_kernel(first=True)

    def new_frame(self, frame: np.ndarray) -> None:
        """Video warm start (see TorchDiffusion.new_frame)."""
        img = as_rgb(frame)
        if img.shape[:2] != (self.h, self.w):
            raise ImfitError(f"video frame is {img.shape[1]}x{img.shape[0]}, the first was "
                             f"{self.w}x{self.h}")
        self.orig.write(rgba(img).tobytes())
        self._mix(self.tex[self.cur], self.orig, self.ctl.p["video_mix"])

    def image(self) -> np.ndarray:
        return read_rgb(self.fbo[self.cur], self.w, self.h)

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
               "turn": p["kappa"] / math.sqrt(2.0), "back": float(p.get("backward", 0.0)),
               "rim": float(p.get("rim", 0.0)),
               "e4": float(p.get("rim_edge", 0.07)) ** 4,
               "depth": float(p.get("rim_depth", 0.5))}
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


# -- live view ---------------------------------------------------------------------------------
class DiffusionScene:
    """A preset running live: `DiffusionScene(preset, image)` (a name or Preset; float (H, W, 3)
    0..1), or for `poisson`: `DiffusionScene("poisson", dst, blend_source=src, blend_mask=mask)`.

    Keys: up/down scale the preset's first live parameter, right/left the second (x1.25),
    m toggles mixed gradients (poisson), space pauses, period steps once while paused,
    [ and ] halve/double the steps per frame, r resets (recording is the window's one record
    key, v or f9, for every scene), x randomises the parameters, j saves them as a preset JSON
    in `record_dir`, n crossfades to the next preset (by name) over FADE_FRAMES drawn frames:
    the next preset's engine starts from the picture on screen and both run while the shown
    picture moves from one to the other, so the look changes without a cut. Drag pans
    (poisson: moves the pasted source, the solve warm-starts from the moved solution), scroll zooms.
    """

    FADE_FRAMES = 60  # two seconds at 30 fps: a VJ crossfade, not a cut

    def __init__(self, preset: str | Preset, image: np.ndarray, steps_per_frame: int = 1,
                 blend_source: np.ndarray | None = None, blend_mask: np.ndarray | None = None,
                 blend_offset: tuple[int, int] | None = None,
                 record_dir: str | Path = ".") -> None:
        self.preset = load_preset(preset) if isinstance(preset, str) else preset
        self.base_preset = self.preset
        self.seed = 0
        self.image0 = as_rgb(image)
        self.steps_per_frame = max(1, int(steps_per_frame))
        self.params = dict(self.preset.params)
        self.paused = False
        self.single = False
        self.zoom = 1.0
        self.pan = np.zeros(2)
        self.record_dir = Path(record_dir)
        self.message = ""
        self.engine: Any = None
        self.fading: Any = None  # the previous preset's engine while a crossfade runs
        self.fade_done = 0
        self.fade_fbo: Any = None
        self.passes: Passes | None = None
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
        return poisson_system(self.src, self.image0, self.mask, (self.offset[0], self.offset[1]),
                        bool(self.params["mixed"]))

    def _build(self, ctx: Any) -> None:
        if self.engine is not None:
            self.engine.release()
        if self.fading is not None:  # a reset or a new draw ends a crossfade
            self.fading.release()
            self.fading = None
        self.ctx = ctx
        self.passes = self.passes or Passes(ctx)
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
                if self.fading is not None:
                    self.fading.step(self.steps_per_frame)
                    self.fade_done += 1
            self.single = False
        shown = self.engine.texture
        if self.fading is not None:
            shown = self._fade_texture()
        prog, vao = self.passes.get("diffusion_display.glsl")
        shown.use(0)
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
        if key == "x" and not self.poisson:
            self.randomise()
            return True
        if key == "j" and not self.poisson:
            self.save_preset()
            return True
        if key == "n" and not self.poisson:
            self.crossfade()
            return True
        return False

    def fade_weight(self) -> float:
        """How far the running crossfade is (0: the old preset's picture, 1: the new one's)."""
        return min(1.0, self.fade_done / self.FADE_FRAMES)

    def _fade_texture(self) -> Any:
        """The shown picture during a crossfade: mix(old, new, fade_weight()); at 1 the old
        engine is let go and the new one is all that runs."""
        assert self.passes is not None and self.fading is not None
        a = self.fade_weight()
        if self.fade_fbo is None:
            tex = float_texture(self.ctx, self.engine.w, self.engine.h)
            self.fade_fbo = self.ctx.framebuffer(color_attachments=[tex])
        self.passes.run("diffusion_mix.glsl", self.fade_fbo, (self.engine.w, self.engine.h),
                        {"t": a}, {"a": self.fading.texture, "b": self.engine.texture})
        shown = self.fade_fbo.color_attachments[0]
        if a >= 1.0:
            self.fading.release()
            self.fading = None
            return self.engine.texture
        return shown

    def next_preset_name(self) -> str:
        """The preset after this one in name order (poisson, a blend, is left out)."""
        names = [p.name for p in list_presets() if p.scheme != "poisson"]
        base = self.base_preset.name
        i = names.index(base) if base in names else -1
        return names[(i + 1) % len(names)]

    def crossfade(self) -> None:
        """Start a crossfade to the next preset (key n): its engine starts from the picture
        now on screen and takes over over FADE_FRAMES frames."""
        name = self.next_preset_name()
        nxt = load_preset(name)
        if self.engine is not None:
            if self.fading is not None:  # a second n during a fade: drop the oldest
                self.fading.release()
            old = self.engine
            self.engine = GLDiffusion(self.ctx, nxt, self.image0, self.passes)
            self.engine._mix(old.texture, old.texture, 0.0)  # continue from the shown picture
            self.fading, self.fade_done = old, 0
        self.preset = self.base_preset = nxt
        self.params = dict(nxt.params)
        self.message = f"crossfade to {name}"
        print(self.message, flush=True)

    def randomise(self) -> None:
        """New parameters drawn inside the preset's safe ranges from the next seed; the run
        restarts from the photo with them (printed and shown in the status line)."""
        from imfit.diffusion.engine import draw_ranges, randomise_params

        self.seed += 1
        self.preset = randomise_params(self.base_preset, self.seed)
        self.params = dict(self.preset.params)
        shown = " ".join(f"{k} {self.params[k]:.3g}"
                         for k in sorted(draw_ranges(self.base_preset))) or "nothing to draw"
        self.message = f"seed {self.seed}: {shown}"
        print(f"{self.preset.name}: {shown}", flush=True)
        if self.engine is not None:
            self._build(self.ctx)

    def save_preset(self) -> Path | None:
        """Write the running parameters as a preset JSON in the record folder (never over an
        existing file); `imfit diffuse --preset THAT.json` replays them."""
        from imfit.diffusion.engine import preset_json
        from imfit.formats.files import atomic_write_text

        pr = self.preset.with_params(**self.params)
        i = 0
        while (path := self.record_dir / f"{pr.name}-{i:03d}.json").exists():
            i += 1
        try:
            atomic_write_text(path, preset_json(pr), overwrite=False)
        except (ImfitError, OSError) as e:
            self.message = str(e)
            return None
        self.message = f"wrote {path}"
        return path

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
                ("[ / ]", "half / double steps per frame"), ("r", "reset"),
                ("o", "record on/off (mp4 in the record folder)")]
        if not self.poisson:
            out += [("x", "randomise the parameters (safe ranges, next seed)"),
                    ("n", "crossfade to the next preset"),
                    ("j", "save the running parameters as a preset .json")]
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
        if self.fading is not None:
            self.fading.release()
            self.fading = None
        if self.fade_fbo is not None:
            for t in self.fade_fbo.color_attachments:
                t.release()
            self.fade_fbo.release()
            self.fade_fbo = None
        if self.passes is not None:
            self.passes.release()
            self.passes = None


def gl_engine() -> Any:
    """The `gl-diffusion` entry point of `imfit.renderers`: `engine(preset, image)` building a
    GLDiffusion on one headless context, made now so that a machine without GL raises
    ImfitError here (and the caller can fall back to torch) instead of mid-run."""
    from viewer.context import headless_context

    ctx = headless_context()

    def engine(preset: Preset, image: np.ndarray) -> GLDiffusion:
        return GLDiffusion(ctx, preset, image)

    return engine
