"""The shared GL base: the EGL context works, and a full-screen pass of the ONE gabor.glsl
matches the torch renderer (the simplest proof that both sides mean the same wavelet)."""

import numpy as np
import pytest
from tolerances import GL_LOOP_VS_TORCH

import imfit
from viewer.context import run_fullscreen
from viewer.shaders import gabor_source

pytestmark = pytest.mark.gl


def test_float_target_keeps_negative_values(gl_ctx):
    fs = "#version 330\nout vec4 f;\nvoid main() { f = vec4(-0.25, 2.0, 0.5, 1.0); }\n"
    out = run_fullscreen(gl_ctx, fs, 4, 3)
    assert out.shape == (3, 4, 4) and np.allclose(out[0, 0], [-0.25, 2.0, 0.5, 1.0])


def test_gabor_glsl_matches_torch_for_a_few_wavelets(gl_ctx, small_fit):
    gs = small_fit[0][:6]
    def vec4(row, k):
        return ", ".join(repr(float(v)) for v in row[4 * k:4 * k + 4])

    decl = "".join(f"const vec4 W{i}_{k} = vec4({vec4(row, k)});\n"
                   for i, row in enumerate(gs.params) for k in range(3))
    body = "".join(f"    s += imfit_gabor(p, W{i}_0, W{i}_1, W{i}_2);\n" for i in range(len(gs)))
    fs = ("#version 330\n" + gabor_source() + decl +
          "uniform vec2 res;\nout vec4 f;\nvoid main() {\n"
          "    vec2 p = imfit_plane(gl_FragCoord.xy, res, vec2(0.0), 1.0);\n"
          "    vec3 s = vec3(0.0);\n" + body +
          f"    f = vec4(clamp(s + vec3{tuple(gs.bias)}, 0.0, 1.0), 1.0);\n}}\n")
    out = run_fullscreen(gl_ctx, fs, 64, 64, {"res": (64.0, 64.0)})[..., :3]
    ref = imfit.render(gs, 64, 64)
    assert np.abs(out - ref).max() < GL_LOOP_VS_TORCH
