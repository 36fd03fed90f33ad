"""The GL renderer against its torch twin: both strategies, any view, any N, any size."""

import numpy as np
import pytest
from conftest import random_params
from tolerances import GL_BILLBOARD_VS_TORCH, GL_LOOP_VS_TORCH, GL_TILED_VS_WHOLE

import imfit
from imfit.errors import ImfitError
from imfit.model.gaborset import GaborSet
from viewer import gl_render
from viewer.context import read_rgba32f
from viewer.gl_render import GaborGL, render_gl, wavelet_texture_data

pytestmark = pytest.mark.gl

# (width, height, center, zoom): the fitted frame, a wide view far beyond it, a close-up
VIEWS = [(64, 64, (0.0, 0.0), 1.0), (120, 48, (0.3, -0.2), 0.4), (40, 50, (-0.2, 0.1), 3.0)]


@pytest.fixture(scope="module")
def gl(gl_ctx):
    g = GaborGL(gl_ctx)
    yield g
    g.release()


@pytest.mark.parametrize("view", VIEWS)
def test_both_strategies_match_torch_on_a_real_fit(gl, small_fit, view):
    gs = small_fit[0]
    w, h, c, z = view
    ref = imfit.render(gs, w, h, center=c, zoom=z)
    loop = gl.render(gs, w, h, c, z, strategy="loop")
    quads = gl.render(gs, w, h, c, z, strategy="billboard")
    assert loop.shape == quads.shape == (h, w, 3) and loop.dtype == np.float32
    assert np.abs(loop - ref).max() < GL_LOOP_VS_TORCH
    assert np.abs(quads - ref).max() < GL_BILLBOARD_VS_TORCH
    assert ref.std() > 0.05  # a real picture, not a flat one that would match anything


def test_render_gl_is_imfit_render_with_gl(small_fit):
    gs = small_fit[0]
    assert np.abs(render_gl(gs) - imfit.render(gs)).max() < GL_BILLBOARD_VS_TORCH
    wide = render_gl(gs, 96)  # width only: the fitted aspect, like imfit.render
    assert wide.shape == imfit.render(gs, 96).shape


def test_many_wavelets_wrap_texture_rows(gl_ctx, monkeypatch):
    """More wavelets than one texture row holds: rows wrap, nothing is dropped or misread."""
    monkeypatch.setattr(gl_render, "PER_ROW", 7)
    g = GaborGL(gl_ctx)
    try:
        assert g.per_row == 7
        gs = GaborSet(random_params(50, seed=3), 48, 48)
        ref = imfit.render(gs, 48, 48)
        assert np.abs(g.render(gs, strategy="loop") - ref).max() < GL_LOOP_VS_TORCH
        assert np.abs(g.render(gs) - ref).max() < GL_BILLBOARD_VS_TORCH
    finally:
        g.release()


def test_texture_layout_is_three_texels_per_wavelet():
    p = np.arange(5 * 12, dtype=np.float32).reshape(5, 12)
    tex = wavelet_texture_data(p, per_row=2)
    assert tex.shape == (3, 6, 4)
    assert np.array_equal(tex[1, 3:6].reshape(-1), p[3])  # wavelet 3: row 1, second slot
    assert not tex[2, 3:].any()  # padding after the last wavelet is zero (amplitude 0)


def test_big_frames_are_tiled_seamlessly(gl, small_fit, monkeypatch):
    gs = small_fit[0]
    whole = gl.render(gs, 100, 70, (0.1, 0.0), 0.8)
    monkeypatch.setattr(gl_render, "MAX_TILE", 32)
    tiled = gl.render(gs, 100, 70, (0.1, 0.0), 0.8)
    assert np.abs(tiled - whole).max() < GL_TILED_VS_WHOLE


def test_zero_wavelets_render_the_bias(gl):
    gs = GaborSet.empty(16, 8).replace(bias=(0.2, 0.5, 1.3))
    for strategy in ("billboard", "loop"):
        out = gl.render(gs, strategy=strategy)
        assert out.shape == (8, 16, 3)
        assert np.allclose(out, [0.2, 0.5, 1.0])  # clamped like torch


def test_negative_partial_sums_survive_accumulation(gl):
    """Two wavelets cancelling: an 8-bit or clamped target would leave a bright ghost."""
    p = random_params(1, seed=5)
    q = p.copy()
    q[:, 9:12] *= -1
    gs = GaborSet(np.concatenate([p, q]), 32, 32)
    assert np.abs(gl.render(gs) - 0.5).max() < 1e-5


def test_draw_goes_into_the_bound_framebuffer(gl, gl_ctx, small_fit):
    """The Scene contract: draw into whatever is bound (here an offscreen target)."""
    gs = small_fit[0]
    fbo = gl_ctx.framebuffer(color_attachments=[gl_ctx.texture((64, 64), 4, dtype="f4")])
    try:
        fbo.use()
        gl.draw(gs, 64, 64)
        out = read_rgba32f(fbo, 64, 64)[..., :3]
        assert np.abs(out - imfit.render(gs)).max() < GL_BILLBOARD_VS_TORCH
    finally:
        fbo.color_attachments[0].release()
        fbo.release()


def test_shared_context_leaves_other_contexts_usable(gl_ctx, small_fit):
    """render_gl switches to its own context and back: objects of the fixture's context made
    before the call still work after it."""
    tex = gl_ctx.texture((2, 2), 4, dtype="f4")
    fbo = gl_ctx.framebuffer(color_attachments=[tex])
    render_gl(small_fit[0], 8, 8)
    fbo.use()
    fbo.clear(0.25, -1.0, 2.0, 1.0)
    assert np.allclose(read_rgba32f(fbo, 2, 2)[0, 0], [0.25, -1.0, 2.0, 1.0])
    fbo.release()
    tex.release()


def test_bad_inputs_are_one_line_errors(gl, small_fit):
    with pytest.raises(ImfitError, match="strategy"):
        gl.render(small_fit[0], strategy="raytrace")
    with pytest.raises(ImfitError, match="zoom"):
        gl.render(small_fit[0], zoom=0.0)
