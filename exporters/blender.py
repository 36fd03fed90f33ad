"""`blender`: the imfit_gabor add-on as an installable zip, a standalone STEM_blender.py that
carries the same add-on code plus the fit, and the fit's OSL shader on its own.

The Blender-side code lives once, in exporters/blender_addon/imfit_gabor/ (bl_info and
blender_manifest.toml, so both the legacy installer and Blender 4.2+ extensions take the zip).
The standalone script embeds those module texts verbatim instead of a second copy; the real-bpy
tests (tests/test_blender.py, `make test-hosts`) run both against `imfit render`.
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path
from types import ModuleType

from exporters.common import Export, Options, Target, capped, template
from imfit.formats.gabor_json import f32_str
from imfit.model.gaborset import GaborSet

ADDON = Path(__file__).parent / "blender_addon" / "imfit_gabor"
ADDON_FILES = ("__init__.py", "wavelets.py", "osl.py", "scene.py", "blender_manifest.toml")
ZIP_NAME = "imfit_gabor.zip"
DEFAULT_MAX = 1024
HARD_MAX = 4096
WHY = ("every wavelet is a quad a camera ray crosses (Cycles' transparent bounces) or an OSL "
       "array entry compiled with the shader")
INSTEAD = "--to csv and the add-on's Import with an N cap"
# a zip's entries carry a date; a fixed one makes the same fit give the same bytes
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


def _bpy_free(name: str) -> ModuleType:
    """One of the add-on's plain-Python modules (no bpy), loaded from its file."""
    spec = importlib.util.spec_from_file_location(f"imfit_gabor_{name}", ADDON / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def addon_zip() -> bytes:
    """imfit_gabor.zip: the package folder with its manifest (the layout both installers take:
    File > Install from Disk for extensions, Preferences > Add-ons > Install for legacy)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ADDON_FILES:
            info = zipfile.ZipInfo(f"imfit_gabor/{name}", ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, (ADDON / name).read_bytes())
    return buf.getvalue()


def fit_literal(gs: GaborSet, name: str) -> str:
    """The fit as a Python dict literal (repr'd name: any name is valid Python)."""
    rows = ",\n".join("        [" + ", ".join(f32_str(v) for v in row) + "]"
                      for row in gs.params)
    bias = ", ".join(f32_str(b) for b in gs.bias)
    return (f"{{\n    'name': {name!r},\n    'width': {gs.width}, 'height': {gs.height},\n"
            f"    'bias': [{bias}],\n    'params': [\n{rows}\n    ],\n}}")


def script_text(gs: GaborSet, name: str) -> str:
    modules = "{\n" + "".join(
        f"    {mod!r}: {(ADDON / f'{mod}.py').read_text(encoding='utf-8')!r},\n"
        for mod in ("__init__", "wavelets", "osl", "scene")) + "}"
    header = (f"# {len(gs)} wavelets of {ascii(name)}, fitted at {gs.width}x{gs.height}; "
              "columns x y theta sigma gamma wavelength phase_r phase_g phase_b amp_r amp_g "
              "amp_b\n# (plane: origin at the centre, y down, 1 unit = half the image height, "
              "radians)")
    return template("blender_script.py.in", header=header, fit=fit_literal(gs, name),
                    modules=modules)


def osl_text(gs: GaborSet, name: str) -> str:
    w = _bpy_free("wavelets").Wavelets(gs.params, gs.width, gs.height, gs.bias, name)
    return str(_bpy_free("osl").source(w))


def build(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs, notes = capped(gs, "blender", opts, DEFAULT_MAX, HARD_MAX, WHY, INSTEAD)
    ex = Export(notes=notes)
    ex.text(f"{stem}_blender.py", script_text(gs, stem))
    ex.files[ZIP_NAME] = addon_zip()
    ex.text(f"{stem}.osl", osl_text(gs, stem))
    return ex


TARGET = Target("blender", "Blender: standalone bpy script (Geometry Nodes or OSL, own scene) "
                f"and the imfit_gabor add-on zip (at most {HARD_MAX} wavelets, default "
                f"{DEFAULT_MAX})", ("{stem}_blender.py", ZIP_NAME, "{stem}.osl"), build)
