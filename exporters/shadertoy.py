"""`shadertoy`: one GLSL ES 3.00 `mainImage` file with the wavelets as a const array.

Controls: constants GAIN, PHASE, DRIFT, ZOOM, CENTER at the top (Shadertoy has no sliders),
and the mouse (iMouse): hold to magnify around the clicked point, drag to move it.

ES 3.00 allows array constructors and dynamic indexing, so the data is one `const vec4[3N]`
and a loop; compile time still grows with N (measured: docs/benchmarks.md), so the
count is capped, strongest first. The Gabor evaluation is `viewer/glsl/gabor.glsl`, pasted.
"""

from __future__ import annotations

from exporters.common import (
    Export,
    Options,
    Target,
    bias_vec3,
    capped,
    comment_block,
    conventions,
    template,
    vec4_rows,
)
from imfit.model.gaborset import GaborSet
from viewer.shaders import gabor_source

DEFAULT_MAX = 512
HARD_MAX = 1024
WHY = "a const array in the shader; compile time grows with it, browsers give up after ~10 s"
INSTEAD = "--to web, which reads the wavelets from a data texture"


def build(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs, notes = capped(gs, "shadertoy", opts, DEFAULT_MAX, HARD_MAX, WHY, INSTEAD)
    data = ",\n".join("    " + ", ".join(r) for r in vec4_rows(gs))
    text = template("shadertoy.glsl", header=comment_block(conventions(gs)).rstrip(),
                    cap_note=f"at most {HARD_MAX}: {WHY}", gabor=gabor_source().rstrip(),
                    bias=bias_vec3(gs), count=len(gs), count3=3 * len(gs), data=data)
    ex = Export(notes=notes)
    ex.text(f"{stem}.shadertoy.glsl", text)
    return ex


TARGET = Target("shadertoy", f"one GLSL ES 3.00 mainImage file (at most {HARD_MAX} wavelets, "
                f"default {DEFAULT_MAX})", ("{stem}.shadertoy.glsl",), build)
