// Show a state texture in a window or FBO: aspect kept (letterboxed), zoom and pan, clamped to
// 0..1. Texel row 0 is the image's top row, window row 0 is its bottom: flip y.
#include "diffusion_common.glsl"
uniform sampler2D state;
uniform vec2 res;     // target size in pixels
uniform vec2 pan;     // image-space offset of the view centre, in image heights
uniform float zoom;

void main() {
    vec2 size = vec2(textureSize(state, 0));
    float scale = min(res.x / size.x, res.y / size.y) * zoom;   // window px per image px
    vec2 d = (gl_FragCoord.xy - 0.5 * res) / scale;
    vec2 q = vec2(d.x, -d.y) + 0.5 * size + pan * size.y;
    if (any(lessThan(q, vec2(0.0))) || any(greaterThanEqual(q, size))) {
        frag = vec4(0.08, 0.08, 0.08, 1.0);
        return;
    }
    frag = vec4(clamp(texelFetch(state, ivec2(q), 0).rgb, 0.0, 1.0), 1.0);
}
