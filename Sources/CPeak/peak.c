// Machine peak probe (see include/peak.h). Compiled without special flags: only the function
// below carries the AVX2/FMA target attribute, and it runs only after a runtime CPU check, so the
// package needs no unsafeFlags and the binary still runs on CPUs without FMA.
#include "peak.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CONVLENS_PEAK_X86 1
#endif

// Zen 3 has two FMA pipes with a latency of 4 cycles: at least 8 independent chains keep both
// busy; 12 leaves margin for other cores' microarchitectures (Intel: 2 pipes x 4-5 cycles).
#define ACCUMULATORS 12

#ifdef CONVLENS_PEAK_X86
__attribute__((target("avx2,fma")))
static double peak_avx2_fma(int64_t iterations, float *sink) {
    // acc = acc * a + b converges to b / (1 - a): the values stay normal and finite forever.
    const __m256 a = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(0.001f);
    __m256 r0 = _mm256_set1_ps(0.0f), r1 = _mm256_set1_ps(0.1f), r2 = _mm256_set1_ps(0.2f);
    __m256 r3 = _mm256_set1_ps(0.3f), r4 = _mm256_set1_ps(0.4f), r5 = _mm256_set1_ps(0.5f);
    __m256 r6 = _mm256_set1_ps(0.6f), r7 = _mm256_set1_ps(0.7f), r8 = _mm256_set1_ps(0.8f);
    __m256 r9 = _mm256_set1_ps(0.9f), r10 = _mm256_set1_ps(1.0f), r11 = _mm256_set1_ps(1.1f);
    for (int64_t i = 0; i < iterations; i++) {
        r0 = _mm256_fmadd_ps(r0, a, b);
        r1 = _mm256_fmadd_ps(r1, a, b);
        r2 = _mm256_fmadd_ps(r2, a, b);
        r3 = _mm256_fmadd_ps(r3, a, b);
        r4 = _mm256_fmadd_ps(r4, a, b);
        r5 = _mm256_fmadd_ps(r5, a, b);
        r6 = _mm256_fmadd_ps(r6, a, b);
        r7 = _mm256_fmadd_ps(r7, a, b);
        r8 = _mm256_fmadd_ps(r8, a, b);
        r9 = _mm256_fmadd_ps(r9, a, b);
        r10 = _mm256_fmadd_ps(r10, a, b);
        r11 = _mm256_fmadd_ps(r11, a, b);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(r0, r1), _mm256_add_ps(r2, r3)),
                             _mm256_add_ps(_mm256_add_ps(r4, r5), _mm256_add_ps(r6, r7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(r8, r9), _mm256_add_ps(r10, r11)));
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    float total = 0;
    for (int k = 0; k < 8; k++) total += lanes[k];
    *sink = total;
    return (double)iterations * ACCUMULATORS * 8 * 2;
}
#endif

static double peak_portable(int64_t iterations, float *sink) {
    const float a = 0.9999f, b = 0.001f;
    float r[ACCUMULATORS];
    for (int k = 0; k < ACCUMULATORS; k++) r[k] = 0.1f * (float)k;
    for (int64_t i = 0; i < iterations; i++) {
        for (int k = 0; k < ACCUMULATORS; k++) r[k] = r[k] * a + b;
    }
    float total = 0;
    for (int k = 0; k < ACCUMULATORS; k++) total += r[k];
    *sink = total;
    return (double)iterations * ACCUMULATORS * 2;
}

int convlens_peak_uses_fma(void) {
#ifdef CONVLENS_PEAK_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

double convlens_peak_fma(int64_t iterations, float *sink) {
#ifdef CONVLENS_PEAK_X86
    if (convlens_peak_uses_fma()) return peak_avx2_fma(iterations, sink);
#endif
    return peak_portable(iterations, sink);
}
