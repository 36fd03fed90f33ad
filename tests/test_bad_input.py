"""Bad input, as a hostile new user types it: every case is exit status 2, exactly one line on
stderr, no traceback, nothing written, and no expensive work before the refusal.

Each case below came from issue 12 (it printed a traceback, ran out of memory, or was silently
accepted). The library boundary (imfit.render, fit_array, the readers) is checked too, since
scripts call it without the CLI.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import cli
import exporters
import imfit
from exporters.maxmsp import coll_text, dict_text
from imfit.errors import ImfitError
from imfit.formats.readers import jxf_bytes, read_jxf_bytes
from imfit.model.gaborset import NCOL, GaborSet

ROOT = Path(__file__).resolve().parents[1]


def one_wavelet(width: int = 32, height: int = 24) -> GaborSet:
    p = np.zeros((1, NCOL), np.float32)
    p[0, 3:6] = (0.3, 0.2, 0.4)  # sigma, gamma, wavelength
    p[0, 9:12] = (0.4, 0.2, 0.1)
    return GaborSet(p, width, height)


@pytest.fixture
def fit(tmp_path: Path) -> Path:
    path = tmp_path / "a.gabor.json"
    imfit.save(one_wavelet(), path)
    return path


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(np.full((16, 16, 3), 100, np.uint8)).save(path)
    return path


def refused(*args: object, expect: str) -> None:
    """Run the CLI; it must refuse with one line (containing `expect`) and exit 2."""
    r = CliRunner().invoke(cli.main, [str(a) for a in args])
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("Error:") and expect in lines[0], lines[0]
    assert "Traceback" not in r.output and "Warning" not in r.stderr


# -- fit ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, expect", [
    (["--background", "nan,0,0"], "--background"),
    (["--background", "5,5,5"], "--background"),
    (["--background", "0,0"], "--background"),
    (["--size", "4097"], "at most 4096"),
    (["--size", "8192"], "at most 4096"),
    (["--seed", "-1"], "--seed"),
])
def test_fit_options_refused_before_work(photo, tmp_path, args, expect):
    refused("fit", photo, "-o", tmp_path / "out", *args, expect=expect)
    assert not (tmp_path / "out").exists()


# -- render ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, out, expect", [
    (["--center", "nan,inf"], "o.png", "--center"),
    (["--center", "1,inf"], "o.png", "--center"),
    (["--frames", "1000000000"], "o.mp4", "--frames must be at most"),
    (["--frames", "3", "--fps", "1e-6"], "o.gif", "--fps"),
    (["--frames", "3", "--fps", "inf"], "o.mp4", "--fps"),
    (["--frames", "100001"], "o.gif", "--frames must be at most"),
])
def test_render_options(fit, tmp_path, args, out, expect):
    refused("render", fit, "-o", tmp_path / out, "--size", "512x512", *args, expect=expect)
    assert not (tmp_path / out).exists()


def test_render_frames_into_a_plain_file_is_refused(fit, tmp_path):
    plain = tmp_path / "plainfile"
    plain.write_bytes(b"mine")
    refused("render", fit, "-o", plain, "--frames", "2", expect="is a file")
    refused("render", fit, "-o", plain, "--frames", "2", "--force", expect="is a file")
    assert plain.read_bytes() == b"mine"


def test_a_dotted_folder_name_takes_frames(fit, tmp_path):
    out = tmp_path / "out.d"
    r = CliRunner().invoke(cli.main, ["render", str(fit), "-o", str(out), "--frames", "2",
                                      "--backend", "torch"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["frame_00000.png", "frame_00001.png"]


def test_declared_size_has_the_same_cap_as_size_option(tmp_path):
    big = tmp_path / "big.gabor.json"
    doc = json.loads(imfit.formats.gabor_json.to_json_text(one_wavelet()))
    doc["image"] = {"width": 16384, "height": 16384}
    big.write_text(json.dumps(doc))
    refused("render", big, "-o", tmp_path / "o.png", expect="too large")
    refused("render", fit_of(tmp_path), "-o", tmp_path / "o.png", "--size", "16384x16384",
            expect="too large")


def fit_of(tmp_path: Path) -> Path:
    p = tmp_path / "small.gabor.json"
    imfit.save(one_wavelet(), p)
    return p


# -- animate, morph, edit, sheet -----------------------------------------------------------------
def test_animate_fps_zero(fit, tmp_path):
    refused("animate", fit, "-o", tmp_path / "a.gif", "--drift", "phase=1", "--fps", "0",
            expect="--fps")


@pytest.mark.parametrize("doc, expect", [
    ({"keys": [{"at": 0, "edits": "hue:deg=0"}, {"at": 1e9, "edits": "hue:deg=90"}]},
     "at most 100000 frames"),
    ({"keys": [{"at": 0, "edits": "jitter:seed=-3"}]}, "seed"),
    ('{"keys": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
    ('{"keys": [{"at": 1' + "0" * 400 + ', "edits": "hue"}]}', "401-digit"),
    ('{"keys": [{"at": NaN, "edits": "hue"}]}', "NaN"),
    ('{"keys": [{"at": 1e400, "edits": "hue"}]}', "out of range"),
    (b'{"keys": [{"at": 0, "edits": "hue\xff"}]}', "UTF-8"),
])
def test_bad_timelines(fit, tmp_path, doc, expect):
    tl = tmp_path / "tl.json"
    if isinstance(doc, bytes):
        tl.write_bytes(doc)
    else:
        tl.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    refused("animate", fit, "-o", tmp_path / "a.mp4", "--timeline", tl, expect=expect)


def test_negative_seeds(fit, tmp_path):
    refused("edit", fit, "jitter:seed=-1", "-o", tmp_path / "b.gabor.json", expect="seed")
    refused("edit", fit, "sort:by=random,seed=-5", "-o", tmp_path / "b.gabor.json",
            expect="seed")
    refused("sheet", fit, "-o", tmp_path / "s.png", "--param", "jitter.seed", "--range",
            "-5,5", expect="seed")
    assert not (tmp_path / "b.gabor.json").exists() and not (tmp_path / "s.png").exists()


def test_morph_limits(fit, tmp_path):
    refused("morph", fit, fit, "-o", tmp_path / "m.mp4", "--frames", "1000000000",
            expect="--frames")
    refused("morph", fit, fit, "-o", tmp_path / "m.gif", "--frames", "60000", "--bounce",
            "--size", "512x512", expect="frame count must be at most")
    refused("morph", fit, fit, "-o", tmp_path / "m.mp4", "--frames", "60000", "--bounce",
            expect="frame count must be at most")


def test_morph_refuses_a_matching_table_that_would_not_fit():
    from imfit.edit.morph import morph_sets

    big = GaborSet(np.tile(one_wavelet().params, (20_000, 1)))
    tracemalloc.start()
    with pytest.raises(ImfitError, match="matching table"):
        morph_sets(big, big, 10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50e6  # the 20k x 20k table (3.2 GB) was never started


# -- diffuse and presets -------------------------------------------------------------------------
@pytest.mark.parametrize("size, expect", [("0", "at least 4"), ("-10", "at least 4"),
                                          ("100000", "at most 16384")])
def test_diffuse_size(photo, tmp_path, size, expect):
    refused("diffuse", photo, "-o", tmp_path / "d", "--size", size, expect=expect)


@pytest.mark.parametrize("device, expect", [("cuda", "device cuda"), ("mps", "device mps"),
                                            ("tpu", "unknown device")])
def test_diffuse_and_blend_refuse_an_absent_device(photo, tmp_path, device, expect,
                                                   monkeypatch):
    """Issue 14: an absent --device is one line, before any input is read or solved."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("imfit.device._mps_available", lambda: False)
    read = []
    monkeypatch.setattr("imfit.formats.images.read_image",
                        lambda *a, **k: read.append(a) or (_ for _ in ()).throw(AssertionError))
    refused("diffuse", photo, "-o", tmp_path / "d", "--device", device, expect=expect)
    refused("blend", photo, photo, "--mask", photo, "-o", tmp_path / "b.png", "--device", device,
            expect=expect)
    assert not read and not (tmp_path / "d").exists() and not (tmp_path / "b.png").exists()


def test_diffuse_size_that_fits_a_side_but_not_the_pixel_cap(photo, tmp_path):
    refused("diffuse", photo, "-o", tmp_path / "d", "--size", "16000", expect="too large")


@pytest.mark.parametrize("value", ["17", "31", "-1", "4097", "256.5", "1e400", "true", '"big"',
                                   "NaN"])
def test_diffuse_look_size(photo, tmp_path, value):
    """look_size is 0 (native) or a whole number of pixels in 32..4096: one line saying so."""
    refused("diffuse", photo, "-o", tmp_path / "d", "--set", f"look_size={value}",
            expect="look_size must be 0 (native resolution) or a whole number")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("field, expect", [
    ('"steps": "abc"', "'steps'"), ('"steps": null', "'steps'"),
    ('"steps": Infinity', "Infinity"), ('"steps": 1' + "0" * 400, "digit"),
    ('"live": 5', "'live'"), ('"parameters": [1, 2]', "'parameters'"),
    ('"parameters": {"kappa": "x"}', "kappa"),
])
def test_bad_preset_files(photo, tmp_path, field, expect):
    pre = tmp_path / "p.json"
    pre.write_text('{"name": "p", "scheme": "perona-malik", ' + field + "}")
    refused("diffuse", photo, "-o", tmp_path / "d", "--preset", pre, expect=expect)


def test_preset_not_utf8_and_deep(photo, tmp_path):
    pre = tmp_path / "p.json"
    pre.write_bytes(b'{"name": "p\xc3\x28", "scheme": "perona-malik"}')
    refused("diffuse", photo, "-o", tmp_path / "d", "--preset", pre, expect="UTF-8")
    pre.write_text('{"name": "p", "scheme": "perona-malik", "parameters": '
                   + '{"a": ' * 3000 + "1" + "}" * 3000 + "}")
    refused("diffuse", photo, "-o", tmp_path / "d", "--preset", pre, expect="nested")


# -- fits and the import readers -----------------------------------------------------------------
@pytest.mark.parametrize("text, expect", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"format": "imfit.gabor", "version": 1' + "0" * 400 + "}", "digit"),
    ('{"format": "imfit.gabor", "version": 1e400}', "out of range"),
])
def test_hostile_fit_json(tmp_path, text, expect):
    p = tmp_path / "x.gabor.json"
    p.write_text(text)
    refused("render", p, "-o", tmp_path / "o.png", expect=expect)


def test_fit_json_with_float32_overflow_is_one_line_without_warnings(tmp_path):
    doc = json.loads(imfit.formats.gabor_json.to_json_text(one_wavelet()))
    doc["wavelets"][0][0] = 1e300  # finite as JSON, infinite as float32
    p = tmp_path / "x.gabor.json"
    p.write_text(json.dumps(doc))
    refused("render", p, "-o", tmp_path / "o.png", expect="non-finite")


def test_huge_file_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(imfit.formats.gabor_json, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(imfit.formats.gabor_json.read_bytes, "__defaults__", (1000,))
    monkeypatch.setattr(imfit.formats.gabor_json.read_text, "__defaults__", (1000,))
    p = tmp_path / "x.gabor.json"
    p.write_text(" " * 2000 + "{}")
    refused("render", p, "-o", tmp_path / "o.png", expect="larger than")


@pytest.mark.parametrize("out", ["x.png", "x.gabor", "x"])
def test_import_refuses_an_output_it_would_not_write_as_named(tmp_path, out):
    src = tmp_path / "a.coll"
    src.write_text(coll_text(one_wavelet()))
    refused("import", src, "-o", tmp_path / out, expect="import writes")
    assert not (tmp_path / out).exists()


def test_import_to_txt_writes_torch_imfit_weights(tmp_path):
    src = tmp_path / "a.coll"
    gs = one_wavelet(32, 32)
    src.write_text(coll_text(gs))
    out = tmp_path / "x.txt"
    r = CliRunner().invoke(cli.main, ["import", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = [[float(v) for v in ln.split(",")] for ln in out.read_text().splitlines()]
    assert len(rows) == 1 and len(rows[0]) == NCOL  # torch-imfit's layout, not JSON
    back = imfit.formats.gabor_json.load_txt(out, 32, 32)
    assert np.allclose(back.params, gs.params, atol=1e-5)


def _npz(tmp_path: Path, **arrays: np.ndarray) -> Path:
    p = tmp_path / "a.npz"
    np.savez(p, **arrays)
    return p


@pytest.mark.parametrize("make, expect", [
    (lambda t: _npz(t, params=np.zeros((3, 5))), "(N, 12)"),
    (lambda t: _npz(t, params=np.zeros(12)), "(N, 12)"),
    (lambda t: _npz(t, params=one_wavelet().params, size=np.array([1.0, 2.0, 3.0])), "size"),
    (lambda t: _npz(t, params=one_wavelet().params, size=np.array([np.nan, 2.0])), "size"),
    (lambda t: _npz(t, params=one_wavelet().params, size=np.array([1e300, 2.0])), "size"),
    (lambda t: _npz(t, params=np.array(["a"] * 12).reshape(1, 12)), "(N, 12)"),
    (lambda t: _npz(t, other=np.zeros(3)), "no 'params'"),
])
def test_bad_npz(tmp_path, make, expect):
    refused("import", make(tmp_path), "-o", tmp_path / "o.gabor.json", expect=expect)


def test_corrupt_and_truncated_npz(tmp_path):
    good = _npz(tmp_path, params=one_wavelet().params)
    data = good.read_bytes()
    for i, bad in enumerate((data[: len(data) // 2], data[:-30], b"PK\x03\x04" + b"\0" * 50)):
        p = tmp_path / f"bad{i}.npz"
        p.write_bytes(bad)
        refused("import", p, "-o", tmp_path / "o.gabor.json", expect="npz")


def test_zip_bomb_npz_is_refused_before_inflating(tmp_path):
    p = tmp_path / "bomb.npz"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        buf = io.BytesIO()
        np.save(buf, np.zeros(3, np.float32))
        z.writestr("bias.npy", b"\0" * (50 << 20))  # 50 MB of zeros, deflated to ~50 KB
        z.writestr("params.npy", buf.getvalue())
    refused("import", p, "-o", tmp_path / "o.gabor.json", expect="too large")


@pytest.mark.parametrize("size_line, expect", [
    ("imfit_image, nan 24;", "not finite"),
    ("imfit_image, 1e400 24;", "not finite"),
    ("imfit_image, 100000000 100000000;", "too large"),
    ("imfit_image, 32.5 24;", "whole"),
])
def test_bad_coll_image_size(tmp_path, size_line, expect):
    text = "\n".join(ln for ln in coll_text(one_wavelet()).splitlines()
                     if not ln.startswith("imfit_image"))
    p = tmp_path / "a.coll"
    p.write_text(size_line + "\n" + text)
    refused("import", p, "-o", tmp_path / "o.gabor.json", expect=expect)


def test_coll_with_a_5000_digit_index(tmp_path):
    p = tmp_path / "a.coll"
    p.write_text("1" * 5000 + ", " + " ".join(["1"] * NCOL) + ";\n")
    refused("import", p, "-o", tmp_path / "o.gabor.json", expect="coll")


def test_max_dict_with_a_key_gap_is_refused(tmp_path):
    gs = GaborSet(np.tile(one_wavelet().params, (3, 1)))
    doc = json.loads(dict_text(gs))
    del doc["wavelets"]["1"]
    doc["wavelets"]["5"] = doc["wavelets"]["2"]
    p = tmp_path / "a.dict.json"
    p.write_text(json.dumps(doc))
    refused("import", p, "-o", tmp_path / "o.gabor.json", expect='"1" is missing')


def _jxf_header(rows: int, ndim: int = 2) -> bytes:
    mtrx = (b"MTRX" + struct.pack(">ii", min(32 + 48 * rows, 2**31 - 1), 32) + b"FL32"
            + struct.pack(">ii", 1, ndim) + struct.pack(">ii", NCOL, rows))
    body = b"JIT!" + b"FVER" + struct.pack(">iI", 12, 0x3C93DC80) + mtrx
    return b"FORM" + struct.pack(">i", 8 + len(body)) + body


@pytest.mark.parametrize("data, expect", [
    (_jxf_header(100_000_000) + b"\0" * 1500, "truncated"),
    (_jxf_header(2, ndim=100_000_000) + b"\0" * 1500, "2-dimensional"),
    (jxf_bytes(one_wavelet().params)[:40], "truncated"),
    (jxf_bytes(one_wavelet().params)[:-1], "truncated"),
    (jxf_bytes(one_wavelet().params)[:30], "truncated"),
])
def test_bad_jxf_is_refused_without_allocating(tmp_path, data, expect):
    tracemalloc.start()
    with pytest.raises(ImfitError, match=expect):
        read_jxf_bytes(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10e6, peak  # a 1.6 KB file declaring 1e8 rows used to take 3.2 GB
    p = tmp_path / "a.jxf"
    p.write_bytes(data)
    refused("import", p, "-o", tmp_path / "o.gabor.json", expect=expect)


def test_tsv_with_values_beyond_float32(tmp_path):
    from exporters.touchdesigner import tsv_text

    lines = tsv_text(one_wavelet()).splitlines()
    head, row = lines[0], lines[1].split("\t")
    row[0] = "1e39"
    p = tmp_path / "a.tsv"
    p.write_text(head + "\n" + "\t".join(row) + "\n")
    refused("import", p, "-o", tmp_path / "o.gabor.json", expect="not finite")


# -- the library boundary -------------------------------------------------------------------------
@pytest.mark.parametrize("kw, expect", [
    ({"zoom": 0}, "zoom"), ({"zoom": float("nan")}, "zoom"), ({"zoom": -1}, "zoom"),
    ({"method": "bogus"}, "method"), ({"center": (float("inf"), 0)}, "center"),
    ({"width": 100_000, "height": 100_000}, "too large"),
])
def test_render_checks_its_arguments(kw, expect):
    with pytest.raises(ImfitError, match=expect):
        imfit.render(one_wavelet(), **kw)


def test_fit_image_refuses_uint8_and_grey_targets():
    from imfit.fitting.fitter import FitSettings, fit_array

    s = FitSettings(num_gabors=4, size=16, iterations=1, rescales=0)
    with pytest.raises(ImfitError, match="uint8"):
        fit_array(np.full((16, 16, 3), 200, np.uint8), s)
    with pytest.raises(ImfitError, match=r"\(H, W, 3\)"):
        fit_array(np.full((16, 16), 0.5, np.float32), s)
    with pytest.raises(ImfitError, match="0..1"):
        fit_array(np.full((16, 16, 3), 200.0, np.float32), s)


def test_a_photo_under_our_limit_is_read_though_pillow_would_call_it_a_bomb(tmp_path,
                                                                             monkeypatch):
    """A scale model of the 90 MP photo: Pillow's own bomb limit (89.5 MP by default) sits
    below ours (100 MP); ours must decide."""
    from imfit.formats import images as image

    p = tmp_path / "wide.png"
    Image.fromarray(np.full((40, 50, 3), 7, np.uint8)).save(p)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow: 2000 px is "a bomb"
    monkeypatch.setattr(image, "MAX_PIXELS", 3000)
    rgb, _ = image.read_image(p)
    assert rgb.shape == (40, 50, 3) and np.allclose(rgb, 7 / 255)
    monkeypatch.setattr(image, "MAX_PIXELS", 1500)
    with pytest.raises(ImfitError, match="megapixel|bomb"):
        image.read_image(p)


# -- heavy imports wait for the input, and the real entry point -----------------------------------
def test_missing_input_is_said_before_torch_is_imported(tmp_path):
    """With torch unimportable, a command on a missing file must still say "no such file":
    it never got as far as importing torch (2-3 s, 230 MB)."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import cli\n"
        "for args in (['fit', 'missing.png', '-o', 'out'], ['render', 'missing.gabor.json',"
        " '-o', 'o.png'], ['diffuse', 'missing.png', '-o', 'd'], ['morph', 'a.json', 'b.json',"
        " '-o', 'm.mp4']):\n"
        "    try:\n"
        "        cli.main(args, standalone_mode=False)\n"
        "    except Exception as e:\n"
        "        print(type(e).__name__, e)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 4 and all("UserError" in ln and "no such file" in ln for ln in lines), \
        r.stdout + r.stderr


def test_the_real_entry_point_prints_one_line(tmp_path, photo):
    exe = Path(sys.executable).with_name("imfit")
    assert exe.exists(), "the imfit console script is installed with the package"
    r = subprocess.run([str(exe), "fit", str(photo), "-o", str(tmp_path / "o"), "--background",
                        "nan,0,0"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "--background" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_exporters_read_rejects_unknown_suffix_in_one_line(tmp_path):
    p = tmp_path / "a.xyz"
    p.write_text("x")
    with pytest.raises(ImfitError, match="cannot import"):
        exporters.read(p)


# -- RuntimeWarning lines before the Error line (issue 12, "Smaller") --------------------------
WARNING_TRIGGERS = [  # each made numpy print "RuntimeWarning: overflow encountered in cast"
    ["edit", "{fit}", "scale:size=1e300", "-o", "{tmp}/e.gabor.json"],
    ["edit", "{fit}", "translate:dx=1e308", "-o", "{tmp}/e.gabor.json"],
    ["render", "{fit}", "-o", "{tmp}/r.gif", "--frames", "2", "--animate", "phase=1e300"],
    ["sheet", "{fit}", "-o", "{tmp}/s.png", "--param", "scale.size", "--range", "1e300,1e308"],
]


def test_known_warning_triggers_print_one_error_line(fit, tmp_path):
    """The real program (warnings on, as a user has them): exactly one line, `Error: ...`."""
    for args in WARNING_TRIGGERS:
        args = [a.format(fit=fit, tmp=tmp_path) for a in args]
        r = subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args],
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:"), (args, r.stderr)


def test_the_cli_silences_runtime_warnings_on_the_way_to_the_error(fit, tmp_path,
                                                                   monkeypatch):
    """Whatever floating-point warning a library step emits before it refuses the input, the
    command says only its one line (the boundary filter, not each source)."""
    import warnings

    import imfit.edit.syntax as syntax

    def parse(*a, **k):
        np.float32(1e300)  # numpy: RuntimeWarning: overflow encountered in cast
        np.log(np.zeros(1))  # divide by zero
        raise ImfitError("bad op")

    monkeypatch.setattr(syntax, "parse_ops", parse)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        r = CliRunner().invoke(cli.main, ["edit", str(fit), "x", "-o", str(tmp_path / "e.json")])
    assert r.exit_code == 2 and "bad op" in r.stderr
    assert not [w for w in seen if issubclass(w.category, RuntimeWarning)], seen
    with warnings.catch_warnings(record=True) as seen:  # outside a command: left alone
        warnings.simplefilter("always")
        np.float32(1e300)
    assert any(issubclass(w.category, RuntimeWarning) for w in seen)


def test_a_diverging_fit_stops_in_one_line(photo, tmp_path):
    refused("fit", photo, "-o", tmp_path / "o", "--global-lr", "1e30", expect="--global-lr")


# -- the second hostile pass (issue 12, 252 more cases): what it found -------------------------
def _real(args: list[object], cwd: Path, env: dict[str, str] | None = None,
          timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})"
                           "; import cli; cli.main()", *[str(a) for a in args]], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def test_a_fifo_nobody_writes_to_is_refused_not_waited_on(tmp_path, fit):
    """`mkfifo x; imfit fit x` used to wait forever (open blocks for a writer)."""
    os.mkfifo(tmp_path / "in.png")
    os.mkfifo(tmp_path / "in.gabor.json")
    for args, expect in [(["fit", "in.png", "-o", "o"], "not an image"),
                         (["diffuse", "in.png", "-o", "d.gif", "--steps", "2"], "not an image"),
                         (["render", "in.gabor.json", "-o", "r.png"], "in.gabor.json")]:
        r = _real(args, tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and expect in lines[0], (args, r.stderr)


def test_a_pipe_with_a_writer_is_still_read(tmp_path, photo):
    """A pipe that has a writer (`imfit fit <(cat photo.png)`: /dev/fd/N) is read as usual."""
    import threading

    from imfit.formats.images import read_image

    r, w = os.pipe()
    data = photo.read_bytes()

    def write() -> None:
        with os.fdopen(w, "wb") as f:
            f.write(data)

    t = threading.Thread(target=write)
    t.start()
    try:
        rgb, _ = read_image(f"/dev/fd/{r}")
    finally:
        t.join(timeout=30)
        os.close(r)
    np.testing.assert_allclose(rgb, read_image(photo)[0])


@pytest.mark.parametrize("text", ["null", "5", "\"fit\"", "true"])
def test_a_json_file_holding_a_bare_value_is_one_line(tmp_path, text):
    p = tmp_path / "a.gabor.json"
    p.write_text(text)
    refused("render", p, "-o", tmp_path / "r.png", expect="not an imfit .gabor.json")


def test_no_ffmpeg_is_one_line_and_writes_nothing(tmp_path, fit):
    r = _real(["render", fit, "-o", tmp_path / "v.mp4", "--frames", "2"], tmp_path,
              env={"IMAGEIO_FFMPEG_EXE": str(tmp_path / "no-ffmpeg-here")})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot run ffmpeg" in lines[0], r.stderr
    assert not (tmp_path / "v.mp4").exists() and not list(tmp_path.glob(".v.mp4*"))


def test_edit_writes_a_fit_only_under_a_json_name(fit, tmp_path):
    refused("edit", fit, "scale:size=2", "-o", tmp_path / "e.png", expect="a fit is written as")
    assert not (tmp_path / "e.png").exists()


@pytest.mark.parametrize("args, expect", [
    (["--rescales", "99"], "--rescales must be 0..12"),
    (["--iterations", "1000000000"], "plans"),
    (["--iter-multiple", "1e308"], "plans"),
])
def test_fits_that_would_never_end_are_refused_at_once(photo, tmp_path, args, expect):
    refused("fit", photo, "-o", tmp_path / "o", *args, expect=expect)
