"""Video and camera in (`imfit view --video CLIP --preset NAME | --live-fit N`, `--camera N`).

The viewer runs in its test mode under Xvfb on a generated clip whose frames are distinct
(a disc of a different colour at a different place in each): the screenshot at window frame k
must be the preset of clip frame k as the torch engine computes it (`diffuse_frames` over the
frames read back with imageio, an independent engine and reader), or for a live fit, the clip's
frame k itself within a PSNR bar and clearly not its neighbour.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import cli
from imfit.diffusion.engine import diffuse_frames, load_preset
from imfit.formats.images import read_image
from imfit.formats.video import read_frames, write_frames
from imfit.live.video import VideoSource
from imfit.metrics import psnr

ROOT = Path(__file__).resolve().parent.parent


def discs(path: Path, count: int, fps: float, size: int = 64) -> Path:
    """A clip of `count` frames: a disc of its own colour moving right, on grey."""
    yy, xx = np.mgrid[:size, :size]
    colours = [(1, 0.2, 0.1), (0.1, 0.9, 0.2), (0.2, 0.3, 1.0), (1, 1, 0.1), (0.1, 1, 1),
               (1, 0.2, 1), (1, 1, 1), (0.5, 0.2, 0.0)]
    frames = []
    for k in range(count):
        f = np.full((size, size, 3), 0.2, np.float32)
        cx = size * (0.25 + 0.5 * k / max(1, count - 1))
        f[(xx - cx) ** 2 + (yy - size / 2) ** 2 < (size / 5) ** 2] = colours[k % len(colours)]
        frames.append(f)
    write_frames(frames, path, fps=fps, force=True)
    return path


def view(*args, cwd: Path, display: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if display:
        env["DISPLAY"] = display
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", "view",
                           *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_video_source_plays_at_the_clips_speed_and_loops(tmp_path):
    """Frame floor(t * fps), looping: the frames are the clip's own (read back by imageio)."""
    clip = discs(tmp_path / "c.mp4", 5, fps=10)
    ref = read_frames(clip)
    src = VideoSource(clip)
    for t, k in [(0.0, 0), (0.1, 1), (0.25, 2), (0.45, 4), (0.5, 0), (0.73, 2), (0.05, 0)]:
        index, frame = src.frame_at(t)
        assert index == k, t
        assert np.abs(frame - ref[k]).max() < 1e-6, t
    src.close()


@pytest.mark.gl
def test_view_video_preset_shows_the_preset_of_frame_k(tmp_path, xvfb_display):
    clip = discs(tmp_path / "c.mp4", 8, fps=30)
    shot = tmp_path / "s.png"
    k = 5
    r = view("--video", clip, "--preset", "perona-malik", "--preset-size", "64", "--size",
             "64x64", "--steps-per-frame", "2", "--test-frames", k + 1, "--screenshot", shot,
             cwd=tmp_path, display=xvfb_display)
    assert r.returncode == 0, r.stderr
    got = read_image(shot)[0]
    frames = read_frames(clip)
    preset = load_preset("perona-malik")
    # the torch engine on frames 0..k, each warm-started from the last (the video rule)
    want = list(diffuse_frames(preset, frames[: k + 1], 2, 1))[-1]
    assert np.abs(got - want).max() <= 2.5 / 255
    before = list(diffuse_frames(preset, frames[:k], 2, 1))[-1]
    assert np.abs(got - before).max() > 0.2  # the frames differ: an off-by-one cannot pass


@pytest.mark.gl
def test_view_video_live_fit_converges_on_the_frame_shown(tmp_path, xvfb_display):
    """A 3 fps clip: window frames 20..24 (t = 0.67..0.8 s) show clip frame 2, fitted from
    the set that followed frame 1 (warm start), 4 steps per drawn frame."""
    clip = discs(tmp_path / "c.mp4", 3, fps=3)
    shot = tmp_path / "f.png"
    r = view("--video", clip, "--live-fit", "128", "--size", "64x64", "--test-frames", 25,
             "--screenshot", shot, cwd=tmp_path, display=xvfb_display)
    assert r.returncode == 0, r.stderr
    got = read_image(shot)[0]
    frames = read_frames(clip)
    scores = [psnr(got, f) for f in frames]
    assert scores[2] >= 19.0, scores
    assert scores[2] > max(scores[0], scores[1]) + 5.0, scores


def test_no_camera_is_one_line_at_once(tmp_path):
    """No /dev/videoN (this container has none): exit 2, one line, before torch loads."""
    n = next(i for i in range(50, 100) if not Path(f"/dev/video{i}").exists())
    code = ("import sys, cli\ntry:\n    cli.main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print('exit', e.code, 'torch' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISPLAY": ":4242"}
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code, "view", "--camera", str(n), "--live-fit",
                        "64"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert "exit 2 False" in r.stdout, (r.stdout, r.stderr)
    assert r.stderr.strip() == f"Error: no camera {n}: /dev/video{n} does not exist " \
                               "(use --video FILE)"
    assert time.monotonic() - t0 < 20


def test_view_video_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":4242")  # all checked before a window opens
    clip = discs(tmp_path / "c.mp4", 2, fps=10)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    runner = CliRunner()
    for args, says in [
        (["--video", str(tmp_path / "none.mp4"), "--preset", "perona-malik"], "no such video"),
        (["--video", str(bad), "--preset", "perona-malik"], "cannot read video"),
        (["--video", str(tmp_path / "x.png"), "--live-fit", "8"], "no such video"),
        (["--video", str(clip)], "--preset NAME or --live-fit N"),
        (["--video", str(clip), "--preset", "perona-malik", "--live-fit", "8"], "(one)"),
        (["--video", str(clip), "--live-fit", "0"], "wavelet count"),
        (["--video", str(clip), "--preset", "poisson"], "still source"),
        (["--video", str(clip), "--camera", "0", "--live-fit", "8"], "not both"),
    ]:
        r = runner.invoke(cli.main, ["view", *args])
        assert r.exit_code == 2, (args, r.output)
        assert says in r.output and r.output.count("\n") == 1, (args, r.output)
