"""Scene cuts and keyframes (imfit.fitting.cuts, the plan of `imfit fit --mode video`).

The expectation is the clip's own construction: frames cut from real photos at known frame
numbers, joined by cuts at known frames, with pans, fades and one-frame flashes that are not
cuts. The fits themselves (a frame after a cut is fitted cold, the cluster run matches) are in
tests/test_cluster.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from clips import pan, save, scaled
from PIL import Image

from cli import main
from imfit.errors import ImfitError
from imfit.fitting.cuts import find_cuts, keyframe_flags
from imfit.fitting.modes import plan

FAST = ["--size", "24", "--num-gabors", "4", "--iterations", "4", "--rescales", "0"]


def test_each_cut_is_found_at_its_frame(tmp_path):
    """Three shots (astronaut, cat, camera man), each a slow pan: cuts at frames 6 and 11."""
    frames = pan("astronaut.png", 6, 4) + pan("chelsea.png", 5, 4) + pan("camera.png", 5, 3)
    assert find_cuts(save(frames, tmp_path)) == [6, 11]


@pytest.mark.parametrize("step", [4, 8])
def test_a_cut_between_two_pans_is_found(tmp_path, step):
    """Both shots pan (1 or 2 % of the photo's width per frame): the pan's own change must not
    hide the cut (a plain difference, without the shift compensation, rates a pan of this
    speed a third of a cut and finds nothing)."""
    frames = pan("astronaut.png", 7, step) + pan("chelsea.png", 7, step)
    assert find_cuts(save(frames, tmp_path)) == [7]


def test_a_cut_right_after_the_first_frame_and_a_last_frame_shot(tmp_path):
    """Cuts at the edges, where a neighbour is missing: frame 1 and the single last frame."""
    frames = pan("astronaut.png", 1, 4) + pan("chelsea.png", 8, 4) + pan("camera.png", 1, 3)
    assert find_cuts(save(frames, tmp_path)) == [1, 9]


def test_a_one_frame_shot_is_two_cuts(tmp_path):
    """A single frame of another photo that the clip does not return from: its own shot."""
    frames = pan("astronaut.png", 6, 4) + pan("chelsea.png", 1, 4) + pan("camera.png", 6, 3)
    assert find_cuts(save(frames, tmp_path)) == [6, 7]


@pytest.mark.parametrize("name", ["slow pan", "fast pan", "fade to black", "fade in",
                                  "white flash", "flash of another photo", "bright flash",
                                  "the light dims", "a small thing appears in a still"])
def test_no_cut_in_camera_moves_fades_and_flashes(tmp_path, name):
    step = {"fast pan": 15, "a small thing appears in a still": 0}.get(name, 4)
    frames = pan("astronaut.png", 14, step)
    if name == "the light dims":  # in one frame, to 40 %, and stays so
        frames = frames[:7] + [scaled(f, 0.4) for f in frames[7:]]
    if name == "a small thing appears in a still":  # a 12 x 12 red square from frame 7 on
        for f in frames[7:]:
            f.paste((255, 0, 0), (40, 20, 52, 32))
    if name == "fade to black":
        frames = [scaled(f, 1 - i / len(frames)) for i, f in enumerate(frames)]
    if name == "fade in":
        frames = [scaled(f, (i + 1) / len(frames)) for i, f in enumerate(frames)]
    if name == "white flash":
        frames[7] = Image.new("RGB", frames[7].size, (255, 255, 255))
    if name == "flash of another photo":
        frames[7] = pan("chelsea.png", 1, 0)[0]
    if name == "bright flash":
        frames[7] = scaled(frames[7], 1.8)
    assert find_cuts(save(frames, tmp_path)) == []


def test_keyframes_at_cuts_and_at_least_every_k_frames(tmp_path):
    """K counts from the last keyframe, a cut included: K is the longest segment."""
    frames = pan("astronaut.png", 6, 4) + pan("chelsea.png", 5, 4) + pan("camera.png", 5, 3)
    paths = save(frames, tmp_path)
    key, cut = keyframe_flags(paths, 4)
    assert [i for i, k in enumerate(key) if k] == [0, 4, 6, 10, 11, 15]
    assert [i for i, c in enumerate(cut) if c] == [6, 11]
    key, cut = keyframe_flags(paths, 4, "off")
    assert [i for i, k in enumerate(key) if k] == [0, 4, 8, 12] and not any(cut)
    jobs = list(plan(tmp_path, "video", tmp_path / "out", None, 4))
    assert [(j.stem, j.cut) for j in jobs if not j.warm] == [
        ("f000", False), ("f004", False), ("f006", True), ("f010", False), ("f011", True),
        ("f015", False)]


def test_vm_sequences_each_get_their_own_cuts(tmp_path):
    save(pan("astronaut.png", 4, 4) + pan("chelsea.png", 3, 4), tmp_path / "a" / "images")
    save(pan("camera.png", 5, 3), tmp_path / "b" / "images")
    jobs = list(plan(tmp_path, "vm", tmp_path / "out", None, 10))
    assert [(j.out_dir.name, j.stem) for j in jobs if not j.warm] == [
        ("a", "f000"), ("a", "f004"), ("b", "f000")]
    assert [j.stem for j in jobs if j.cut] == ["f004"]


def test_cuts_option_is_checked(tmp_path):
    save(pan("astronaut.png", 3, 4), tmp_path)
    with pytest.raises(ImfitError, match="unknown --cuts 'maybe'"):
        list(plan(tmp_path, "video", tmp_path, None, 4, "maybe"))


# -- bad input: one line, exit 2, before any fit -------------------------------------------------
def _one_line_exit_2(args: list[str], *needles: str) -> None:
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    for n in needles:
        assert n in lines[0], r.output


@pytest.mark.parametrize("damage", ["truncated", "not a picture", "empty"])
def test_an_unreadable_frame_stops_the_video_before_any_fit(tmp_path, damage):
    """The cut detector reads every frame first: a bad frame 5 of 8 is named before frame 0
    is fitted (nothing in the output folder)."""
    paths = save(pan("astronaut.png", 8, 4), tmp_path / "frames")
    bad = paths[5]
    data = bad.read_bytes()
    bad.write_bytes({"truncated": data[: len(data) // 3], "not a picture": b"hello",
                     "empty": b""}[damage])
    out = tmp_path / "out"
    _one_line_exit_2(["fit", str(tmp_path / "frames"), "-o", str(out), "--mode", "video", *FAST],
                     str(bad))
    assert not out.exists() or not any(out.iterdir())


def test_a_folder_without_frames(tmp_path):
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "notes.txt").write_text("no pictures here")
    _one_line_exit_2(["fit", str(tmp_path / "frames"), "-o", str(tmp_path / "o"), "--mode",
                      "video", *FAST], "no images in folder")


def test_thumbnails_are_streamed(tmp_path, monkeypatch):
    """A long clip is read one frame at a time: never more than three thumbnails alive at
    once (the detector keeps two, plus the one being read), whatever the clip's length."""
    import weakref

    import numpy as np

    from imfit.fitting import cuts

    paths = save(pan("astronaut.png", 30, 4), tmp_path)
    made: list[weakref.ref] = []
    alive: list[int] = []
    real = cuts.thumbnail

    def counted(path: Path) -> np.ndarray:
        alive.append(sum(r() is not None for r in made))
        t = real(path)
        made.append(weakref.ref(t))
        return t

    monkeypatch.setattr(cuts, "thumbnail", counted)
    assert cuts.find_cuts(paths) == []
    assert len(made) == 30 and max(alive) <= 2


def test_frames_stored_turned_are_seen_as_shown(tmp_path):
    """From frame 6 on the camera wrote its JPEGs turned, with an EXIF orientation tag (6: show
    turned 90 degrees clockwise): shown, the pan goes on, so no cut; read as stored, every
    frame from 6 on would look like another picture."""
    frames = pan("astronaut.png", 12, 4)
    for i, f in enumerate(frames):
        path = tmp_path / f"f{i:03d}.jpg"
        if i < 6:
            f.save(path, quality=95)
        else:
            exif = Image.Exif()
            exif[0x0112] = 6
            f.rotate(90, expand=True).save(path, quality=95, exif=exif)
    assert find_cuts(sorted(tmp_path.glob("*.jpg"))) == []
