// Shared by the diffusion passes: state textures hold the image rows top to bottom as uploaded
// (texel row 0 = image row 0, the same as gl_FragCoord row 0 of the target), RGBA32F.
out vec4 frag;

// Replicate the edge texel: neighbours across the border equal the border pixel, which gives
// zero-flux borders (the torch engine's one-pixel replicated halo does the same).
vec3 fetch_clamped(sampler2D tex, ivec2 p) {
    ivec2 size = textureSize(tex, 0);
    return texelFetch(tex, clamp(p, ivec2(0), size - 1), 0).rgb;
}
