"""The Gabor viewer's scene without a window: its keys are the pure edits, its view math keeps
what is under the cursor, its files are never overwritten, and it follows the watched file."""

import math
import os

import numpy as np
import pytest
from tolerances import GL_BILLBOARD_VS_TORCH

import imfit
from imfit.edit import ops as edit
from imfit.edit.syntax import apply_ops, parse_ops
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
    assert len(sc.current()) == len(gs) and sc.edits.count == 0


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
    assert back.meta["edits"] == ["gain:x=0.9090909091"]


def test_viewer_history_is_op_texts_that_replay_to_the_saved_set(small_fit, tmp_path):
    """One edit model: what the viewer saves is the op chain `imfit edit` would apply; replaying
    the recorded texts through the op parser on the original gives the saved wavelets."""
    gs = small_fit[0]
    src = tmp_path / "cat.gabor.json"
    imfit.save(gs, src)
    sc = GaborScene(gs, source=src)
    for key, shift in (("left_bracket", False), ("s", False), ("f", True), ("r", True),
                       ("a", False), ("b", False)):
        sc.key(key, shift)
    sc.set_param("phase", 0.25)
    saved = imfit.load(sc.save())
    history = saved.meta["edits"]
    assert [h.split(":")[0] for h in history] == ["topk", "scale", "rotate", "gain", "phase",
                                                  "bias"]
    replayed = apply_ops(gs, parse_ops(history))
    assert np.allclose(replayed.params, saved.params, atol=1e-5)
    assert np.allclose(replayed.bias, [b + 0.02 for b in gs.bias], atol=1e-6)
    assert np.allclose(saved.bias, replayed.bias, atol=1e-6)


def test_live_params_clamp_wrap_and_reject_wrong_types(small_fit):
    sc = GaborScene(small_fit[0])
    assert sc.set_param("gain", 100.0) == 8.0  # the table's upper end
    assert sc.set_param("rotation", 190.0) == pytest.approx(-170.0)  # an angle wraps
    assert sc.set_param("count", 10**9) == 0  # more than there are: all of them
    assert sc.set_param("count", 3.4) == 3
    for name, bad in (("gain", "loud"), ("gain", float("nan")), ("sigma", True),
                      ("strategy", "raytrace"), ("nope", 1.0)):
        with pytest.raises(ImfitError):
            sc.set_param(name, bad)
    assert sc.edits.gain == 8.0 and sc.strategy == "billboard"  # nothing changed by the bad


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
    for bad in ("key s", "3 jump 1", "3 drag 1", "x key s", "-1 key s", "2 drag a b",
                "1 key sx", "1 key shift+enterr", "0 key F13x"):
        with pytest.raises(ImfitError):
            parse_events(bad)


def test_imfit_edit_on_a_viewer_saved_file_appends_to_one_history(small_fit, tmp_path):
    """The bug: the viewer wrote meta["edits"] as a dict, `imfit edit` spliced its keys into the
    list. Now both write op texts; an old dict-shaped file is read as the ops it stood for."""
    from click.testing import CliRunner

    import cli

    gs = small_fit[0]
    src = tmp_path / "cat.gabor.json"
    imfit.save(gs, src)
    sc = GaborScene(gs, source=src)
    sc.key("r", False)
    saved = sc.save()
    out = tmp_path / "hue.gabor.json"
    r = CliRunner().invoke(cli.main, ["edit", str(saved), "hue:deg=120", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert imfit.load(out).meta["edits"] == ["rotate:deg=5", "hue:deg=120"]

    legacy = imfit.load(saved)  # as the old viewer wrote it: knobs, rotation in radians
    legacy = legacy.replace(meta={**legacy.meta, "edits": {
        "sigma": 1.0, "frequency": 1.0, "drift": 0.3, "phase": 0.0, "rotation": math.radians(5),
        "gain": 2.0, "bias": 0.0, "count": None}})
    old = tmp_path / "old.gabor.json"
    imfit.save(legacy, old)
    r = CliRunner().invoke(cli.main, ["edit", str(old), "gray", "-o", str(tmp_path / "g.json")])
    assert r.exit_code == 0, r.output
    assert imfit.load(tmp_path / "g.json").meta["edits"] == ["rotate:deg=5", "gain:x=2", "gray"]
