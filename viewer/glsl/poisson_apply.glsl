// A x on one level (imfit.multigrid.apply_level); with RESIDUAL, b - A x.
#include "poisson_common.glsl"
uniform sampler2D x;
uniform sampler2D b;

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    vec4 w = weights(p);
    vec3 ax = coef_at(p).r * texelFetch(x, p, 0).rgb;
    for (int k = 0; k < 4; k++) ax -= w[k] * fetch_clamped(x, p + NEIGHBOURS[k]);
#ifdef RESIDUAL
    ax = texelFetch(b, p, 0).rgb - ax;
#endif
    frag = vec4(ax, 1.0);
}
