// out = y + a x per channel: the CG updates x += alpha p, r -= alpha A p and p = z + beta p.
#include "diffusion_common.glsl"
uniform sampler2D x;
uniform sampler2D y;
uniform vec3 a;

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    frag = vec4(texelFetch(y, p, 0).rgb + a * texelFetch(x, p, 0).rgb, 1.0);
}
