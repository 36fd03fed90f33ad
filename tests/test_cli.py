import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import imfit
from cli import main

FAST = ["--size", "32", "--num-gabors", "12", "--iterations", "10", "--rescales", "1"]


@pytest.fixture
def runner():
    return CliRunner()


def test_help_is_instant_and_lists_commands(runner):
    r = runner.invoke(main, ["--help"])
    assert r.exit_code == 0 and "fit" in r.output and "render" in r.output


def test_fit_image_writes_three_outputs(runner, tmp_path, assets):
    r = runner.invoke(main, ["fit", str(assets / "chelsea.png"), "-o", str(tmp_path), *FAST])
    assert r.exit_code == 0, r.output
    gs = imfit.load(tmp_path / "chelsea.gabor.json")
    assert len(gs) == 12 and (gs.width, gs.height) == (32, 21)
    assert Image.open(tmp_path / "chelsea.png").size == (32, 21)
    assert len((tmp_path / "chelsea.txt").read_text().splitlines()) == 12
    assert "PSNR" in r.output
    # a second run must not clobber the first one's work silently
    r2 = runner.invoke(main, ["fit", str(assets / "chelsea.png"), "-o", str(tmp_path), *FAST])
    assert r2.exit_code == 2 and "--force" in r2.output


@pytest.mark.parametrize("name", ["camera.png", "logo.png"])
def test_fit_grayscale_and_rgba(runner, tmp_path, assets, name):
    r = runner.invoke(main, ["fit", str(assets / name), "-o", str(tmp_path), *FAST])
    assert r.exit_code == 0, r.output


def _frames(folder: Path, assets: Path, n: int = 3) -> None:
    folder.mkdir(parents=True)
    im = Image.open(assets / "astronaut.png").resize((32, 32))
    for i in range(n):
        im.transform(im.size, Image.Transform.AFFINE, (1, 0, i, 0, 1, 0)).save(
            folder / f"frame{i + 1:03d}.png")


def test_folder_video_and_vm_modes(runner, tmp_path, assets):
    _frames(tmp_path / "frames", assets)
    for mode in ("folder", "video"):
        out = tmp_path / mode
        r = runner.invoke(main, ["fit", str(tmp_path / "frames"), "-o", str(out), "--mode", mode,
                                 "--keyframes", "2", *FAST])
        assert r.exit_code == 0, r.output
        names = sorted(p.name for p in out.glob("*.gabor.json"))
        assert names == [f"frame00{i}.gabor.json" for i in (1, 2, 3)]
    warm = [imfit.load(tmp_path / "video" / f"frame00{i}.gabor.json").meta["warm_start"]
            for i in (1, 2, 3)]
    assert warm == [False, True, False]  # keyframe every 2 frames
    _frames(tmp_path / "vm" / "shotA" / "images", assets, 2)
    r = runner.invoke(main, ["fit", str(tmp_path / "vm"), "-o", str(tmp_path / "vmout"),
                             "--mode", "vm", *FAST])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "vmout" / "shotA" / "frame002.gabor.json").exists()


def test_render_any_size_and_view(runner, tmp_path, fit_file):
    out = tmp_path / "r.png"
    r = runner.invoke(main, ["render", str(fit_file), "-o", str(out), "--size", "120x40",
                             "--zoom", "0.5", "--center", "0.3,0"])
    assert r.exit_code == 0, r.output
    assert Image.open(out).size == (120, 40)


def _bad(tmp_path: Path, assets: Path) -> dict[str, list[str]]:
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(100))
    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    Image.new("L", (90, 10)).save(tmp_path / "w.png")
    (tmp_path / "nan.gabor.json").write_text(json.dumps({
        "format": "imfit.gabor", "version": 1, "columns": list(imfit.COLUMNS),
        "image": {"width": 8, "height": 8}, "wavelets": [[float("nan")] * 12]}))
    (tmp_path / "v9.gabor.json").write_text(json.dumps({"format": "imfit.gabor",
                                                          "version": 9}))
    a = str(assets / "astronaut.png")
    o = ["-o", str(tmp_path / "o")]
    return {
        "missing path": ["fit", str(tmp_path / "nope.png"), *o],
        "directory for a file": ["fit", str(tmp_path), *o],
        "corrupt png": ["fit", str(tmp_path / "corrupt.png"), *o],
        "1x1 image": ["fit", str(tmp_path / "one.png"), *o],
        "weight of another size": ["fit", a, *o, "--weight", str(tmp_path / "w.png")],
        "unknown mode": ["fit", a, *o, "--mode", "movie"],
        "negative count": ["fit", a, *o, "--num-gabors", "-5"],
        "nan gabor.json": ["render", str(tmp_path / "nan.gabor.json"), "-o",
                           str(tmp_path / "x.png")],
        "wrong version": ["render", str(tmp_path / "v9.gabor.json"), "-o",
                          str(tmp_path / "x.png")],
        "huge size": ["render", str(tmp_path / "v9.gabor.json"), "-o", str(tmp_path / "x.png"),
                      "--size", "100000x100000"],
    }


def test_bad_input_gives_one_line_and_exit_2(runner, tmp_path, assets):
    for name, args in _bad(tmp_path, assets).items():
        r = runner.invoke(main, args)
        assert r.exit_code == 2, f"{name}: {r.exit_code} {r.output}"
        assert "Traceback" not in r.output, name
        assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit), name
        err = [ln for ln in r.output.splitlines() if ln.startswith("Error")]
        assert len(err) == 1, f"{name}: {r.output}"
    assert not (tmp_path / "o").exists()  # nothing written for failed runs


def test_existing_render_output_is_kept_without_force(runner, tmp_path, fit_file):
    out = tmp_path / "keep.png"
    Image.new("RGB", (4, 4), (1, 2, 3)).save(out)
    r = runner.invoke(main, ["render", str(fit_file), "-o", str(out)])
    assert r.exit_code == 2 and Image.open(out).size == (4, 4)


def test_real_subprocess(tmp_path, assets):
    """Once as a real process: the installed console script (or `python cli.py`)."""
    exe = shutil.which("imfit", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, str(Path(__file__).parent.parent / "cli.py")]
    r = subprocess.run([*cmd, "fit", str(assets / "astronaut.png"), "-o", str(tmp_path), *FAST],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "PSNR" in r.stdout
    r = subprocess.run([*cmd, "render", str(tmp_path / "missing.gabor.json"), "-o",
                        str(tmp_path / "x.png")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    gs = imfit.load(tmp_path / "astronaut.gabor.json")
    assert np.isfinite(gs.params).all()


def test_import_fills_in_the_size_and_bias_a_table_does_not_hold(tmp_path):
    """A .tsv holds only the wavelets: --size and --bias R,G,B (in that order) complete it."""
    from conftest import random_params

    import exporters

    gs = imfit.GaborSet(random_params(5, seed=3), 64, 32, bias=(0.5, 0.5, 0.5))
    exporters.export(gs, "touchdesigner", tmp_path / "td")
    out = tmp_path / "back.gabor.json"
    r = CliRunner().invoke(main, ["import", str(tmp_path / "td" / "fit.tsv"), "-o", str(out),
                                  "--size", "64x32", "--bias", "0.1,0.2,0.3"])
    assert r.exit_code == 0, r.output
    back = imfit.load(out)
    assert (back.width, back.height) == (64, 32)
    assert np.allclose(back.bias, (0.1, 0.2, 0.3))
    assert np.allclose(back.params, gs.params, atol=1e-6)
