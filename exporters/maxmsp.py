"""`max`: Max/MSP/Jitter. A `coll` text file, a `dict` JSON, a float32 `.jxf` matrix, and a
`jit.gl.slab` shader (`.jxs`, glcore GLSL 1.5) that reads the matrix as a texture, and a
`.maxpat` patch that wires them into a jit.world with number boxes for the view.

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


# What Max gives each object class used below: (inlets, outlets, outlet types). The patch test
# checks every patchline against these, as Max would refuse a cord to a port that is not there.
PORTS: dict[str, tuple[int, int, list[str]]] = {
    "loadbang": (1, 1, ["bang"]),
    "t b b b": (1, 3, ["bang", "bang", "bang"]),
    "jit.world": (1, 3, ["bang", "", ""]),
    "jit.matrix": (1, 2, ["jit_matrix", ""]),
    "jit.gl.slab": (1, 2, ["jit_gl_texture", ""]),
    "jit.gl.videoplane": (1, 2, ["jit_matrix", ""]),
    "coll": (1, 4, ["", "", "", "bang"]),
    "pak": (2, 1, [""]),
    "prepend": (1, 1, [""]),
    "message": (2, 1, [""]),
    "flonum": (1, 2, ["", "bang"]),
    "comment": (1, 0, []),
}
SLAB_DIM = (1280, 720)  # the slab renders at a stage size, not at its input matrix's 12 x N


def patch_text(gs: GaborSet, stem: str) -> str:
    """A `.maxpat` (Max's JSON patcher) that loads the matrix and the coll on open and draws
    the slab in a jit.world, with number boxes for zoom, centre, gain and phase."""
    n = len(gs)
    world, ctx = "jit.world imfit @enable 1 @fsaa 1 @size 1280 720", "imfit"
    objects = [  # (key, maxclass, text, (x, y), width)
        ("note", "comment", f"imfit: {n} wavelets. Max 9 draws with the glcore engine by "
         "default; in Max 8.1+ choose glcore in Options > Preferences > Jitter.", (15, 10), 560),
        ("load", "newobj", "loadbang", (15, 50), 60),
        ("tbb", "newobj", "t b b b", (15, 80), 60),
        ("readm", "message", f"read {_max_symbol(stem + '.jxf')}", (15, 110), 150),
        ("readc", "message", f"read {_max_symbol(stem + '.coll')}", (200, 110), 150),
        ("coll", "newobj", "coll imfit_wavelets", (200, 140), 130),
        ("world", "newobj", world, (15, 160), 330),
        ("matrix", "newobj", f"jit.matrix imfit_wavelets 1 float32 12 {n}", (15, 190), 260),
        ("slab", "newobj", f"jit.gl.slab {ctx} @file {_max_symbol(stem + '.jxs')} @adapt 0 "
         f"@dim {SLAB_DIM[0]} {SLAB_DIM[1]} @type float32", (15, 345), 420),
        ("plane", "newobj", f"jit.gl.videoplane {ctx} @transform_reset 2", (15, 380), 220),
    ]
    controls = [("zoom", 1.0), ("gain", 1.0), ("phase", 0.0)]
    x = 15
    for name, value in controls:
        objects += [(f"{name}_init", "message", f"{value:.1f}", (x, 230), 40),
                    (f"{name}_label", "comment", name, (x, 255), 60),
                    (f"{name}_num", "flonum", "", (x, 278), 60),
                    (f"{name}_msg", "message", f"param {name} $1", (x, 305), 100)]
        x += 110
    objects += [("center_label", "comment", "center x y", (x, 255), 80),
                ("cx_num", "flonum", "", (x, 278), 50), ("cy_num", "flonum", "", (x + 55, 278), 50),
                ("center_pak", "newobj", "pak 0. 0.", (x, 305), 60),
                ("center_pre", "newobj", "prepend param center", (x + 70, 305), 130)]
    ids = {key: f"obj-{i + 1}" for i, (key, *_rest) in enumerate(objects)}
    boxes = []
    for key, cls, text, (bx, by), width in objects:
        port = PORTS[cls if cls != "newobj" else ("t b b b" if text == "t b b b"
                                                  else text.split()[0])]
        box: dict[str, object] = {"id": ids[key], "maxclass": cls, "numinlets": port[0],
                                  "numoutlets": port[1], "outlettype": port[2],
                                  "patching_rect": [float(bx), float(by), float(width), 22.0]}
        if cls != "flonum":
            box["text"] = text
        if cls == "flonum":
            box["format"] = 6
            box["parameter_enable"] = 0
        boxes.append({"box": box})
    cords = [("load", 0, "tbb", 0), ("tbb", 0, "readc", 0), ("tbb", 1, "readm", 0),
             ("readm", 0, "matrix", 0), ("readc", 0, "coll", 0),
             ("world", 0, "matrix", 0), ("matrix", 0, "slab", 0), ("slab", 0, "plane", 0),
             ("cx_num", 0, "center_pak", 0), ("cy_num", 0, "center_pak", 1),
             ("center_pak", 0, "center_pre", 0), ("center_pre", 0, "slab", 0)]
    for name, _ in controls:  # on open: each box shows (and sends) the shader's default
        cords += [("tbb", 2, f"{name}_init", 0), (f"{name}_init", 0, f"{name}_num", 0),
                  (f"{name}_num", 0, f"{name}_msg", 0), (f"{name}_msg", 0, "slab", 0)]
    lines = [{"patchline": {"source": [ids[a], i], "destination": [ids[b], j]}}
             for a, i, b, j in cords]
    patcher = {"patcher": {
        "fileversion": 1,
        "appversion": {"major": 8, "minor": 6, "revision": 0, "architecture": "x64",
                       "modernui": 1},
        "classnamespace": "box",
        "rect": [100.0, 100.0, 720.0, 440.0],
        "gridsize": [15.0, 15.0],
        "boxes": boxes,
        "lines": lines,
    }}
    return json.dumps(patcher, indent=1) + "\n"


def _max_symbol(name: str) -> str:
    """A file name as one Max symbol: quoted when it holds spaces or quotes."""
    if any(c in name for c in " ;,\"'"):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name


def build(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs, notes = capped(gs, "max", opts, None, None, "", "")
    ex = Export(notes=notes)
    ex.text(f"{stem}.coll", coll_text(gs))
    ex.text(f"{stem}.dict.json", dict_text(gs))
    ex.files[f"{stem}.jxf"] = jxf_bytes(gs.params)
    ex.text(f"{stem}.jxs", jxs_text(gs))
    ex.text(f"{stem}.maxpat", patch_text(gs, stem))
    ex.text("README-max.txt", readme(gs, "max", {
        f"{stem}.coll": "coll text: `index, 12 values;` per wavelet (+ imfit_image, imfit_bias)",
        f"{stem}.dict.json": "dict JSON: wavelets keyed 0..N-1, columns, bias, size",
        f"{stem}.jxf": f"Jitter matrix: float32, 1 plane, dim 12 x {len(gs)} (dim 0 = columns)",
        f"{stem}.jxs": "jit.gl.slab shader (glcore, GLSL 1.5) drawing the wavelets",
        f"{stem}.maxpat": "a patch that loads all of the above and draws it in a jit.world, "
                          "with number boxes for zoom, centre, gain and phase",
    }, [
        f"Open {stem}.maxpat (keep the files together): it loads the matrix and the coll and "
        "draws at 1280 x 720.",
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
                 "{stem}.maxpat", "README-max.txt"), build)
