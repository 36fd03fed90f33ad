"""The OSL shader for the OSL material path: every wavelet in one Script node (Cycles on CPU or
OptiX with Shading System = OSL; EEVEE ignores Script nodes, which is why NODES is the default).

bpy-free (plain Python + numpy) so `imfit export --to blender` writes the same text as
`STEM.osl` that the add-on compiles inside Blender. OSL cannot include GLSL, so the Gabor
evaluation is written out once more; it mirrors viewer/glsl/gabor.glsl and
imfit/renderers/gabor.py line by line (the u/v rotation, the window cut at 4.5 standard
deviations, the cosine) and the real-bpy tests render it against torch.
"""

import numpy as np

RADIUS = 4.5  # imfit.renderers.gabor.DEFAULT_RADIUS / IMFIT_RADIUS in gabor.glsl

_SOURCE = """// imfit: NAME_LINE
// Gabor wavelets as an OSL shader for Cycles (CPU or OptiX; Shading System = OSL).
// Plane: origin at the image centre, x right, y DOWN, 1 unit = half the image height.
// Pixel = clamp(Bias + Gain * sum, 0, 1); Phase (radians) is added to every phase.

#define IMFIT_N @COUNT@

shader imfit_gabor(
    point Coord = point(0.5, 0.5, 0.0) [[ string help = "UV: (0,0) bottom-left, (1,1) top-right" ]],
    float Zoom = 1.0 [[ string help = "2 shows half the height" ]],
    float CenterX = 0.0,
    float CenterY = 0.0,
    float Gain = 1.0 [[ string help = "scales every amplitude" ]],
    float Phase = 0.0 [[ string help = "added to every phase, radians (animate it)" ]],
    color Bias = color(@BIAS@),
    output color Color = color(0.0))
{
    float W[@COUNT12@] = {
@DATA@
    };
    float aspect = @ASPECT@;
    // UV (y up) -> imfit plane (origin centre, y down, 1 unit = half the height)
    float px = CenterX + (Coord[0] - 0.5) * 2.0 * aspect / Zoom;
    float py = CenterY + (0.5 - Coord[1]) * 2.0 / Zoom;
    color s = color(0.0);
    for (int i = 0; i < IMFIT_N; i++) {
        int o = 12 * i;
        float dx = px - W[o + 0];
        float dy = py - W[o + 1];
        float c = cos(W[o + 2]);
        float sn = sin(W[o + 2]);
        float u = dx * c + dy * sn;
        float v = dy * c - dx * sn;
        float qu = u / W[o + 3];
        float qv = v / W[o + 4];
        float q = qu * qu + qv * qv;
        if (q <= @R2@) {
            float env = exp(-0.5 * q);
            float arg = (M_2PI / W[o + 5]) * u;
            s += color(W[o + 9] * cos(arg + W[o + 6] + Phase),
                       W[o + 10] * cos(arg + W[o + 7] + Phase),
                       W[o + 11] * cos(arg + W[o + 8] + Phase)) * env;
        }
    }
    Color = clamp(Bias + Gain * s, color(0.0), color(1.0));
}
"""


def number(v):
    """An OSL float literal that reads back to the same float32 (9 significant digits)."""
    s = f"{float(np.float32(v)):.9g}"
    return s if any(ch in s for ch in ".en") else s + ".0"


def source(w):
    """OSL text for wavelets `w` (wavelets.Wavelets): the data is a float array in the shader,
    compiled when the Script node updates (which is what bounds the count)."""
    data = ",\n".join("        " + ", ".join(number(v) for v in row) for row in w.params)
    name = " ".join(str(w.name).split())  # one comment line whatever the name holds
    values = {"@COUNT@": str(len(w)), "@COUNT12@": str(12 * len(w)), "@DATA@": data,
              "@BIAS@": ", ".join(number(b) for b in w.bias),
              "@ASPECT@": number(w.width / w.height), "@R2@": number(RADIUS * RADIUS)}
    text = _SOURCE.replace("NAME_LINE", f"{len(w)} wavelets of {name} "
                                                     f"({w.width}x{w.height})")
    for key, value in values.items():
        text = text.replace(key, value)
    return text
