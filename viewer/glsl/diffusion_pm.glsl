// One explicit Perona-Malik substep, per channel, 4 neighbours, flux form.
// Mirrors TorchDiffusion._pm_substep in imfit/diffusion.py line for line:
// flux(d) = g(d) d with g = exp(-(d/kappa)^2) or 1/(1+(d/kappa)^2);
// I' = I + dt (flux(down - c) - flux(c - up) + flux(right - c) - flux(c - left) + beta (I0 - c)).
#include "diffusion_common.glsl"
uniform sampler2D src;
uniform sampler2D orig;
uniform float dt;
uniform float inv_k2;   // 1 / kappa^2
uniform float beta;     // fidelity
uniform int rational;

vec3 flux(vec3 d) {
    vec3 t = d * d;
    vec3 g = rational == 1 ? 1.0 / (t * inv_k2 + 1.0) : exp(t * -inv_k2);
    return g * d;
}

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    vec3 c = fetch_clamped(src, p);
    vec3 acc = flux(fetch_clamped(src, p + ivec2(0, 1)) - c)
             - flux(c - fetch_clamped(src, p - ivec2(0, 1)));
    acc += flux(fetch_clamped(src, p + ivec2(1, 0)) - c)
         - flux(c - fetch_clamped(src, p - ivec2(1, 0)));
    if (beta > 0.0) {
        acc += beta * (texelFetch(orig, p, 0).rgb - c);
    }
    frag = vec4(c + dt * acc, 1.0);
}
