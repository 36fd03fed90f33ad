// The way down of the V-cycle (imfit.multigrid.VCycle), one pass per level: the first Jacobi
// sweep from x = 0 (x = J b, J = jacobi / d), the residual b - A x and its sum over each 2x2
// block, fused. At a fine cell c in the region that residual is
//     (1 - jacobi) b_c + sum_q w_cq (jacobi / d_q) b_q
// (w_cq > 0 only when q is in the region too, so d_q > 0). The target is the coarse level.
#include "poisson_common.glsl"
uniform sampler2D b;   // the fine level's right-hand side
uniform float jacobi;

vec3 swept_residual(ivec2 c) {
    float d = coef_at(c).r;
    if (d == 0.0) return vec3(0.0);
    vec4 w = weights(c);
    vec3 r = (1.0 - jacobi) * texelFetch(b, c, 0).rgb;
    for (int k = 0; k < 4; k++) {
        ivec2 q = c + NEIGHBOURS[k];
        if (w[k] > 0.0) r += w[k] * jacobi / coef_at(q).r * texelFetch(b, q, 0).rgb;
    }
    return r;
}

void main() {
    ivec2 block = 2 * ivec2(gl_FragCoord.xy);
    ivec2 size = textureSize(coef, 0);
    vec3 s = vec3(0.0);
    for (int i = 0; i < 4; i++) {
        ivec2 c = block + ivec2(i & 1, i >> 1);
        if (c.x < size.x && c.y < size.y) s += swept_residual(c);
    }
    frag = vec4(s, 1.0);
}
