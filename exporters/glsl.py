"""`glsl`: plain GLSL 3.30 fragment shaders for any GL host (openFrameworks, Processing, raylib,
moderngl, Godot's GL backend...), in three variants that trade size limits for set-up work:

- `uniforms`: `uniform vec4 imfit_wavelets[3*N]` with the data as initialiser (one file, no
  upload). GL 3.3 guarantees only 1024 fragment uniform components, so N <= 83 (5 vec4 go to the
  view uniforms); above that we refuse and name the next variant.
- `block`: a std140 uniform block filled from `<stem>.f32`; GL guarantees 16 KiB blocks, N <= 341.
- `texture` (default): a 3 x N RGBA32F data texture uploaded from `<stem>.f32`; any N.

All three paste `viewer/glsl/gabor.glsl` (the one Gabor evaluation) and only differ in how
`IMFIT_W(i, k)`, the k-th vec4 of wavelet i, is fetched.
"""

from __future__ import annotations

from exporters.common import (
    Export,
    Options,
    Target,
    bias_vec3,
    comment_block,
    conventions,
    nonempty,
    readme,
    template,
    vec4_rows,
)
from imfit.errors import ImfitError
from imfit.model.gaborset import GaborSet
from viewer.shaders import gabor_source

# GL 3.3 minimums: GL_MAX_FRAGMENT_UNIFORM_COMPONENTS 1024 (= 256 vec4), of which the view
# uniforms (resolution, center, zoom, gain, bias) take 5 vec4 slots in the worst packing;
# GL_MAX_UNIFORM_BLOCK_SIZE 16384 bytes = 1024 vec4.
UNIFORM_MAX = (1024 // 4 - 5) // 3
BLOCK_MAX = 16384 // 16 // 3
VARIANTS = ("texture", "block", "uniforms")


def f32_bytes(gs: GaborSet) -> bytes:
    """N x 12 little-endian float32, row = wavelet = (w0, w1, w2): both the std140 vec4 array
    and the 3 x N RGBA32F texture read this byte layout as is."""
    return gs.params.astype("<f4").tobytes()


def build(gs: GaborSet, stem: str, opts: Options) -> Export:
    gs = nonempty(gs)
    variant = opts.variant or "texture"
    if variant not in VARIANTS:
        raise ImfitError(f"glsl has no variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    notes = []
    if opts.max_n is not None:
        if opts.max_n < 1:
            raise ImfitError(f"--max must be at least 1, got {opts.max_n}")
        if len(gs) > opts.max_n:
            gs = gs[sorted(gs.order_by_energy()[:opts.max_n])]
            notes.append(f"glsl: kept the {opts.max_n} strongest wavelets (--max)")
    n = len(gs)
    if variant == "uniforms" and n > UNIFORM_MAX:
        raise ImfitError(f"{n} wavelets need {12 * n} uniform components; GL 3.3 guarantees 1024 "
                         f"({UNIFORM_MAX} wavelets): use --variant block (up to {BLOCK_MAX}), "
                         f"--variant texture (any N) or --max {UNIFORM_MAX}")
    if variant == "block" and n > BLOCK_MAX:
        raise ImfitError(f"{n} wavelets need {48 * n} bytes of uniform block; GL guarantees 16384 "
                         f"({BLOCK_MAX} wavelets): use --variant texture (any N) or --max "
                         f"{BLOCK_MAX}")
    frag = f"{stem}.{variant}.frag"
    if variant == "uniforms":
        rows = ",\n".join("    " + ", ".join(r) for r in vec4_rows(gs))
        data = (f"uniform vec4 imfit_wavelets[{3 * n}] = vec4[{3 * n}](\n{rows}\n);\n"
                "#define IMFIT_W(i, k) imfit_wavelets[3 * (i) + (k)]")
        how = "Self-contained: the wavelets are the uniform array's initial value."
        count = str(n)
    elif variant == "block":
        data = (f"layout(std140) uniform ImfitWavelets {{\n    vec4 imfit_wavelets[{3 * n}];\n}};\n"
                "#define IMFIT_W(i, k) imfit_wavelets[3 * (i) + (k)]")
        how = (f"Upload {stem}.f32 ({48 * n} bytes) into a uniform buffer bound to block "
               "ImfitWavelets.")
        count = str(n)
    else:
        data = ("uniform sampler2D imfit_data;  // 3 x N RGBA32F, texel (k, i) = vec4 k of "
                "wavelet i\n#define IMFIT_W(i, k) texelFetch(imfit_data, ivec2(k, i), 0)")
        how = (f"Upload {stem}.f32 as a 3 x {n} RGBA32F texture (GL_RGBA32F, GL_RGBA, GL_FLOAT; "
               "no filtering needed: texelFetch) and bind it to imfit_data.")
        count = "textureSize(imfit_data, 0).y"
    text = template("glsl_target.frag", header=comment_block(conventions(gs)).rstrip(),
                    variant=variant, how=how, gabor=gabor_source().rstrip(), data=data,
                    width=gs.width, height=gs.height, bias=bias_vec3(gs), count=count)
    ex = Export(notes=notes)
    ex.text(frag, text)
    files = {frag: f"GLSL 3.30 fragment shader ({variant} variant)"}
    if variant != "uniforms":
        ex.files[f"{stem}.f32"] = f32_bytes(gs)
        files[f"{stem}.f32"] = (f"{n} x 12 little-endian float32, one wavelet per 48-byte row")
    ex.text("README-glsl.txt", readme(gs, "glsl", files, [
        "Draw a full-screen quad with any vertex shader; use this as the fragment shader.",
        how,
        "Python: data = numpy.fromfile('" + stem + ".f32', '<f4').reshape(-1, 12)",
        "Set imfit_resolution to the output size (defaults to the fitted size).",
    ]))
    return ex


TARGET = Target("glsl", "GLSL 3.30 fragment shader: data texture (any N), uniform block or "
                "uniform array (--variant)", ("{stem}.<variant>.frag", "{stem}.f32",
                                              "README-glsl.txt"), build, VARIANTS)
