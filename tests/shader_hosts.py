"""Test-only stand-ins for the exporters' host tools: shims that declare each host's built-ins,
the glslangValidator runner, and the few GL objects moderngl lacks (texture buffers for
TouchDesigner, rectangle textures for Jitter), made through ctypes on the current context.

A shim declares what the host declares and nothing else; the exported text is used unchanged
except where a host itself rewrites it (ISF hosts on desktop GL 3 turn `gl_FragColor` into an
out variable, as VVISF does).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
GLSLANG = shutil.which("glslangValidator") or "/usr/bin/glslangValidator"


# -- glslangValidator ------------------------------------------------------------------------
def glslang(source: str, stage: str, *flags: str, suffix: str = "") -> None:
    """Compile `source` with glslangValidator; fail with its log. Missing validator: skip
    locally, FAIL in CI (where .ci/run installs glslang-tools)."""
    if not Path(GLSLANG).exists():
        msg = "glslangValidator not found (apt-get install glslang-tools)"
        if IN_CI:
            pytest.fail("CI=true: " + msg)
        pytest.skip(msg)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"shader{suffix}.{stage}"
        path.write_text(source, encoding="utf-8")
        spv = ["-o", str(Path(d) / "out.spv")] if "-V" in flags else []
        r = subprocess.run([GLSLANG, "-S", stage, *flags, *spv, str(path)], capture_output=True,
                           text=True, timeout=120)
    assert r.returncode == 0, f"glslangValidator {' '.join(flags)} failed:\n{r.stdout}{r.stderr}"


# -- per-host shims ---------------------------------------------------------------------------
TD_SHIM_VK = """#version 460
layout(location = 0) in vec3 vUV;
struct TDTexInfo { vec4 res; vec4 depth; };
uniform TDTexInfo uTDOutputInfo;
vec4 TDOutputSwizzle(vec4 c) { return c; }
"""
# the moderngl harness has no vertex output vUV: derive it from the fragment position. GLSL 4.20
# for layout(binding): moderngl 5.13 cannot set samplerBuffer uniforms (it writes garbage), so
# the harness binds them the way TD's Vulkan back end does, by binding index (`with_bindings`).
TD_SHIM_GL = """#version 420
struct TDTexInfo { vec4 res; vec4 depth; };
uniform TDTexInfo uTDOutputInfo;
#define vUV vec3(gl_FragCoord.xy * uTDOutputInfo.res.xy, 0.0)
vec4 TDOutputSwizzle(vec4 c) { return c; }
"""

SHADERTOY_DECL = """uniform vec3 iResolution;
uniform float iTime;
uniform float iTimeDelta;
uniform int iFrame;
uniform vec4 iMouse;
uniform sampler2D iChannel0;
uniform sampler2D iChannel1;
uniform sampler2D iChannel2;
uniform sampler2D iChannel3;
"""
SHADERTOY_MAIN = """
out vec4 shadertoy_out;
void main() { mainImage(shadertoy_out, gl_FragCoord.xy); }
"""


def shadertoy_shim(body: str, es: bool) -> str:
    head = "#version 300 es\nprecision highp float;\n" if es else "#version 330\n"
    return head + SHADERTOY_DECL + body + SHADERTOY_MAIN


ISF_TYPES = {"float": "float", "bool": "bool", "long": "int", "event": "bool", "color": "vec4",
             "point2D": "vec2", "image": "sampler2D"}


def isf_header(text: str) -> dict[str, Any]:
    m = re.match(r"\s*/\*(.*?)\*/", text, re.S)
    assert m, "an ISF file starts with a /* JSON */ comment"
    return json.loads(m.group(1))


def isf_shim(text: str, es: bool) -> str:
    """What an ISF host prepends: built-ins, then a uniform per INPUT."""
    decl = "".join(f"uniform {ISF_TYPES[i['TYPE']]} {i['NAME']};\n"
                   for i in isf_header(text)["INPUTS"])
    common = ("uniform vec2 RENDERSIZE;\nuniform float TIME;\nuniform float TIMEDELTA;\n"
              "uniform int FRAMEINDEX;\n")
    if es:
        return ("#version 100\nprecision highp float;\n" + common
                + "varying vec2 isf_FragNormCoord;\n" + decl + text)
    body = text.replace("gl_FragColor", "isf_FragColor")
    return ("#version 330\n" + common + "#define isf_FragNormCoord (gl_FragCoord.xy / RENDERSIZE)\n"
            + "out vec4 isf_FragColor;\n" + decl + body)


def with_bindings(src: str, names: list[str]) -> str:
    """Give the sampler declarations `names` explicit bindings 0, 1, ... (the host's job)."""
    for k, name in enumerate(names):
        src, n = re.subn(rf"^uniform (\w+) {name};", rf"layout(binding = {k}) uniform \1 {name};",
                         src, flags=re.M)
        assert n == 1, f"no `uniform ... {name};` declaration"
    return src


def bound(textures: list[Any]) -> dict[str, Any]:
    """Textures for run_fullscreen under names no program has, so it binds them to units
    0, 1, ... without touching the sampler uniforms (already bound by `with_bindings`)."""
    return {f"unit{k}": t for k, t in enumerate(textures)}


# -- GL objects moderngl does not make ------------------------------------------------------
GL_TEXTURE_BUFFER = 0x8C2A
GL_TEXTURE_RECTANGLE = 0x84F5
GL_TEXTURE0 = 0x84C0
GL_RGBA32F = 0x8814
GL_R32F = 0x822E
GL_RED = 0x1903
GL_FLOAT = 0x1406
GL_TEXTURE_MIN_FILTER = 0x2801
GL_TEXTURE_MAG_FILTER = 0x2800
GL_NEAREST = 0x2600


class _GL:
    """A handful of GL entry points through eglGetProcAddress (the harness context is EGL)."""

    def __init__(self) -> None:
        egl = ctypes.CDLL("libEGL.so.1")
        egl.eglGetProcAddress.restype = ctypes.c_void_p
        egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]

        def fn(name: str, *args: Any) -> Any:
            addr = egl.eglGetProcAddress(name.encode())
            assert addr, f"no {name}"
            return ctypes.CFUNCTYPE(None, *args)(addr)

        u, i, p = ctypes.c_uint, ctypes.c_int, ctypes.c_void_p
        self.GenTextures = fn("glGenTextures", i, ctypes.POINTER(u))
        self.DeleteTextures = fn("glDeleteTextures", i, ctypes.POINTER(u))
        self.BindTexture = fn("glBindTexture", u, u)
        self.ActiveTexture = fn("glActiveTexture", u)
        self.TexBuffer = fn("glTexBuffer", u, u, u)
        self.TexImage2D = fn("glTexImage2D", u, i, i, i, i, i, u, u, p)
        self.TexParameteri = fn("glTexParameteri", u, u, i)


class RawTexture:
    """Quacks like a moderngl texture for `run_fullscreen(textures=...)`: `.use(unit)`."""

    def __init__(self, gl: _GL, target: int, keep: Any = None) -> None:
        self.gl, self.target, self.keep = gl, target, keep
        name = ctypes.c_uint(0)
        gl.GenTextures(1, ctypes.byref(name))
        self.name = name

    def use(self, unit: int) -> None:
        self.gl.ActiveTexture(GL_TEXTURE0 + unit)
        self.gl.BindTexture(self.target, self.name.value)

    def release(self) -> None:
        self.gl.DeleteTextures(1, ctypes.byref(self.name))
        if self.keep is not None:
            self.keep.release()


def texture_buffer(ctx: Any, data: bytes) -> RawTexture:
    """An RGBA32F texture buffer (`samplerBuffer`) over a moderngl buffer holding `data`."""
    gl = _GL()
    buf = ctx.buffer(data)
    tex = RawTexture(gl, GL_TEXTURE_BUFFER, keep=buf)
    gl.BindTexture(GL_TEXTURE_BUFFER, tex.name.value)
    gl.TexBuffer(GL_TEXTURE_BUFFER, GL_RGBA32F, buf.glo)
    return tex


def rectangle_r32f(ctx: Any, width: int, height: int, data: bytes) -> RawTexture:
    """A 1-channel float32 rectangle texture (`sampler2DRect`), like Jitter makes from a
    1-plane float32 matrix."""
    gl = _GL()
    tex = RawTexture(gl, GL_TEXTURE_RECTANGLE)
    gl.BindTexture(GL_TEXTURE_RECTANGLE, tex.name.value)
    gl.TexParameteri(GL_TEXTURE_RECTANGLE, GL_TEXTURE_MIN_FILTER, GL_NEAREST)
    gl.TexParameteri(GL_TEXTURE_RECTANGLE, GL_TEXTURE_MAG_FILTER, GL_NEAREST)
    buf = ctypes.create_string_buffer(data, len(data))
    gl.TexImage2D(GL_TEXTURE_RECTANGLE, 0, GL_R32F, width, height, 0, GL_RED, GL_FLOAT, buf)
    return tex


# the Vectors-page uniforms the build script sets (the default view)
TD_VIEW = {"uCenter": (0.0, 0.0), "uZoom": 1.0, "uGain": 1.0, "uPhase": 0.0}


# -- one call per target, for pictures (docs/make_export_renders.py) --------------------------
def render_export(ctx: Any, gs: Any, target: str, width: int, height: int) -> Any:
    """Render `target`'s exported shader for `gs` in the moderngl harness: (H, W, 4) float32.

    The same shims and data paths as tests/test_export_shaders.py, at any size.
    """
    import base64
    import xml.etree.ElementTree as ET

    import numpy as np

    import exporters
    from imfit.formats import readers
    from viewer.context import run_fullscreen

    files = exporters.build(gs, target, "fit").files
    res = (float(width), float(height))
    if target == "glsl":
        tex = ctx.texture((3, len(gs)), 4, files["fit.f32"], dtype="f4")
        return run_fullscreen(ctx, files["fit.texture.frag"].decode(), width, height,
                              {"imfit_resolution": res}, {"imfit_data": tex})
    if target == "touchdesigner":
        src = files["fit_pixel.glsl"].decode()
        table = readers._read_table(files["fit.tsv"].decode(), Path("fit.tsv"), "\t")
        bufs = [texture_buffer(ctx, np.ascontiguousarray(table[:, 4 * k:4 * k + 4], "<f4")
                               .tobytes()) for k in range(3)]
        info = (1 / width, 1 / height, float(width), float(height))
        return run_fullscreen(ctx, TD_SHIM_GL + with_bindings(src, ["uW0", "uW1", "uW2"]),
                              width, height, {"uTDOutputInfo.res": info, **TD_VIEW},
                              bound(bufs))
    if target == "max":
        root = ET.fromstring(files["fit.jxs"].decode())
        fp = next(p for p in root.iter("program") if p.get("type") == "fragment").text or ""
        m = readers.read_jxf_bytes(files["fit.jxf"])
        tex = rectangle_r32f(ctx, 12, len(m), m.astype("<f4").tobytes())
        return run_fullscreen(ctx, fp.strip(), width, height, {
            "resolution": res, "zoom": 1.0, "center": (0.0, 0.0), "gain": 1.0,
            "bias": tuple(float(b) for b in gs.bias)}, {"wavelets": tex})
    if target == "isf":
        src = files["fit.fs"].decode()
        u: dict[str, Any] = {"RENDERSIZE": res, "TIME": 0.0}
        for i in isf_header(src)["INPUTS"]:
            d = i["DEFAULT"]
            u[i["NAME"]] = tuple(d) if isinstance(d, list) else d
        return run_fullscreen(ctx, isf_shim(src, es=False), width, height, u)
    if target == "shadertoy":
        src = files["fit.shadertoy.glsl"].decode()
        return run_fullscreen(ctx, shadertoy_shim(src, es=False), width, height,
                              {"iResolution": (*res, 1.0), "iTime": 0.0})
    if target == "web":
        html = files["index.html"].decode()
        fs = re.search(r'<script id="imfit-fs"[^>]*>(.*?)</script>', html, re.S).group(1)
        data = re.search(r'<script id="imfit-data"[^>]*>(.*?)</script>', html, re.S).group(1)
        # one row of 3N texels, as the page lays it out on a GPU whose rows hold them all
        tex = ctx.texture((3 * len(gs), 1), 4, base64.b64decode(data.strip()), dtype="f4")
        return run_fullscreen(ctx, fs.replace("#version 300 es", "#version 330", 1), width,
                              height, {"imfit_count": len(gs),
                                       "imfit_resolution": res, "imfit_center": (0.0, 0.0),
                                       "imfit_zoom": 1.0, "imfit_gain": 1.0, "imfit_phase": 0.0,
                                       "imfit_bias": tuple(float(b) for b in gs.bias)},
                              {"imfit_data": tex})
    raise ValueError(f"no harness for {target}")
