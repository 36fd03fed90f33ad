${header}
//
// Shadertoy: paste this whole file into the Image tab (GLSL ES 3.00). ${count} wavelets as one
// const array (${cap_note}).
//
// Mouse: hold the button to magnify MOUSE_ZOOM times around the point you clicked; drag while
// holding to move the magnified picture; let go to come back (a one-pass shader keeps no state
// between drags). The constants below are the other controls: edit and recompile.

${gabor}

const float GAIN = 1.0;           // wavelet contrast around the bias
const float PHASE = 0.0;          // radians added to every wavelet's phase (2 pi = unchanged)
const float DRIFT = 0.0;          // radians per second: the phases turn with iTime
const float ZOOM = 1.0;           // > 1 magnifies
const vec2 CENTER = vec2(0.0);    // plane units (half image heights), y down
const float MOUSE_ZOOM = 3.0;     // extra magnification while the mouse button is held

const vec3 IMFIT_BIAS = ${bias};
const int IMFIT_N = ${count};
const vec4 IMFIT_W[${count3}] = vec4[${count3}](
${data}
);

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 center = CENTER;
    float zoom = ZOOM;
    if (iMouse.z > 0.0) {
        // Shadertoy: iMouse.xy = pointer while held, |iMouse.zw| = where the button went down.
        // The plane point under the click, magnified, stays under the pointer.
        vec2 grabbed = imfit_plane(abs(iMouse.zw), iResolution.xy, CENTER, ZOOM);
        zoom = ZOOM * MOUSE_ZOOM;
        center = grabbed - imfit_plane(iMouse.xy, iResolution.xy, vec2(0.0), zoom);
    }
    vec2 p = imfit_plane(fragCoord, iResolution.xy, center, zoom);
    float ph = PHASE + DRIFT * iTime;
    vec3 s = vec3(0.0);
    for (int i = 0; i < IMFIT_N; i++) {
        vec4 b = IMFIT_W[3 * i + 1] + vec4(0.0, 0.0, ph, ph);
        vec4 c = IMFIT_W[3 * i + 2] + vec4(ph, 0.0, 0.0, 0.0);
        s += imfit_gabor(p, IMFIT_W[3 * i], b, c);
    }
    fragColor = vec4(clamp(IMFIT_BIAS + GAIN * s, 0.0, 1.0), 1.0);
}
