// The way up of the V-cycle (imfit.multigrid.VCycle), one pass per level: x = J b (the first
// sweep, recomputed rather than stored) plus OVERCORRECT times the coarse correction of the
// cell's 2x2 block, then the second Jacobi sweep x += J (b - A x), fused. The target is the
// level's x; cells outside the region get 0.
#include "poisson_common.glsl"
uniform sampler2D b;       // the level's right-hand side
uniform sampler2D coarse;  // the coarser level's x
uniform float jacobi;
uniform float alpha;

vec3 corrected(ivec2 c) {
    return jacobi / coef_at(c).r * texelFetch(b, c, 0).rgb + alpha * texelFetch(coarse, c / 2, 0).rgb;
}

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    float d = coef_at(p).r;
    if (d == 0.0) {
        frag = vec4(0.0, 0.0, 0.0, 1.0);
        return;
    }
    vec4 w = weights(p);
    vec3 x = corrected(p);
    vec3 r = texelFetch(b, p, 0).rgb - d * x;
    for (int k = 0; k < 4; k++) {
        if (w[k] > 0.0) r += w[k] * corrected(p + NEIGHBOURS[k]);
    }
    frag = vec4(x + jacobi / d * r, 1.0);
}
