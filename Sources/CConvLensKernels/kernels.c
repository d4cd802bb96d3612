#include "convlens_kernels.h"

#if defined(__x86_64__) && defined(__clang__)
#define CONVLENS_X86 1
#include <immintrin.h>
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define CONVLENS_X86 0
#define TARGET_AVX2
#endif

static inline int ceil_div(int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

int convlens_kernels_vectorized(void) {
#if CONVLENS_X86
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return 0;
#endif
}

/* The loop bodies are written once and compiled twice: inlined into an AVX2+FMA entry point and
   into a portable one. The unit-stride inner loops are what the compiler vectorizes. */

/* Column ranges per kernel column, computed once per plane (they do not depend on the row):
   the columns c in [lo, hi) of the strided side (c·sw + j·dw − pl within the other side's `extent`
   columns) that kernel column j connects, capped at the strided side's `limit` columns. */
#define MAX_COLUMN_TAPS 64

static inline void column_range(int j, int dw, int pl, int sw, int limit, int extent, int *lo, int *hi) {
    int shift = j * dw - pl;
    *lo = imax(0, ceil_div(-shift, sw));
    *hi = imin(limit, ceil_div(extent - shift, sw));
}

static inline __attribute__((always_inline))
void conv_plane(const float *restrict x, int h, int w, const float *restrict k, int kh, int kw,
                int sh, int sw, int pt, int pl, int dh, int dw, float *restrict y, int oh, int ow) {
    int los[MAX_COLUMN_TAPS], his[MAX_COLUMN_TAPS];
    int cached = kw <= MAX_COLUMN_TAPS;
    for (int j = 0; cached && j < kw; j++) column_range(j, dw, pl, sw, ow, w, &los[j], &his[j]);
    for (int oy = 0; oy < oh; oy++) {
        float *restrict row = y + (long)oy * ow;
        for (int i = 0; i < kh; i++) {
            int iy = oy * sh - pt + i * dh;
            if (iy < 0 || iy >= h) continue;
            const float *restrict in = x + (long)iy * w;
            for (int j = 0; j < kw; j++) {
                float kv = k[i * kw + j];
                int shift = j * dw - pl, lo, hi;
                if (cached) { lo = los[j]; hi = his[j]; } else column_range(j, dw, pl, sw, ow, w, &lo, &hi);
                if (sw == 1) {
                    const float *restrict src = in + shift;
                    for (int ox = lo; ox < hi; ox++) row[ox] += kv * src[ox];
                } else {
                    for (int ox = lo; ox < hi; ox++) row[ox] += kv * in[ox * sw + shift];
                }
            }
        }
    }
}

/* Square K×K windows, dilation 1, column stride `SW` (K and SW are constants where this is
   inlined): every output is summed in a register over its whole window and added to `y` once.
   The generic loop above streams the output row once per tap; depthwise layers (one input
   channel per output) are bound by that traffic. Columns whose window crosses the left or right
   border take a checked scalar loop. */
/* Small stride-1 planes (7×7, 14×14 maps), where border columns are a large share: the plane is
   copied into a zero-padded buffer and the outputs computed along its flattened rows, one long
   loop with every tap in range; the columns that wrap around a row are computed and dropped. */
#define SMALL_PLANE 4096

static inline __attribute__((always_inline))
void conv_small_plane(const float *restrict x, int h, int w, const float *restrict k, const int K,
                      int pt, int pl, float *restrict y, int oh, int ow) {
    int hp = oh + K - 1, wp = ow + K - 1;
    float xp[SMALL_PLANE], wide[SMALL_PLANE];
    for (int r = 0; r < hp; r++) {
        int iy = r - pt;
        float *restrict dst = xp + r * wp;
        for (int c = 0; c < wp; c++) {
            int ix = c - pl;
            dst[c] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? x[(long)iy * w + ix] : 0.0f;
        }
    }
    int n = (oh - 1) * wp + ow;
    for (int i = 0; i < n; i++) {
        float acc = 0;
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++) acc += k[a * K + b] * xp[i + a * wp + b];
        wide[i] = acc;
    }
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) y[(long)oy * ow + ox] += wide[oy * wp + ox];
}

static inline __attribute__((always_inline))
void conv_plane_square(const float *restrict x, int h, int w, const float *restrict k, const int K,
                       int sh, const int SW, int pt, int pl, float *restrict y, int oh, int ow) {
    if (SW == 1 && sh == 1 && ow <= 32 && (oh + K - 1) * (ow + K - 1) <= SMALL_PLANE) {
        conv_small_plane(x, h, w, k, K, pt, pl, y, oh, ow);
        return;
    }
    int xlo = imin(ow, ceil_div(pl, SW));
    int span = w - K + pl;
    int xhi = span < 0 ? 0 : imin(ow, span / SW + 1);
    if (xhi < xlo) xhi = xlo;
    for (int oy = 0; oy < oh; oy++) {
        float *restrict row = y + (long)oy * ow;
        int iy0 = oy * sh - pt;
        int ilo = imax(0, -iy0), ihi = imin(K, h - iy0);
        if (ilo >= ihi) continue;
        for (int ox = 0; ox < ow; ox++) {
            if (ox == xlo) { ox = xhi; if (ox >= ow) break; }
            float acc = 0;
            for (int i = ilo; i < ihi; i++) {
                for (int j = 0; j < K; j++) {
                    int ix = ox * SW - pl + j;
                    if (ix >= 0 && ix < w) acc += k[i * K + j] * x[(long)(iy0 + i) * w + ix];
                }
            }
            row[ox] += acc;
        }
        if (ilo == 0 && ihi == K) {
            const float *restrict base = x + (long)iy0 * w;
            for (int ox = xlo; ox < xhi; ox++) {
                const float *restrict p = base + (ox * SW - pl);
                float acc = 0;
                for (int i = 0; i < K; i++)
                    for (int j = 0; j < K; j++) acc += k[i * K + j] * p[(long)i * w + j];
                row[ox] += acc;
            }
        } else {
            for (int i = ilo; i < ihi; i++) {
                const float *restrict in = x + (long)(iy0 + i) * w;
                const float *restrict kr = k + i * K;
                for (int ox = xlo; ox < xhi; ox++) {
                    const float *restrict p = in + (ox * SW - pl);
                    float acc = 0;
                    for (int j = 0; j < K; j++) acc += kr[j] * p[j];
                    row[ox] += acc;
                }
            }
        }
    }
}

/* The square fast path: runs it and returns when it applies, falls through to the generic loop
   otherwise. */
#define SQUARE_CASES \
    if (dh == 1 && dw == 1 && kh == kw && (sw == 1 || sw == 2) && (kh == 3 || kh == 5)) { \
        if (kh == 3 && sw == 1) conv_plane_square(x, h, w, k, 3, sh, 1, pt, pl, y, oh, ow); \
        else if (kh == 3) conv_plane_square(x, h, w, k, 3, sh, 2, pt, pl, y, oh, ow); \
        else if (sw == 1) conv_plane_square(x, h, w, k, 5, sh, 1, pt, pl, y, oh, ow); \
        else conv_plane_square(x, h, w, k, 5, sh, 2, pt, pl, y, oh, ow); \
        return; \
    }

static inline __attribute__((always_inline))
void transposed_plane(const float *restrict x, int h, int w, const float *restrict k, int kh, int kw,
                      int sh, int sw, int pt, int pl, int dh, int dw, float *restrict y, int oh, int ow) {
    int los[MAX_COLUMN_TAPS], his[MAX_COLUMN_TAPS];
    int cached = kw <= MAX_COLUMN_TAPS;
    for (int j = 0; cached && j < kw; j++) column_range(j, dw, pl, sw, w, ow, &los[j], &his[j]);
    for (int iy = 0; iy < h; iy++) {
        const float *restrict in = x + (long)iy * w;
        for (int i = 0; i < kh; i++) {
            int oy = iy * sh - pt + i * dh;
            if (oy < 0 || oy >= oh) continue;
            float *restrict row = y + (long)oy * ow;
            for (int j = 0; j < kw; j++) {
                float kv = k[i * kw + j];
                int shift = j * dw - pl, lo, hi;
                if (cached) { lo = los[j]; hi = his[j]; } else column_range(j, dw, pl, sw, w, ow, &lo, &hi);
                if (sw == 1) {
                    float *restrict dst = row + shift;
                    for (int ix = lo; ix < hi; ix++) dst[ix] += kv * in[ix];
                } else {
                    for (int ix = lo; ix < hi; ix++) row[ix * sw + shift] += kv * in[ix];
                }
            }
        }
    }
}

/* A stride-1 transposed convolution is the correlation with the kernel turned by 180° and pads
   K − 1 − p: y[oy][ox] += Σ k[a][b] · x[oy + pt − a][ox + pl − b]. Square 3×3 and 5×5 kernels take
   the register-summed path that way instead of scattering tap by tap. */
#define FLIPPED_CASES \
    if (dh == 1 && dw == 1 && sh == 1 && sw == 1 && kh == kw && (kh == 3 || kh == 5) && pt < kh && pl < kw) { \
        float flipped[25]; \
        for (int t = 0; t < kh * kw; t++) flipped[t] = k[kh * kw - 1 - t]; \
        if (kh == 3) conv_plane_square(x, h, w, flipped, 3, 1, 1, 2 - pt, 2 - pl, y, oh, ow); \
        else conv_plane_square(x, h, w, flipped, 5, 1, 1, 4 - pt, 4 - pl, y, oh, ow); \
        return; \
    }

#if CONVLENS_X86
TARGET_AVX2 static void conv_plane_avx2(const float *x, int h, int w, const float *k, int kh, int kw,
                                        int sh, int sw, int pt, int pl, int dh, int dw, float *y, int oh, int ow) {
    SQUARE_CASES
    conv_plane(x, h, w, k, kh, kw, sh, sw, pt, pl, dh, dw, y, oh, ow);
}

TARGET_AVX2 static void transposed_plane_avx2(const float *x, int h, int w, const float *k, int kh, int kw,
                                              int sh, int sw, int pt, int pl, int dh, int dw, float *y, int oh, int ow) {
    FLIPPED_CASES
    transposed_plane(x, h, w, k, kh, kw, sh, sw, pt, pl, dh, dw, y, oh, ow);
}
#endif

void convlens_direct_conv_plane(const float *x, int h, int w, const float *k, int kh, int kw,
                                int sh, int sw, int pt, int pl, int dh, int dw, float *y, int oh, int ow) {
#if CONVLENS_X86
    if (convlens_kernels_vectorized()) {
        conv_plane_avx2(x, h, w, k, kh, kw, sh, sw, pt, pl, dh, dw, y, oh, ow);
        return;
    }
#endif
    SQUARE_CASES
    conv_plane(x, h, w, k, kh, kw, sh, sw, pt, pl, dh, dw, y, oh, ow);
}

void convlens_direct_transposed_conv_plane(const float *x, int h, int w, const float *k, int kh, int kw,
                                           int sh, int sw, int pt, int pl, int dh, int dw, float *y, int oh, int ow) {
#if CONVLENS_X86
    if (convlens_kernels_vectorized()) {
        transposed_plane_avx2(x, h, w, k, kh, kw, sh, sw, pt, pl, dh, dw, y, oh, ow);
        return;
    }
#endif
    FLIPPED_CASES
    transposed_plane(x, h, w, k, kh, kw, sh, sw, pt, pl, dh, dw, y, oh, ow);
}

#if CONVLENS_X86
#define FMA_PEAK_LOOP(VEC, SET1, FMADD, ADD, STORE, LANES) \
    VEC a[12]; \
    const VEC m = SET1(0.999999f), c = SET1(1e-7f); \
    for (int i = 0; i < 12; i++) a[i] = SET1(seed + (float)i); \
    for (long n = 0; n < iterations; n++) { \
        for (int i = 0; i < 12; i++) a[i] = FMADD(a[i], m, c); \
    } \
    VEC s = a[0]; \
    for (int i = 1; i < 12; i++) s = ADD(s, a[i]); \
    float out[LANES]; \
    STORE(out, s); \
    float total = 0; \
    for (int i = 0; i < LANES; i++) total += out[i]; \
    return total;

TARGET_AVX2 static float fma_peak_avx2(long iterations, float seed) {
    FMA_PEAK_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps, 8)
}

__attribute__((target("avx512f"))) static float fma_peak_avx512(long iterations, float seed) {
    FMA_PEAK_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps, 16)
}

static int peak_uses_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return cached;
}
#endif

int convlens_fma_peak_lanes(void) {
#if CONVLENS_X86
    if (peak_uses_avx512()) return 16;
    if (convlens_kernels_vectorized()) return 8;
#endif
    return 1;
}

float convlens_fma_peak(long iterations, float seed) {
#if CONVLENS_X86
    if (peak_uses_avx512()) return fma_peak_avx512(iterations, seed);
    if (convlens_kernels_vectorized()) return fma_peak_avx2(iterations, seed);
#endif
    float a[96];
    for (int i = 0; i < 96; i++) a[i] = seed + (float)i;
    for (long n = 0; n < iterations; n++) {
        for (int i = 0; i < 96; i++) a[i] = a[i] * 0.999999f + 1e-7f;
    }
    float s = 0;
    for (int i = 0; i < 96; i++) s += a[i];
    return s;
}
