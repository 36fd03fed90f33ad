"""`blender`: a bpy importer script that builds a Cycles material rendering the wavelets with an
OSL Script node, plus the `.osl` source on its own.

OSL cannot include GLSL, so `templates/blender.osl` spells the Gabor evaluation out once more,
mirroring `viewer/glsl/gabor.glsl`; `make test-blender` renders it with the real `bpy` wheel and
compares with torch. The data is a fixed-size float array in the shader (OSL supports array
initialisers); compile time bounds it, so the count is capped, strongest first.
"""

from __future__ import annotations

from exporters.common import Export, Options, Target, capped, comment_block, conventions, template
from imfit.formats.gabor_json import f32_str
from imfit.model.gaborset import GaborSet

DEFAULT_MAX = 1024
HARD_MAX = 4096
WHY = "a float array inside the OSL shader; it is compiled when the node updates"
INSTEAD = "--to csv and a Geometry Nodes point cloud of your own"


def osl_text(gs: GaborSet) -> str:
    data = ",\n".join("        " + ", ".join(f32_str(v) for v in row) for row in gs.params)
    return template("blender.osl", header=comment_block(conventions(gs)).rstrip(),
                    count=len(gs), count12=12 * len(gs),
                    bias=", ".join(f32_str(b) for b in gs.bias), aspect=repr(gs.aspect),
                    data=data)


def build(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs, notes = capped(gs, "blender", opts, DEFAULT_MAX, HARD_MAX, WHY, INSTEAD)
    osl_name, script = f"{stem}.osl", f"{stem}_blender.py"
    osl = osl_text(gs)
    ex = Export(notes=notes)
    ex.text(osl_name, osl)
    ex.text(script, template("blender_import.py.in", count=len(gs), script=script, osl=osl_name,
                             width=gs.width, height=gs.height, osl_source=osl,
                             header="\n".join(conventions(gs))))
    return ex


TARGET = Target("blender", f"bpy importer: Cycles OSL material (at most {HARD_MAX} wavelets, "
                f"default {DEFAULT_MAX})", ("{stem}.osl", "{stem}_blender.py"), build)
