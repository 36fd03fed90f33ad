${header}
//
// Shadertoy: paste this whole file into the Image tab (GLSL ES 3.00). ${count} wavelets as one
// const array (${cap_note}). DRIFT advances every phase with iTime (radians per second).

${gabor}

const float DRIFT = 0.0;
const vec3 IMFIT_BIAS = ${bias};
const int IMFIT_N = ${count};
const vec4 IMFIT_W[${count3}] = vec4[${count3}](
${data}
);

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 p = imfit_plane(fragCoord, iResolution.xy, vec2(0.0), 1.0);
    float ph = DRIFT * iTime;
    vec3 s = vec3(0.0);
    for (int i = 0; i < IMFIT_N; i++) {
        vec4 b = IMFIT_W[3 * i + 1] + vec4(0.0, 0.0, ph, ph);
        vec4 c = IMFIT_W[3 * i + 2] + vec4(ph, 0.0, 0.0, 0.0);
        s += imfit_gabor(p, IMFIT_W[3 * i], b, c);
    }
    fragColor = vec4(clamp(IMFIT_BIAS + s, 0.0, 1.0), 1.0);
}
