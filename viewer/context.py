"""GL contexts and the one full-screen float pass everything else builds on.

Rendering code only ever sees a `moderngl.Context`: the glfw window and the headless EGL context
feed the same renderers (after moderngl-window), so tests exercise the code the window runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imfit.errors import ImfitError

FULLSCREEN_VS = """#version 330
in vec2 in_pos;
void main() { gl_Position = vec4(in_pos, 0.0, 1.0); }
"""


def headless_context() -> Any:
    """A standalone moderngl context through EGL (Mesa llvmpipe on machines without a GPU).

    Raises ImfitError with what is missing and what to do instead, never a GL traceback.
    """
    try:
        import moderngl
    except ImportError as e:  # pragma: no cover - moderngl is a dependency
        raise ImfitError(f"moderngl is not installed ({e}); use --backend torch") from None
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as e:  # noqa: BLE001 - any driver failure means "no GL here"
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImfitError(f"no OpenGL 3.3 context through EGL ({msg}); install Mesa "
                         "(apt-get install libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri) or "
                         "use --backend torch") from None
    return ctx


def fullscreen_quad(ctx: Any, program: Any) -> Any:
    """A VAO drawing two triangles over the whole viewport (attribute `in_pos`)."""
    quad = np.array([-1, -1, 1, -1, -1, 1, -1, 1, 1, -1, 1, 1], dtype="f4")
    vbo = ctx.buffer(quad.tobytes())
    return ctx.vertex_array(program, [(vbo, "2f", "in_pos")])


def read_rgba32f(fbo: Any, width: int, height: int) -> np.ndarray:
    """Read an RGBA32F framebuffer as (H, W, 4) float32, rows top to bottom (GL is bottom-up)."""
    data = np.frombuffer(fbo.read(components=4, dtype="f4"), dtype=np.float32)
    return data.reshape(height, width, 4)[::-1].copy()


def float_target(ctx: Any, width: int, height: int) -> Any:
    """An RGBA32F framebuffer: signed additive sums need float targets (8-bit clamps them)."""
    tex = ctx.texture((width, height), 4, dtype="f4")
    return ctx.framebuffer(color_attachments=[tex])


def run_fullscreen(ctx: Any, fragment: str, width: int, height: int,
                   uniforms: dict[str, Any] | None = None,
                   textures: dict[str, Any] | None = None) -> np.ndarray:
    """Run one fragment shader over a width x height RGBA32F target; returns (H, W, 4).

    `textures` maps sampler uniform names to moderngl textures (bound to units 0, 1, ...).
    Used by shader-exporter tests, diffusion passes and the full-screen Gabor loop.
    """
    prog = ctx.program(vertex_shader=FULLSCREEN_VS, fragment_shader=fragment)
    vao = fullscreen_quad(ctx, prog)
    fbo = float_target(ctx, width, height)
    try:
        for name, value in (uniforms or {}).items():
            if name in prog:
                prog[name].value = value
        for unit, (name, tex) in enumerate((textures or {}).items()):
            tex.use(unit)
            if name in prog:
                prog[name].value = unit
        fbo.use()
        ctx.viewport = (0, 0, width, height)
        fbo.clear(0.0, 0.0, 0.0, 0.0)
        vao.render()
        return read_rgba32f(fbo, width, height)
    finally:
        for obj in (vao, prog, fbo):
            obj.release()
