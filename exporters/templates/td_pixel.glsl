${header}
//
// TouchDesigner GLSL TOP pixel shader (no #version: TD prepends its own declarations, vUV and
// uTDOutputInfo among them). The wavelets come from three texture-buffer arrays built from the
// Table DAT (see the build script): uW0 = (x, y, theta, sigma), uW1 = (gamma, wavelength,
// phase_r, phase_g), uW2 = (phase_b, amp_r, amp_g, amp_b), one sample per wavelet.
// Set the GLSL TOP's pixel format to 32-bit float RGBA: the sum is signed before the clamp.
// The view and the look are uniforms on the GLSL TOP's Vectors page (the build script declares
// them), so a CHOP can drive them: uCenter (plane units), uZoom (2 shows half the height),
// uGain (amplitude factor), uPhase (radians added to every wavelet's phase: drive it from a
// Speed CHOP for a drift that never jumps when its rate changes).

${gabor}

uniform samplerBuffer uW0;
uniform samplerBuffer uW1;
uniform samplerBuffer uW2;

layout(location = 0) out vec4 fragColor;

uniform vec2 uCenter;
uniform float uZoom;
uniform float uGain;
uniform float uPhase;

const vec3 IMFIT_BIAS = ${bias};

void main() {
    vec2 res = uTDOutputInfo.res.zw;
    vec2 p = imfit_plane(vUV.st * res, res, uCenter, uZoom);
    vec4 ph1 = vec4(0.0, 0.0, uPhase, uPhase);
    vec4 ph2 = vec4(uPhase, 0.0, 0.0, 0.0);
    vec3 s = vec3(0.0);
    int n = textureSize(uW0);
    for (int i = 0; i < n; i++) {
        s += imfit_gabor(p, texelFetch(uW0, i), texelFetch(uW1, i) + ph1,
                         texelFetch(uW2, i) + ph2);
    }
    fragColor = TDOutputSwizzle(vec4(clamp(IMFIT_BIAS + uGain * s, 0.0, 1.0), 1.0));
}
