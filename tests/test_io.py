import json

import numpy as np
import pytest
from conftest import random_params
from tolerances import TXT_ROUNDTRIP

import imfit
from imfit import GaborSet, ImfitError
from imfit.formats.gabor_json import from_txt_array, load_txt, save_txt, to_json_text, to_txt_array


def test_json_round_trip_is_bit_exact(tmp_path):
    p = random_params(200, seed=3)
    p[0, 0] = 1e-30  # tiny and huge values survive too
    p[1, 5] = 12345.678
    gs = GaborSet(p, 300, 200, (0.25, 0.5, 0.75), {"psnr": 23.5, "source": "x.png"})
    f = tmp_path / "a.gabor.json"
    imfit.save(gs, f)
    back = imfit.load(f)
    assert np.array_equal(back.params, gs.params)
    assert (back.width, back.height) == (300, 200)
    assert back.bias == pytest.approx(gs.bias)
    assert back.meta["source"] == "x.png"
    doc = json.loads(f.read_text())
    assert doc["format"] == "imfit.gabor" and doc["version"] == 1
    assert doc["columns"][5] == "wavelength" and "y" in doc["conventions"]


def test_empty_set_round_trips(tmp_path):
    f = tmp_path / "e.gabor.json"
    imfit.save(GaborSet.empty(10, 20), f)
    assert len(imfit.load(f)) == 0


def _doc(**over):
    gs = GaborSet(random_params(2), 64, 64)
    d = json.loads(to_json_text(gs))
    d.update(over)
    return d


@pytest.mark.parametrize("change, msg", [
    ({"version": 2}, "unsupported .gabor.json version 2"),
    ({"format": "other"}, "not an imfit"),
    ({"columns": ["x", "y"]}, "missing columns"),
    ({"wavelets": [[1, 2]]}, "must be a list of 12"),
    ({"wavelets": [["a"] * 12]}, "non-number"),
    ({"image": {"width": -1, "height": 3}}, "width"),
    ({"bias": [1, 2]}, "bias"),
])
def test_bad_documents_are_one_line_errors(tmp_path, change, msg):
    f = tmp_path / "bad.gabor.json"
    f.write_text(json.dumps(_doc(**change)))
    with pytest.raises(ImfitError, match=msg) as e:
        imfit.load(f)
    assert "\n" not in str(e.value)


def test_nan_and_corrupt_json(tmp_path):
    d = _doc()
    d["wavelets"][1][3] = float("nan")
    f = tmp_path / "nan.gabor.json"
    f.write_text(json.dumps(d))  # writes NaN literally
    with pytest.raises(ImfitError, match="NaN .* at line 1"):  # refused by the parser
        imfit.load(f)
    f.write_text(f.read_text()[:50])
    with pytest.raises(ImfitError, match="corrupt JSON"):
        imfit.load(f)
    with pytest.raises(ImfitError, match="no such file"):
        imfit.load(tmp_path / "missing.gabor.json")
    with pytest.raises(ImfitError, match="directory"):
        imfit.load(tmp_path)


def test_atomic_save_never_leaves_half_files(tmp_path, monkeypatch):
    f = tmp_path / "a.gabor.json"
    imfit.save(GaborSet(random_params(3), 64, 64), f)
    before = f.read_bytes()
    import imfit.formats.gabor_json as io

    def boom(gs):
        raise KeyboardInterrupt

    monkeypatch.setattr(io, "to_json_text", boom)
    with pytest.raises(KeyboardInterrupt):
        io.save(GaborSet(random_params(5), 64, 64), f)
    assert f.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.gabor.json"]


def test_atomic_write_keeps_the_old_file_whole_until_the_rename(tmp_path):
    """While the new content is being written, the target still holds the complete old file;
    a failure midway leaves it byte for byte (planted bug: writing straight to the path)."""
    from imfit.formats.files import atomic_write

    f = tmp_path / "out.bin"
    f.write_bytes(b"old content")
    seen = []

    def write(fh):
        fh.write(b"new")
        fh.flush()
        seen.append(f.read_bytes())
        fh.write(b" content, longer")

    atomic_write(f, write)
    assert seen == [b"old content"] and f.read_bytes() == b"new content, longer"

    def fail(fh):
        fh.write(b"half")
        fh.flush()
        raise OSError("disk full")

    with pytest.raises(ImfitError, match="left as it was"):  # one line for the user
        atomic_write(f, fail)
    assert f.read_bytes() == b"new content, longer"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_torch_imfit_txt_example_row(tmp_path):
    row = ("0.135871,-0.284512,1.925725,0.048071,0.905733,-0.121680,-0.885081,-0.999156,"
           "-1.000000,0.538317,0.367414,0.296691")
    f = tmp_path / "w.txt"
    f.write_text(row + "\n")  # N = 1: the original's reader breaks here, ours must not
    gs = load_txt(f, 256, 256)
    assert len(gs) == 1
    s = 255 / 256  # their unit is (W-1)/2 pixels, ours H/2
    assert gs.params[0, 0] == pytest.approx(0.135871 * s, rel=1e-6)
    assert gs.params[0, 2] == pytest.approx(2 * np.pi * 1.925725, rel=1e-6)
    assert gs.params[0, 5] == pytest.approx(np.exp(-0.12168) * s, rel=1e-5)
    assert gs.params[0, 9] == pytest.approx(0.538317 / 2, rel=1e-6)
    assert gs.bias == (0.5, 0.5, 0.5)


@pytest.mark.parametrize("size", [(256, 256), (300, 200)])
def test_txt_round_trip(tmp_path, size):
    p = random_params(50, seed=2)
    if size[0] != size[1]:
        p[:, 2] = 0.0  # their stretched plane maps axis-aligned wavelets exactly
    gs = GaborSet(p, *size)
    f = tmp_path / "w.txt"
    save_txt(gs, f)
    back = load_txt(f, *size)
    # compare renders: angle wrapping and sign folding change numbers, not pictures
    a, b = imfit.render(gs, 64, 64), imfit.render(back, 64, 64)
    assert np.abs(a - b).max() < TXT_ROUNDTRIP * 100
    arr = to_txt_array(gs)
    assert np.allclose(to_txt_array(from_txt_array(arr, *size)), arr, atol=TXT_ROUNDTRIP)


def test_bad_txt(tmp_path):
    f = tmp_path / "w.txt"
    f.write_text("1,2,3\n")
    with pytest.raises(ImfitError, match="expected 12"):
        load_txt(f)
    f.write_text(",".join(["nan"] * 12))
    with pytest.raises(ImfitError, match="non-finite"):
        load_txt(f)
    f.write_text("")
    with pytest.raises(ImfitError, match="no wavelets"):
        load_txt(f)


def test_written_files_get_normal_permissions(tmp_path):
    import os

    f = tmp_path / "p.gabor.json"
    imfit.save(GaborSet(random_params(1), 8, 8), f)
    umask = os.umask(0)
    os.umask(umask)
    assert (f.stat().st_mode & 0o777) == (0o666 & ~umask)
