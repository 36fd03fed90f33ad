"""The GL renderer: a GaborSet and a view in, pixels out, with the ONE `gabor.glsl`.

Two strategies evaluate the same truncated sum as the torch renderer:
- "billboard" (default): one instanced quad per wavelet, sized to the bounding box of its window
  ellipse at IMFIT_RADIUS, additively blended (ONE, ONE) into an RGBA32F target. Each pixel only
  pays for the wavelets that touch it, so on Mesa llvmpipe it costs a fraction of the loop.
- "loop": a full-screen pass over every wavelet at every pixel (the exact reference).
Both accumulate the signed sum in RGBA32F (16-bit and 8-bit targets lose negative partial sums),
then a resolve pass adds the bias and clamps to 0..1.

Wavelets reach the GPU as a float texture (3 RGBA32F texels per wavelet, rows wrapped), so there
is no uniform-count limit. `GaborGL` holds the GL objects of one context and draws into whatever
framebuffer is bound (the window's screen or an offscreen target); `render_gl` is the headless
twin of `imfit.render` on a cached EGL context.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from imfit.errors import ImfitError
from imfit.model.gaborset import GaborSet
from imfit.renderers.gabor import View
from viewer.context import FULLSCREEN_VS, fullscreen_quad
from viewer.shaders import assemble

STRATEGIES = ("billboard", "loop")
# Wavelets per texture row: 3 * 1024 texels fits every GL 3.3 implementation's texture width
# in practice (llvmpipe and desktop GPUs allow 16384); rows wrap for larger sets.
PER_ROW = 1024
# Offscreen renders larger than this on a side are drawn in tiles (each tile its own view), so
# a huge --size never asks the driver for a framebuffer beyond its limits.
MAX_TILE = 4096


def wavelet_texture_data(params: np.ndarray, per_row: int = PER_ROW) -> np.ndarray:
    """(N, 12) -> (rows, 3 * per_row, 4) float32: wavelet i at row i // per_row, texels
    3 * (i % per_row) + 0..2 holding gabor.glsl's w0, w1, w2 (the columns in order)."""
    n = len(params)
    rows = max(1, math.ceil(n / per_row))
    data = np.zeros((rows * per_row, 12), np.float32)
    data[:n] = params
    return data.reshape(rows, per_row * 3, 4)


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise ImfitError(f"unknown strategy {strategy!r} (use {' or '.join(STRATEGIES)})")
    return strategy


class GaborGL:
    """The GL objects (programs, wavelet texture, accumulation target) of one moderngl context.

    `draw` renders into the framebuffer bound when it is called; `render` draws offscreen and
    reads back float pixels. The caller keeps `ctx` current (the window is; `render_gl` makes
    its cached context current itself).
    """

    def __init__(self, ctx: Any) -> None:
        import moderngl

        self.ctx = ctx
        self._blend = (moderngl.ONE, moderngl.ONE)
        self.per_row = min(PER_ROW, ctx.info["GL_MAX_TEXTURE_SIZE"] // 3)
        self.billboard = ctx.program(vertex_shader=assemble("gabor_billboard.vert"),
                                     fragment_shader=assemble("gabor_billboard.frag"))
        self.loop = ctx.program(vertex_shader=FULLSCREEN_VS,
                                fragment_shader=assemble("gabor_loop.frag"))
        self.resolve = ctx.program(vertex_shader=FULLSCREEN_VS,
                                   fragment_shader=assemble("gabor_resolve.frag"))
        corners = np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype="f4")
        self._corners = ctx.buffer(corners.tobytes())
        self.billboard_vao = ctx.vertex_array(self.billboard, [(self._corners, "2f",
                                                                "in_corner")])
        self.loop_vao = fullscreen_quad(ctx, self.loop)
        self.resolve_vao = fullscreen_quad(ctx, self.resolve)
        self._tex: Any = None
        self._tex_key: tuple[int, bytes] | None = None
        self._accum: Any = None
        self._accum_fbo: Any = None
        self.count = 0

    # -- resources ---------------------------------------------------------------------------
    def upload(self, params: np.ndarray) -> None:
        """Send (N, 12) wavelets to the texture (reallocated only when the row count changes)."""
        data = wavelet_texture_data(params, self.per_row)
        self.count = len(params)
        shape = data.shape[1::-1]  # (width, height)
        if self._tex is None or self._tex.size != shape:
            if self._tex is not None:
                self._tex.release()
            if shape[1] > self.ctx.info["GL_MAX_TEXTURE_SIZE"]:
                raise ImfitError(f"{len(params)} wavelets do not fit in one GL texture here")
            self._tex = self.ctx.texture(shape, 4, dtype="f4")
            self._tex.filter = (self._nearest(), self._nearest())
        self._tex.write(data.tobytes())

    def _nearest(self) -> int:
        import moderngl

        return moderngl.NEAREST

    def _target(self, width: int, height: int) -> Any:
        """The RGBA32F accumulation framebuffer, kept between frames of the same size."""
        if self._accum is None or self._accum.size != (width, height):
            for obj in (self._accum_fbo, self._accum):
                if obj is not None:
                    obj.release()
            self._accum = self.ctx.texture((width, height), 4, dtype="f4")
            self._accum.filter = (self._nearest(), self._nearest())
            self._accum_fbo = self.ctx.framebuffer(color_attachments=[self._accum])
        return self._accum_fbo

    def release(self) -> None:
        for obj in (self._tex, self._accum_fbo, self._accum, self.billboard_vao, self.loop_vao,
                    self.resolve_vao, self._corners, self.billboard, self.loop, self.resolve):
            if obj is not None:
                obj.release()

    # -- drawing -------------------------------------------------------------------------------
    def accumulate(self, gs: GaborSet, width: int, height: int,
                   center: tuple[float, float] = (0.0, 0.0), zoom: float = 1.0,
                   strategy: str = "billboard") -> Any:
        """Draw the signed, unbiased sum into the accumulation target; returns its texture."""
        check_strategy(strategy)
        self.upload(gs.params)
        fbo = self._target(width, height)
        fbo.use()
        self.ctx.viewport = (0, 0, width, height)
        fbo.clear(0.0, 0.0, 0.0, 0.0)
        if self.count == 0:
            return self._accum
        prog = self.billboard if strategy == "billboard" else self.loop
        self._tex.use(0)
        view_uniforms = {"wavelets": 0, "per_row": self.per_row, "count": self.count,
                         "res": (float(width), float(height)),
                         "center": (float(center[0]), float(center[1])), "zoom": float(zoom)}
        for name, value in view_uniforms.items():
            if name in prog:
                prog[name].value = value
        if strategy == "billboard":
            import moderngl

            self.ctx.enable(moderngl.BLEND)
            self.ctx.blend_func = self._blend
            self.ctx.blend_equation = moderngl.FUNC_ADD
            try:
                self.billboard_vao.render(moderngl.TRIANGLE_STRIP, vertices=4,
                                          instances=self.count)
            finally:
                self.ctx.disable(moderngl.BLEND)
        else:
            self.loop_vao.render()
        return self._accum

    def draw(self, gs: GaborSet, width: int, height: int,
             center: tuple[float, float] = (0.0, 0.0), zoom: float = 1.0,
             strategy: str = "billboard") -> None:
        """Render the picture (bias added, clamped) into the framebuffer bound right now."""
        out = self.ctx.fbo
        accum = self.accumulate(gs, width, height, center, zoom, strategy)
        if out is not None:
            out.use()
        self.ctx.viewport = (0, 0, width, height)
        accum.use(0)
        self.resolve["accum"].value = 0
        self.resolve["bias"].value = tuple(float(b) for b in gs.bias)
        self.resolve_vao.render()

    def render(self, gs: GaborSet, width: int | None = None, height: int | None = None,
               center: tuple[float, float] = (0.0, 0.0), zoom: float = 1.0,
               strategy: str = "billboard") -> np.ndarray:
        """Offscreen render -> float32 (H, W, 3) in 0..1, rows top to bottom (like imfit.render).

        Large frames are drawn in tiles of at most MAX_TILE pixels a side; each tile is the
        same plane window as the corresponding part of the whole view.
        """
        check_strategy(strategy)
        width, height = _size(gs, width, height)
        if not (zoom > 0 and math.isfinite(zoom)):
            raise ImfitError(f"zoom must be a positive number, got {zoom}")
        view = View.of(width, height, center, zoom)
        out = np.empty((height, width, 3), np.float32)
        tile = min(MAX_TILE, self.ctx.info["GL_MAX_TEXTURE_SIZE"])
        target = None
        try:
            for y0 in range(0, height, tile):
                for x0 in range(0, width, tile):
                    tw, th = min(tile, width - x0), min(tile, height - y0)
                    if target is None or target.size != (tw, th):
                        if target is not None:
                            target.release()
                        target = self.ctx.framebuffer(
                            color_attachments=[self.ctx.texture((tw, th), 4, dtype="f4")])
                    # the tile's centre in the plane, and the zoom giving the same pixel size
                    cx = view.x0 + (x0 + tw / 2) * view.scale
                    cy = view.y0 + (y0 + th / 2) * view.scale
                    target.use()
                    self.draw(gs, tw, th, (cx, cy), 2.0 / (view.scale * th), strategy)
                    data = np.frombuffer(target.read(components=4, dtype="f4"), np.float32)
                    out[y0:y0 + th, x0:x0 + tw] = data.reshape(th, tw, 4)[::-1, :, :3]
        finally:
            if target is not None:
                for tex in target.color_attachments:
                    tex.release()
                target.release()
        return out


def _size(gs: GaborSet, width: int | None, height: int | None) -> tuple[int, int]:
    """Same defaults as imfit.render: the fitted size, or the fitted aspect at a given width."""
    width = width or gs.width
    height = height or (gs.height if width == gs.width else round(width / gs.aspect))
    width, height = int(width), int(height)
    if width < 1 or height < 1:
        raise ImfitError(f"render size must be positive, got {width}x{height}")
    return width, height


# -- the headless renderer -------------------------------------------------------------------
_shared: dict[str, Any] = {}


def moderngl_default() -> Any:
    """The context moderngl treats as current (its last created or detected one), if any."""
    import moderngl

    store = getattr(moderngl, "_store", None)
    return getattr(store, "default_context", None)


@contextmanager
def _current(ctx: Any) -> Iterator[None]:
    """Make `ctx` current, then hand back the context moderngl had as default.

    moderngl's own `with ctx:` leaves NO context current on exit, which breaks any other
    context in the process (a test fixture's, a window's); re-entering the previous default
    keeps them working.
    """
    prev = moderngl_default()
    ctx.__enter__()
    try:
        yield
    finally:
        if prev is not None and prev is not ctx:
            prev.__enter__()


def shared_renderer() -> GaborGL:
    """A GaborGL on a process-wide headless EGL context, created on first use.

    Raises ImfitError (one line: what is missing, and `--backend torch`) when there is no GL.
    """
    if "gl" not in _shared:
        import moderngl

        from viewer.context import headless_context

        store = getattr(moderngl, "_store", None)
        prev = moderngl_default()
        ctx = headless_context()
        if store is not None and prev is not None:
            store.default_context = prev  # creating ours must not steal another's place
        with _current(ctx):
            _shared["gl"] = GaborGL(ctx)
    return _shared["gl"]


def gl_backend(strategy: str = "billboard") -> Callable[..., np.ndarray]:
    """The `gl` entry point of `imfit.renderers`: a renderer on the shared headless context.

    Creates the context now, so that a machine without GL raises ImfitError here (and
    `imfit.renderers.backends.get_renderer` can fall back to torch) instead of mid-animation.
    """
    check_strategy(strategy)
    shared_renderer()
    return functools.partial(render_gl, strategy=strategy)


def render_gl(gs: GaborSet, width: int | None = None, height: int | None = None,
              center: tuple[float, float] = (0.0, 0.0), zoom: float = 1.0,
              strategy: str = "billboard") -> np.ndarray:
    """The GL twin of `imfit.render`: float32 (H, W, 3) in 0..1, same size/view meaning."""
    gl = shared_renderer()
    with _current(gl.ctx):
        return gl.render(gs, width, height, center, zoom, strategy)
