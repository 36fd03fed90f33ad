"""The real window under Xvfb, driven by the test mode (scripted keys and mouse, then a
screenshot), compared with the headless render of the same state.

Each run is a subprocess (`imfit view ... --test-frames`), like a user's: glfw owns the
process's GL state while a window is open, and the headless EGL context of the other tests must
not be disturbed.
"""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tolerances import WINDOW_VS_HEADLESS

import cli
import imfit
from imfit.formats.images import read_image
from imfit.formats.video import read_frames
from viewer.gabor_scene import Edits, apply_edits
from viewer.gl_render import render_gl

pytestmark = pytest.mark.gl
ROOT = Path(__file__).resolve().parent.parent


def imfit_cmd(*args, cwd: Path, display: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    if display:
        env["DISPLAY"] = display
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_window_matches_headless_render_after_scripted_edits(xvfb_display, gl_ctx, fit_file,
                                                            tmp_path):
    frames = 10
    shot = tmp_path / "shot.png"
    events = "0 key p; 1 key s; 2 key shift+r; 3 key a; 4 drag 20 -10; 5 key left_bracket"
    r = imfit_cmd("view", fit_file, "--size", "160x120", "--test-frames", frames,
                  "--events", events, "--screenshot", shot, cwd=tmp_path, display=xvfb_display)
    assert r.returncode == 0, r.stderr
    gs = imfit.load(fit_file)
    # the state those events describe, written out independently of the scene's key code;
    # phase drift 0.05 turns/s integrated over frames 0..9 at 1/30 s each
    state = Edits(sigma=1.1, rotation=-5.0, gain=1.1, drift=0.05,
                  phase=0.05 * (frames - 1) / 30, count=math.floor(len(gs) / 1.25))
    s = 2.0 / 120
    ref = render_gl(apply_edits(gs, state), 160, 120, center=(-20 * s, 10 * s))
    got = read_image(shot)[0]
    assert got.shape == (120, 160, 3)
    assert np.abs(got - ref).max() <= WINDOW_VS_HEADLESS
    untouched = render_gl(gs, 160, 120)
    assert np.abs(got - untouched).mean() > 0.01  # the edits did change the picture


def test_screenshot_recording_and_resize_keys(xvfb_display, gl_ctx, fit_file, tmp_path):
    events = "1 key v; 3 key f12; 6 key v; 7 resize 100 60; 8 key c"
    r = imfit_cmd("view", fit_file, "--size", "90x70", "--test-frames", 10, "--events", events,
                  cwd=tmp_path, display=xvfb_display)
    assert r.returncode == 0, r.stderr
    # the shots show the fit (not a blank or stale buffer) at each window size
    gs = imfit.load(fit_file)
    for name, (w, h) in (("imfit-shot-001.png", (90, 70)), ("imfit-shot-002.png", (100, 60))):
        shot = read_image(tmp_path / name)[0]
        assert shot.shape == (h, w, 3)
        assert np.abs(shot - render_gl(gs, w, h)).max() <= WINDOW_VS_HEADLESS, name
        assert shot.std() > 0.05
    rec = read_frames(tmp_path / "imfit-rec-001.mp4")
    assert len(rec) == 5 and rec[0].shape[:2] == (70, 90)
    assert "wrote" in r.stdout and "imfit-rec-001.mp4" in r.stdout


def test_h_prints_the_key_map(xvfb_display, gl_ctx, fit_file, tmp_path):
    r = imfit_cmd("view", fit_file, "--size", "64x64", "--test-frames", 2, "--events",
                  "0 key h", cwd=tmp_path, display=xvfb_display)
    assert r.returncode == 0, r.stderr
    for key in ("esc or q", "f12 or c", "s / S", "[ / ]", "w"):
        assert key in r.stdout


def test_no_display_is_one_line_with_the_headless_way(fit_file, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    r = CliRunner().invoke(cli.main, ["view", str(fit_file)])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "DISPLAY" in lines[0] and "imfit render" in lines[0]


def test_bad_view_inputs(tmp_path, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":4242")  # none there: every input is checked before a window
    corrupt = tmp_path / "c.gabor.json"
    corrupt.write_text("[1, 2")
    for args, msg in (([tmp_path / "none.gabor.json"], "no such file"),
                      ([corrupt], "corrupt JSON"),
                      ([corrupt, "--events", "1 fly"], "event"),
                      ([corrupt, "--strategy", "raytrace"], "strategy")):
        r = CliRunner().invoke(cli.main, ["view", *map(str, args)])
        assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output


def test_fit_view_shows_the_fit_while_it_trains(xvfb_display, gl_ctx, assets, tmp_path):
    shot = tmp_path / "live.png"
    r = imfit_cmd("fit", assets / "astronaut.png", "-o", tmp_path / "out", "--size", 24,
                  "--num-gabors", 12, "--iterations", 20, "--rescales", 0, "--view",
                  "--test-frames", 3, "--screenshot", shot, cwd=tmp_path, display=xvfb_display)
    assert r.returncode == 0, r.stderr
    gs = imfit.load(tmp_path / "out" / "astronaut.gabor.json")
    assert len(gs) == 12 and not gs.meta.get("incomplete")
    assert read_image(shot)[0].shape == (720, 720, 3)


def test_view_preset_runs_live_in_the_window(tmp_path, xvfb_display, assets):
    """`imfit view --preset`: the diffusion scene in the real window changes the picture
    (classic Perona-Malik smooths it) and keys reach the scene."""
    shot = tmp_path / "pm.png"
    r = imfit_cmd("view", assets / "astronaut.png", "--preset", "perona-malik",
                  "--preset-size", "96", "--size", "96x96", "--steps-per-frame", "4",
                  "--test-frames", "12", "--events", "3 key up; 5 key space; 6 key space",
                  "--screenshot", shot, cwd=tmp_path, display=xvfb_display)
    assert r.returncode == 0, r.stderr
    got = read_image(shot)[0]
    from imfit.formats.images import load_target

    src, _ = load_target(assets / "astronaut.png", 96)
    assert got.shape == (96, 96, 3)
    tv = lambda a: np.abs(np.diff(a, axis=1)).mean()  # noqa: E731
    assert tv(got) < 0.8 * tv(src)  # diffused: smoother than the photo, same picture
    assert np.abs(got.mean((0, 1)) - src.mean((0, 1))).max() < 0.05


def test_view_preset_x_and_j_in_the_window_match_the_cli_draw(tmp_path, xvfb_display, assets):
    """In the real window: x twice draws seed 2 (printed), j saves it; the file holds what
    `imfit presets engrave --randomise 2` draws, inside engrave's ranges."""
    import json

    from imfit.diffusion.engine import load_preset, randomise_params

    r = imfit_cmd("view", assets / "chelsea.png", "--preset", "engrave", "--preset-size", "64",
                  "--size", "64x64", "--test-frames", "8",
                  "--events", "2 key x; 3 key x; 5 key j", cwd=tmp_path, display=xvfb_display)
    assert r.returncode == 0, r.stderr
    assert "engrave-r1: " in r.stdout and "engrave-r2: " in r.stdout, r.stdout
    saved = sorted(tmp_path.rglob("engrave-r2-*.json"))
    assert len(saved) == 1, list(tmp_path.rglob("*"))
    got = json.loads(saved[0].read_text())["parameters"]
    base = load_preset("engrave")
    assert got == randomise_params(base, 2).params
    for k, (lo, hi) in base.ranges.items():
        assert lo <= got[k] <= hi


def test_view_preset_bad_input(tmp_path, assets, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":4242")  # inputs are checked before any window
    runner = CliRunner()
    r = runner.invoke(cli.main, ["view", str(assets / "astronaut.png"), "--preset", "nope"])
    assert r.exit_code == 2 and r.output.count("\n") == 1
    r = runner.invoke(cli.main, ["view", str(assets / "astronaut.png"), "--preset", "poisson"])
    assert r.exit_code == 2 and "--source" in r.output


def test_no_display_is_said_before_any_heavy_work(fit_file, tmp_path):
    """Without a display the one line comes at once: before a fit is rendered for a preset or
    torch is imported for `fit --view` (both took seconds before saying it)."""
    code = ("import sys, cli\n"
            "try:\n    cli.main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print('exit', e.code, 'torch' in sys.modules)\n")
    for args in (["view", fit_file, "--preset", "perona-malik"],
                 ["fit", ROOT / "assets" / "astronaut.png", "-o", tmp_path / "o", "--view"]):
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env["PYTHONPATH"] = str(ROOT)
        r = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
        assert "exit 2 False" in r.stdout, (args, r.stdout, r.stderr)
        assert "DISPLAY" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_events_reject_unknown_key_names(fit_file, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":4242")
    r = CliRunner().invoke(cli.main, ["view", str(fit_file), "--test-frames", "2", "--events",
                                      "1 key sx"])
    assert r.exit_code == 2 and "no key named 'sx'" in r.output
