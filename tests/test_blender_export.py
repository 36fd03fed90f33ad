"""`imfit export --to blender` without Blender (the main venv): the add-on zip against what
Blender's two installers read (bl_info for legacy add-ons; blender_manifest.toml as the
extension docs list its keys), the one-source rule (the script carries the add-on's own module
texts), a fit named with quotes, the add-on's bpy-free reader against imfit's loader, and bad
input. The real-bpy renders are tests/test_blender.py (`make test-hosts`).
"""

from __future__ import annotations

import ast
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tomllib
from click.testing import CliRunner
from conftest import random_params

import cli
import exporters
import imfit
from exporters import blender

ADDON = Path(blender.__file__).parent / "blender_addon" / "imfit_gabor"
NASTY = "mum's \"\"\"photo\"\"\" \\ 100%"  # quotes, a triple quote, a backslash, a percent


@pytest.fixture
def gs() -> imfit.GaborSet:
    return imfit.GaborSet(random_params(7, seed=3), 40, 30, (0.2, 0.5, 0.7))


def _assigned(tree: ast.Module, name: str) -> ast.expr:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name
                                                for t in node.targets):
            return node.value
    raise AssertionError(f"no {name} = ... at module level")


def test_zip_holds_the_package_folder_with_bl_info_and_manifest(gs, tmp_path):
    exporters.export(gs, "blender", tmp_path, stem="fit")
    with zipfile.ZipFile(tmp_path / "imfit_gabor.zip") as z:
        names = sorted(z.namelist())
        files = {n: z.read(n) for n in names}
    # one folder = the module name legacy Install takes; the extension installer accepts a
    # manifest inside a single folder (docs: "all its files inside a folder")
    assert names == sorted(f"imfit_gabor/{n}" for n in ("__init__.py", "wavelets.py", "osl.py",
                                                         "scene.py", "blender_manifest.toml"))
    for n, data in files.items():  # the zip is the source folder, byte for byte
        assert data == (ADDON / n.split("/", 1)[1]).read_bytes(), n
    init = ast.parse(files["imfit_gabor/__init__.py"])
    info = ast.literal_eval(_assigned(init, "bl_info"))
    # legacy add-on keys (Blender manual, "Add-on Tutorial": name, blender, category...)
    assert info["name"] == "imfit Gabor set" and info["category"] == "Import-Export"
    assert isinstance(info["version"], tuple) and len(info["version"]) == 3
    assert info["blender"] >= (4, 2, 0) and "File > Import" in info["location"]
    funcs = {n.name for n in init.body if isinstance(n, ast.FunctionDef)}
    assert {"register", "unregister"} <= funcs
    m = tomllib.loads(files["imfit_gabor/blender_manifest.toml"].decode())
    # required keys of an add-on extension (docs.blender.org, Extensions > How to Create)
    for key in ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
                "blender_version_min", "license"):
        assert key in m, key
    assert m["schema_version"] == "1.0.0" and m["type"] == "add-on"
    assert m["id"] == "imfit_gabor" and re.fullmatch(r"[a-z][a-z0-9_]*", m["id"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", m["version"])
    assert ".".join(map(str, info["version"])) == m["version"]  # the two forms agree
    assert len(m["tagline"]) <= 64 and not m["tagline"].endswith(".")
    assert tuple(int(v) for v in m["blender_version_min"].split(".")) >= (4, 2, 0)
    assert all(lic.startswith("SPDX:") for lic in m["license"])
    # permissions: the documented names, each with a reason of at most 64 chars, no period
    assert set(m["permissions"]) <= {"files", "network", "clipboard", "camera", "microphone"}
    assert all(0 < len(v) <= 64 and not v.endswith(".") for v in m["permissions"].values())


def test_the_script_carries_the_addon_modules_verbatim_and_the_fit(gs, tmp_path):
    exporters.export(gs, "blender", tmp_path, stem="fit")
    tree = ast.parse((tmp_path / "fit_blender.py").read_text())
    modules = ast.literal_eval(_assigned(tree, "MODULES"))
    assert set(modules) == {"__init__", "wavelets", "osl", "scene"}
    for name, text in modules.items():
        assert text == (ADDON / f"{name}.py").read_text(), name
    fit = ast.literal_eval(_assigned(tree, "FIT"))
    assert (fit["width"], fit["height"]) == (40, 30)
    np.testing.assert_array_equal(np.array(fit["params"], np.float32), gs.params)
    np.testing.assert_array_equal(np.float32(fit["bias"]), np.float32(gs.bias))


def test_a_fit_named_with_quotes_gives_valid_python_holding_the_name(gs, tmp_path):
    src = tmp_path / f"{NASTY}.gabor.json"
    imfit.save(gs, src)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli.main, ["export", str(src), "--to", "blender", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = (out / f"{NASTY}_blender.py").read_text()
    tree = ast.parse(text)  # a SyntaxError here is the bug
    assert ast.literal_eval(_assigned(tree, "FIT"))["name"] == NASTY
    assert ast.get_docstring(tree).startswith("imfit -> Blender")
    osl = (out / f"{NASTY}.osl").read_text()
    assert osl.count("\n// ") == 3 and "#define IMFIT_N 7" in osl  # the name stays a comment


@pytest.mark.parametrize("suffix", ["gabor.json", "tsv", "csv", "npz"])
def test_addon_reader_agrees_with_imfit_loader(gs, tmp_path, suffix):
    wavelets = blender._bpy_free("wavelets")
    target = {"gabor.json": "json", "tsv": "touchdesigner", "csv": "csv", "npz": "npz"}[suffix]
    exporters.export(gs, target, tmp_path, stem="fit")
    path = tmp_path / f"fit.{suffix}"
    w = wavelets.read(str(path), 40, 30, gs.bias)
    ref = imfit.load(path, 40, 30) if suffix in ("tsv", "csv") else imfit.load(path)
    np.testing.assert_array_equal(w.params, ref.params)
    assert (w.width, w.height) == (ref.width, ref.height) == (40, 30)
    assert w.name == "fit"


def test_addon_n_cap_keeps_imfits_strongest(gs):
    wavelets = blender._bpy_free("wavelets")
    w = wavelets.Wavelets(gs.params, 40, 30, gs.bias, "x").strongest(3)
    np.testing.assert_array_equal(w.params, gs[np.sort(gs.order_by_energy()[:3])].params)


@pytest.mark.parametrize("content, expect", [
    ('{"format": "imfit.gabor", "wavelets": [[1, 2', "corrupt JSON"),
    ('{"format": "other"}', "not an imfit .gabor.json"),
    ("x\ty\n1\t2\n", "header row lacks"),
])
def test_addon_reader_refuses_bad_files_with_one_line(tmp_path, content, expect):
    wavelets = blender._bpy_free("wavelets")
    name = "bad.tsv" if content.startswith("x") else "bad.gabor.json"
    (tmp_path / name).write_text(content)
    with pytest.raises(wavelets.WaveletFileError) as e:
        wavelets.read(str(tmp_path / name))
    assert expect in str(e.value) and len(str(e.value).splitlines()) == 1


def test_addon_reader_refuses_nan(gs, tmp_path):
    wavelets = blender._bpy_free("wavelets")
    p = gs.params.copy()
    p[2, 4] = np.nan
    np.savez(tmp_path / "nan.npz", params=p)
    with pytest.raises(wavelets.WaveletFileError, match="wavelet 2 has a non-finite value"):
        wavelets.read(str(tmp_path / "nan.npz"))


def test_export_beyond_the_cap_is_one_line_exit_2_and_writes_nothing(gs, tmp_path):
    src = tmp_path / "a.gabor.json"
    imfit.save(gs, src)
    r = CliRunner().invoke(cli.main, ["export", str(src), "--to", "blender", "-o",
                                      str(tmp_path / "out"), "--max", "5000"])
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "at most 4096" in lines[0]
    assert "Traceback" not in r.output and not (tmp_path / "out").exists()
