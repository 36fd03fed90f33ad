// imfit: wavelets stored in a float texture, 3 RGBA32F texels per wavelet (w0, w1, w2 of
// gabor.glsl), IMFIT_PER_ROW wavelets per texture row so any N fits (no uniform-count limit).
// Written by viewer/gl_render.py (wavelet_texture_data); read with texelFetch, no filtering.

void imfit_fetch(sampler2D wavelets, int i, int per_row, out vec4 w0, out vec4 w1, out vec4 w2) {
    ivec2 at = ivec2(3 * (i % per_row), i / per_row);
    w0 = texelFetch(wavelets, at, 0);
    w1 = texelFetch(wavelets, at + ivec2(1, 0), 0);
    w2 = texelFetch(wavelets, at + ivec2(2, 0), 0);
}
