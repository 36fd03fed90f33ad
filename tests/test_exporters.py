"""Exporters without GL: the registry, file formats parsed back, bit-exact imports, the ISF
header against a schema written here, JXF bytes against the published layout, and the ways an
export can fail (empty set, over a cap, existing files, unwritable folder) leaving nothing
half-written."""

from __future__ import annotations

import json
import re
import struct

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import random_params

import exporters
import imfit
from cli import main
from exporters import isf, torchimfit
from exporters.common import write_all
from imfit.formats import readers
from imfit.model.gaborset import COLUMNS


@pytest.fixture(scope="module")
def gs() -> imfit.GaborSet:
    """A non-square set with awkward values: tiny, negative, large."""
    p = random_params(40, seed=3)
    p[0, 0], p[1, 1], p[2, 9] = 1e-7, -3.5e-9, -0.25
    return imfit.GaborSet(p, 96, 64, (0.4, 0.5, 0.6), {"source": "t"})


def _write(gs, target, tmp_path, **kw):
    paths, notes = exporters.export(gs, target, tmp_path / target, stem="fit", **kw)
    return {p.name: p for p in paths}, notes


# -- registry ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(exporters.TARGETS))
def test_every_target_writes_the_files_it_lists(gs, name, tmp_path):
    t = exporters.TARGETS[name]
    files, _ = _write(gs, name, tmp_path)
    listed = {f.replace("{stem}", "fit").replace("<variant>", "texture") for f in t.files}
    assert set(files) == listed
    assert all(p.stat().st_size > 0 for p in files.values())
    # no temp files left behind
    assert not [p for p in (tmp_path / name).iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("name", [n for n in exporters.TARGETS if n not in ("json", "npz")])
def test_every_export_states_the_conventions(gs, name, tmp_path):
    files, _ = _write(gs, name, tmp_path)
    text = " ".join(p.read_text() for p in files.values()
                    if p.suffix not in (".f32", ".jxf", ".zip"))
    for word in ("origin at the image centre", "y DOWN", "radians", "bias"):
        assert word in text, f"{name}: no {word!r}"


def test_unknown_target_and_variant_are_one_line_errors(gs):
    with pytest.raises(imfit.ImfitError, match="imfit export --list"):
        exporters.build(gs, "nuke")
    with pytest.raises(imfit.ImfitError, match="no variant"):
        exporters.build(gs, "isf", variant="block")


# -- bit-exact imports ----------------------------------------------------------------------
@pytest.mark.parametrize("target,name", [
    ("json", "fit.gabor.json"), ("touchdesigner", "fit.tsv"), ("max", "fit.coll"),
    ("max", "fit.dict.json"), ("max", "fit.jxf"), ("csv", "fit.csv"), ("npz", "fit.npz")])
def test_exported_tables_read_back_bit_exactly(gs, target, name, tmp_path):
    files, _ = _write(gs, target, tmp_path)
    back = exporters.read(files[name], width=gs.width, height=gs.height, bias=gs.bias) \
        if name.endswith((".tsv", ".csv", ".jxf")) else exporters.read(files[name])
    assert back.params.dtype == np.float32
    assert np.array_equal(back.params.view(np.uint32), gs.params.view(np.uint32))
    assert (back.width, back.height) == (gs.width, gs.height)
    assert np.array_equal(np.float32(back.bias), np.float32(gs.bias))


def test_real_fit_round_trips_through_tsv_and_coll(small_fit, tmp_path):
    fit = small_fit[0]
    for target, name in (("touchdesigner", "fit.tsv"), ("max", "fit.coll")):
        files, _ = _write(fit, target, tmp_path)
        back = exporters.read(files[name], fit.width, fit.height)
        assert np.array_equal(back.params.view(np.uint32), fit.params.view(np.uint32))


def _canonical(gs: imfit.GaborSet) -> imfit.GaborSet:
    """What torch-imfit's parametrisation can hold: amp >= 0, phases and theta in (-pi, pi]."""
    from imfit.formats.gabor_json import from_txt_array, to_txt_array

    return from_txt_array(to_txt_array(gs), gs.width, gs.height).replace(bias=gs.bias)


def test_torch_imfit_txt_round_trips_bit_exactly_for_square_fits(small_fit, tmp_path):
    """Defined precisely: for a square fit in canonical form (every set after one trip through
    the txt parametrisation), set -> txt -> set gives the same float32 numbers, hence
    txt -> set -> txt gives identical text."""
    fit = _canonical(small_fit[0])
    files, _ = _write(fit, "txt", tmp_path)
    back = exporters.read(files["fit.txt"], fit.width, fit.height)
    assert np.array_equal(back.params.view(np.uint32), fit.params.view(np.uint32))
    assert torchimfit.txt_text(back) == files["fit.txt"].read_text()
    # and it is still the same picture as the original (the canonical form renders the same;
    # torch-imfit has no bias, so it comes back grey and is put back here)
    assert back.bias == (0.5, 0.5, 0.5)
    same = back.replace(bias=small_fit[0].bias)
    assert np.abs(imfit.render(same) - imfit.render(small_fit[0])).max() < 1e-5


def test_torch_imfit_txt_from_a_real_fit_file_reads_and_rewrites_identically(fit_file,
                                                                             tmp_path):
    out = CliRunner().invoke(main, ["export", str(fit_file), "--to", "txt", "-o",
                                    str(tmp_path / "a")])
    assert out.exit_code == 0, out.output
    txt = tmp_path / "a" / "astronaut.txt"
    out = CliRunner().invoke(main, ["import", str(txt), "--size", "64x64", "-o",
                                    str(tmp_path / "b.gabor.json")])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(main, ["export", str(tmp_path / "b.gabor.json"), "--to", "txt",
                                    "-o", str(tmp_path / "c")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "c" / "b.txt").read_text() == txt.read_text()


def test_import_refuses_garbage_with_one_line(tmp_path):
    bad = tmp_path / "x.tsv"
    bad.write_text("x\ty\n1\t2\n")
    with pytest.raises(imfit.ImfitError, match="header row lacks columns"):
        exporters.read(bad)
    coll = tmp_path / "x.coll"
    coll.write_text("0, 1 2 3;\n")
    with pytest.raises(imfit.ImfitError, match="expected 12 values"):
        exporters.read(coll)
    jxf = tmp_path / "x.jxf"
    jxf.write_bytes(b"RIFF0000WAVE")
    with pytest.raises(imfit.ImfitError, match="not a Jitter matrix"):
        exporters.read(jxf)
    with pytest.raises(imfit.ImfitError, match="cannot import"):
        exporters.read(_touch(tmp_path / "x.png"))


def _touch(p):
    p.write_bytes(b"\x89PNG")
    return p


# -- file formats parsed as the target reads them ---------------------------------------------
def test_tsv_is_a_table_dat_with_td_legal_channel_names(gs, tmp_path):
    files, _ = _write(gs, "touchdesigner", tmp_path)
    rows = files["fit.tsv"].read_text().splitlines()
    head = rows[0].split("\t")
    assert head == list(COLUMNS)
    assert all(re.fullmatch(r"[A-Za-z0-9_:/-]+", h) for h in head)
    assert len(rows) == 1 + len(gs) and all(len(r.split("\t")) == 12 for r in rows[1:])
    script = files["fit_build.py"].read_text()
    compile(script, "fit_build.py", "exec")  # valid Python for TD's Textport
    groups = re.search(r"GROUPS = (\[.*\])", script).group(1)
    assert sum(json.loads(groups.replace("'", '"')), []) == list(COLUMNS)


def test_td_build_script_runs_against_a_stand_in_for_td(gs, tmp_path):
    """No TouchDesigner here: a minimal stand-in for its Python API catches errors in the
    script itself (names, flow); a parameter this stand-in lacks is reported, not fatal."""
    script = _write(gs, "touchdesigner", tmp_path)[0]["fit_build.py"].read_text()
    made: dict[str, object] = {}

    class Par:
        val = None

        def pulse(self) -> None:
            pass

    class Pars:
        def __getattr__(self, name):
            if name == "array2arraytype":
                raise AttributeError(name)
            p = Par()
            object.__setattr__(self, name, p)
            return p

    class Op:
        def __init__(self, name):
            self.name, self.par, self.nodeX, self.nodeY = name, Pars(), 0, 0
            made[name] = self

        def create(self, kind, name):
            return Op(name)

    class Pane:
        owner = Op("project1")

    lines: list[str] = []
    env = {"project": type("P", (), {"folder": "/show"}), "tableDAT": 1, "dattoCHOP": 2,
           "textDAT": 3, "glslTOP": 4, "selectCHOP": 5,
           "ui": type("U", (), {"panes": type("Ps", (), {"current": Pane})}),
           "print": lambda *a: lines.append(" ".join(map(str, a)))}
    exec(compile(script, "fit_build.py", "exec"), env)
    assert made["imfit_table"].par.file.val == "/show/fit.tsv"
    assert made["imfit_w1"].par.channames.val == "gamma wavelength phase_r phase_g"
    assert made["imfit_glsl"].par.array0arraytype.val == "texturebuffer"
    assert any("array2arraytype" in ln and "by hand" in ln for ln in lines)


def test_coll_lines_are_index_comma_values_semicolon(gs, tmp_path):
    files, _ = _write(gs, "max", tmp_path)
    lines = files["fit.coll"].read_text().splitlines()
    num = r"-?[0-9.]+(e-?[0-9]+)?"
    for i, line in enumerate(lines[:len(gs)]):
        assert re.fullmatch(rf"{i}, {num}( {num}){{11}};", line), line
    assert lines[len(gs):] == ["imfit_image, 96 64;", "imfit_bias, 0.4 0.5 0.6;"]
    d = json.loads(files["fit.dict.json"].read_text())
    assert sorted(d["wavelets"], key=int) == [str(i) for i in range(len(gs))]


def test_jxf_header_follows_the_published_layout(gs, tmp_path):
    b = _write(gs, "max", tmp_path)[0]["fit.jxf"].read_bytes()
    n = len(gs)
    data_size = 4 * 12 * n
    assert b[0:4] == b"FORM" and struct.unpack(">i", b[4:8])[0] == len(b)
    assert b[8:12] == b"JIT!"
    assert b[12:16] == b"FVER" and struct.unpack(">iI", b[16:24]) == (12, 0x3C93DC80)
    m = 24
    assert b[m:m + 4] == b"MTRX"
    size, offset = struct.unpack(">ii", b[m + 4:m + 12])
    assert offset == 24 + 4 * 2 and size == offset + data_size
    assert b[m + 12:m + 16] == b"FL32"
    assert struct.unpack(">iiii", b[m + 16:m + 32]) == (1, 2, 12, n)  # planes, dimcount, dims
    assert len(b) == m + size
    first = np.frombuffer(b[m + offset:m + offset + 48], ">f4")
    assert np.array_equal(first, gs.params[0])


# -- ISF header against a schema ----------------------------------------------------------------
ISF_INPUT_TYPES = {"event", "bool", "long", "float", "point2D", "color", "image", "audio",
                   "audioFFT"}
# value shape each TYPE's DEFAULT/MIN/MAX must have
ISF_VALUE = {"float": (float, None), "long": (int, None), "bool": (bool, None),
             "event": (bool, None), "point2D": (float, 2), "color": (float, 4)}


def validate_isf_header(h) -> list[str]:
    """Our schema for the ISF 2 JSON header (the official SCHEMA.json is not a valid JSON
    Schema): required ISFVSN string, known INPUT types, unique names, typed values, MIN<=MAX."""
    errs = []
    if not isinstance(h, dict):
        return ["header is not an object"]
    if not isinstance(h.get("ISFVSN"), str) or h["ISFVSN"] not in ("2", "2.0"):
        errs.append("ISFVSN must be the string '2'")
    for key in ("DESCRIPTION", "CREDIT"):
        if key in h and not isinstance(h[key], str):
            errs.append(f"{key} must be a string")
    cats = h.get("CATEGORIES", [])
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        errs.append("CATEGORIES must be a list of strings")
    inputs = h.get("INPUTS", [])
    if not isinstance(inputs, list):
        return errs + ["INPUTS must be a list"]
    names = [i.get("NAME") for i in inputs if isinstance(i, dict)]
    if len(names) != len(set(names)):
        errs.append("INPUT names must be unique")
    for i in inputs:
        if not isinstance(i, dict) or not isinstance(i.get("NAME"), str) or not re.fullmatch(
                r"[A-Za-z_][A-Za-z0-9_]*", i.get("NAME", "")):
            errs.append(f"bad INPUT {i!r}: NAME must be a GLSL identifier")
            continue
        t = i.get("TYPE")
        if t not in ISF_INPUT_TYPES:
            errs.append(f"{i['NAME']}: unknown TYPE {t!r}")
            continue
        if t not in ISF_VALUE:
            continue
        kind, length = ISF_VALUE[t]
        for key in ("DEFAULT", "MIN", "MAX", "IDENTITY"):
            if key not in i:
                continue
            v = i[key]
            vals = v if isinstance(v, list) else [v]
            if (length is None) != (not isinstance(v, list)) or (length and len(v) != length):
                errs.append(f"{i['NAME']}: {key} has the wrong shape for {t}")
            elif not all(isinstance(x, (int, float)) and (kind is not bool or isinstance(x, bool))
                         for x in vals):
                errs.append(f"{i['NAME']}: {key} must be {kind.__name__}")
        if "MIN" in i and "MAX" in i and t in ("float", "long"):
            if not i["MIN"] <= i.get("DEFAULT", i["MIN"]) <= i["MAX"]:
                errs.append(f"{i['NAME']}: DEFAULT outside MIN..MAX")
    return errs


def test_isf_header_passes_the_schema_and_names_the_inputs(small_fit, tmp_path):
    from shader_hosts import isf_header

    files, _ = _write(small_fit[0], "isf", tmp_path)
    text = files["fit.fs"].read_text()
    assert text.startswith("/*{")
    h = isf_header(text)
    assert validate_isf_header(h) == []
    assert {i["NAME"] for i in h["INPUTS"]} == {"gain", "bias", "phase", "drift", "zoom",
                                                "center"}
    assert "Generator" in h["CATEGORIES"]
    # the host declares the inputs: the body must not
    for name in ("gain", "bias", "phase", "drift", "zoom", "center"):
        assert not re.search(rf"uniform\s+\w+\s+{name}\s*;", text)


def test_isf_schema_catches_what_hosts_reject():
    good = {"ISFVSN": "2", "INPUTS": [{"NAME": "a", "TYPE": "float", "DEFAULT": 0.5,
                                       "MIN": 0.0, "MAX": 1.0}]}
    assert validate_isf_header(good) == []
    assert validate_isf_header(dict(good, ISFVSN=2))
    assert validate_isf_header(dict(good, INPUTS=good["INPUTS"] * 2))
    assert validate_isf_header({"ISFVSN": "2", "INPUTS": [{"NAME": "c", "TYPE": "colour"}]})
    assert validate_isf_header({"ISFVSN": "2", "INPUTS": [
        {"NAME": "c", "TYPE": "color", "DEFAULT": [1, 0, 0]}]})


# -- caps: strongest first, refusal beyond the hard limit -------------------------------------
def test_isf_keeps_the_strongest_wavelets_and_says_so(tmp_path):
    big = imfit.GaborSet(random_params(isf.DEFAULT_MAX + 40, seed=5), 64, 64)
    files, notes = _write(big, "isf", tmp_path)
    assert any(f"kept the {isf.DEFAULT_MAX} strongest" in n for n in notes)
    text = files["fit.fs"].read_text()
    assert text.count("s += imfit_w(") == isf.DEFAULT_MAX
    weakest = big.order_by_energy()[-1]
    row = big.params[weakest]
    from exporters.common import glsl_float
    assert f"vec4({', '.join(glsl_float(v) for v in row[:4])})" not in text


@pytest.mark.parametrize("target,cap", [("isf", isf.HARD_MAX), ("shadertoy", 1024),
                                        ("blender", 4096)])
def test_asking_beyond_a_cap_is_refused_with_the_alternative(gs, target, cap, tmp_path):
    with pytest.raises(imfit.ImfitError, match=rf"at most {cap} wavelets.*--max {cap}"):
        exporters.export(gs, target, tmp_path / "x", max_n=cap + 1)
    assert not (tmp_path / "x").exists()


def test_empty_set_is_refused_by_every_target(tmp_path):
    empty = imfit.GaborSet.empty()
    for name in exporters.TARGETS:
        with pytest.raises(imfit.ImfitError, match="no wavelets"):
            exporters.export(empty, name, tmp_path / name)
        assert not (tmp_path / name).exists()


# -- writes: all or nothing ------------------------------------------------------------------
def test_existing_files_are_kept_without_force(gs, tmp_path):
    out = tmp_path / "max"
    out.mkdir()
    (out / "fit.jxs").write_text("mine")
    with pytest.raises(imfit.ImfitError, match="fit.jxs exists; pass --force"):
        exporters.export(gs, "max", out, stem="fit")
    assert sorted(p.name for p in out.iterdir()) == ["fit.jxs"]
    assert (out / "fit.jxs").read_text() == "mine"
    exporters.export(gs, "max", out, stem="fit", force=True)
    assert (out / "fit.jxs").read_text().startswith("<jittershader")


def test_a_failure_midway_leaves_nothing_behind(gs, tmp_path, monkeypatch):
    import tempfile

    real = tempfile.mkstemp
    calls = []

    def flaky(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(*a, **k)

    monkeypatch.setattr(tempfile, "mkstemp", flaky)
    with pytest.raises(imfit.ImfitError, match="No space left.*nothing was written"):
        exporters.export(gs, "max", tmp_path / "out", stem="fit")
    assert not (tmp_path / "out").exists()  # the folder we created is gone too


def test_unwritable_or_missing_folders_are_one_line_errors(gs, tmp_path):
    with pytest.raises(imfit.ImfitError, match="does not exist"):
        exporters.export(gs, "csv", tmp_path / "no" / "such")
    (tmp_path / "f").write_text("x")
    with pytest.raises(imfit.ImfitError, match="is a file"):
        exporters.export(gs, "csv", tmp_path / "f")
    # /proc/self is a folder nobody (not even root) can create files in
    with pytest.raises(imfit.ImfitError, match="nothing was written|not writable"):
        write_all({"a.txt": b"x"}, readers.Path("/proc/self"))


# -- CLI -----------------------------------------------------------------------------------------
def test_cli_export_list_and_export(fit_file, tmp_path):
    r = CliRunner().invoke(main, ["export", "--list"])
    assert r.exit_code == 0
    for name in exporters.TARGETS:
        assert re.search(rf"^{name}\s", r.output, re.M)
    r = CliRunner().invoke(main, ["export", str(fit_file), "--to", "isf", "-o",
                                  str(tmp_path / "isf")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "isf" / "astronaut.fs").exists()
    assert "wrote 2 files" in r.output


def test_cli_export_errors_are_one_line_exit_2(fit_file, tmp_path):
    r = CliRunner().invoke(main, ["export", str(fit_file), "--to", "nuke", "-o", str(tmp_path)])
    assert r.exit_code == 2 and "unknown export target" in r.output
    assert "Traceback" not in r.output
    r = CliRunner().invoke(main, ["export", str(fit_file), "--to", "glsl", "--variant",
                                  "uniforms", "-o", str(tmp_path / "g")])
    assert r.exit_code == 2 and "--variant block" in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "g").exists()
    r = CliRunner().invoke(main, ["export", str(fit_file)])
    assert r.exit_code == 2 and "--to TARGET" in r.output


def test_cli_import_round_trip(fit_file, tmp_path):
    r = CliRunner().invoke(main, ["export", str(fit_file), "--to", "max", "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "back.gabor.json"
    r = CliRunner().invoke(main, ["import", str(tmp_path / "astronaut.coll"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    a, b = imfit.load(fit_file), imfit.load(out)
    assert np.array_equal(a.params, b.params) and (a.width, a.height) == (b.width, b.height)
    r = CliRunner().invoke(main, ["import", str(tmp_path / "astronaut.coll"), "-o", str(out)])
    assert r.exit_code == 2 and "--force" in r.output
