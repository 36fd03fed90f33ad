"""`touchdesigner`: a Table DAT `.tsv`, a GLSL TOP pixel shader reading texture buffers, and a
Textport script that builds the network.

The shader follows TD's conventions (no `#version`, `vUV`, `uTDOutputInfo`, `TDOutputSwizzle`,
`layout(location = 0) out vec4 fragColor`) and pastes `viewer/glsl/gabor.glsl` as is. Texture
buffers have no practical size limit (128 MiB here), so every wavelet is exported.
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
    readme,
    template,
)
from imfit.formats.gabor_json import f32_str
from imfit.model.gaborset import COLUMNS, GaborSet
from viewer.shaders import gabor_source

# the 12 columns in the three vec4 groups the shader reads (names are TD-legal channel names:
# letters, digits and underscores only)
GROUPS = tuple(tuple(COLUMNS[4 * k:4 * k + 4]) for k in range(3))


def tsv_text(gs: GaborSet) -> str:
    """Header row (DAT to CHOP takes it as channel names), one wavelet per row."""
    rows = ["\t".join(COLUMNS)] + ["\t".join(f32_str(v) for v in row) for row in gs.params]
    return "\n".join(rows) + "\n"


def output_size(aspect: float, longest: int = 1280) -> tuple[int, int]:
    """The GLSL TOP's resolution: the fit's aspect with the longer side 1280 (1280 x 720 for a
    16:9 fit), the most a non-commercial TouchDesigner renders; the fitted size (often 256 px)
    would look blurry on a stage output. Even sides, as video encoders want."""
    if aspect >= 1:
        return longest, max(2, 2 * round(longest / aspect / 2))
    return max(2, 2 * round(longest * aspect / 2)), longest


def build(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs, notes = capped(gs, "touchdesigner", opts, None, None, "", "")
    tsv, shader, script = f"{stem}.tsv", f"{stem}_pixel.glsl", f"{stem}_build.py"
    ex = Export(notes=notes)
    ex.text(tsv, tsv_text(gs))
    ex.text(shader, template("td_pixel.glsl", header=comment_block(conventions(gs)).rstrip(),
                             gabor=gabor_source().rstrip(), bias=bias_vec3(gs)))
    w, h = output_size(gs.aspect)
    ex.text(script, template("td_build.py.in", tsv=repr(tsv), shader=repr(shader), width=w,
                             height=h, groups=repr([list(g) for g in GROUPS])))
    ex.text("README-touchdesigner.txt", readme(gs, "touchdesigner", {
        tsv: "Table DAT: header row of channel names, one wavelet per row",
        shader: "GLSL TOP pixel shader (texture buffers uW0, uW1, uW2)",
        script: "Textport script that builds the network",
    }, [
        f"Put the files next to your .toe, open the Textport (Alt+T) and run: "
        f"exec(open(project.folder + '/' + {script!r}).read())",
        "By hand: Table DAT (file) -> DAT to CHOP (first row = names, channel per column) -> "
        "3 Select CHOPs (x y theta sigma | gamma wavelength phase_r phase_g | phase_b amp_r "
        "amp_g amp_b) -> GLSL TOP Arrays page: uW0..uW2, type vec4, array type Texture Buffer.",
        "GLSL TOP pixel format: 32-bit float (RGBA). Vectors page: uCenter (x, y), uZoom, "
        "uGain, uPhase (radians; drive it from a Speed CHOP for a smooth drift).",
    ]))
    return ex


TARGET = Target("touchdesigner", "TouchDesigner: Table DAT .tsv, GLSL TOP shader (texture "
                "buffers), Textport build script", ("{stem}.tsv", "{stem}_pixel.glsl",
                                                    "{stem}_build.py",
                                                    "README-touchdesigner.txt"), build)
