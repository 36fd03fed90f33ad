// One red-black SOR half-sweep of the Pérez system (imfit/poisson.py), the GPU path of `blend`:
// for p in Omega of the given colour, f_p <- mix(f_p, (sum_{q in N_p} f_q + guide_p) / |N_p|, w)
// with f holding the destination outside Omega (the Dirichlet ring) and N_p the neighbours that
// lie inside the image. info.rgb = the summed guidance v_pq, info.a = |N_p| inside Omega, else 0.
#include "diffusion_common.glsl"
uniform sampler2D f;
uniform sampler2D info;
uniform int parity;
uniform float omega;

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    vec3 v = texelFetch(f, p, 0).rgb;
    vec4 inf = texelFetch(info, p, 0);
    if (inf.a == 0.0 || ((p.x + p.y) & 1) != parity) {
        frag = vec4(v, 1.0);
        return;
    }
    ivec2 size = textureSize(f, 0);
    vec3 s = inf.rgb;
    if (p.x > 0) s += texelFetch(f, p - ivec2(1, 0), 0).rgb;
    if (p.x < size.x - 1) s += texelFetch(f, p + ivec2(1, 0), 0).rgb;
    if (p.y > 0) s += texelFetch(f, p - ivec2(0, 1), 0).rgb;
    if (p.y < size.y - 1) s += texelFetch(f, p + ivec2(0, 1), 0).rgb;
    frag = vec4(mix(v, s / inf.a, omega), 1.0);
}
