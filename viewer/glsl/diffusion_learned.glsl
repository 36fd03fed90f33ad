// The learned-kernel ("Perona-Malik on drugs") substep and the gradient of its loss.
// Mirrors TorchDiffusion._learned_substep in imfit/diffusion.py:
//   G = K * I (3x3 taps, 3 in / 3 out; K[a*3+b] maps input RGB to output RGB at offset
//   (b-1, a-1)), phi = Gs exp(-(Gs/kappa)^2) with Gs = clamp(G, +-turn), turn = kappa/sqrt(2)
//   (monotone: no sharpening, rounding never grows), blended by `back` with the unclamped
//   G exp(-(G/kappa)^2); with `rim` > 0 the flow loses rim s (I - floor)+, s = q^2 / (q^2 + e4),
//   q = the RGB |grad I|^2 by central differences, floor = I0 - depth (I0 - I0^2) (pigment
//   rims along edges; q does not depend on K, so the gradient below is unchanged);
//   I' = clamp(I + dt flow, 0, 1).
// With GRADIENT defined the pass writes dL/dG instead of I' for the mean losses
//   wf (I' - I0)^2 + we sqrt(G^2 + eps^2) + wd I'^2 (wf, wd arrive pre-multiplied by 2/M).
#include "diffusion_common.glsl"
uniform sampler2D src;
uniform sampler2D orig;
uniform mat3 K[9];
uniform float dt;
uniform float inv_k2;
uniform float wf;
uniform float we;
uniform float wd;
uniform float eps2;
uniform float turn;
uniform float back;
uniform float rim;
uniform float e4;
uniform float depth;

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    vec3 g = vec3(0.0);
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++) {
            g += K[a * 3 + b] * fetch_clamped(src, p + ivec2(b - 1, a - 1));
        }
    }
    vec3 c = texelFetch(src, p, 0).rgb;
    vec3 ex = exp(g * g * -inv_k2);
    vec3 gs = clamp(g, -turn, turn);
    vec3 phi = gs * exp(gs * gs * -inv_k2);
    phi += back * (g * ex - phi);
    vec3 i0 = texelFetch(orig, p, 0).rgb;
    if (rim > 0.0) {
        vec3 gx = (fetch_clamped(src, p + ivec2(1, 0)) - fetch_clamped(src, p + ivec2(-1, 0)))
                  * 0.5;
        vec3 gy = (fetch_clamped(src, p + ivec2(0, 1)) - fetch_clamped(src, p + ivec2(0, -1)))
                  * 0.5;
        vec3 q3 = gx * gx + gy * gy;
        float q = (q3.r + q3.g) + q3.b;
        vec3 d = max(c - (i0 - depth * (i0 - i0 * i0)), 0.0);
        phi -= d * (rim * (1.0 - e4 * (1.0 / (q * q + e4))));
    }
    vec3 pre = c + dt * phi;
    vec3 next = clamp(pre, 0.0, 1.0);
#ifdef GRADIENT
    // the clamp passes the gradient straight through (as in the torch engine)
    vec3 dldi = wf * (next - i0) + wd * next;
    vec3 dphi = (1.0 - 2.0 * inv_k2 * g * g) * ex;
    dphi += (back - 1.0) * min(dphi, vec3(0.0));
    vec3 e = dldi * dt * dphi + we * g * inversesqrt(g * g + eps2);
    frag = vec4(e, 1.0);
#else
    frag = vec4(next, 1.0);
#endif
}
