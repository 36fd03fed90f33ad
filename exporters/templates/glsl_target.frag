#version 330 core
${header}
// Variant: ${variant}. ${how}
// View uniforms have defaults (GLSL >= 1.20 uniform initialisers); a host may set them.

${gabor}
${data}

uniform vec2 imfit_resolution = vec2(${width}.0, ${height}.0);  // output size in pixels
uniform vec2 imfit_center = vec2(0.0);  // view centre, plane units
uniform float imfit_zoom = 1.0;         // 2 shows half the height
uniform float imfit_gain = 1.0;         // scales every amplitude
uniform vec3 imfit_bias = ${bias};

out vec4 fragColor;

void main() {
    vec2 p = imfit_plane(gl_FragCoord.xy, imfit_resolution, imfit_center, imfit_zoom);
    vec3 s = vec3(0.0);
    int n = ${count};
    for (int i = 0; i < n; i++) {
        s += imfit_gabor(p, IMFIT_W(i, 0), IMFIT_W(i, 1), IMFIT_W(i, 2));
    }
    fragColor = vec4(clamp(imfit_bias + imfit_gain * s, 0.0, 1.0), 1.0);
}
