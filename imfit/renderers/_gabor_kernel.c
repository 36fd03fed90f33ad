/* imfit fused CPU kernel: the truncated Gabor sum and its analytic backward.
 *
 * This is the fast twin of imfit/renderer.py's _TiledGabor (the pure-torch reference the tests
 * compare it with). Same model, same truncation (u^2/sigma^2 + v^2/gamma^2 <= R^2), but each
 * wavelet walks only the pixel spans inside its ellipse, row by row, with no temporaries.
 *
 * geom: n x 6 (x, y, theta, sigma, gamma, wavelength); coef: n x 3 x 2 (A, B per channel) with
 * value = env * (A cos(k u) + B sin(k u)). Images are H x W x 3, row-major, float32.
 * Pixel (i, j) centre: x = x0 + (j + 0.5) * scale, y = y0 + (i + 0.5) * scale.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.283185307179586f

/* sin and cos that the compiler can vectorise (libm's sincosf has no vector variant, and it
 * was half the kernel's time). x = y + k*pi with |y| <= pi/2; Taylor polynomials to y^11 and
 * y^12 are within 6e-8 there, float32 precision. */
static inline void fast_sincos(float x, float *sn, float *cs) {
    float k = rintf(x * 0.3183098861837907f);
    float y = (x - k * 3.140625f) - k * 9.676535897932e-4f; /* pi split for exact reduction */
    float sign = 1.0f - 2.0f * (float)((int)k & 1);
    float y2 = y * y;
    float s = y * (1.0f + y2 * (-1.6666667e-1f + y2 * (8.3333333e-3f + y2 * (-1.9841270e-4f +
              y2 * (2.7557319e-6f + y2 * -2.5052108e-8f)))));
    float c = 1.0f + y2 * (-0.5f + y2 * (4.1666667e-2f + y2 * (-1.3888889e-3f + y2 * (
              2.4801587e-5f + y2 * (-2.7557319e-7f + y2 * 2.0876757e-9f)))));
    *sn = sign * s;
    *cs = sign * c;
}

typedef struct {
    float c, s, isig2, igam2, k, xc, yc;
    int i0, i1;
} wave_t;

/* Row range of wavelet w inside the view; returns 0 when it misses the view entirely. */
static int setup(const float *g, int W, int H, float x0, float y0, float scale, float R,
                 wave_t *w) {
    w->xc = g[0];
    w->yc = g[1];
    w->c = cosf(g[2]);
    w->s = sinf(g[2]);
    w->isig2 = 1.0f / (g[3] * g[3]);
    w->igam2 = 1.0f / (g[4] * g[4]);
    w->k = TWO_PI / g[5];
    float ey = R * sqrtf(g[3] * g[3] * w->s * w->s + g[4] * g[4] * w->c * w->c);
    float ex = R * sqrtf(g[3] * g[3] * w->c * w->c + g[4] * g[4] * w->s * w->s);
    float fi0 = ceilf((w->yc - ey - y0) / scale - 0.5f);
    float fi1 = floorf((w->yc + ey - y0) / scale - 0.5f);
    float fj0 = ceilf((w->xc - ex - x0) / scale - 0.5f);
    float fj1 = floorf((w->xc + ex - x0) / scale - 0.5f);
    if (fi1 < 0 || fi0 > H - 1 || fj1 < 0 || fj0 > W - 1) return 0;
    w->i0 = fi0 < 0 ? 0 : (int)fi0;
    w->i1 = fi1 > H - 1 ? H - 1 : (int)fi1;
    return 1;
}

/* Column span [j0, j1] of row y inside the ellipse (empty when j0 > j1). */
static void span(const wave_t *w, float dy, int W, float x0, float scale, float R, int *j0,
                 int *j1) {
    /* q(dx) = a dx^2 + 2 b dx + d */
    float a = w->c * w->c * w->isig2 + w->s * w->s * w->igam2;
    float b = dy * w->c * w->s * (w->isig2 - w->igam2);
    float d = dy * dy * (w->s * w->s * w->isig2 + w->c * w->c * w->igam2);
    float disc = b * b - a * (d - R * R);
    if (disc < 0) {
        *j0 = 1;
        *j1 = 0;
        return;
    }
    float sq = sqrtf(disc);
    /* one pixel of slack on each side: the exact q <= R^2 test below decides */
    float lo = w->xc + (-b - sq) / a, hi = w->xc + (-b + sq) / a;
    float fj0 = floorf((lo - x0) / scale - 0.5f);
    float fj1 = ceilf((hi - x0) / scale - 0.5f);
    *j0 = fj0 < 0 ? 0 : (fj0 > W ? W : (int)fj0);
    *j1 = fj1 > W - 1 ? W - 1 : (fj1 < -1 ? -1 : (int)fj1);
}

/* u, v, the truncated window and cos/sin of the wave for the m pixels of a row span starting
 * at offset dx0 (dx steps by `scale`), at row offset dy. Shared by forward and backward. */
static inline void eval_span(const wave_t *w, float dx0, float dy, float scale, float R, int m,
                             float *ub, float *vb, float *eb, float *cb, float *sb) {
#pragma omp simd
    for (int t = 0; t < m; t++) {
        float dx = dx0 + t * scale;
        float u = dx * w->c + dy * w->s;
        float v = dy * w->c - dx * w->s;
        float q = u * u * w->isig2 + v * v * w->igam2;
        ub[t] = u;
        vb[t] = v;
        eb[t] = q <= R * R ? expf(-0.5f * q) : 0.0f;
    }
#pragma omp simd
    for (int t = 0; t < m; t++) fast_sincos(w->k * ub[t], &sb[t], &cb[t]);
}

#define MAXSPAN 1024 /* rows longer than this are walked in pieces */

/* Threads: the caller (imfit/ckernel.py) runs disjoint wavelet ranges from several Python
 * threads (ctypes releases the GIL), each forward call with its own `out` accumulator, so this
 * file needs no OpenMP runtime (which would clash with torch's under load). */
void imfit_forward(int n, const float *geom, const float *coef, int W, int H, float x0,
                   float y0, float scale, float R, float *out) {
    {
        float *acc = out;
        float ub[MAXSPAN], vb[MAXSPAN], eb[MAXSPAN], cb[MAXSPAN], sb[MAXSPAN];
        for (int i = 0; i < n; i++) {
            wave_t w;
            const float *g = geom + (size_t)i * 6;
            if (!setup(g, W, H, x0, y0, scale, R, &w)) continue;
            const float *cf = coef + (size_t)i * 6;
            for (int r = w.i0; r <= w.i1; r++) {
                float dy = y0 + (r + 0.5f) * scale - w.yc;
                int j0, j1;
                span(&w, dy, W, x0, scale, R, &j0, &j1);
                for (; j0 <= j1; j0 += MAXSPAN) {
                int m = j1 - j0 + 1;
                if (m > MAXSPAN) m = MAXSPAN;
                float dx0 = x0 + (j0 + 0.5f) * scale - w.xc;
                eval_span(&w, dx0, dy, scale, R, m, ub, vb, eb, cb, sb);
                float *o = acc + ((size_t)r * W + j0) * 3;
                for (int t = 0; t < m; t++) {
                    float ec = eb[t] * cb[t], es = eb[t] * sb[t];
                    o[3 * t + 0] += ec * cf[0] + es * cf[1];
                    o[3 * t + 1] += ec * cf[2] + es * cf[3];
                    o[3 * t + 2] += ec * cf[4] + es * cf[5];
                }
                }
            }
        }
    }
}

void imfit_backward(int n, const float *geom, const float *coef, int W, int H, float x0,
                    float y0, float scale, float R, const float *gout, float *ggeom,
                    float *gcoef) {
    {
        float ub[MAXSPAN], vb[MAXSPAN], eb[MAXSPAN], cb[MAXSPAN], sb[MAXSPAN];
        for (int i = 0; i < n; i++) {
            wave_t w;
            const float *g = geom + (size_t)i * 6;
            float *gg = ggeom + (size_t)i * 6;
            float *gc = gcoef + (size_t)i * 6;
            memset(gg, 0, 6 * sizeof(float));
            memset(gc, 0, 6 * sizeof(float));
            if (!setup(g, W, H, x0, y0, scale, R, &w)) continue;
            const float *cf = coef + (size_t)i * 6;
            double sx = 0, sy = 0, sth = 0, ssig = 0, sgam = 0, swl = 0;
            double sa0 = 0, sa1 = 0, sa2 = 0, sb0 = 0, sb1 = 0, sb2 = 0;
            for (int r = w.i0; r <= w.i1; r++) {
                float dy = y0 + (r + 0.5f) * scale - w.yc;
                int j0, j1;
                span(&w, dy, W, x0, scale, R, &j0, &j1);
                for (; j0 <= j1; j0 += MAXSPAN) {
                int m = j1 - j0 + 1;
                if (m > MAXSPAN) m = MAXSPAN;
                float dx0 = x0 + (j0 + 0.5f) * scale - w.xc;
                eval_span(&w, dx0, dy, scale, R, m, ub, vb, eb, cb, sb);
                const float *go = gout + ((size_t)r * W + j0) * 3;
                float fx = 0, fy = 0, fth = 0, fsig = 0, fgam = 0, fwl = 0;
                float fa0 = 0, fa1 = 0, fa2 = 0, fb0 = 0, fb1 = 0, fb2 = 0;
#pragma omp simd reduction(+ : fx, fy, fth, fsig, fgam, fwl, fa0, fa1, fa2, fb0, fb1, fb2)
                for (int t = 0; t < m; t++) {
                    float g0 = go[3 * t], g1 = go[3 * t + 1], g2 = go[3 * t + 2];
                    float e = eb[t], cw = cb[t], sw = sb[t];
                    float ec = e * cw, es = e * sw;
                    fa0 += g0 * ec;
                    fa1 += g1 * ec;
                    fa2 += g2 * ec;
                    fb0 += g0 * es;
                    fb1 += g1 * es;
                    fb2 += g2 * es;
                    float S = g0 * (cf[0] * cw + cf[1] * sw) + g1 * (cf[2] * cw + cf[3] * sw) +
                              g2 * (cf[4] * cw + cf[5] * sw);
                    float D = g0 * (cf[1] * cw - cf[0] * sw) + g1 * (cf[3] * cw - cf[2] * sw) +
                              g2 * (cf[5] * cw - cf[4] * sw);
                    float eS = e * S, eD = e * D;
                    float u = ub[t], v = vb[t];
                    float gu = -u * w.isig2 * eS + w.k * eD;
                    float gv = -v * w.igam2 * eS;
                    fx += -w.c * gu + w.s * gv;
                    fy += -w.s * gu - w.c * gv;
                    fth += v * gu - u * gv;
                    fsig += eS * u * u;
                    fgam += eS * v * v;
                    fwl += eD * u;
                }
                sx += fx; sy += fy; sth += fth; ssig += fsig; sgam += fgam; swl += fwl;
                sa0 += fa0; sa1 += fa1; sa2 += fa2; sb0 += fb0; sb1 += fb1; sb2 += fb2;
                }
            }
            gg[0] = (float)sx;
            gg[1] = (float)sy;
            gg[2] = (float)sth;
            gg[3] = (float)(ssig * w.isig2 / g[3]);
            gg[4] = (float)(sgam * w.igam2 / g[4]);
            gg[5] = (float)(-swl * w.k / g[5]);
            gc[0] = (float)sa0; gc[1] = (float)sb0;
            gc[2] = (float)sa1; gc[3] = (float)sb1;
            gc[4] = (float)sa2; gc[5] = (float)sb2;
        }
    }
}
