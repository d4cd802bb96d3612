import ConvLensCore
import Foundation
import TestSupport
import XCTest

/// FFT, GEMM and direct convolution agree over randomized (seeded) shapes, in both directions.
final class ConvolutionAlgorithmTests: XCTestCase {
    /// SplitMix64: reproducible shapes and values on every platform.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Case: CustomStringConvertible {
        var n, cIn, cOut, h, w, groups: Int
        var geometry: Conv2DGeometry
        var outputPadding: (Int, Int)
        var description: String {
            "n\(n) c\(cIn)->\(cOut) \(h)x\(w) k\(geometry.kernel) s\(geometry.strides) p\(geometry.pads) d\(geometry.dilations) g\(groups) op\(outputPadding)"
        }
    }

    static func randomCase(_ rng: inout SplitMix) -> Case {
        while true {
            let kh = Int.random(in: 1...11, using: &rng), kw = Bool.random(using: &rng) ? kh : Int.random(in: 1...11, using: &rng)
            let s = [Int.random(in: 1...4, using: &rng), Int.random(in: 1...4, using: &rng)]
            let d = [Int.random(in: 1...2, using: &rng), Int.random(in: 1...2, using: &rng)]
            let eh = d[0] * (kh - 1) + 1, ew = d[1] * (kw - 1) + 1
            let pads = [Int.random(in: 0..<eh, using: &rng), Int.random(in: 0..<ew, using: &rng),
                        Int.random(in: 0..<eh, using: &rng), Int.random(in: 0..<ew, using: &rng)]
            let h = Int.random(in: 1...23, using: &rng), w = Int.random(in: 1...23, using: &rng)
            let kind = Int.random(in: 0..<4, using: &rng)
            var groups = 1, cIn = Int.random(in: 1...6, using: &rng), cOut = Int.random(in: 1...6, using: &rng)
            if kind == 1 { groups = 2; cIn = 2 * Int.random(in: 1...3, using: &rng); cOut = 2 * Int.random(in: 1...3, using: &rng) }
            if kind == 2 { groups = Int.random(in: 1...5, using: &rng); cIn = groups; cOut = groups }  // depthwise
            let g = Conv2DGeometry(kernel: [kh, kw], strides: s, pads: pads, dilations: d, groups: groups)
            guard h + pads[0] + pads[2] >= eh, w + pads[1] + pads[3] >= ew else { continue }
            let op = (Int.random(in: 0..<s[0], using: &rng), Int.random(in: 0..<s[1], using: &rng))
            guard g.transposedOutput(h, axis: 0, outputPadding: op.0) > 0, g.transposedOutput(w, axis: 1, outputPadding: op.1) > 0 else { continue }
            return Case(n: Int.random(in: 1...5, using: &rng), cIn: cIn, cOut: cOut, h: h, w: w, groups: groups, geometry: g, outputPadding: op)
        }
    }

    static func random(_ shape: [Int], _ rng: inout SplitMix) -> Tensor {
        let count = shape.reduce(1, *)
        return Tensor(shape: Shape(shape), scalars: (0..<count).map { _ in Float.random(in: -1...1, using: &rng) })
    }

    func testForwardAlgorithmsAgree() {
        var rng = SplitMix(state: 6)
        for _ in 0..<60 {
            let c = Self.randomCase(&rng)
            let x = Self.random([c.n, c.cIn, c.h, c.w], &rng)
            let wt = Self.random([c.cOut, c.cIn / c.groups] + c.geometry.kernel, &rng)
            let bias = Self.random([c.cOut], &rng)
            let reference = Convolution.conv2D(x, weight: wt, bias: bias, geometry: c.geometry, algorithm: .direct)
            assertClose(Convolution.conv2D(x, weight: wt, bias: bias, geometry: c.geometry, algorithm: .gemm), reference, "gemm \(c)")
            for tile in [16, 32] {
                let (y, choice) = Convolution.conv2DWithChoice(x, weight: wt, bias: bias, geometry: c.geometry, algorithm: .fft, tile: tile)
                XCTAssertEqual(choice.algorithm, .fft)
                assertClose(y, reference, "fft\(choice.tile!) \(c)")
            }
            assertClose(Convolution.conv2D(x, weight: wt, bias: bias, geometry: c.geometry), reference, "auto \(c)")
        }
    }

    /// The direct path's register-summed 3×3 and 5×5 kernels (dilation 1, column stride 1 or 2),
    /// maps smaller than the window and pads up to the window included, against GEMM, in both
    /// directions.
    func testSquareDirectKernelsAgreeWithGEMM() {
        var rng = SplitMix(state: 35)
        for k in [3, 5] {
            for sw in [1, 2] {
                for _ in 0..<12 {
                    let sh = Int.random(in: 1...3, using: &rng)
                    let pads = (0..<4).map { _ in Int.random(in: 0..<k, using: &rng) }
                    let h = Int.random(in: 1...19, using: &rng), w = Int.random(in: 1...40, using: &rng)
                    guard h + pads[0] + pads[2] >= k, w + pads[1] + pads[3] >= k else { continue }
                    let c = Int.random(in: 1...4, using: &rng), depthwise = Bool.random(using: &rng)
                    let g = Conv2DGeometry(kernel: [k, k], strides: [sh, sw], pads: pads, groups: depthwise ? c : 1)
                    let x = Self.random([2, c, h, w], &rng)
                    let wt = Self.random([c, depthwise ? 1 : c, k, k], &rng)
                    let reference = Convolution.conv2D(x, weight: wt, bias: nil, geometry: g, algorithm: .gemm)
                    let what = "k\(k) s[\(sh), \(sw)] p\(pads) \(h)x\(w) c\(c) depthwise \(depthwise)"
                    assertClose(Convolution.conv2D(x, weight: wt, bias: nil, geometry: g, algorithm: .direct), reference, what)
                    // The transposed direction (stride 1 runs as a correlation with the turned kernel).
                    let t = Conv2DGeometry(kernel: [k, k], strides: [sw, sw], pads: pads, groups: g.groups)
                    let size = (t.transposedOutput(h, axis: 0), t.transposedOutput(w, axis: 1))
                    guard size.0 > 0, size.1 > 0 else { continue }
                    assertClose(Convolution.transposedConv2D(x, weight: wt, bias: nil, geometry: t, outputSize: size, algorithm: .direct),
                                Convolution.transposedConv2D(x, weight: wt, bias: nil, geometry: t, outputSize: size, algorithm: .gemm),
                                "transposed " + what)
                }
            }
        }
    }

    func testTransposedAlgorithmsAgree() {
        var rng = SplitMix(state: 7)
        for _ in 0..<60 {
            let c = Self.randomCase(&rng)
            let g = c.geometry
            let size = (g.transposedOutput(c.h, axis: 0, outputPadding: c.outputPadding.0),
                        g.transposedOutput(c.w, axis: 1, outputPadding: c.outputPadding.1))
            let x = Self.random([c.n, c.cIn, c.h, c.w], &rng)
            let wt = Self.random([c.cIn, c.cOut / c.groups] + g.kernel, &rng)
            let reference = Convolution.transposedConv2D(x, weight: wt, bias: nil, geometry: g, outputSize: size, algorithm: .direct)
            assertClose(Convolution.transposedConv2D(x, weight: wt, bias: nil, geometry: g, outputSize: size, algorithm: .gemm), reference, "gemm \(c)")
            for tile in [16, 32] {
                let y = Convolution.transposedConv2D(x, weight: wt, bias: nil, geometry: g, outputSize: size, algorithm: .fft, tile: tile)
                assertClose(y, reference, "fft\(tile) \(c)")
            }
            assertClose(Convolution.transposedConv2D(x, weight: wt, bias: nil, geometry: g, outputSize: size), reference, "auto \(c)")
        }
    }

    /// The direct path against a hand-computed cross-correlation (it is the other tests' reference).
    func testDirectMatchesHandComputed() {
        let x = Tensor(shape: [1, 1, 3, 3], scalars: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let w = Tensor(shape: [2, 1, 2, 2], scalars: [1, 0, 0, -1, 0, 1, 1, 0])
        let y = Convolution.conv2D(x, weight: w, bias: nil, geometry: Conv2DGeometry(kernel: [2, 2]), algorithm: .direct)
        XCTAssertEqual(y.scalars, [-4, -4, -4, -4, 6, 8, 12, 14])
        // Transposed: each input pixel scatters its kernel (stride 2 leaves gaps).
        let t = Convolution.transposedConv2D(Tensor(shape: [1, 1, 1, 2], scalars: [1, 2]), weight: Tensor(shape: [1, 1, 1, 2], scalars: [3, 4]),
                                             bias: nil, geometry: Conv2DGeometry(kernel: [1, 2], strides: [1, 3]), outputSize: (1, 6), algorithm: .direct)
        XCTAssertEqual(t.scalars, [3, 4, 0, 6, 8, 0])
    }

    func testFFTIsDeterministicAndCachesSpectra() {
        var rng = SplitMix(state: 9)
        let x = Self.random([3, 8, 20, 17], &rng), wt = Self.random([8, 6, 5, 5], &rng)
        let g = Conv2DGeometry(kernel: [5, 5], strides: [2, 2], pads: [2, 1, 2, 1])
        let a = Convolution.transposedConv2D(x, weight: wt, bias: nil, geometry: g, outputSize: (39, 33), algorithm: .fft, tile: 16)
        let b = Convolution.transposedConv2D(x, weight: wt, bias: nil, geometry: g, outputSize: (39, 33), algorithm: .fft, tile: 16)
        XCTAssertEqual(a.scalars, b.scalars)
    }

    func testPlannerPrefersFFTForLargeKernelsAndGEMMForPointwise() {
        let planner = ConvolutionPlanner()
        func choice(_ k: Int, channels: Int = 128, size: Int = 56, batch: Int = 16) -> ConvolutionAlgorithm {
            let g = Conv2DGeometry(kernel: [k, k], pads: [k / 2, k / 2, k / 2, k / 2])
            let p = ConvolutionProblem(direction: .transposed, input: [batch, channels, size, size], weight: [channels, channels, k, k],
                                       geometry: g, outputSize: (size, size))
            return planner.estimate(p).algorithm
        }
        XCTAssertEqual(choice(1), .gemm)
        XCTAssertEqual(choice(7), .fft)
        XCTAssertEqual(choice(11), .fft)
        let dw = ConvolutionProblem(direction: .forward, input: [1, 32, 56, 56], weight: [32, 1, 3, 3],
                                    geometry: Conv2DGeometry(kernel: [3, 3], pads: [1, 1, 1, 1], groups: 32), outputSize: (56, 56))
        XCTAssertEqual(planner.estimate(dw).algorithm, .direct)
    }
}
