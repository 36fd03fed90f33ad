/*${json}*/
${header}
//
// ISF generator (VDMX, Resolume, MadMapper, Synesthesia...). The host declares the INPUTS as
// uniforms. GLSL ES 1.00-compatible: no arrays, every wavelet is one unrolled statement, which is
// why the count is capped (${cap_note}).

${gabor}

vec3 imfit_w(vec2 p, vec4 a, vec4 b, vec4 c, float ph) {
    return imfit_gabor(p, a, b + vec4(0.0, 0.0, ph, ph), c + vec4(ph, 0.0, 0.0, 0.0));
}

void main() {
    vec2 p = imfit_plane(isf_FragNormCoord * RENDERSIZE, RENDERSIZE, center, zoom);
    float ph = phase + drift * TIME;
    vec3 s = vec3(0.0);
${body}
    gl_FragColor = vec4(clamp(bias.rgb + gain * s, 0.0, 1.0), 1.0);
}
