"""`isf`: an ISF 2 generator `.fs` with real INPUTS (gain, bias colour, phase, phase drift with
TIME, zoom, centre) so VJ hosts show sliders.

`phase` is the one to animate (an LFO or a ramp over 0..2 pi loops seamlessly): a host changes
it smoothly. `drift` turns every phase at a fixed speed with TIME, for hosts without LFOs; the
picture is at drift x TIME, so moving the drift slider while it runs jumps the picture (an ISF
generator keeps no state from frame to frame to accumulate into).

Portable ISF must also compile as GLSL ES 1.00, which has no array constructors, so each
wavelet is one unrolled statement calling the shared `imfit_gabor` (pasted from
`viewer/glsl/gabor.glsl`). Compile time grows with that code size, so the count is capped,
strongest first (see DEFAULT_MAX / HARD_MAX and docs/benchmarks.md for the measured times).
"""

from __future__ import annotations

import json

from exporters.common import (
    Export,
    Options,
    Target,
    capped,
    comment_block,
    conventions,
    readme,
    template,
    vec4_rows,
)
from imfit.model.gaborset import GaborSet
from viewer.shaders import gabor_source

TWO_PI = 6.283185307179586
DEFAULT_MAX = 256
HARD_MAX = 1024
WHY = "each wavelet is unrolled code, and compile time grows with N: see docs/benchmarks.md"
INSTEAD = "--to touchdesigner / web / glsl, which read the wavelets from data textures"


def header_json(gs: GaborSet, n_total: int) -> dict:
    bias = [round(float(b), 6) for b in gs.bias]
    a = gs.aspect
    return {
        "ISFVSN": "2",
        "DESCRIPTION": f"imfit: {len(gs)} Gabor wavelets (strongest of {n_total}) fitted on a "
                       f"{gs.width}x{gs.height} image",
        "CREDIT": "imfit",
        "CATEGORIES": ["Generator"],
        "INPUTS": [
            {"NAME": "gain", "LABEL": "Gain", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0,
             "MAX": 4.0},
            {"NAME": "bias", "LABEL": "Bias", "TYPE": "color", "DEFAULT": bias + [1.0]},
            {"NAME": "phase", "LABEL": "Phase (rad)", "TYPE": "float", "DEFAULT": 0.0,
             "MIN": 0.0, "MAX": round(TWO_PI, 6)},
            {"NAME": "drift", "LABEL": "Phase drift (rad/s, jumps when changed)",
             "TYPE": "float", "DEFAULT": 0.0, "MIN": -6.0, "MAX": 6.0},
            {"NAME": "zoom", "LABEL": "Zoom", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.1,
             "MAX": 10.0},
            {"NAME": "center", "LABEL": "Centre (plane units)", "TYPE": "point2D",
             "DEFAULT": [0.0, 0.0], "MIN": [-2.0 * a, -2.0], "MAX": [2.0 * a, 2.0]},
        ],
    }


def build(gs: GaborSet, stem: str, opts: Options) -> Export:
    total = len(gs)
    gs, notes = capped(gs, "isf", opts, DEFAULT_MAX, HARD_MAX, WHY, INSTEAD)
    body = "\n".join(f"    s += imfit_w(p, {a}, {b}, {c}, ph);" for a, b, c in vec4_rows(gs))
    head = json.dumps(header_json(gs, total), indent=2)
    text = template("isf.fs", json=head, header=comment_block(conventions(gs)).rstrip(),
                    cap_note=f"{len(gs)} here; {WHY}", gabor=gabor_source().rstrip(), body=body)
    ex = Export(notes=notes)
    ex.text(f"{stem}.fs", text)
    ex.text("README-isf.txt", readme(gs, "isf", {
        f"{stem}.fs": f"ISF 2 generator, {len(gs)} wavelets, inputs gain, bias, phase, drift, "
                      "zoom, center"}, [
        "VDMX: copy into ~/Library/Application Support/ISF (or /ISF); Resolume: the Extra "
        "Effects / ISF folder set in Preferences > Video; MadMapper: drag into Materials.",
        "Bias is the grey level the wavelets add to. Animate `phase` (radians added to every "
        "wavelet's phase; a ramp or LFO over 0..2 pi loops seamlessly). `drift` turns the "
        "phases at a fixed speed with TIME instead: the picture sits at drift x TIME, so "
        "changing drift while it runs jumps it; leave drift at 0 when you drive phase.",
    ]))
    return ex


TARGET = Target("isf", f"ISF 2 generator .fs (VDMX/Resolume/MadMapper), at most {HARD_MAX} "
                f"wavelets (default {DEFAULT_MAX}, strongest first)",
                ("{stem}.fs", "README-isf.txt"), build)
