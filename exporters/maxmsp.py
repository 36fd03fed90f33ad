"""`max`: Max/MSP/Jitter. A `coll` text file, a `dict` JSON, a float32 `.jxf` matrix, and a
`jit.gl.slab` shader (`.jxs`, glcore GLSL 1.5) that reads the matrix as a texture.

Jitter has no array-typed shader parameter, so the wavelets travel as a 1-plane float32 matrix
of 12 x N (dim 0 = the 12 columns): one plane avoids any ARGB plane-order question, since the
shader only reads `.r`. The shader pastes `viewer/glsl/gabor.glsl` unchanged.
"""

from __future__ import annotations

import json

from exporters.common import Export, Options, Target, capped, conventions, readme, template
from imfit.formats.gabor_json import CONVENTIONS, f32_str
from imfit.formats.readers import jxf_bytes
from imfit.model.gaborset import COLUMNS, GaborSet
from viewer.shaders import gabor_source


def coll_text(gs: GaborSet) -> str:
    """`index, v1 ... v12;` per wavelet (shortest float32 decimals: coll reads them exactly
    when its float precision is raised; they read back bit-exactly into imfit), plus two
    symbol-keyed entries for the frame, which integer lookups never see."""
    lines = [f"{i}, {' '.join(f32_str(v) for v in row)};" for i, row in enumerate(gs.params)]
    lines.append(f"imfit_image, {gs.width} {gs.height};")
    lines.append(f"imfit_bias, {' '.join(f32_str(b) for b in gs.bias)};")
    return "\n".join(lines) + "\n"


def dict_text(gs: GaborSet) -> str:
    """Max dicts hold no arrays of arrays, so wavelets are keyed "0".."N-1"."""
    obj = {
        "format": "imfit.max.dict",
        "columns": list(COLUMNS),
        "conventions": CONVENTIONS,
        "width": gs.width,
        "height": gs.height,
        "bias": [float(f32_str(b)) for b in gs.bias],
        "count": len(gs),
        "wavelets": {str(i): [float(f32_str(v)) for v in row] for i, row in enumerate(gs.params)},
    }
    return json.dumps(obj, indent=1) + "\n"


def jxs_text(gs: GaborSet) -> str:
    header = "\t\t" + "\n\t\t".join(conventions(gs) + [
        "Load: [jit.gl.slab @file imfit.jxs @dim W H @type float32], send it the .jxf "
        "matrix ([jit.matrix @type float32 @planecount 1 @dim 12 N], read the .jxf)."])
    bias = " ".join(f32_str(b) for b in gs.bias)
    return template("max.jxs", header=header.replace("]]>", "]] >"), bias=bias,
                    gabor=gabor_source().rstrip())


def build(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs, notes = capped(gs, "max", opts, None, None, "", "")
    ex = Export(notes=notes)
    ex.text(f"{stem}.coll", coll_text(gs))
    ex.text(f"{stem}.dict.json", dict_text(gs))
    ex.files[f"{stem}.jxf"] = jxf_bytes(gs.params)
    ex.text(f"{stem}.jxs", jxs_text(gs))
    ex.text("README-max.txt", readme(gs, "max", {
        f"{stem}.coll": "coll text: `index, 12 values;` per wavelet (+ imfit_image, imfit_bias)",
        f"{stem}.dict.json": "dict JSON: wavelets keyed 0..N-1, columns, bias, size",
        f"{stem}.jxf": f"Jitter matrix: float32, 1 plane, dim 12 x {len(gs)} (dim 0 = columns)",
        f"{stem}.jxs": "jit.gl.slab shader (glcore, GLSL 1.5) drawing the wavelets",
    }, [
        f"[coll] -> send `read {stem}.coll`; `0` outputs wavelet 0's 12 values.",
        f"[dict] -> send `import {stem}.dict.json`.",
        f"[jit.matrix imfit 1 float32 12 {len(gs)}] -> send `read {stem}.jxf`.",
        f"[jit.gl.slab ctx @file {stem}.jxs @dim 1280 720 @type float32] -> bang the matrix "
        "into its inlet; set zoom/center/gain/bias with `param zoom 2.` etc.",
        "Max 8.1+ glcore engine (jit.world @gl3 or the default in Max 9).",
    ]))
    return ex


TARGET = Target("max", "Max/Jitter: coll, dict JSON, float32 .jxf matrix, jit.gl.slab .jxs",
                ("{stem}.coll", "{stem}.dict.json", "{stem}.jxf", "{stem}.jxs",
                 "README-max.txt"), build)
