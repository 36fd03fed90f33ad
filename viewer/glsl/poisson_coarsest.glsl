// The bottom of the V-cycle: x = A^-1 b on the coarsest level with the dense inverse of
// imfit.multigrid.coarsest_inverse (one row per cell, cells in row-major order).
#include "diffusion_common.glsl"
uniform sampler2D b;
uniform sampler2D inverse;  // R32F, texel (j, i) = inverse[i][j]

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    ivec2 size = textureSize(b, 0);
    int i = p.y * size.x + p.x;
    vec3 s = vec3(0.0);
    for (int j = 0; j < size.x * size.y; j++) {
        s += texelFetch(inverse, ivec2(j, i), 0).r * texelFetch(b, ivec2(j % size.x, j / size.x), 0).rgb;
    }
    frag = vec4(s, 1.0);
}
