"""The creative edits, checked on what they do to the picture (renders), not only on numbers."""

import math

import numpy as np
import pytest
import torch
from conftest import random_params
from PIL import Image
from tolerances import EDIT_RENDER

import imfit
from imfit import GaborSet, ImfitError
from imfit.edit import ops as edit
from imfit.edit.syntax import apply_ops, parse_ops
from imfit.renderers.gabor import View, render_tiled


def _gs(n=40, seed=2, w=64, h=64):
    return GaborSet(random_params(n, seed=seed), w, h)


def _raw(gs):
    """Unclamped render: colour edits are exact before the clamp."""
    p = torch.from_numpy(np.array(gs.params))
    return render_tiled(p, View.of(gs.width, gs.height), gs.bias, clamp=False).numpy()


def _same_picture(a, b, tol=EDIT_RENDER):
    return np.abs(imfit.render(a) - imfit.render(b)).max() < tol


ALL_EDITS = [
    lambda g: edit.scale_ramp(g, "size", 0.5, 2, "radial"),
    lambda g: edit.flip(g, "x"), lambda g: edit.mirror(g, "bottom"),
    lambda g: edit.kaleidoscope(g, 5, 0.3, (0.1, 0.0)), lambda g: edit.tile(g, 3),
    lambda g: edit.scale_field(g, 2.0), lambda g: edit.hue_rotate(g, 40),
    edit.grayscale, lambda g: edit.palette_map(g, edit.parse_colors("navy+orange+white")),
    lambda g: edit.keep_rect(g, -0.5, -0.5, 0.5, 0.5), lambda g: edit.keep_circle(g, 0, 0, 0.5),
    lambda g: edit.sort(g, "x"), lambda g: edit.jitter(g, 3, 0.1, 0.2, 0.1, 0.3),
    lambda g: edit.merge(g, g, "sum"),
]


def test_new_edits_never_mutate_the_input():
    gs = _gs()
    before, bias = gs.params.copy(), gs.bias
    for fn in ALL_EDITS:
        out = fn(gs)
        assert isinstance(out, GaborSet) and out is not gs
    assert np.array_equal(gs.params, before) and gs.bias == bias


def test_rotate_op_90_degrees_rotates_the_rendered_image():
    gs = _gs(seed=4)
    out = apply_ops(gs, parse_ops(["rotate:deg=90"]))
    assert np.abs(np.rot90(imfit.render(gs), k=-1) - imfit.render(out)).max() < EDIT_RENDER


def test_flip_mirrors_the_rendered_image():
    gs = _gs(w=64, h=48)
    a = imfit.render(gs)
    assert np.abs(a[:, ::-1] - imfit.render(edit.flip(gs, "x"))).max() < EDIT_RENDER
    assert np.abs(a[::-1] - imfit.render(edit.flip(gs, "y"))).max() < EDIT_RENDER


@pytest.mark.parametrize("side, axis", [("left", 1), ("right", 1), ("top", 0), ("bottom", 0)])
def test_mirror_makes_a_symmetric_picture_from_the_kept_half(side, axis):
    gs = _gs(seed=5)
    out = imfit.render(edit.mirror(gs, side))
    assert np.abs(out - np.flip(out, axis=axis)).max() < EDIT_RENDER
    orig = imfit.render(gs)
    # the kept half still looks like the original; the other half does not
    h = 32
    kept, other = {"left": ((slice(None), slice(0, h)), (slice(None), slice(h, None))),
                   "right": ((slice(None), slice(h, None)), (slice(None), slice(0, h))),
                   "top": ((slice(0, h),), (slice(h, None),)),
                   "bottom": ((slice(h, None),), (slice(0, h),))}[side]
    assert np.abs(out[kept] - orig[kept]).mean() < 0.5 * np.abs(out[other] - orig[other]).mean()


def test_kaleidoscope_has_the_symmetry_of_its_mirrors():
    gs = _gs(200, seed=6)
    k = edit.kaleidoscope(gs, 6)
    # six mirrored pairs: turning the picture by 60 degrees or flipping it top-bottom changes
    # nothing (compared as renders; the set is the same up to order)
    assert _same_picture(k, edit.rotate_field(k, math.pi / 3))
    assert np.abs(imfit.render(k) - imfit.render(k)[::-1]).max() < EDIT_RENDER
    # and it is not trivially symmetric for 7-fold turns
    assert not _same_picture(k, edit.rotate_field(k, 2 * math.pi / 7), 0.02)


def test_tile_repeats_the_picture_with_mirrored_seams():
    gs = _gs(30, seed=7)
    t = edit.tile(gs, 2)
    assert len(t) == 4 * len(gs)
    img = imfit.render(t)
    assert np.abs(img - img[:, ::-1]).max() < EDIT_RENDER
    assert np.abs(img - img[::-1]).max() < EDIT_RENDER
    # the top-left tile is the original at half size (up to spill-over from neighbours)
    small = imfit.render(gs, 32, 32)
    assert np.abs(img[:32, :32] - small).mean() < 0.02


def test_scale_ramp_changes_one_side_and_not_the_other():
    gs = _gs(120, seed=8)
    out = edit.scale_ramp(gs, "size", 1.0, 3.0, "x")
    d = np.abs(imfit.render(out) - imfit.render(gs)).mean(axis=(0, 2))
    assert d[:8].mean() < 0.3 * d[-8:].mean()  # factor ~1 at the left edge, ~3 at the right
    # a constant ramp is a plain factor on its one column: checked on the parameters
    flat = edit.scale_ramp(gs, "sigma", 2.0, 2.0, "y").params
    assert np.allclose(flat[:, 3], gs.params[:, 3].astype(np.float64) * 2, rtol=1e-7)
    assert np.array_equal(np.delete(flat, 3, 1), np.delete(gs.params, 3, 1))


def test_hue_by_120_degrees_cycles_the_channels():
    gs = _gs(seed=9)
    a, b = imfit.render(gs), imfit.render(edit.hue_rotate(gs, 120))
    # red becomes green, green becomes blue, blue becomes red (greys, incl. the bias, stay)
    assert np.abs(b - a[..., [2, 0, 1]]).max() < EDIT_RENDER
    assert _same_picture(edit.hue_rotate(edit.hue_rotate(gs, 100), 260), gs)


def test_grayscale_makes_every_pixel_grey_with_the_original_luma():
    gs = _gs(seed=10)
    img = _raw(edit.grayscale(gs))
    assert np.abs(img - img[..., :1]).max() < EDIT_RENDER
    assert np.abs(img[..., 0] - _raw(gs) @ np.array(edit.LUMA)).max() < EDIT_RENDER


def test_palette_map_paints_only_with_the_palette_directions():
    gs = edit.gain(_gs(seed=11), 0.3)  # keep the picture inside 0..1 so nothing clamps
    img = _raw(edit.palette_map(gs, edit.parse_colors("red+blue")))
    # palette mean (0.5, 0, 0.5) and the one direction red - blue: no green, red + blue = 1
    assert np.abs(img[..., 1]).max() < EDIT_RENDER
    assert np.abs(img[..., 0] + img[..., 2] - 1).max() < EDIT_RENDER
    assert img[..., 0].std() > 0.01  # the picture's structure survives
    bw = _raw(edit.palette_map(gs, edit.parse_colors(["black", "#ffffff"])))
    assert np.abs(bw - bw[..., :1]).max() < EDIT_RENDER


def test_image_palette_and_unreadable_palettes(assets, tmp_path):
    pal = edit.image_palette(str(assets / "chelsea.png"), 4)
    assert pal.shape == (4, 3) and pal.min() >= 0 and pal.max() <= 1
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    with pytest.raises(ImfitError, match="not an image"):
        apply_ops(_gs(), parse_ops([f"palette:image={bad}"]))
    with pytest.raises(ImfitError, match="not a colour"):
        edit.parse_colors("red+nocolour")


def test_keep_regions(tmp_path):
    gs = _gs(100, seed=12)
    r = edit.keep_rect(gs, -0.5, -1, 0.5, 0)
    assert len(r) and (np.abs(r.xy[:, 0]) <= 0.5).all() and (r.xy[:, 1] <= 0).all()
    c = edit.keep_circle(gs, 0.2, 0.1, 0.4)
    assert np.hypot(c.xy[:, 0] - 0.2, c.xy[:, 1] - 0.1).max() <= 0.4
    assert len(c) + len(edit.keep_circle(gs, 0.2, 0.1, 0.4, invert=True)) == len(gs)
    mask = np.zeros((10, 20), np.uint8)
    mask[:, :10] = 255  # light on the left half
    Image.fromarray(mask).save(tmp_path / "m.png")
    m = edit.keep_image_mask(gs, str(tmp_path / "m.png"))
    assert len(m) == int((gs.xy[:, 0] < 0).sum()) and (m.xy[:, 0] < 0).all()


def test_sort_reorders_without_changing_the_picture():
    gs = _gs(seed=13)
    s = edit.sort(gs, "energy")
    assert np.all(np.diff(s.energy()) <= 0)
    assert np.all(np.diff(edit.sort(gs, "x").xy[:, 0]) >= 0)
    assert np.all(np.diff(edit.sort(gs, "x", reverse=True).xy[:, 0]) <= 0)
    assert _same_picture(s, gs)


def test_jitter_is_repeatable_and_zero_means_unchanged():
    gs = _gs(seed=14)
    a, b = edit.jitter(gs, 1, 0.05, 0.1), edit.jitter(gs, 1, 0.05, 0.1)
    assert np.array_equal(a.params, b.params)
    assert not np.array_equal(a.params, edit.jitter(gs, 2, 0.05, 0.1).params)
    assert np.array_equal(edit.jitter(gs, 5, 0, 0, 0, 0).params, gs.params)


def test_merge_adds_the_two_pictures():
    a, b = _gs(20, seed=15), GaborSet(random_params(15, seed=16), 32, 32, bias=0.3)
    m = edit.merge(a, b, "sum")
    assert len(m) == 35 and (m.width, m.height) == (64, 64)
    b64 = b.replace(width=64, height=64)  # same plane units, rendered at a's pixel size
    assert np.abs(_raw(m) - (_raw(a) + _raw(b64) - 0.5)).max() < EDIT_RENDER
    with pytest.raises(ImfitError, match="merge bias"):
        edit.merge(a, b, "max")


@pytest.mark.parametrize("ops, msg", [
    (["scale:size=-1"], "positive"), (["topk:k=41"], "more than"), (["twirl"], "unknown op"),
    (["scale:sigma=x"], "not a number"), (["scale:nope=1"], "no key"),
    (["flip:axis=z"], "one of"), (["kaleido:n=0"], "1..64"), (["tile:n=1.5"], "whole"),
    (["keep"], "one region"), (["palette"], "exactly one"), (["ramp:from=0"], "positive"),
    (["sort:by=colour"], "one of"), (["jitter:pos=-1"], ">= 0"), (["merge"], "with="),
])
def test_bad_op_arguments_are_one_line(ops, msg):
    with pytest.raises(ImfitError, match=msg) as e:
        apply_ops(_gs(), parse_ops(ops))
    assert "\n" not in str(e.value)
