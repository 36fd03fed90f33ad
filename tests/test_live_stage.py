"""Stage output under Xvfb (one 1280x1024 screen): `--fullscreen` fills the monitor with the
picture and nothing else (the screenshot is the headless render at the monitor's size), hides
the cursor, f11 returns to the window, and a monitor that is not there is one line."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tolerances import WINDOW_VS_HEADLESS

import imfit
from imfit.formats.images import read_image

pytestmark = pytest.mark.gl
ROOT = Path(__file__).resolve().parent.parent


def view(*args, cwd, display):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISPLAY": display}
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", "view",
                           *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_fullscreen_is_the_picture_at_the_monitors_size(xvfb_display, gl_ctx, fit_file,
                                                         tmp_path):
    shot = tmp_path / "fs.png"
    r = view(fit_file, "--fullscreen", "--size", "96x64", "--test-frames", 2, "--screenshot",
             shot, cwd=tmp_path, display=xvfb_display)
    assert r.returncode == 0, r.stderr
    assert "fullscreen on monitor 0" in r.stdout and "1280x1024), cursor hidden" in r.stdout
    got = read_image(shot)[0]
    assert got.shape == (1024, 1280, 3)
    want = np.clip(imfit.render(imfit.load(fit_file), 1280, 1024, backend="gl"), 0, 1)
    assert np.abs(got - want).max() <= WINDOW_VS_HEADLESS  # no overlay, no border, no cursor


def test_f11_goes_back_to_the_window(xvfb_display, fit_file, tmp_path):
    shot = tmp_path / "w.png"
    r = view(fit_file, "--fullscreen", "--size", "96x64", "--test-frames", 3, "--events",
             "1 key f11", "--screenshot", shot, cwd=tmp_path, display=xvfb_display)
    assert r.returncode == 0, r.stderr
    assert "windowed 96x64" in r.stdout
    assert read_image(shot)[0].shape == (64, 96, 3)


def test_a_missing_monitor_is_one_line(xvfb_display, fit_file, tmp_path):
    for n in (1, 7):
        r = view(fit_file, "--fullscreen", "--monitor", n, "--test-frames", 2, cwd=tmp_path,
                 display=xvfb_display)
        assert r.returncode == 2
        assert r.stderr == f"Error: no monitor {n}: there is 1 (numbered from 0)\n"
