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

/// Runs `iterations` rounds of 12 independent 8-wide fused multiply-adds (AVX2/FMA when the CPU
/// has them) and returns a value that depends on all of them; 192 floating-point operations per
/// iteration. Used by `convlens bench` to measure the machine's peak.
float convlens_fma_peak(long iterations, float seed);

/// 1 when the vector kernels run with AVX2 + FMA, 0 when the portable version runs.
int convlens_kernels_vectorized(void);

/// `syncfs(2)` on the file system holding the open file `fd` (Swift's Glibc module does not
/// declare it): flushes every file written there to the device. Returns 0, or -1 with `errno` set.
int convlens_syncfs(int fd);

#endif
