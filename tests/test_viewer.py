"""The Gabor viewer's scene without a window: its keys are the pure edits, its view math keeps
what is under the cursor, its files are never overwritten, and it follows the watched file."""

import math
import os

import numpy as np
import pytest
from tolerances import GL_BILLBOARD_VS_TORCH

import imfit
from imfit.edit import ops as edit
from imfit.errors import ImfitError
from viewer.context import read_rgba32f
from viewer.gabor_scene import Edits, GaborScene, apply_edits
from viewer.scene import Scene
from viewer.window import parse_events


def test_gabor_scene_is_a_scene(small_fit):
    assert isinstance(GaborScene(small_fit[0]), Scene)


def test_keys_are_the_pure_edits(small_fit):
    gs = small_fit[0]
    sc = GaborScene(gs)
    for key, shift in (("s", False), ("f", True), ("r", False), ("a", False), ("b", True)):
        assert sc.key(key, shift)
    want = edit.with_bias(edit.gain(edit.rotate_field(
        edit.scale(gs, 1.1, 1.1, 1.1), math.radians(5)), 1.1), [b - 0.02 for b in gs.bias])
    got = sc.current()
    assert np.allclose(got.params, want.params, atol=1e-6)
    assert np.allclose(got.bias, want.bias)
    assert not sc.key("k", False)  # unknown keys are left to the runner


def test_fewer_and_more_wavelets_strongest_first(small_fit):
    gs = small_fit[0]
    sc = GaborScene(gs)
    sc.key("left_bracket", False)
    shown = sc.current()
    assert len(shown) == math.floor(len(gs) / 1.25)
    assert np.array_equal(shown.params, edit.top_k(gs, len(shown)).params)
    for _ in range(3):
        sc.key("right_bracket", False)
    assert len(sc.current()) == len(gs) and sc.edits.count is None


def test_strategy_toggle_and_reset(small_fit):
    sc = GaborScene(small_fit[0])
    sc.key("t", False)
    assert sc.strategy == "loop"
    sc.key("s", False)
    sc.drag(10, 0, 100, 100)
    sc.key("0", False)
    assert sc.edits == Edits() and sc.center == (0.0, 0.0) and sc.zoom == 1.0


def test_scroll_zooms_about_the_cursor_and_drag_pans(small_fit):
    sc = GaborScene(small_fit[0])
    w, h, x, y = 200, 100, 150.0, 20.0

    def under(px: float, py: float) -> tuple[float, float]:
        s = 2.0 / (sc.zoom * h)
        return sc.center[0] + (px - w / 2) * s, sc.center[1] + (py - h / 2) * s

    before = under(x, y)
    sc.scroll(3, x, y, w, h)
    assert sc.zoom == pytest.approx(1.1 ** 3)
    assert under(x, y) == pytest.approx(before)
    sc.drag(25, -10, w, h)  # the content follows the mouse
    assert under(x + 25, y - 10) == pytest.approx(before)


@pytest.mark.gl
def test_drift_animates_phase_with_time(gl_ctx, small_fit):
    sc = GaborScene(small_fit[0])
    sc.key("p", False)
    sc.key("p", False)
    fbo = gl_ctx.framebuffer(color_attachments=[gl_ctx.texture((16, 16), 4, dtype="f4")])
    fbo.use()
    for t in (0.0, 0.5, 1.0):
        sc.draw(gl_ctx, 16, 16, t)
    assert sc.edits.phase == pytest.approx(0.1 * 1.0)
    fbo.release()


@pytest.mark.gl
def test_scene_draws_the_edited_set(gl_ctx, small_fit):
    gs = small_fit[0]
    sc = GaborScene(gs)
    sc.key("s", True)
    sc.scroll(-2, 10, 30, 64, 48)
    fbo = gl_ctx.framebuffer(color_attachments=[gl_ctx.texture((64, 48), 4, dtype="f4")])
    fbo.use()
    gl_ctx.viewport = (0, 0, 64, 48)
    sc.draw(gl_ctx, 64, 48, 0.0)
    out = read_rgba32f(fbo, 64, 48)[..., :3]
    ref = imfit.render(apply_edits(gs, sc.edits), 64, 48, center=sc.center, zoom=sc.zoom)
    assert np.abs(out - ref).max() < GL_BILLBOARD_VS_TORCH
    fbo.release()


def test_save_writes_new_files_that_load_back(small_fit, tmp_path):
    src = tmp_path / "cat.gabor.json"
    imfit.save(small_fit[0], src)
    sc = GaborScene(small_fit[0], source=src)
    sc.key("a", True)
    first = sc.save()
    second = sc.save()
    assert (first.name, second.name) == ("cat.edit-001.gabor.json", "cat.edit-002.gabor.json")
    back = imfit.load(first)
    assert np.array_equal(back.params, sc.current().params)
    assert back.meta["edits"]["gain"] == pytest.approx(1 / 1.1)


@pytest.mark.gl
def test_watched_file_reloads_and_survives_a_broken_write(gl_ctx, small_fit, tmp_path):
    gs = small_fit[0]
    src = tmp_path / "live.gabor.json"
    imfit.save(gs, src)
    sc = GaborScene(gs, source=src)
    fbo = gl_ctx.framebuffer(color_attachments=[gl_ctx.texture((8, 8), 4, dtype="f4")])
    fbo.use()
    imfit.save(gs[:10], src, overwrite=True)  # the user saving over it
    os.utime(src, (1, 1))  # a different mtime even on coarse-clock filesystems
    sc.draw(gl_ctx, 8, 8, 1.0)
    assert len(sc.base) == 10
    src.write_text("{ half written")
    os.utime(src, (2, 2))
    sc.draw(gl_ctx, 8, 8, 2.0)
    assert len(sc.base) == 10  # kept the last good set
    fbo.release()


def test_fit_snapshots_replace_the_set(small_fit):
    sc = GaborScene(imfit.GaborSet.empty(64, 64))
    sc.set_gaborset(small_fit[0])
    sc._poll(0.0)
    assert len(sc.base) == len(small_fit[0])


def test_event_scripts_parse_and_reject_nonsense():
    evs = parse_events("2 key shift+s; 4 drag 10 -3; 5 scroll 1.5 20 30; 6 resize 64 48; 7 shot")
    assert [(e.frame, e.kind) for e in evs] == [(2, "key"), (4, "drag"), (5, "scroll"),
                                                (6, "resize"), (7, "shot")]
    for bad in ("key s", "3 jump 1", "3 drag 1", "x key s", "-1 key s", "2 drag a b"):
        with pytest.raises(ImfitError):
            parse_events(bad)
