// imfit: the exact reference, every wavelet at every pixel (full-screen pass, no blending).
#include "gabor.glsl"
#include "wavelet_texture.glsl"

uniform sampler2D wavelets;
uniform int per_row;
uniform int count;
uniform vec2 res;
uniform vec2 center;
uniform float zoom;
out vec4 frag;

void main() {
    vec2 p = imfit_plane(gl_FragCoord.xy, res, center, zoom);
    vec3 sum = vec3(0.0);
    for (int i = 0; i < count; ++i) {
        vec4 w0, w1, w2;
        imfit_fetch(wavelets, i, per_row, w0, w1, w2);
        sum += imfit_gabor(p, w0, w1, w2);
    }
    frag = vec4(sum, 0.0);
}
