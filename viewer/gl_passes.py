"""Shared plumbing of the GLSL engines (viewer/gl_diffusion.py, viewer/gl_poisson.py):
compiled fullscreen passes, RGBA32F textures, read-back, and GPU sums.

Kept apart so that neither engine imports the other: the live DiffusionScene uses both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from viewer.context import FULLSCREEN_VS, fullscreen_quad
from viewer.shaders import assemble

REDUCE_BLOCK = 16


class Passes:
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


def float_texture(ctx: Any, w: int, h: int, data: np.ndarray | None = None) -> Any:
    tex = ctx.texture((w, h), 4, dtype="f4")  # every pass reads with texelFetch: no filtering
    if data is not None:
        tex.write(rgba(data).tobytes())
    return tex


def rgba(img: np.ndarray) -> np.ndarray:
    out = np.ones((*img.shape[:2], 4), np.float32)
    out[..., :3] = img
    return out


def read_rgb(fbo: Any, w: int, h: int) -> np.ndarray:
    """(h, w, 3) float32 in upload order (row 0 = image row 0; no flip: see the .glsl files)."""
    data = np.frombuffer(fbo.read(components=4, dtype="f4"), dtype=np.float32)
    return data.reshape(h, w, 4)[..., :3].copy()


class Reduction:
    """Per-channel sums over a (w, h) image on the GPU, `tiles` of them side by side: each level
    sums REDUCE_BLOCK^2 blocks (diffusion_reduce.glsl) until a tile is one texel, so only
    `tiles` RGB values are read back."""

    def __init__(self, ctx: Any, w: int, h: int, tiles: int = 1) -> None:
        self.tiles = tiles
        self.levels: list[tuple[Any, Any, tuple[int, int], tuple[int, int]]] = []
        tw, th = w, h
        while True:  # (texture, fbo, input tile size, output tile size)
            ow, oh = -(-tw // REDUCE_BLOCK), -(-th // REDUCE_BLOCK)
            t = float_texture(ctx, tiles * ow, oh)
            self.levels.append((t, ctx.framebuffer(color_attachments=[t]), (tw, th), (ow, oh)))
            if ow == 1 and oh == 1:
                break
            tw, th = ow, oh

    def run(self, passes: Passes, data: Any, src: Any, first: str) -> np.ndarray:
        """(tiles, 3) sums; `first` is the first level's mode in diffusion_reduce.glsl (ATLAS,
        DOT)."""
        for lvl, (tex, fbo, (tw, th), (ow, oh)) in enumerate(self.levels):
            passes.run("diffusion_reduce.glsl", fbo, (self.tiles * ow, oh),
                       {"block": REDUCE_BLOCK, "tiles_x": ow, "tile_size": (tw, th)},
                       {"data": data, "src": src}, {first: "1"} if lvl == 0 else None)
            data = tex
        return read_rgb(self.levels[-1][1], self.tiles, 1)[0]

    def release(self) -> None:
        for tex, fbo, _, _ in self.levels:
            fbo.release()
            tex.release()
