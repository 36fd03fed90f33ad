// The whole destination with the region's pixels taken from the solve (imfit.poisson.place):
// x and coef cover the crop whose top-left corner is `box` in the destination.
#include "diffusion_common.glsl"
uniform sampler2D dst;
uniform sampler2D x;
uniform sampler2D coef;
uniform ivec2 box;

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    ivec2 c = p - box;
    bool crop = all(greaterThanEqual(c, ivec2(0))) && all(lessThan(c, textureSize(x, 0)));
    frag = vec4(crop && texelFetch(coef, c, 0).r > 0.0 ? texelFetch(x, c, 0).rgb
                                                       : texelFetch(dst, p, 0).rgb, 1.0);
}
