// imfit: the unclamped float sum -> the picture: add the bias, clamp to 0..1 (like the torch
// renderer). Reads the accumulation target texel for texel, so it must run at the same size.
uniform sampler2D accum;
uniform vec3 bias;
out vec4 frag;

void main() {
    vec3 sum = texelFetch(accum, ivec2(gl_FragCoord.xy), 0).rgb;
    frag = vec4(clamp(sum + bias, 0.0, 1.0), 1.0);
}
