"""`imfit edit | morph | animate | sheet` from the command line: outputs, meaning, errors."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import random_params
from PIL import Image

import imfit
from cli import main
from imfit import GaborSet
from imfit.edit import ops as edit
from imfit.formats.images import to_uint8
from imfit.formats.video import read_frames


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    d = tmp_path_factory.mktemp("fits")
    a = GaborSet(random_params(40, seed=21), 48, 32, meta={"source": "a"})
    b = GaborSet(random_params(30, seed=22), 48, 32)
    imfit.save(a, d / "a.gabor.json")
    imfit.save(b, d / "b.gabor.json")
    return d / "a.gabor.json", d / "b.gabor.json", a, b


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_edit_chains_ops_and_matches_the_library(fits, tmp_path):
    fa, _, a, _ = fits
    out = tmp_path / "e.gabor.json"
    r = _run("edit", fa, "scale:sigma=2", "rotate:deg=90", "topk:k=10", "-o", out)
    assert r.exit_code == 0, r.output
    got = imfit.load(out)
    want = edit.top_k(edit.rotate_field(edit.scale(a, sigma=2), math.pi / 2), 10)
    assert np.array_equal(got.params, want.params)
    assert got.meta["edits"] == ["scale:sigma=2", "rotate:deg=90", "topk:k=10"]
    assert got.meta["source"] == "a"
    # top-k kept exactly the 10 strongest (energy is unchanged by rotation, scaled by sigma)
    strongest = np.sort(edit.scale(a, sigma=2).energy())[-10:]
    assert np.allclose(np.sort(got.energy()), strongest)
    r2 = _run("edit", fa, "gray", "-o", out)
    assert r2.exit_code == 2 and "--force" in r2.output


def test_edit_list_ops():
    r = _run("edit", "--list-ops")
    assert r.exit_code == 0
    for name in ("scale", "ramp", "kaleido", "tile", "mirror", "palette", "keep", "jitter",
                 "merge", "hue", "gray", "sort", "topk", "gain"):
        assert f"\n{name} " in "\n" + r.output


@pytest.mark.parametrize("ops, msg", [
    (["scale:sigma=-2"], "positive"), (["topk:k=41"], "more than the 40"),
    (["swirl:deg=3"], "unknown op 'swirl'"), (["palette:image=missing.png"], "no such file"),
    (["palette:colors=red+notacolour"], "not a colour"), ([], "no edit ops"),
])
def test_edit_bad_arguments_give_one_line_and_exit_2(fits, tmp_path, ops, msg):
    r = _run("edit", fits[0], *ops, "-o", tmp_path / "x.gabor.json")
    assert r.exit_code == 2, r.output
    assert msg in r.output and len(r.output.strip().splitlines()) == 1
    assert "Traceback" not in r.output and not (tmp_path / "x.gabor.json").exists()


def test_edit_unreadable_palette_image(fits, tmp_path):
    bad = tmp_path / "pal.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    r = _run("edit", fits[0], f"palette:image={bad}", "-o", tmp_path / "x.gabor.json")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1


def test_morph_first_and_last_frames_are_a_and_b(fits, tmp_path):
    fa, fb, a, b = fits
    r = _run("morph", fa, fb, "--frames", 6, "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    frames = read_frames(tmp_path / "m")
    assert len(frames) == 6
    assert np.array_equal(to_uint8(frames[0]), to_uint8(imfit.render(a)))
    assert np.array_equal(to_uint8(frames[-1]), to_uint8(imfit.render(b, 48, 32)))
    r = _run("morph", fa, fb, "--frames", 4, "--bounce", "-o", tmp_path / "m.gif")
    assert r.exit_code == 0, r.output
    assert len(read_frames(tmp_path / "m.gif")) == 6


def test_animate_loop_and_timeline(fits, tmp_path):
    fa = fits[0]
    r = _run("animate", fa, "--frames", 8, "--drift", "phase=0.5,theta=0.1", "--loop",
             "-o", tmp_path / "l.gif")
    assert r.exit_code == 0, r.output
    assert "turns per loop" in r.output and len(read_frames(tmp_path / "l.gif")) == 8
    tl = tmp_path / "t.json"
    tl.write_text(json.dumps({"keys": [{"at": 0, "edits": "hue:deg=0"},
                                       {"at": 0.5, "edits": "hue:deg=120"}]}))
    r = _run("animate", fa, "--timeline", tl, "--fps", 8, "-o", tmp_path / "t")
    assert r.exit_code == 0, r.output
    frames = read_frames(tmp_path / "t")
    assert len(frames) == 5  # 0.5 s at 8 fps, both ends included
    want = imfit.render(edit.hue_rotate(fits[2], 120))
    assert np.abs(frames[-1] - to_uint8(want) / 255.0).max() < 1e-6


@pytest.mark.parametrize("args, msg", [
    (["--frames", "8"], "nothing moves"), (["--drift", "spin=1"], "KEY"),
    (["--drift", "phase=1", "--frames", "0"], "--frames"),
    (["--timeline", "nope.json"], "no such file"),
])
def test_animate_bad_input(fits, tmp_path, args, msg):
    r = _run("animate", fits[0], *args, "-o", tmp_path / "x.gif")
    assert r.exit_code == 2 and msg in r.output, r.output


def test_sheet_cells_run_across_rows_each_the_render_of_its_value(fits):
    """Six cells in three columns: cell k sits at row k // 3, column k % 3 (reading order), and
    holds the torch render of the fit with sigma scaled by the k-th value; its label says so."""
    from imfit.edit.sheet import LABEL_H, contact_sheet, variations

    a = fits[2]
    values = [0.5, 0.75, 1.0, 1.5, 2.0, 3.0]
    cells = variations(a, "scale", "sigma", values)
    assert [label for label, _ in cells] == [f"scale:sigma={v:g}" for v in values]
    img = contact_sheet(cells, imfit.render, 48, 32, cols=3)
    gap = 4
    assert img.shape == (2 * (32 + LABEL_H) + 3 * gap, 3 * 48 + 4 * gap, 3)
    for k, v in enumerate(values):
        r, c = divmod(k, 3)
        y, x = gap + r * (32 + LABEL_H + gap), gap + c * (48 + gap)
        want = to_uint8(imfit.render(edit.scale(a, sigma=v), 48, 32)) / 255.0
        assert np.abs(img[y:y + 32, x:x + 48] - want).max() < 1e-6, (k, r, c)


def test_write_animation_writes_every_set_in_order(fits, tmp_path):
    """The one frames -> clip assembly: n sets give n numbered frames, frame i the render of
    set i (a fit whose gain is i, so a dropped or shifted frame shows)."""
    from imfit.jobs import write_animation

    a = fits[2]
    sets = [edit.gain(a, 0.25 * (i + 1)) for i in range(4)]
    n = write_animation(iter(sets), imfit.render, tmp_path / "f", (24, 16), fps=4, frames=4)
    got = read_frames(tmp_path / "f")
    assert n == 4 and len(got) == 4
    for i, s in enumerate(sets):
        assert np.abs(got[i] - to_uint8(imfit.render(s, 24, 16)) / 255.0).max() < 1e-6, i


def test_sheet_renders_a_labelled_grid(fits, tmp_path):
    out = tmp_path / "s.png"
    r = _run("sheet", fits[0], "--param", "sigma", "--range", "0.5,2", "--count", 4, "--log",
             "--cell", 48, "-o", out)
    assert r.exit_code == 0, r.output
    img = np.asarray(Image.open(out))
    # 2 x 2 cells of 48 x 32 plus a 14 px label and 4 px gaps
    assert img.shape == (2 * (32 + 14) + 3 * 4, 2 * 48 + 3 * 4, 3)
    cells = [img[4:36, 4:52], img[4:36, 56:104]]
    assert np.abs(cells[0].astype(int) - cells[1].astype(int)).mean() > 1  # they differ
    r = _run("sheet", fits[0], "--param", "colour", "--range", "0,1", "-o", tmp_path / "t.png")
    assert r.exit_code == 2 and "--param" in r.output


def test_animate_frames_show_the_asked_view(fits, tmp_path):
    """--zoom and --center reach every frame: frame 0 of a drift is the fit itself, seen
    zoomed 2x about (0.3, -0.2) (GL or torch, within 8-bit rounding of the torch render)."""
    fa, _, a, _ = fits
    r = _run("animate", fa, "--drift", "phase=0.5", "--frames", 3, "--zoom", 2, "--center",
             "0.3,-0.2", "-o", tmp_path / "v")
    assert r.exit_code == 0, r.output
    first = read_frames(tmp_path / "v")[0]
    want = imfit.render(a, zoom=2.0, center=(0.3, -0.2))
    plain = imfit.render(a)
    assert np.abs(first - want).max() < 2 / 255
    assert np.abs(first - plain).max() > 0.05  # the view is not the fitted frame
def test_sheet_values_are_evenly_or_geometrically_spaced():
    from imfit.edit.sheet import sweep_values

    assert sweep_values(1, 100, 3, log=True) == [1.0, 10.0, 100.0]
    assert sweep_values(0, 1, 5) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_contact_sheet_lays_five_cells_three_wide():
    """About square: 5 cells go 3 wide and 2 high; each cell shows its own render where the
    layout (gap, cell, label strip) puts it."""
    from imfit.edit.sheet import LABEL_H, contact_sheet

    greys = [0.2, 0.35, 0.5, 0.65, 0.8]
    cells = [(f"c{i}", GaborSet(random_params(1), 8, 8, (g, g, g)))
             for i, g in enumerate(greys)]

    def render(gs, w, h):
        return np.full((h, w, 3), gs.bias[0], np.float32)

    cw, chh, gap = 20, 10, 4
    sheet = contact_sheet(cells, render, cw, chh, gap=gap)
    assert sheet.shape == (2 * (chh + LABEL_H) + 3 * gap, 3 * cw + 4 * gap, 3)
    for i, g in enumerate(greys):
        r, c = divmod(i, 3)
        y = gap + r * (chh + LABEL_H + gap) + chh // 2
        x = gap + c * (cw + gap) + cw // 2
        assert sheet[y, x, 0] == pytest.approx(round(g * 255) / 255, abs=1 / 255)
