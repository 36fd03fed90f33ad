/* imfit fused CPU Perona-Malik substep.
 *
 * This is the fast twin of imfit/diffusion.py's TorchDiffusion._pm_substep (the pure-torch
 * reference the tests compare it with). Same scheme: per channel, 4 neighbours, flux form
 *     I' = I + dt * (sum over the 4 edges of g(d) d) + dt * fidelity * (I0 - I),
 * g(d) = exp(-(d/kappa)^2) or 1 / (1 + (d/kappa)^2). But each edge's flux is computed once and
 * shared by its two pixels, row by row, in one pass over memory with no image-sized temporaries
 * (the torch twin issues ~12 ops per band, each a pass over the band).
 *
 * Buffers are C x (H+2) x (W+2) float32, row-major, padded by one replicated pixel (zero-flux
 * borders: the difference across the border is 0). Only the interior of dst is written; the
 * caller refreshes dst's padding afterwards, as it does for the torch twin.
 */
#include <stdlib.h>

/* exp(x) for x <= 0, written out so that the compiler vectorises it (libm's expf is a call per
 * value unless libmvec is there). Cephes' range reduction x = n ln2 + r, |r| <= ln2/2, with ln2
 * split so n ln2 is exact (hence no -ffast-math: reassociation would merge the two parts), and
 * its degree-7 polynomial: within 8.5e-8 relative of exp in float64 for every float32 in
 * [-87, 0] (checked exhaustively once; tests/test_diffusion_ckernel.py samples it). Below -87
 * the result is clamped at exp(-87) = 1.6e-38 (2^n must stay a normal float); the flux there is
 * ~1e-38 * d, zero for any image. */
static inline float exp_neg(float x) {
    x = x < -87.0f ? -87.0f : x;
    /* t <= 0, so truncation of t - 0.5 rounds x log2(e) to nearest; it vectorises on SSE2,
     * unlike rintf */
    int n = (int)(x * 1.44269504088896341f - 0.5f);
    float fn = (float)n;
    float r = (x - fn * 0.693359375f) + fn * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        int i;
        float f;
    } scale;
    scale.i = (n + 127) << 23;
    return p * scale.f;
}

/* out[j] = g(d) d with d = hi[j] - lo[j]: the flux across n edges. One function for the
 * vertical and horizontal edges, and for a row range's first edge row, so every edge is
 * computed by the same instructions whatever the split into row ranges (threads). */
__attribute__((noinline)) static void flux(const float *restrict lo, const float *restrict hi,
                                           float *restrict out, int n, float inv_k2,
                                           int rational) {
    if (rational) {
#pragma omp simd
        for (int j = 0; j < n; j++) {
            float d = hi[j] - lo[j];
            out[j] = d / (1.0f + d * d * inv_k2);
        }
    } else {
#pragma omp simd
        for (int j = 0; j < n; j++) {
            float d = hi[j] - lo[j];
            out[j] = exp_neg(d * d * -inv_k2) * d;
        }
    }
}

/* Interior rows [r0, r1) of every channel, src -> dst. Rows of different calls are independent
 * (each reads src only), so callers may run disjoint row ranges in parallel threads.
 * Returns 0, or -1 when the three row buffers cannot be allocated. */
int imfit_pm_rows(const float *src, float *dst, const float *orig, int channels, int h, int w,
                  int r0, int r1, float dt, float inv_k2, int rational, float fidelity) {
    long pw = (long)w + 2, plane = ((long)h + 2) * pw;
    float *buf = malloc(sizeof(float) * (3 * (size_t)w + 1));
    if (!buf) return -1;
    float *up = buf, *down = buf + w, *fh = buf + 2 * (size_t)w;
    for (int c = 0; c < channels; c++) {
        const float *s = src + c * plane;
        const float *o = orig + c * plane;
        float *dimg = dst + c * plane;
        flux(s + r0 * pw + 1, s + (r0 + 1) * pw + 1, up, w, inv_k2, rational);
        for (int i = r0; i < r1; i++) {
            const float *row = s + (i + 1) * pw; /* padded row of interior row i */
            const float *ctr = row + 1;
            float *restrict out = dimg + (i + 1) * pw + 1;
            flux(ctr, ctr + pw, down, w, inv_k2, rational); /* edges below row i */
            flux(row, row + 1, fh, w + 1, inv_k2, rational); /* w + 1 edges along row i */
            /* the torch twin's order: (below - above) + right - left, then the fidelity pull */
            if (fidelity > 0) {
                const float *ori = o + (i + 1) * pw + 1;
#pragma omp simd
                for (int j = 0; j < w; j++) {
                    float acc = down[j] - up[j] + fh[j + 1] - fh[j];
                    acc = acc + fidelity * ori[j] - fidelity * ctr[j];
                    out[j] = ctr[j] + dt * acc;
                }
            } else {
#pragma omp simd
                for (int j = 0; j < w; j++) {
                    float acc = down[j] - up[j] + fh[j + 1] - fh[j];
                    out[j] = ctr[j] + dt * acc;
                }
            }
            float *t = up;
            up = down;
            down = t;
        }
    }
    free(buf);
    return 0;
}

/* exp_neg over an array, for the accuracy test only. */
void imfit_exp_neg(int n, const float *x, float *out) {
    for (int j = 0; j < n; j++) out[j] = exp_neg(x[j]);
}
