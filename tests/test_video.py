import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT

from imfit import ImfitError
from imfit.formats.video import read_frames, write_frames


def _frames(n=6, w=34, h=21):
    t = np.linspace(0, 1, n)
    return [np.broadcast_to(np.array([v, 1 - v, 0.5], np.float32), (h, w, 3)) for v in t]


@pytest.mark.parametrize("name", ["a.mp4", "a.gif", "frames"])
def test_write_and_read_back(tmp_path, name):
    out = tmp_path / name
    assert write_frames(_frames(), out, fps=12) == 6
    back = read_frames(out)
    assert len(back) == 6
    # yuv420p needs even sides: the MP4 is padded by one (edge) row, the others are exact
    assert all(f.shape == (22 if name == "a.mp4" else 21, 34, 3) for f in back)
    # every frame's colour, in order (lossy codecs: 0.05)
    for f, v in zip(back, np.linspace(0, 1, 6)):
        assert np.abs(f[:21].mean((0, 1)) - [v, 1 - v, 0.5]).max() < 0.05


def test_refuses_to_overwrite_and_bad_suffix(tmp_path):
    out = tmp_path / "a.gif"
    write_frames(_frames(2), out)
    with pytest.raises(ImfitError, match="exists"):
        write_frames(_frames(2), out)
    write_frames(_frames(3), out, force=True)
    with pytest.raises(ImfitError, match="mp4, .gif or a folder"):
        write_frames(_frames(2), tmp_path / "a.avi")
    with pytest.raises(ImfitError, match="no frames"):
        write_frames([], tmp_path / "b.gif")
    assert not (tmp_path / "b.gif").exists()


def _frames_then_ctrl_c(n):
    for i in range(n):
        yield np.full((8, 10, 3), i / n, np.float32)
    raise KeyboardInterrupt


@pytest.mark.parametrize("name", ["out.mp4", "out.gif", "frames"])
def test_ctrl_c_keeps_the_frames_made_so_far(tmp_path, name):
    from imfit.formats.video import Interrupted

    with pytest.raises(Interrupted) as e:
        write_frames(_frames_then_ctrl_c(3), tmp_path / name, fps=10)
    assert e.value.written == 3
    assert len(read_frames(tmp_path / name)) == 3
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left behind


def test_cli_ctrl_c_during_diffuse_reports_and_exits_130(tmp_path, assets, monkeypatch):
    import imfit.diffusion.engine
    from cli import main

    monkeypatch.setattr(imfit.diffusion.engine, "diffuse_frames",
                        lambda *a, **k: _frames_then_ctrl_c(2))
    out = tmp_path / "d.gif"
    r = CliRunner().invoke(main, ["diffuse", str(assets / "chelsea.png"), "--size", "32",
                                  "-o", str(out)])
    assert r.exit_code == 130
    assert "the 2 frames made so far were written" in r.output
    assert out.exists()


def test_a_frames_folder_holds_every_frame_under_its_own_number(tmp_path):
    """Three different greys in, three PNGs out, frame_00000.. in order, each its own grey."""
    from PIL import Image

    from imfit.formats.video import write_frames

    greys = [0.2, 0.5, 0.8]
    n = write_frames((np.full((6, 8, 3), g, np.float32) for g in greys), tmp_path / "f", fps=10)
    files = sorted((tmp_path / "f").iterdir())
    assert n == 3 and [f.name for f in files] == [f"frame_{i:05d}.png" for i in range(3)]
    got = [np.asarray(Image.open(f), np.float32).mean() / 255 for f in files]
    assert np.allclose(got, greys, atol=1 / 255)


# -- GIFs are streamed -------------------------------------------------------------------------
def _gif_frames(n, w=40, h=24):
    """Frame i: a bar at column 2*i on a background of grey i*10; four colours at most, so the
    palette holds them exactly and the read-back must match to the level."""
    for i in range(n):
        f = np.full((h, w, 3), (i * 10 % 256) / 255, np.float32)
        f[:, (2 * i) % w] = (1.0, 0.0, 0.0)
        f[: h // 2, -3:] = (0.0, 0.0, 1.0)
        yield f


def test_gif_frames_are_the_frames_written(tmp_path):
    """Read back by Pillow and by ffmpeg (the real decoders): every frame in order, each the
    frame it was given, each shown 1/fps s, looping forever."""
    from PIL import Image, ImageSequence

    from imfit.formats.images import to_uint8

    want = [to_uint8(f) for f in _gif_frames(12)]
    out = tmp_path / "a.gif"
    assert write_frames(_gif_frames(12), out, fps=20) == 12
    with Image.open(out) as im:
        assert im.info.get("loop") == 0
        got = []
        for fr in ImageSequence.Iterator(im):
            assert fr.info["duration"] == 50  # 1/20 s
            got.append(np.asarray(fr.convert("RGB")))
    assert len(got) == 12
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert np.array_equal(g, w), f"frame {i} differs"
    import imageio_ffmpeg

    r = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(out),
                        "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True,
                       check=True)
    raw = np.frombuffer(r.stdout, np.uint8).reshape(-1, 24, 40, 3)
    assert len(raw) == 12 and all(np.array_equal(a, b) for a, b in zip(raw, want, strict=True))


def test_gif_smooth_frames_stay_close(tmp_path):
    """A smooth gradient per frame (palette-quantised): within 4 levels per pixel on average."""
    from imfit.formats.images import to_uint8

    x = np.linspace(0, 1, 64, dtype=np.float32)
    frames = [np.stack([np.broadcast_to(x, (32, 64)) * s, np.broadcast_to(x[::-1], (32, 64)),
                        np.full((32, 64), s)], -1) for s in (0.2, 0.6, 1.0)]
    write_frames(frames, tmp_path / "s.gif", fps=10)
    back = read_frames(tmp_path / "s.gif")
    assert len(back) == 3
    for b, f in zip(back, frames, strict=True):
        err = np.abs(to_uint8(b).astype(int) - to_uint8(f).astype(int))
        assert err.mean() < 4 and err.max() < 16


# VmHWM (this process image's peak RSS), not ru_maxrss: that one survives exec and would
# report the forking pytest's own peak
GIF_RSS = """
import sys
import numpy as np
from imfit.formats.video import write_frames
n = int(sys.argv[1])
def frames():
    for i in range(n):
        f = np.zeros((160, 160, 3), np.float32)
        f[:, i % 160] = 1.0
        f[..., 2] = (i % 7) / 7
        yield f
write_frames(frames(), sys.argv[2], fps=30)
print([ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("VmHWM")][0])
"""


def test_gif_memory_does_not_grow_with_the_frame_count(tmp_path):
    """Peak RSS of a 40-frame and an 800-frame GIF of 160x160: holding the frames would add
    800 x 77 KB = 61 MB; streamed, the two peaks are within 12 MB (allocator noise)."""
    peaks = []
    for n in (40, 800):
        r = subprocess.run([sys.executable, "-c", GIF_RSS, str(n), str(tmp_path / f"{n}.gif")],
                           capture_output=True, text=True, check=True, cwd=ROOT)
        peaks.append(int(r.stdout.split()[-1]) / 1024)  # MB
    assert len(read_frames(tmp_path / "800.gif")) == 800
    assert peaks[1] - peaks[0] < 12, peaks


def test_ctrl_c_inside_a_gif_frame_write_cuts_back_to_the_frame_before(tmp_path, monkeypatch):
    """Half of frame 4's bytes reach the file, then Ctrl-C: the GIF holds frames 1-3, whole."""
    import builtins

    import imfit.formats.video as video
    from imfit.formats.images import to_uint8
    from imfit.formats.video import Interrupted

    writes = []

    class HalfThenCtrlC:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            writes.append(1)
            if len(writes) == 4:
                self.f.write(bytes(data[: len(data) // 2]))
                raise KeyboardInterrupt
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(video, "open", lambda *a, **k: HalfThenCtrlC(builtins.open(*a, **k)),
                        raising=False)
    with pytest.raises(Interrupted) as e:
        write_frames(_gif_frames(6), tmp_path / "c.gif", fps=10)
    assert e.value.written == 3
    back = [to_uint8(f) for f in read_frames(tmp_path / "c.gif")]
    want = [to_uint8(f) for f in _gif_frames(3)]
    assert len(back) == 3 and all(np.array_equal(a, b) for a, b in zip(back, want, strict=True))
    assert [p.name for p in tmp_path.iterdir()] == ["c.gif"]
