/* imfit fused CPU kernel: the truncated Gabor sum and its analytic backward.
 *
 * This is the fast twin of imfit/renderers/gabor.py's _TiledGabor (the pure-torch reference the
 * tests compare it with). Same model, same truncation (u^2/sigma^2 + v^2/gamma^2 <= R^2), but
 * each wavelet walks only the pixel spans inside its ellipse, row by row, with no temporaries.
 *
 * geom: n x 6 (x, y, theta, sigma, gamma, wavelength); coef: n x 3 x 2 (A, B per channel) with
 * value = env * (A cos(k u) + B sin(k u)). Images are PLANAR here: 3 planes of H x W floats,
 * row-major, followed by at least LANES floats of padding (imfit/native.py allocates them and
 * converts to and from torch's H x W x 3): a row span is walked in whole blocks of LANES
 * pixels, and the lanes past the span's end add exact zeros (forward) or read the padding
 * multiplied by zero (backward), so no scalar tail loop is needed.
 * Pixel (i, j) centre: x = x0 + (j + 0.5) * scale, y = y0 + (i + 0.5) * scale.
 *
 * Why it is fast: along a row, u and v are linear in the pixel index t, so the exponent of the
 * window is a quadratic q(t) and the wave's phase k u(t) is linear. Over a block step of LANES
 * pixels the window is multiplied by G(t) = exp(-(q(t+8) - q(t))/2), which itself changes by the
 * constant factor K = exp(-LANES^2 q2) (q2 the t^2 coefficient), and the wave (cos, sin) turns by a
 * constant angle. So a pixel costs a few multiplies instead of an exp and a sin/cos; both are
 * evaluated directly (vectorised) only at the start of each row span and every RESYNC blocks,
 * which bounds the rounding the recurrences accumulate (about RESYNC^2/2 float32 ulps, < 3e-6).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.283185307179586f
#define LANES 8
#define RESYNC 8 /* blocks between direct evaluations of exp and sin/cos */
#define FLUSH 8  /* rows between float -> double flushes of the backward's sums */

typedef float v8 __attribute__((vector_size(LANES * sizeof(float))));
typedef int v8i __attribute__((vector_size(LANES * sizeof(int))));
typedef double v8d __attribute__((vector_size(LANES * sizeof(double))));

static inline v8 ld(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st(float *p, v8 v) { memcpy(p, &v, sizeof v); }

static inline double hsum(v8d v) {
    double s = 0;
    for (int l = 0; l < LANES; l++) s += v[l];
    return s;
}

/* sin and cos that the compiler can vectorise (libm's sincosf has no vector variant). x = y + k*pi
 * with |y| <= pi/2; Taylor polynomials to y^11 and y^12 are within 6e-8 there, float32 precision. */
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
    float au, av;   /* change of u and v per pixel step along a row */
    float K;        /* factor by which G changes per block: exp(-LANES^2 q2) */
    float C8, S8;   /* cos and sin of the wave's turn per block */
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
    w->au = scale * w->c;
    w->av = -scale * w->s;
    float q2 = w->au * w->au * w->isig2 + w->av * w->av * w->igam2;
    w->K = expf(-(float)(LANES * LANES) * q2);
    float turn = w->k * (float)LANES * w->au;
    w->C8 = cosf(turn);
    w->S8 = sinf(turn);
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
    /* one pixel of slack on each side: the exact q <= R^2 test decides */
    float lo = w->xc + (-b - sq) / a, hi = w->xc + (-b + sq) / a;
    float fj0 = floorf((lo - x0) / scale - 0.5f);
    float fj1 = ceilf((hi - x0) / scale - 0.5f);
    *j0 = fj0 < 0 ? 0 : (fj0 > W ? W : (int)fj0);
    *j1 = fj1 > W - 1 ? W - 1 : (fj1 < -1 ? -1 : (int)fj1);
}

/* The recurrence state of one block of LANES pixels. */
typedef struct {
    v8 u, v, E, G, C, S;
} block_t;

/* Direct evaluation at the block whose first pixel is dx (plane units from the centre) along
 * the row at offset dy: u, v, the (unmasked) window E, its block ratio G and the wave. */
static inline void direct(const wave_t *w, float dx, float dy, float scale, block_t *b) {
    float U[LANES], V[LANES], E[LANES], G[LANES], C[LANES], S[LANES];
    const float step = (float)LANES;
    for (int l = 0; l < LANES; l++) {
        float x = dx + (float)l * scale;
        float u = x * w->c + dy * w->s;
        float v = dy * w->c - x * w->s;
        float q = u * u * w->isig2 + v * v * w->igam2;
        float u8 = u + step * w->au, v8_ = v + step * w->av;
        float q8 = u8 * u8 * w->isig2 + v8_ * v8_ * w->igam2;
        float a = -0.5f * q, r = -0.5f * (q8 - q);
        /* keep both exponents finite: beyond +-80 the lanes lie outside the ellipse (masked) */
        a = a < -80.0f ? -80.0f : a;
        r = r < -80.0f ? -80.0f : (r > 80.0f ? 80.0f : r);
        U[l] = u;
        V[l] = v;
        E[l] = expf(a);
        G[l] = expf(r);
    }
    for (int l = 0; l < LANES; l++) fast_sincos(w->k * U[l], &S[l], &C[l]);
    memcpy(&b->u, U, sizeof U);
    memcpy(&b->v, V, sizeof V);
    memcpy(&b->E, E, sizeof E);
    memcpy(&b->G, G, sizeof G);
    memcpy(&b->C, C, sizeof C);
    memcpy(&b->S, S, sizeof S);
}

/* One block step along the row. */
static inline void advance(const wave_t *w, block_t *b) {
    const float step = (float)LANES;
    b->E *= b->G;
    b->G *= w->K;
    v8 c = b->C * w->C8 - b->S * w->S8;
    b->S = b->S * w->C8 + b->C * w->S8;
    b->C = c;
    b->u += step * w->au;
    b->v += step * w->av;
}

/* The masked window of a block: E where q <= R^2 and the lane is inside the span, else 0. */
static inline v8 window(const wave_t *w, const block_t *b, v8 lane, float left, float R2) {
    v8 q = b->u * b->u * w->isig2 + b->v * b->v * w->igam2;
    v8i m = (q <= R2) & (lane < left);
    return (v8)((v8i)b->E & m);
}

static const v8 LANE_INDEX = {0, 1, 2, 3, 4, 5, 6, 7};

/* Threads: the caller (imfit/native.py) runs disjoint wavelet ranges from several Python
 * threads (ctypes releases the GIL), each forward call with its own `out` accumulator, so this
 * file needs no OpenMP runtime (which would clash with torch's under load). `out` is planar
 * (3 planes of W*H) plus LANES floats of padding, zero or accumulated. */
void imfit_forward(int n, const float *geom, const float *coef, int W, int H, float x0,
                   float y0, float scale, float R, float *out) {
    const size_t plane = (size_t)W * H;
    const float R2 = R * R;
    for (int i = 0; i < n; i++) {
        wave_t w;
        const float *g = geom + (size_t)i * 6;
        if (!setup(g, W, H, x0, y0, scale, R, &w)) continue;
        const float *cf = coef + (size_t)i * 6;
        for (int r = w.i0; r <= w.i1; r++) {
            float dy = y0 + (r + 0.5f) * scale - w.yc;
            int j0, j1;
            span(&w, dy, W, x0, scale, R, &j0, &j1);
            int m = j1 - j0 + 1;
            if (m <= 0) continue;
            float *o0 = out + (size_t)r * W + j0, *o1 = o0 + plane, *o2 = o1 + plane;
            float dx0 = x0 + (j0 + 0.5f) * scale - w.xc;
            block_t b;
            for (int t = 0, blk = 0; t < m; t += LANES, blk++) {
                if (blk % RESYNC == 0) direct(&w, dx0 + t * scale, dy, scale, &b);
                v8 e = window(&w, &b, LANE_INDEX, (float)(m - t), R2);
                v8 ec = e * b.C, es = e * b.S;
                st(o0 + t, ld(o0 + t) + ec * cf[0] + es * cf[1]);
                st(o1 + t, ld(o1 + t) + ec * cf[2] + es * cf[3]);
                st(o2 + t, ld(o2 + t) + ec * cf[4] + es * cf[5]);
                advance(&w, &b);
            }
        }
    }
}

/* gout is planar like forward's out (3 planes of W*H, then LANES finite padding floats). */
void imfit_backward(int n, const float *geom, const float *coef, int W, int H, float x0,
                    float y0, float scale, float R, const float *gout, float *ggeom,
                    float *gcoef) {
    const size_t plane = (size_t)W * H;
    const float R2 = R * R;
    for (int i = 0; i < n; i++) {
        wave_t w;
        const float *g = geom + (size_t)i * 6;
        float *gg = ggeom + (size_t)i * 6;
        float *gc = gcoef + (size_t)i * 6;
        memset(gg, 0, 6 * sizeof(float));
        memset(gc, 0, 6 * sizeof(float));
        if (!setup(g, W, H, x0, y0, scale, R, &w)) continue;
        const float *cf = coef + (size_t)i * 6;
        /* float lane sums, flushed into double accumulators every FLUSH rows: a per-row flush
         * cost a third of the kernel, a per-wavelet one would sum thousands of terms in float */
        v8d dgu = {0}, dgv = {0}, dvgu = {0}, dugv = {0}, dsig = {0}, dgam = {0}, dwl = {0};
        v8d da0 = {0}, da1 = {0}, da2 = {0}, db0 = {0}, db1 = {0}, db2 = {0};
        v8 fgu = {0}, fgv = {0}, fvgu = {0}, fugv = {0}, fsig = {0}, fgam = {0}, fwl = {0};
        v8 fa0 = {0}, fa1 = {0}, fa2 = {0}, fb0 = {0}, fb1 = {0}, fb2 = {0};
        for (int r = w.i0; r <= w.i1; r++) {
            float dy = y0 + (r + 0.5f) * scale - w.yc;
            int j0, j1;
            span(&w, dy, W, x0, scale, R, &j0, &j1);
            int m = j1 - j0 + 1;
            if (m > 0) {
                const float *q0 = gout + (size_t)r * W + j0, *q1 = q0 + plane, *q2 = q1 + plane;
                float dx0 = x0 + (j0 + 0.5f) * scale - w.xc;
                block_t b;
                for (int t = 0, blk = 0; t < m; t += LANES, blk++) {
                    if (blk % RESYNC == 0) direct(&w, dx0 + t * scale, dy, scale, &b);
                    v8 e = window(&w, &b, LANE_INDEX, (float)(m - t), R2);
                    v8 g0 = ld(q0 + t), g1 = ld(q1 + t), g2 = ld(q2 + t);
                    v8 cw = b.C, sw = b.S;
                    v8 ec = e * cw, es = e * sw;
                    fa0 += g0 * ec;
                    fa1 += g1 * ec;
                    fa2 += g2 * ec;
                    fb0 += g0 * es;
                    fb1 += g1 * es;
                    fb2 += g2 * es;
                    /* per pixel: the channel-weighted A and B the wave sees */
                    v8 ga = g0 * cf[0] + g1 * cf[2] + g2 * cf[4];
                    v8 gb = g0 * cf[1] + g1 * cf[3] + g2 * cf[5];
                    v8 S = ga * cw + gb * sw; /* d value / d env */
                    v8 D = gb * cw - ga * sw; /* d value / d arg */
                    v8 eS = e * S, eD = e * D;
                    v8 u = b.u, v = b.v;
                    v8 gu = w.k * eD - u * w.isig2 * eS;
                    v8 gv = -(v * w.igam2 * eS);
                    fgu += gu;
                    fgv += gv;
                    fvgu += v * gu;
                    fugv += u * gv;
                    fsig += eS * u * u;
                    fgam += eS * v * v;
                    fwl += eD * u;
                    advance(&w, &b);
                }
            }
            if ((r - w.i0) % FLUSH == FLUSH - 1 || r == w.i1) {
                dgu += __builtin_convertvector(fgu, v8d);
                dgv += __builtin_convertvector(fgv, v8d);
                dvgu += __builtin_convertvector(fvgu, v8d);
                dugv += __builtin_convertvector(fugv, v8d);
                dsig += __builtin_convertvector(fsig, v8d);
                dgam += __builtin_convertvector(fgam, v8d);
                dwl += __builtin_convertvector(fwl, v8d);
                da0 += __builtin_convertvector(fa0, v8d);
                da1 += __builtin_convertvector(fa1, v8d);
                da2 += __builtin_convertvector(fa2, v8d);
                db0 += __builtin_convertvector(fb0, v8d);
                db1 += __builtin_convertvector(fb1, v8d);
                db2 += __builtin_convertvector(fb2, v8d);
                fgu = fgv = fvgu = fugv = fsig = fgam = fwl = (v8){0};
                fa0 = fa1 = fa2 = fb0 = fb1 = fb2 = (v8){0};
            }
        }
        double sgu = hsum(dgu), sgv = hsum(dgv);
        gg[0] = (float)(-w.c * sgu + w.s * sgv);
        gg[1] = (float)(-w.s * sgu - w.c * sgv);
        gg[2] = (float)(hsum(dvgu) - hsum(dugv));
        gg[3] = (float)(hsum(dsig) * w.isig2 / g[3]);
        gg[4] = (float)(hsum(dgam) * w.igam2 / g[4]);
        gg[5] = (float)(-hsum(dwl) * w.k / g[5]);
        gc[0] = (float)hsum(da0); gc[1] = (float)hsum(db0);
        gc[2] = (float)hsum(da1); gc[3] = (float)hsum(db1);
        gc[4] = (float)hsum(da2); gc[5] = (float)hsum(db2);
    }
}
