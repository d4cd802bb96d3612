import Foundation

/// How many threads ConvLens's own kernels and the C libraries may use.
public enum Parallelism {
    /// The number of worker threads: `CONVLENS_THREADS` if set to a positive integer, otherwise the
    /// number of active processors. OpenBLAS and FFTW are configured with the same number so they
    /// never oversubscribe the cores.
    public static let threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["CONVLENS_THREADS"], let n = Int(s), n > 0 {
            return n
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()
}
