"""`txt`: torch-imfit's weights file, written so that reading it back is bit-exact.

`imfit.formats.gabor_json.txt_text` prints every value with 17 significant digits (the float64
conversion reads back exactly), so for a square fit the set -> txt -> set trip gives the same
float32 numbers, and therefore txt -> set -> txt gives the same text. torch-imfit's
parametrisation has no bias and non-negative amplitudes, so the set is first put in canonical
form (amp >= 0, angles wrapped), which renders identically.
"""

from __future__ import annotations

from exporters.common import Export, Options, Target, capped, readme
from imfit.formats.gabor_json import txt_text
from imfit.model.gaborset import GaborSet


def build(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs, notes = capped(gs, "txt", opts, None, None, "", "")
    if any(abs(b - 0.5) > 1e-7 for b in gs.bias):
        notes.append("txt: torch-imfit has no bias; the fit's non-grey bias is not in the file")
    if gs.width != gs.height:
        notes.append("txt: torch-imfit's plane is stretched to a square; for this non-square fit "
                     "the wavelengths are approximated (the windows are exact)")
    ex = Export(notes=notes)
    ex.text(f"{stem}.txt", txt_text(gs))
    ex.text("README-txt.txt", readme(gs, "txt", {
        f"{stem}.txt": "torch-imfit weights: 12 comma-separated numbers per wavelet in its "
                       "parametrisation (u, v in -1..1 with pixel centres at the ends, theta in "
                       "turns, log wavelength, phases in turns, amplitudes on a -1..1 image)"},
        ["torch-imfit: load it as a weights file", f"imfit: imfit import {stem}.txt --size "
         f"{gs.width}x{gs.height} -o {stem}.gabor.json"]))
    return ex


TARGET = Target("txt", "torch-imfit weights .txt (17 digits: bit-exact round trip)",
                ("{stem}.txt", "README-txt.txt"), build)
