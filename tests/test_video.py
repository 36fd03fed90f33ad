import numpy as np
import pytest
from click.testing import CliRunner

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
