// Sums for the kernel gradient dL/dK[o, i, a, b] = sum_p E_o(p) I_i(p + (b-1, a-1)).
// The target is an atlas of 27 tiles side by side, tile j = (a*3+b)*3 + i, RGB = o.
// ATLAS: each texel sums one BxB block of E * shifted I; otherwise each texel sums one BxB
// block of the previous level's tile (tiles of size tile_size). Repeated until tiles are 1x1.
// DOT (one tile): the first level of a per-channel dot product, blocks of data * src (the
// Poisson CG's inner products).
#include "diffusion_common.glsl"
uniform sampler2D data;      // ATLAS: E (dL/dG); DOT: one factor; else the previous level
uniform sampler2D src;       // ATLAS: the state I; DOT: the other factor
uniform int block;
uniform int tiles_x;         // output tile width
uniform ivec2 tile_size;     // input tile size (ATLAS: the image size)

void main() {
    ivec2 f = ivec2(gl_FragCoord.xy);
    int j = f.x / tiles_x;
    ivec2 base = ivec2(f.x - j * tiles_x, f.y) * block;
    vec3 s = vec3(0.0);
#ifdef ATLAS
    int tap = j / 3;
    int i = j - tap * 3;
    ivec2 off = ivec2(tap - (tap / 3) * 3 - 1, tap / 3 - 1);
#endif
    for (int y = 0; y < block; y++) {
        for (int x = 0; x < block; x++) {
            ivec2 q = base + ivec2(x, y);
            if (q.x >= tile_size.x || q.y >= tile_size.y) continue;
#if defined(ATLAS)
            s += texelFetch(data, q, 0).rgb * fetch_clamped(src, q + off)[i];
#elif defined(DOT)
            s += texelFetch(data, q, 0).rgb * texelFetch(src, q, 0).rgb;
#else
            s += texelFetch(data, ivec2(j * tile_size.x + q.x, q.y), 0).rgb;
#endif
        }
    }
    frag = vec4(s, 1.0);
}
