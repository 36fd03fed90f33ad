// imfit: one instanced quad per wavelet, covering the axis-aligned box of its window ellipse
// u^2/sigma^2 + v^2/gamma^2 <= IMFIT_RADIUS^2 (the same cut imfit_gabor makes), plus one pixel
// so that no pixel centre inside the ellipse falls outside the quad.
#include "gabor.glsl"
#include "wavelet_texture.glsl"

uniform sampler2D wavelets;
uniform int per_row;
uniform vec2 res;      // target size in pixels
uniform vec2 center;   // plane point at the target centre
uniform float zoom;    // the target shows 2/zoom units vertically

in vec2 in_corner;     // (-1, -1) .. (1, 1)
flat out vec4 v_w0;
flat out vec4 v_w1;
flat out vec4 v_w2;

void main() {
    vec4 w0, w1, w2;
    imfit_fetch(wavelets, gl_InstanceID, per_row, w0, w1, w2);
    float c = cos(w0.z);
    float s = sin(w0.z);
    float scale = 2.0 / (zoom * res.y);  // plane units per pixel
    vec2 half_box = IMFIT_RADIUS * vec2(length(vec2(w0.w * c, w1.x * s)),
                                        length(vec2(w0.w * s, w1.x * c))) + vec2(scale);
    vec2 p = w0.xy + in_corner * half_box;
    // plane (y down) -> clip space (y up); inverse of imfit_plane
    vec2 pix = (p - center) / scale;
    gl_Position = vec4(2.0 * pix.x / res.x, -2.0 * pix.y / res.y, 0.0, 1.0);
    v_w0 = w0;
    v_w1 = w1;
    v_w2 = w2;
}
