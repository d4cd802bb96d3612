// The machine-peak probe of `convlens bench`: a loop of independent fused multiply-adds.
#ifndef CONVLENS_PEAK_H
#define CONVLENS_PEAK_H

#include <stdint.h>

/// Runs `iterations` rounds of independent multiply-adds on 12 accumulators (8-wide AVX2 FMAs when
/// the CPU has AVX2 and FMA, plain scalar code otherwise), stores a value derived from the
/// accumulators in `*sink` (so the work cannot be optimized away) and returns the number of
/// floating-point operations done (2 per multiply-add).
double convlens_peak_fma(int64_t iterations, float *sink);

/// 1 when `convlens_peak_fma` uses the AVX2/FMA path on this CPU, 0 for the portable fallback.
int convlens_peak_uses_fma(void);

#endif
