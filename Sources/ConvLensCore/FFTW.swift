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

    /// How hard the planner works. `estimate` (the default) picks plans by heuristics, so every
    /// process computes bit-identical results; `measure` times candidates (better plans, which may
    /// differ from run to run unless they come from the same wisdom).
    nonisolated(unsafe) static var measurePlans = false

    /// Loads FFTW wisdom from a file (false when it is missing or unreadable).
    static func importWisdom(from path: String) -> Bool {
        _ = threadsInitialized
        plannerLock.lock()
        defer { plannerLock.unlock() }
        return fftwf_import_wisdom_from_filename(path) != 0
    }

    /// Saves the wisdom accumulated by this process (false on failure).
    static func exportWisdom(to path: String) -> Bool {
        plannerLock.lock()
        defer { plannerLock.unlock() }
        return fftwf_export_wisdom_to_filename(path) != 0
    }

    /// The cached square `size × size` r2c/c2r plan pair, created once under the planner lock.
    static func tilePlans(_ size: Int) -> TilePlans {
        _ = threadsInitialized
        plannerLock.lock()
        defer { plannerLock.unlock() }
        if let p = planCache[size] { return p }
        let p = TilePlans(size: size, measure: measurePlans)
        planCache[size] = p
        return p
    }

    /// Plans by tile size; only touched under ``plannerLock``.
    nonisolated(unsafe) private static var planCache: [Int: TilePlans] = [:]
}

/// Public switches for FFTW's planning and wisdom (the `--fft-wisdom` option).
public enum FFTWisdom {
    /// Loads wisdom from `path` (if the file exists) and switches planning to FFTW_MEASURE, so new
    /// plans are timed and can be saved with ``save(to:)``.
    /// - Returns: whether wisdom was read.
    @discardableResult
    public static func load(from path: String) -> Bool {
        FFTW.measurePlans = true
        guard FileManager.default.fileExists(atPath: path) else { return false }
        return FFTW.importWisdom(from: path)
    }

    /// Writes the wisdom of the plans made so far.
    /// - Throws: ``ConvLensError`` when the file cannot be written.
    public static func save(to path: String) throws {
        guard FFTW.exportWisdom(to: path) else {
            throw ConvLensError(.unwritableOutput, file: path, "cannot write FFTW wisdom")
        }
    }
}

/// A square `size × size` real-to-complex / complex-to-real plan pair for FFT convolution tiles,
/// run with FFTW's new-array execute functions on any buffers from ``FFTW/allocateReal(_:)`` and
/// ``FFTW/allocateComplex(_:)`` (they share FFTW's SIMD alignment), from any thread.
final class TilePlans: @unchecked Sendable {
    let size: Int
    /// `size × (size/2 + 1)` bins.
    let bins: Int
    private let forwardPlan: fftwf_plan
    private let inversePlan: fftwf_plan

    /// Call only under ``FFTW/plannerLock``.
    fileprivate init(size: Int, measure: Bool) {
        self.size = size
        bins = size * (size / 2 + 1)
        let real = FFTW.allocateReal(size * size)
        let cplx = FFTW.allocateComplex(bins).assumingMemoryBound(to: fftwf_complex.self)
        defer {
            FFTW.free(UnsafeMutableRawPointer(real))
            FFTW.free(UnsafeMutableRawPointer(cplx))
        }
        // c2r destroys its input; ConvLens always refills the spectrum before each inverse.
        let flags = UInt32(measure ? FFTW_MEASURE : FFTW_ESTIMATE)
        forwardPlan = fftwf_plan_dft_r2c_2d(Int32(size), Int32(size), real, cplx, flags)!
        inversePlan = fftwf_plan_dft_c2r_2d(Int32(size), Int32(size), cplx, real, flags)!
    }

    deinit {
        FFTW.plannerLock.lock()
        fftwf_destroy_plan(forwardPlan)
        fftwf_destroy_plan(inversePlan)
        FFTW.plannerLock.unlock()
    }

    /// Spectrum of a `size × size` real tile (unnormalized).
    func forward(_ real: UnsafeMutablePointer<Float>, _ spectrum: UnsafeMutableRawPointer) {
        fftwf_execute_dft_r2c(forwardPlan, real, spectrum.assumingMemoryBound(to: fftwf_complex.self))
    }

    /// Unnormalized inverse; destroys `spectrum`.
    func inverse(_ spectrum: UnsafeMutableRawPointer, _ real: UnsafeMutablePointer<Float>) {
        fftwf_execute_dft_c2r(inversePlan, spectrum.assumingMemoryBound(to: fftwf_complex.self), real)
    }
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
