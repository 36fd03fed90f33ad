// imfit: one wavelet at this pixel; ONE,ONE blending sums the quads into an RGBA32F target.
#include "gabor.glsl"

uniform vec2 res;
uniform vec2 center;
uniform float zoom;

flat in vec4 v_w0;
flat in vec4 v_w1;
flat in vec4 v_w2;
out vec4 frag;

void main() {
    vec2 p = imfit_plane(gl_FragCoord.xy, res, center, zoom);
    frag = vec4(imfit_gabor(p, v_w0, v_w1, v_w2), 0.0);
}
