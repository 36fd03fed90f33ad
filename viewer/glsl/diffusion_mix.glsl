// state <- mix(state, other, t): re-injecting the original each period, and video warm starts.
#include "diffusion_common.glsl"
uniform sampler2D a;
uniform sampler2D b;
uniform float t;

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    frag = vec4(mix(texelFetch(a, p, 0).rgb, texelFetch(b, p, 0).rgb, t), 1.0);
}
