// One level of the multigrid hierarchy of imfit/multigrid.py as a texture: coef = (d, wx, wy, 0)
// per cell, A x = d x - sum_q w_pq x_q, wx the coupling to the right neighbour and wy to the one
// below (0 on the last column/row and wherever either cell is outside the region). Cells outside
// the region have d = 0. Shared by the multigrid-preconditioned CG passes (poisson_*.glsl).
#include "diffusion_common.glsl"
uniform sampler2D coef;

const ivec2 NEIGHBOURS[4] = ivec2[4](ivec2(-1, 0), ivec2(1, 0), ivec2(0, -1), ivec2(0, 1));

vec4 coef_at(ivec2 p) {
    return texelFetch(coef, clamp(p, ivec2(0), textureSize(coef, 0) - 1), 0);
}

// w_pq for the four NEIGHBOURS of p; 0 across the texture's edges, where a clamped fetch would
// read p's own coupling
vec4 weights(ivec2 p) {
    vec4 k = coef_at(p);
    return vec4(p.x > 0 ? coef_at(p - ivec2(1, 0)).g : 0.0, k.g,
                p.y > 0 ? coef_at(p - ivec2(0, 1)).b : 0.0, k.b);
}
