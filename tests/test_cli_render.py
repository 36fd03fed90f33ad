"""`imfit render` with the GL backend: stills, animations, backends, and bad inputs."""

import math

import numpy as np
import pytest
from click.testing import CliRunner
from tolerances import GL_BILLBOARD_VS_TORCH

import cli
import imfit
from imfit.edit.ops import shift_phase
from imfit.errors import ImfitError
from imfit.formats.images import read_image
from imfit.formats.video import read_frames
from imfit.model.gaborset import GaborSet
from viewer.gl_render import render_gl

pytestmark = pytest.mark.gl
PNG_STEP = 1 / 255  # each side rounds to 8 bits once


def run(*args: str):
    return CliRunner().invoke(cli.main, [str(a) for a in args])


@pytest.fixture(scope="module")
def gl_ok(gl_ctx):
    """Render tests need GL; gl_ctx fails (CI) or skips (elsewhere) without it."""
    return gl_ctx


def test_gl_and_torch_backends_draw_the_same_picture(gl_ok, fit_file, tmp_path):
    outs = {}
    for backend in ("gl", "torch"):
        out = tmp_path / f"{backend}.png"
        r = run("render", fit_file, "-o", out, "--size", "96x48", "--zoom", "0.5",
                "--center", "0.2,0.1", "--backend", backend)
        assert r.exit_code == 0, r.output
        outs[backend] = read_image(out)[0]
    assert outs["gl"].shape == (48, 96, 3)
    assert np.abs(outs["gl"] - outs["torch"]).max() <= GL_BILLBOARD_VS_TORCH + PNG_STEP
    assert outs["gl"].std() > 0.02


def test_loop_strategy_and_auto_backend(gl_ok, fit_file, tmp_path):
    r = run("render", fit_file, "-o", tmp_path / "loop.png", "--strategy", "loop")
    assert r.exit_code == 0, r.output
    r = run("render", fit_file, "-o", tmp_path / "auto.png")
    assert r.exit_code == 0 and "note:" not in r.output
    a, b = read_image(tmp_path / "loop.png")[0], read_image(tmp_path / "auto.png")[0]
    assert np.abs(a - b).max() <= GL_BILLBOARD_VS_TORCH + PNG_STEP


def test_animation_starts_at_the_still_and_moves(gl_ok, fit_file, tmp_path):
    r = run("render", fit_file, "-o", tmp_path / "seq", "--frames", 3, "--animate",
            "phase=0.25", "--size", "48x48", "--fps", 2)
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "seq").iterdir())
    assert names == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    frames = read_frames(tmp_path / "seq")
    run("render", fit_file, "-o", tmp_path / "still.png", "--size", "48x48")
    still = read_image(tmp_path / "still.png")[0]
    assert np.array_equal(frames[0], still)  # t = 0 is the fit itself
    # frame 2 is 1 s at a quarter turn per second: every stripe moved by 90 degrees
    gs = imfit.load(fit_file)
    moved = render_gl(shift_phase(gs, math.pi / 2), 48, 48)
    assert np.abs(frames[2] - moved).max() <= GL_BILLBOARD_VS_TORCH + PNG_STEP
    assert np.abs(frames[2] - still).mean() > 0.01


def test_animation_to_gif_and_mp4(gl_ok, fit_file, tmp_path):
    r = run("render", fit_file, "-o", tmp_path / "a.gif", "--frames", 4, "--animate",
            "phase=0.25", "--size", "48x48")
    assert r.exit_code == 0, r.output
    frames = read_frames(tmp_path / "a.gif")
    assert len(frames) == 4 and frames[0].shape == (48, 48, 3)
    r = run("render", fit_file, "-o", tmp_path / "a.mp4", "--frames", 5, "--animate",
            "theta=0.2,rotate=0.1", "--size", "63x41", "--fps", 10)
    assert r.exit_code == 0, r.output
    assert len(read_frames(tmp_path / "a.mp4")) == 5


def test_zero_wavelets_render_flat_bias(gl_ok, tmp_path):
    p = tmp_path / "empty.gabor.json"
    imfit.save(GaborSet.empty(20, 10), p)
    r = run("render", p, "-o", tmp_path / "e.png")
    assert r.exit_code == 0, r.output
    img = read_image(tmp_path / "e.png")[0]
    assert img.shape == (10, 20, 3) and np.allclose(img, 128 / 255)


@pytest.mark.parametrize("args, message", [
    (["--size", "20000x20000"], "too large"),
    (["--size", "0x5"], "WIDTHxHEIGHT"),
    (["--animate", "phase=1"], "--animate needs --frames"),
    (["--frames", "3", "--animate", "spin=1"], "KEY=TURNS_PER_SECOND"),
    (["--frames", "0"], "--frames must be at least 1"),
    (["--frames", "2", "--fps", "0"], "--fps"),
    (["--zoom", "-1"], "--zoom"),
    (["--backend", "vulkan"], "backend"),
])
def test_bad_options_are_one_line(gl_ok, fit_file, tmp_path, args, message):
    out = tmp_path / ("o.gif" if "--frames" in args else "o.png")
    r = run("render", fit_file, "-o", out, *args)
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_bad_files_are_one_line(gl_ok, tmp_path):
    corrupt = tmp_path / "bad.gabor.json"
    corrupt.write_text('{"format": "imfit.gabor", "version": 1, "wavel')
    for path, message in ((tmp_path / "missing.gabor.json", "no such file"),
                          (corrupt, "corrupt JSON")):
        r = run("render", path, "-o", tmp_path / "o.png")
        assert r.exit_code == 2 and message in r.output
        assert len(r.output.strip().splitlines()) == 1


def test_existing_output_needs_force(gl_ok, fit_file, tmp_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"keep")
    r = run("render", fit_file, "-o", out)
    assert r.exit_code == 2 and "--force" in r.output and out.read_bytes() == b"keep"
    assert run("render", fit_file, "-o", out, "--force").exit_code == 0


def test_get_renderer_picks_gl_and_falls_back(gl_ok, small_fit, monkeypatch, capsys):
    from imfit.renderers.gabor import render as torch_render

    gs = small_fit[0]
    auto = cli.get_renderer("auto")
    assert auto is not torch_render
    assert np.abs(auto(gs, 32, 32) - torch_render(gs, 32, 32)).max() < GL_BILLBOARD_VS_TORCH
    assert cli.get_renderer("torch") is torch_render

    def no_gl():
        raise ImfitError("no OpenGL 3.3 context through EGL (test)")

    monkeypatch.setattr("viewer.gl_render.shared_renderer", no_gl)
    assert cli.get_renderer("auto") is torch_render
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "torch" in err
    with pytest.raises(ImfitError, match="no OpenGL"):
        cli.get_renderer("gl")
    with pytest.raises(ImfitError, match="no OpenGL"):
        imfit.render(gs, 32, 32, backend="gl")
    # the API's auto falls back the same way, and draws the torch picture
    assert np.array_equal(imfit.render(gs, 32, 32, backend="auto"), torch_render(gs, 32, 32))


def test_render_help_lists_backends():
    r = run("render", "--help")
    assert "auto|gl|torch" in r.output and "--frames" in r.output
