internal import CConvLensKernels
import ConvLensCore
import Foundation

/// The machine's measured fp32 peak: a loop of 12 independent vector fused multiply-adds per
/// iteration (`convlens_fma_peak` in the C target `CConvLensKernels`: 16-wide AVX-512 or 8-wide
/// AVX2/FMA, whichever the CPU has, checked at run time), run on every worker thread at once.
///
/// It is the yardstick for "direct-equivalent GFLOP/s": an FFT convolution can exceed it (it does
/// fewer operations than the direct definition it is credited with), a GEMM cannot.
public enum MachinePeak {
    /// Which instructions the probe runs on this CPU: `AVX-512`, `AVX2/FMA`, or `portable scalar
    /// code` (far below peak).
    public static var instructions: String {
        switch convlens_fma_peak_lanes() {
        case 16: return "AVX-512"
        case 8: return "AVX2/FMA"
        default: return "portable scalar code"
        }
    }

    /// Floating-point operations per iteration of the probe (12 accumulators × lanes × 2; the
    /// portable version runs 96 scalar multiply-adds, 192 operations).
    static var flopsPerIteration: Double {
        let lanes = Int(convlens_fma_peak_lanes())
        return lanes == 1 ? 192 : Double(24 * lanes)
    }

    /// Measures GFLOP/s with `threads` threads running the probe at the same time.
    /// - Parameters:
    ///   - threads: how many threads (default `Parallelism.threadCount`).
    ///   - seconds: about how long each of the `trials` runs.
    ///   - trials: the best of this many runs is reported.
    /// - Returns: floating-point operations per second / 1e9, summed over the threads.
    public static func measure(threads: Int = Parallelism.threadCount, seconds: Double = 0.25, trials: Int = 3) -> Double {
        // Calibrate the iteration count on one thread.
        let probe = 1 << 20
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = convlens_fma_peak(probe, 1)
        let probeSeconds = max(1e-6, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        let iterations = max(probe, Int(Double(probe) * seconds / probeSeconds))
        let n = max(1, threads)
        var best = 0.0
        for _ in 0..<max(1, trials) {
            let start = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: n) { i in
                _ = convlens_fma_peak(iterations, Float(i))
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, flopsPerIteration * Double(iterations) * Double(n) / elapsed / 1e9)
        }
        return best
    }
}
