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
}
