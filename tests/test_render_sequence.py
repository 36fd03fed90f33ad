"""`imfit render FOLDER -o clip` renders the folder of fits `fit --mode video` writes, one frame
per fit in frame order (frame2 before frame10), each the torch render of its own fit."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from PIL import Image

import imfit
from cli import main
from imfit import GaborSet


def _flat(level: float) -> GaborSet:
    """No wavelet energy: the picture is the bias, so each frame's colour names its fit."""
    p = np.zeros((1, 12), np.float32)
    p[0, 3:6] = (0.2, 0.2, 1.0)
    return GaborSet(p, width=16, height=12, bias=np.full(3, level, np.float32))


def test_a_folder_of_fits_becomes_frames_in_frame_order(tmp_path):
    fits = tmp_path / "fits"
    fits.mkdir()
    levels = {"frame2": 0.2, "frame10": 0.8, "frame3": 0.5}
    for stem, level in levels.items():
        imfit.save(_flat(level), fits / f"{stem}.gabor.json")
    imfit.save(_flat(0.0), fits / "frame4.partial.gabor.json")  # a killed run's leftover
    out = tmp_path / "frames"
    r = CliRunner().invoke(main, ["render", str(fits), "-o", str(out), "--backend", "torch"])
    assert r.exit_code == 0, r.output
    got = sorted(out.iterdir())
    assert [p.name for p in got] == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    means = [np.asarray(Image.open(p), np.float32).mean() / 255 for p in got]
    assert np.allclose(means, [0.2, 0.5, 0.8], atol=1 / 255)  # frame2, frame3, frame10


def test_a_folder_without_fits_is_one_line(tmp_path):
    r = CliRunner().invoke(main, ["render", str(tmp_path), "-o", str(tmp_path / "x.mp4")])
    assert r.exit_code == 2 and "no .gabor.json fits" in r.output
    assert len(r.output.strip().splitlines()) == 1
