import ConvLensCore
import ConvLensImaging
import Foundation
import XCTest

/// The display formulas of DESIGN.md §1 ("Display"), checked on a 1×3 projection whose expected
/// pixels are worked out by hand from the formulas (comments), not by running ConvLens.
final class DisplayModeTests: XCTestCase {
    /// Channels (R, G, B) of three pixels: (2, 0, −4), (−1, 4, 1), (0, 3, 4).
    let g = Tensor(shape: Shape([1, 3, 1, 3]), scalars: [2, -1, 0, 0, 4, 3, -4, 1, 4])

    private func pixels(_ mode: DisplayMode, _ t: Tensor? = nil, outlier: Double = 2, bgr: Bool = false) -> [[Float]] {
        let u = Display(mode: mode, outlierPercent: outlier, bgr: bgr).renderUnit(t ?? g)
        return stride(from: 0, to: u.count, by: 3).map { Array(u[$0..<($0 + 3)]) }
    }

    private func assertPixels(_ got: [[Float]], _ want: [[Float]], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        for (p, (a, b)) in zip(got, want).enumerated() {
            for c in 0..<3 { XCTAssertEqual(a[c], b[c], accuracy: 1e-5, "\(what) pixel \(p) channel \(c)", file: file, line: line) }
        }
    }

    func testRawDividesByTwiceTheLargestMagnitudeAroundMidGray() {
        // max|G| = 4, so every value v shows as v/8 + 0.5.
        assertPixels(pixels(.raw), [[0.75, 0.5, 0], [0.375, 1, 0.625], [0.5, 0.875, 1]], "raw")
        // A BGR model's projection is shown in RGB order: the channels swap, the scale does not.
        assertPixels(pixels(.raw, bgr: true), [[0, 0.5, 0.75], [0.625, 1, 0.375], [1, 0.875, 0.5]], "raw BGR")
    }

    func testGrayIsRawOfTheChannelSum() {
        // Sums −2, 4, 7; max 7: −2/14 + 0.5, 4/14 + 0.5, 7/14 + 0.5.
        let want: [Float] = [0.5 - 1.0 / 7, 0.5 + 2.0 / 7, 1]
        assertPixels(pixels(.gray), want.map { [$0, $0, $0] }, "gray")
        // A one-channel projection in raw mode shows the same way.
        let one = Tensor(shape: Shape([1, 1, 1, 3]), scalars: [-2, 4, 7])
        assertPixels(pixels(.raw, one), want.map { [$0, $0, $0] }, "raw of one channel")
    }

    func testNormIsTheMinMaxScaledPerPixelL2Norm() {
        // Norms √20, √18, 5: the smallest maps to 0, the largest to 1.
        let lo = Float(18).squareRoot(), hi: Float = 5
        let want: [Float] = [(Float(20).squareRoot() - lo) / (hi - lo), 0, 1]
        assertPixels(pixels(.norm), want.map { [$0, $0, $0] }, "norm")
        // A constant map has no range: black, not NaN.
        let flat = Tensor(shape: Shape([1, 3, 1, 2]), scalars: [1, 1, 1, 1, 1, 1])
        assertPixels(pixels(.norm, flat), [[0, 0, 0], [0, 0, 0]], "norm of a constant")
    }

    func testHeatClipsTheOutlierMassAndUsesDivergingColours() {
        // Sums −2, 4, 7; absolute values 2, 4, 7 (total 13), cumulated in increasing order 2, 6, 13.
        // 98 % of the mass (12.74) is first reached at 7, so values divide by 7:
        // −2/7 is light blue (1 − 2/7, 1 − 2/7, 1), 4/7 light red (1, 3/7, 3/7), 1 full red.
        assertPixels(pixels(.heat), [[5.0 / 7, 5.0 / 7, 1], [1, 3.0 / 7, 3.0 / 7], [1, 0, 0]], "heat 2%")
        // Clipping 60 %: 40 % of 13 (5.2) is reached at 4; −2/4 = −0.5, 4/4 = 1, 7/4 clipped to 1.
        assertPixels(pixels(.heat, outlier: 60), [[0.5, 0.5, 1], [1, 0, 0], [1, 0, 0]], "heat 60%")
        // All zeros: white.
        let zero = Tensor(shape: Shape([1, 3, 1, 1]), scalars: [0, 0, 0])
        assertPixels(pixels(.heat, zero), [[1, 1, 1]], "heat of zeros")
    }

    func testNormblurIsAGaussianOfSigmaFourPixelsAt224() {
        // A single nonzero pixel in the middle of a 224×224 map blurs into exp(−d²/(2σ²)) with
        // σ = 4 px (after the min–max, the peak is 1 and the far field 0).
        let n = 224, c = 112
        var s = [Float](repeating: 0, count: n * n)
        s[c * n + c] = 3
        let got = Display(mode: .normblur).renderUnit(Tensor(shape: Shape([1, 1, n, n]), scalars: s))
        for (dy, dx) in [(0, 0), (0, 1), (2, 0), (3, 4), (-5, 2), (8, 0)] {
            let want = Float(exp(-Double(dy * dy + dx * dx) / 32))
            XCTAssertEqual(got[3 * ((c + dy) * n + c + dx)], want, accuracy: 1e-4, "offset (\(dy), \(dx))")
        }
        // Beyond 3σ the kernel is cut: nothing reaches 13 px away.
        XCTAssertEqual(got[3 * (c * n + c + 13)], 0)
    }
}
