${header}
//
// TouchDesigner GLSL TOP pixel shader (no #version: TD prepends its own declarations, vUV and
// uTDOutputInfo among them). The wavelets come from three texture-buffer arrays built from the
// Table DAT (see the build script): uW0 = (x, y, theta, sigma), uW1 = (gamma, wavelength,
// phase_r, phase_g), uW2 = (phase_b, amp_r, amp_g, amp_b), one sample per wavelet.
// Set the GLSL TOP's pixel format to 32-bit float RGBA: the sum is signed before the clamp.

${gabor}

uniform samplerBuffer uW0;
uniform samplerBuffer uW1;
uniform samplerBuffer uW2;

layout(location = 0) out vec4 fragColor;

const vec3 IMFIT_BIAS = ${bias};
const vec2 IMFIT_CENTER = vec2(0.0);  // view centre in plane units
const float IMFIT_ZOOM = 1.0;         // 2 shows half the height

void main() {
    vec2 res = uTDOutputInfo.res.zw;
    vec2 p = imfit_plane(vUV.st * res, res, IMFIT_CENTER, IMFIT_ZOOM);
    vec3 s = vec3(0.0);
    int n = textureSize(uW0);
    for (int i = 0; i < n; i++) {
        s += imfit_gabor(p, texelFetch(uW0, i), texelFetch(uW1, i), texelFetch(uW2, i));
    }
    fragColor = TDOutputSwizzle(vec4(clamp(IMFIT_BIAS + s, 0.0, 1.0), 1.0));
}
