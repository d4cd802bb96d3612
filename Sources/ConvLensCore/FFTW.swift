internal import CFFTW
import Foundation

/// The one place ConvLens calls FFTW (DESIGN.md §2 "Rules of the house").
///
/// FFTW's planner is not thread-safe: every plan is created under ``FFTW/plannerLock``; only
/// `fftwf_execute*` runs concurrently.
enum FFTW {
    static let plannerLock = NSLock()

    /// Initializes FFTW's threads once; transforms use one thread each (ConvLens parallelizes above
    /// them).
    static let threadsInitialized: Bool = {
        plannerLock.lock()
        defer { plannerLock.unlock() }
        let ok = fftwf_init_threads() != 0
        fftwf_plan_with_nthreads(1)
        return ok
    }()

    /// Allocates SIMD-aligned memory owned by the caller (free with ``free(_:)``).
    static func allocateReal(_ count: Int) -> UnsafeMutablePointer<Float> {
        fftwf_alloc_real(count)!
    }

    static func allocateComplex(_ count: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(fftwf_alloc_complex(count)!)
    }

    static func free(_ p: UnsafeMutableRawPointer) { fftwf_free(p) }
}

/// A 2-D real-to-complex / complex-to-real FFT pair of one size, with the buffers it was planned on.
///
/// Owns its FFTW plans and aligned buffers and frees them in `deinit`. Spectra hold
/// `height × (width/2 + 1)` complex bins as interleaved `(re, im)` floats. FFTW does not normalize:
/// `inverse(forward(x)) == height·width·x`.
public final class RealFFT2D: @unchecked Sendable {
    /// Rows of the real signal.
    public let height: Int
    /// Columns of the real signal.
    public let width: Int
    /// Number of complex bins in a spectrum: `height × (width/2 + 1)`.
    public var spectrumCount: Int { height * (width / 2 + 1) }

    private let real: UnsafeMutablePointer<Float>
    private let complex: UnsafeMutableRawPointer
    private let forwardPlan: fftwf_plan
    private let inversePlan: fftwf_plan

    /// Plans a `height × width` transform pair (FFTW_ESTIMATE, under the planner lock).
    /// - Precondition: `height > 0 && width > 0`.
    public init(height: Int, width: Int) {
        precondition(height > 0 && width > 0)
        _ = FFTW.threadsInitialized
        self.height = height
        self.width = width
        let bins = height * (width / 2 + 1)
        real = FFTW.allocateReal(height * width)
        complex = FFTW.allocateComplex(bins)
        let cplx = complex.assumingMemoryBound(to: fftwf_complex.self)
        FFTW.plannerLock.lock()
        forwardPlan = fftwf_plan_dft_r2c_2d(Int32(height), Int32(width), real, cplx, UInt32(FFTW_ESTIMATE))!
        inversePlan = fftwf_plan_dft_c2r_2d(Int32(height), Int32(width), cplx, real, UInt32(FFTW_ESTIMATE))!
        FFTW.plannerLock.unlock()
    }

    deinit {
        FFTW.plannerLock.lock()
        fftwf_destroy_plan(forwardPlan)
        fftwf_destroy_plan(inversePlan)
        FFTW.plannerLock.unlock()
        FFTW.free(UnsafeMutableRawPointer(real))
        FFTW.free(complex)
    }

    /// The spectrum of a real `height × width` signal, as `2·spectrumCount` interleaved floats.
    /// - Precondition: `signal.count == height * width`.
    public func forward(_ signal: [Float]) -> [Float] {
        precondition(signal.count == height * width)
        signal.withUnsafeBufferPointer { real.update(from: $0.baseAddress!, count: $0.count) }
        fftwf_execute(forwardPlan)
        let n = 2 * spectrumCount
        return Array(UnsafeBufferPointer(start: complex.assumingMemoryBound(to: Float.self), count: n))
    }

    /// The unnormalized inverse transform of a spectrum (`2·spectrumCount` interleaved floats).
    /// - Precondition: `spectrum.count == 2 * spectrumCount`.
    public func inverse(_ spectrum: [Float]) -> [Float] {
        precondition(spectrum.count == 2 * spectrumCount)
        spectrum.withUnsafeBufferPointer {
            complex.assumingMemoryBound(to: Float.self).update(from: $0.baseAddress!, count: $0.count)
        }
        fftwf_execute(inversePlan)
        return Array(UnsafeBufferPointer(start: real, count: height * width))
    }
}
