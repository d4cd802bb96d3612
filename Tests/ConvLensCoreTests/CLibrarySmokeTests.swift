import ConvLensCore
import Foundation
import TestSupport
import XCTest

/// Exercises each C library of the core for real.
final class CLibrarySmokeTests: XCTestCase {
    func testFFTWRoundTripAndKnownSpectrum() {
        let fft = RealFFT2D(height: 4, width: 6)
        var signal = [Float](repeating: 0, count: 24)
        for i in 0..<24 { signal[i] = Float((i * 7) % 5) - 1.5 }
        let spectrum = fft.forward(signal)
        XCTAssertEqual(spectrum.count, 2 * 4 * 4)
        // DC bin is the sum of the signal.
        XCTAssertEqual(spectrum[0], signal.reduce(0, +), accuracy: 1e-4)
        XCTAssertEqual(spectrum[1], 0, accuracy: 1e-4)
        let back = fft.inverse(spectrum).map { $0 / 24 }
        XCTAssertEqual(back.count, signal.count)
        for (x, y) in zip(back, signal) { XCTAssertEqual(x, y, accuracy: 1e-5) }
    }

    func testFFTWImpulseHasFlatSpectrum() {
        let fft = RealFFT2D(height: 8, width: 8)
        var impulse = [Float](repeating: 0, count: 64)
        impulse[0] = 2
        let s = fft.forward(impulse)
        for k in stride(from: 0, to: s.count, by: 2) {
            XCTAssertEqual(s[k], 2, accuracy: 1e-6)
            XCTAssertEqual(s[k + 1], 0, accuracy: 1e-6)
        }
    }

    func testSgemmMatchesHandComputedProduct() {
        // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
        let c = MatrixMultiply.multiply([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], m: 2, n: 2, k: 3)
        XCTAssertEqual(c, [58, 64, 139, 154])
        // Aᵀ stored: A is 3×2 holding the transpose.
        let ct = MatrixMultiply.multiply([1, 4, 2, 5, 3, 6], [7, 8, 9, 10, 11, 12], m: 2, n: 2, k: 3, transA: true)
        XCTAssertEqual(ct, [58, 64, 139, 154])
        XCTAssertLessThanOrEqual(MatrixMultiply.blasThreadCount, Parallelism.threadCount)
    }

    /// OpenBLAS 0.3.21 takes the build machines' Xeons for a Prescott and runs SSE3 kernels 4–5×
    /// slower than their AVX-512 ones; ConvLens must hand it the widest set the CPU runs.
    func testOpenBLASRunsTheWidestKernelsTheCPUHas() throws {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else {
            throw XCTSkip("OPENBLAS_CORETYPE is set: OpenBLAS's kernels are the user's choice")
        }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard let flagLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            throw XCTSkip("no /proc/cpuinfo flags on this system")
        }
        let flags = Set(flagLine.split(separator: " ").map(String.init))
        let core = MatrixMultiply.kernelCore
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) {
            XCTAssertTrue(["SkylakeX", "Cooperlake", "SapphireRapids"].contains(core), "AVX-512 CPU, OpenBLAS runs \(core) kernels")
        } else if flags.contains("avx2") && flags.contains("fma") {
            XCTAssertTrue(["Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"].contains(core), "AVX2 CPU, OpenBLAS runs \(core) kernels")
        }
        XCTAssertTrue(MatrixMultiply.kernels.contains(core))
        // The products are still right with them (a size that takes the packed kernel path).
        let n = 64
        let a = (0..<(n * n)).map { Float($0 % 7) - 3 }, b = (0..<(n * n)).map { Float($0 % 5) - 2 }
        let c = MatrixMultiply.multiply(a, b, m: n, n: n, k: n)
        for (i, j) in [(0, 0), (5, 17), (63, 63), (31, 2)] {
            let expected = (0..<n).reduce(Float(0)) { $0 + a[i * n + $1] * b[$1 * n + j] }
            XCTAssertEqual(c[i * n + j], expected, "C[\(i), \(j)]")
        }
    }
}
