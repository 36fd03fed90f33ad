// imfit: THE Gabor evaluation. Every GL path (viewer, headless render, shader exporters) includes
// this file; it mirrors imfit/renderer.py (render_dense and _chunk_eval) line by line, and tests
// hold the two within tolerance. Written in the common subset of GLSL 3.30 core, GLSL ES 1.00/3.00
// and Vulkan GLSL 4.60 so exporters can paste it as is.
//
// A wavelet is 12 floats in 3 vec4, columns in imfit.gaborset.COLUMNS order:
//   w0 = (x, y, theta, sigma)   w1 = (gamma, wavelength, phase_r, phase_g)
//   w2 = (phase_b, amp_r, amp_g, amp_b)
// Plane units: origin at the image centre, y DOWN, 1 unit = half the fitted image height,
// angles in radians. A pixel is clamp(bias + sum of imfit_gabor(...), 0, 1).

#ifndef IMFIT_RADIUS
// the window is cut where u^2/sigma^2 + v^2/gamma^2 > R^2 (exp(-R^2/2) = 4e-5 at 4.5), exactly
// like the torch renderer's DEFAULT_RADIUS, so both compute the same truncated sum
#define IMFIT_RADIUS 4.5
#endif
#define IMFIT_TWO_PI 6.283185307179586

vec3 imfit_gabor(vec2 p, vec4 w0, vec4 w1, vec4 w2) {
    vec2 d = p - w0.xy;
    float c = cos(w0.z);
    float s = sin(w0.z);
    float u = d.x * c + d.y * s;
    float v = d.y * c - d.x * s;
    float qu = u / w0.w;
    float qv = v / w1.x;
    float q = qu * qu + qv * qv;
    if (q > IMFIT_RADIUS * IMFIT_RADIUS) return vec3(0.0);
    float env = exp(-0.5 * q);
    float arg = (IMFIT_TWO_PI / w1.y) * u;
    return w2.yzw * env * cos(vec3(arg) + vec3(w1.z, w1.w, w2.x));
}

// GL window coordinates (origin bottom-left, pixel centres at .5) -> imfit plane (y down).
// zoom 1 and centre 0 show the fitted image exactly when res has the fitted aspect.
vec2 imfit_plane(vec2 frag_coord, vec2 res, vec2 center, float zoom) {
    float scale = 2.0 / (zoom * res.y);
    return center + vec2(frag_coord.x - 0.5 * res.x, 0.5 * res.y - frag_coord.y) * scale;
}
