#ifndef CONVLENS_KERNELS_H
#define CONVLENS_KERNELS_H

/// Plain-loop convolution kernels that need the CPU's vector units (AVX2 + FMA when present,
/// chosen at run time). Swift reaches them from ConvLensCore's direct convolution path
/// (DirectConvolution.swift); everything heavy elsewhere is OpenBLAS or FFTW.

/// One channel pair of a direct convolution (cross-correlation), accumulated into `y`:
/// `y[oy][ox] += Σ_ij k[i][j] · x[oy·sh − pt + i·dh][ox·sw − pl + j·dw]` (0 outside `x`).
/// `x` is `h × w`, `y` is `oh × ow`, `k` is `kh × kw`. Square 3×3 and 5×5 windows (dilation 1,
/// column stride 1 or 2) sum each output in a register before adding it; the order of the sum is
/// otherwise unspecified.
void convlens_direct_conv_plane(const float *x, int h, int w, const float *k, int kh, int kw,
                                int sh, int sw, int pt, int pl, int dh, int dw,
                                float *y, int oh, int ow);

/// One channel pair of a direct transposed convolution (the adjoint of the above), accumulated
/// into `y` (`oh × ow`): `y[iy·sh − pt + i·dh][ix·sw − pl + j·dw] += k[i][j] · x[iy][ix]`.
void convlens_direct_transposed_conv_plane(const float *x, int h, int w, const float *k, int kh, int kw,
                                           int sh, int sw, int pt, int pl, int dh, int dw,
                                           float *y, int oh, int ow);

/// Runs `iterations` rounds of 12 independent fused multiply-adds on vectors of
/// `convlens_fma_peak_lanes()` floats (AVX-512 when the CPU has it, else AVX2/FMA) and returns a
/// value that depends on all of them: 24 × lanes floating-point operations per iteration (the
/// portable version runs 96 scalar multiply-adds, 192 operations). Used by `convlens bench` to
/// measure the machine's peak.
float convlens_fma_peak(long iterations, float seed);

/// The vector width of `convlens_fma_peak`: 16 (AVX-512), 8 (AVX2/FMA) or 1 (portable code).
int convlens_fma_peak_lanes(void);

/// 1 when the vector kernels run with AVX2 + FMA, 0 when the portable version runs.
int convlens_kernels_vectorized(void);

/// `syncfs(2)` on the file system holding the open file `fd` (Swift's Glibc module does not
/// declare it): flushes every file written there to the device. Returns 0, or -1 with `errno` set.
int convlens_syncfs(int fd);

/// Makes OpenBLAS use the widest kernels the CPU runs when its own detection picked narrower ones.
/// OpenBLAS 0.3.21 (Debian 12) does not know recent Xeons (family 6, model 207 on the build
/// machines) and falls back to its SSE3 "Prescott" kernels, 4–5× slower than its AVX-512 ones
/// there. When `OPENBLAS_CORETYPE` is unset and the detected core's kernels are narrower than the
/// CPU's AVX-512 (F, BW, DQ, VL) / AVX2 + FMA / AVX, OpenBLAS is re-initialized with SkylakeX /
/// Haswell / Sandybridge, through its own `OPENBLAS_CORETYPE` path (set for that call only). The
/// choice is made once when the program is loaded (a constructor: before any thread exists, since
/// changing the environment is not thread-safe); this function reports it. `detected` receives
/// OpenBLAS's own choice (NUL-terminated, at most `capacity` bytes). Returns 1 when the core was
/// changed, 0 when it was left (the user set `OPENBLAS_CORETYPE`, or the detected core is wide
/// enough), -1 when this OpenBLAS does not export the functions it needs.
int convlens_openblas_choose_core(char *detected, int capacity);

#endif
