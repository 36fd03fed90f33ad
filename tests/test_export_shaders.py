"""Every shader export compiles with glslangValidator under its host's shim AND renders, in the
project's moderngl harness, to the torch render of the same wavelets within 2/255 on a real fit.

What a user would check by eye is exactly this: the picture the target tool shows is the fit.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import shader_hosts as H
from tolerances import EXPORT_VS_TORCH

import exporters
import imfit
from exporters import glsl as glsl_target
from viewer.context import run_fullscreen

pytestmark = pytest.mark.gl

SIZE = 64


def _files(gs, target, **kw) -> dict[str, bytes]:
    return exporters.build(gs, target, "fit", **kw).files


def _text(files, name) -> str:
    return files[name].decode("utf-8")


def _check(out: np.ndarray, gs: imfit.GaborSet, what: str) -> None:
    ref = imfit.render(gs, SIZE, SIZE)
    err = np.abs(out[..., :3] - ref).max()
    assert err <= EXPORT_VS_TORCH, f"{what}: max |GL - torch| = {err:.4g} > {EXPORT_VS_TORCH:.4g}"
    # the picture is not trivially flat (a blank render would match nothing here)
    assert out[..., :3].std() > 0.05


def _data_texture(ctx, gs):
    return ctx.texture((3, len(gs)), 4, gs.params.astype("<f4").tobytes(), dtype="f4")


# -- glsl --------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["texture", "block", "uniforms"])
def test_glsl_variants_compile_and_match_torch(gl_ctx, small_fit, variant):
    gs = small_fit[0]
    max_n = glsl_target.UNIFORM_MAX if variant == "uniforms" else None
    files = _files(gs, "glsl", variant=variant, max_n=max_n)
    src = _text(files, f"fit.{variant}.frag")
    H.glslang(src, "frag")
    used = imfit.GaborSet(np.frombuffer(files["fit.f32"], "<f4").reshape(-1, 12), gs.width,
                          gs.height, gs.bias) if "fit.f32" in files else gs[
        np.sort(gs.order_by_energy()[:max_n])]
    textures, buf = {}, None
    if variant == "texture":
        textures = {"imfit_data": _data_texture(gl_ctx, gs)}
    elif variant == "block":
        buf = gl_ctx.buffer(files["fit.f32"])
        buf.bind_to_uniform_block(0)  # blocks default to binding 0
    out = run_fullscreen(gl_ctx, src, SIZE, SIZE, {"imfit_resolution": (SIZE, SIZE)}, textures)
    _check(out, used, f"glsl {variant}")
    for t in textures.values():
        t.release()
    if buf is not None:
        buf.release()


def test_glsl_refuses_beyond_the_guaranteed_uniform_budget(small_fit):
    gs = small_fit[0]  # 96 wavelets > 83
    with pytest.raises(imfit.ImfitError, match="--variant block"):
        exporters.build(gs, "glsl", variant="uniforms")
    big = imfit.GaborSet(np.tile(gs.params, (4, 1)), gs.width, gs.height)  # 384 > 341
    with pytest.raises(imfit.ImfitError, match="--variant texture"):
        exporters.build(big, "glsl", variant="block")
    assert "fit.texture.frag" in exporters.build(big, "glsl").files


# -- TouchDesigner -----------------------------------------------------------------------------
def test_touchdesigner_shader_compiles_for_vulkan_and_matches_torch(gl_ctx, small_fit):
    gs = small_fit[0]
    files = _files(gs, "touchdesigner")
    src = _text(files, "fit_pixel.glsl")
    assert not src.lstrip().startswith("#version"), "TD prepends its own #version"
    assert "layout(location = 0) out vec4 fragColor;" in src and "TDOutputSwizzle(" in src
    H.glslang(H.TD_SHIM_VK + src, "frag", "-V", "-R", "--aml", "--amb")
    # the data path TD takes: TSV -> DAT to CHOP -> 3 Select CHOPs of 4 channels -> buffers
    table = imfit.formats.readers._read_table(_text(files, "fit.tsv"), H.Path("fit.tsv"), "\t")
    bufs = [H.texture_buffer(gl_ctx, np.ascontiguousarray(table[:, 4 * k:4 * k + 4], "<f4")
                             .tobytes()) for k in range(3)]
    info = (1 / SIZE, 1 / SIZE, SIZE, SIZE)
    shader = H.TD_SHIM_GL + H.with_bindings(src, ["uW0", "uW1", "uW2"])
    out = run_fullscreen(gl_ctx, shader, SIZE, SIZE, {"uTDOutputInfo.res": info, **H.TD_VIEW},
                         H.bound(bufs))
    _check(out, gs, "touchdesigner")
    # the Vectors-page uniforms mean what imfit's view and edits mean
    view = {"uCenter": (0.2, -0.1), "uZoom": 1.7, "uGain": 0.6, "uPhase": 0.9}
    out = run_fullscreen(gl_ctx, shader, SIZE, SIZE, {"uTDOutputInfo.res": info, **view},
                         H.bound(bufs))
    edited = imfit.edit.shift_phase(imfit.edit.gain(gs, 0.6), 0.9)
    ref = imfit.render(edited, SIZE, SIZE, center=(0.2, -0.1), zoom=1.7)
    assert np.abs(out[..., :3] - ref).max() <= EXPORT_VS_TORCH
    for b in bufs:
        b.release()


# -- Max / Jitter -------------------------------------------------------------------------------
def test_max_jxs_programs_compile_and_match_torch(gl_ctx, small_fit):
    gs = small_fit[0]
    files = _files(gs, "max")
    root = ET.fromstring(_text(files, "fit.jxs"))
    assert root.tag == "jittershader"
    lang = root.find("language")
    assert lang is not None and lang.get("name") == "glsl"
    progs = {p.get("name"): p for p in lang.iter("program")}
    assert {p.get("type") for p in progs.values()} == {"vertex", "fragment"}
    params = {p.get("name") for p in root.findall("param")}
    for bind in lang.findall("bind"):
        assert bind.get("param") in params and bind.get("program") in progs
    for p in progs.values():
        H.glslang(p.text.strip(), "vert" if p.get("type") == "vertex" else "frag")
    # Jitter uploads the 1-plane float32 matrix of 12 x N as a rectangle texture
    matrix = imfit.formats.readers.read_jxf_bytes(files["fit.jxf"])
    tex = H.rectangle_r32f(gl_ctx, 12, len(gs), matrix.astype("<f4").tobytes())
    defaults = {"zoom": 1.0, "center": (0.0, 0.0), "gain": 1.0, "phase": 0.0,
                "bias": tuple(float(b) for b in gs.bias), "resolution": (SIZE, SIZE)}
    for prm in root.findall("param"):
        if prm.get("default") and prm.get("name") in defaults and prm.get("name") != "bias":
            vals = tuple(float(v) for v in prm.get("default").split())
            defaults[prm.get("name")] = vals[0] if len(vals) == 1 else vals
    out = run_fullscreen(gl_ctx, progs["fp"].text.strip(), SIZE, SIZE, defaults,
                         {"wavelets": tex})
    _check(out, gs, "max jxs")
    # the parameters the .maxpat's number boxes send mean imfit's view and edits
    view = {**defaults, "zoom": 1.7, "center": (0.2, -0.1), "gain": 0.6, "phase": 0.9}
    out = run_fullscreen(gl_ctx, progs["fp"].text.strip(), SIZE, SIZE, view, {"wavelets": tex})
    ref = imfit.render(imfit.edit.shift_phase(imfit.edit.gain(gs, 0.6), 0.9), SIZE, SIZE,
                       center=(0.2, -0.1), zoom=1.7)
    assert np.abs(out[..., :3] - ref).max() <= EXPORT_VS_TORCH
    tex.release()


# -- ISF ---------------------------------------------------------------------------------------
def _isf_defaults(header) -> dict:
    vals = {"RENDERSIZE": (SIZE, SIZE), "TIME": 0.0}
    for i in header["INPUTS"]:
        d = i["DEFAULT"]
        vals[i["NAME"]] = tuple(d) if isinstance(d, list) else d
    return vals


def test_isf_compiles_as_es100_and_gl3_and_matches_torch(gl_ctx, small_fit):
    gs = small_fit[0]
    src = _text(_files(gs, "isf"), "fit.fs")
    H.glslang(H.isf_shim(src, es=True), "frag")
    H.glslang(H.isf_shim(src, es=False), "frag")
    out = run_fullscreen(gl_ctx, H.isf_shim(src, es=False), SIZE, SIZE,
                         _isf_defaults(H.isf_header(src)))
    _check(out, gs, "isf")


def test_isf_drift_moves_the_phases_with_time(gl_ctx, small_fit):
    gs = small_fit[0]
    src = H.isf_shim(_text(_files(gs, "isf"), "fit.fs"), es=False)
    u = _isf_defaults(H.isf_header(_text(_files(gs, "isf"), "fit.fs")))
    u.update(drift=1.0, TIME=np.pi)  # every phase + pi: the wavelets flip sign around the bias
    out = run_fullscreen(gl_ctx, src, SIZE, SIZE, u)[..., :3]
    flipped = gs.replace(params=np.concatenate([gs.params[:, :9], -gs.params[:, 9:]], 1))
    assert np.abs(out - imfit.render(flipped, SIZE, SIZE)).max() <= EXPORT_VS_TORCH


# -- Shadertoy -----------------------------------------------------------------------------------
def test_shadertoy_compiles_as_es300_and_matches_torch(gl_ctx, small_fit):
    gs = small_fit[0]
    src = _text(_files(gs, "shadertoy"), "fit.shadertoy.glsl")
    assert "void mainImage(out vec4 fragColor, in vec2 fragCoord)" in src
    H.glslang(H.shadertoy_shim(src, es=True), "frag")
    out = run_fullscreen(gl_ctx, H.shadertoy_shim(src, es=False), SIZE, SIZE,
                         {"iResolution": (SIZE, SIZE, 1.0), "iTime": 0.0})
    _check(out, gs, "shadertoy")


# -- web -------------------------------------------------------------------------------------
def _script(html: str, ident: str) -> str:
    m = re.search(rf'<script id="{ident}"[^>]*>(.*?)</script>', html, re.S)
    assert m, f"no <script id={ident}>"
    return m.group(1)


def test_web_page_shader_compiles_and_matches_torch(gl_ctx, small_fit):
    gs = small_fit[0]
    html = _text(_files(gs, "web"), "index.html")
    fs = _script(html, "imfit-fs")
    assert fs.startswith("#version 300 es")
    H.glslang(fs, "frag")
    H.glslang(_script(html, "imfit-vs"), "vert")
    data = base64.b64decode(_script(html, "imfit-data").strip())
    assert np.array_equal(np.frombuffer(data, "<f4").reshape(-1, 12), gs.params)
    # one row of 3N texels (the page wraps rows at MAX_TEXTURE_SIZE: tests/test_hosts_browser.py)
    tex = gl_ctx.texture((3 * len(gs), 1), 4, data, dtype="f4")
    desktop = fs.replace("#version 300 es", "#version 330", 1)
    out = run_fullscreen(gl_ctx, desktop, SIZE, SIZE, {
        "imfit_count": len(gs),
        "imfit_resolution": (SIZE, SIZE), "imfit_center": (0.0, 0.0), "imfit_zoom": 1.0,
        "imfit_gain": 1.0, "imfit_phase": 0.0,
        "imfit_bias": tuple(float(b) for b in gs.bias)}, {"imfit_data": tex})
    _check(out, gs, "web")
    tex.release()


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        msg = "node is not installed (.ci/hosts/node.sh installs it)"
        if H.IN_CI:
            pytest.fail(f"CI=true and {msg}")
        pytest.skip(msg)
    return node


def test_web_page_javascript_parses(small_fit, tmp_path):
    node = _node()
    html = _text(_files(small_fit[0], "web"), "index.html")
    js = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(js) == 1
    (tmp_path / "page.js").write_text(js[0])
    r = subprocess.run([node, "--check", str(tmp_path / "page.js")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr


# -- all shader targets paste the ONE Gabor evaluation ----------------------------------------
@pytest.mark.parametrize("target,name", [
    ("glsl", "fit.texture.frag"), ("touchdesigner", "fit_pixel.glsl"), ("max", "fit.jxs"),
    ("isf", "fit.fs"), ("shadertoy", "fit.shadertoy.glsl"), ("web", "index.html")])
def test_shader_exports_embed_the_shared_gabor_source(small_fit, target, name):
    from viewer.shaders import gabor_source

    text = _text(_files(small_fit[0], target), name)
    assert gabor_source().strip() in text


# -- every knob a target exposes means what it says -----------------------------------------------
# The default view (zoom 1, centre 0, gain 1, time 0) cannot tell a knob that works from one the
# shader ignores; these render with every knob moved and compare with the same edit in torch.
KNOBS = {"zoom": 2.0, "center": (0.2, -0.1), "gain": 0.6}


def _check_knobs(out: np.ndarray, gs: imfit.GaborSet, what: str) -> None:
    from imfit.edit import ops as edit

    ref = imfit.render(edit.gain(gs, KNOBS["gain"]), SIZE, SIZE, center=KNOBS["center"],
                       zoom=KNOBS["zoom"])
    err = np.abs(out[..., :3] - ref).max()
    assert err <= EXPORT_VS_TORCH, f"{what}: max |GL - torch| = {err:.4g} with moved knobs"


def test_glsl_zoom_center_and_gain_uniforms(gl_ctx, small_fit):
    gs = small_fit[0]
    src = _text(_files(gs, "glsl"), "fit.texture.frag")
    tex = _data_texture(gl_ctx, gs)
    out = run_fullscreen(gl_ctx, src, SIZE, SIZE, {
        "imfit_resolution": (SIZE, SIZE), "imfit_zoom": KNOBS["zoom"],
        "imfit_center": KNOBS["center"], "imfit_gain": KNOBS["gain"]}, {"imfit_data": tex})
    tex.release()
    _check_knobs(out, gs, "glsl")


def test_max_zoom_center_and_gain_params(gl_ctx, small_fit):
    gs = small_fit[0]
    files = _files(gs, "max")
    root = ET.fromstring(_text(files, "fit.jxs"))
    fp = {p.get("name"): p for p in root.find("language").iter("program")}["fp"]
    matrix = imfit.formats.readers.read_jxf_bytes(files["fit.jxf"])
    tex = H.rectangle_r32f(gl_ctx, 12, len(gs), matrix.astype("<f4").tobytes())
    out = run_fullscreen(gl_ctx, fp.text.strip(), SIZE, SIZE, {
        **KNOBS, "bias": tuple(float(b) for b in gs.bias), "resolution": (SIZE, SIZE)},
        {"wavelets": tex})
    tex.release()
    _check_knobs(out, gs, "max jxs")


def test_isf_zoom_center_and_gain_inputs(gl_ctx, small_fit):
    gs = small_fit[0]
    src = _text(_files(gs, "isf"), "fit.fs")
    u = _isf_defaults(H.isf_header(src))
    assert {"zoom", "center", "gain"} <= set(u)
    u.update(KNOBS)
    _check_knobs(run_fullscreen(gl_ctx, H.isf_shim(src, es=False), SIZE, SIZE, u), gs, "isf")


def test_shadertoy_drift_advances_all_three_phases(gl_ctx, small_fit):
    """DRIFT radians per second times iTime on every channel's phase."""
    from imfit.edit import ops as edit

    gs = small_fit[0]
    src = _text(_files(gs, "shadertoy"), "fit.shadertoy.glsl")
    assert "const float DRIFT = 0.0;" in src
    src = src.replace("const float DRIFT = 0.0;", "const float DRIFT = 0.5;")
    out = run_fullscreen(gl_ctx, H.shadertoy_shim(src, es=False), SIZE, SIZE,
                         {"iResolution": (SIZE, SIZE, 1.0), "iTime": np.pi})
    _check(out, edit.shift_phase(gs, np.pi / 2), "shadertoy drift")
