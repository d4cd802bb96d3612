import ConvLensCore
import Foundation
import XCTest

/// The issue-6 measurement (Docs/Performance.md): one transposed convolution 128→128, 56×56,
/// batch 16, k = 3, 5, 7, 11, FFT vs GEMM, best of N. Runs only with `CONVLENS_BENCH=1`
/// (Scripts/bench-fft.sh); it prints and asserts nothing about time.
final class ConvolutionBenchmark: XCTestCase {
    func testTransposedConvolutionTable() throws {
        guard ProcessInfo.processInfo.environment["CONVLENS_BENCH"] == "1" else { throw XCTSkip("set CONVLENS_BENCH=1") }
        let repeats = Int(ProcessInfo.processInfo.environment["CONVLENS_BENCH_REPEATS"] ?? "") ?? 5
        let n = 16, c = 128, size = 56
        var state: UInt64 = 1
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        let x = Tensor(shape: [n, c, size, size], scalars: (0..<(n * c * size * size)).map { _ in next() })
        print("k  algorithm  best_ms  direct_equiv_GFLOPs  (threads \(Parallelism.threadCount), best of \(repeats))")
        for k in [3, 5, 7, 11] {
            let w = Tensor(shape: [c, c, k, k], scalars: (0..<(c * c * k * k)).map { _ in next() })
            let g = Conv2DGeometry(kernel: [k, k], pads: [k / 2, k / 2, k / 2, k / 2])
            let problem = ConvolutionProblem(direction: .transposed, input: x.shape, weight: w.shape, geometry: g, outputSize: (size, size))
            let planned = ConvolutionPlanner.shared.estimate(problem)
            let bestFFT = ConvolutionPlanner.shared.candidates(problem).first { $0.algorithm == .fft }!
            var rows: [(String, ConvolutionAlgorithm, Int?)] = [("gemm", .gemm, nil)]
            for t in [16, 32] where t >= 2 * (k - 1) { rows.append(("fft\(t)", .fft, t)) }
            if bestFFT.tile != 16 && bestFFT.tile != 32 { rows.append(("fft\(bestFFT.tile!)", .fft, bestFFT.tile)) }
            for (label, algorithm, tile) in rows {
                var best = Double.infinity
                for _ in 0..<(repeats + 1) {  // the first run plans and computes kernel spectra
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = Convolution.transposedConv2D(x, weight: w, bias: nil, geometry: g, outputSize: (size, size),
                                                     algorithm: algorithm, tile: tile)
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                print(String(format: "%-2d %-9@ %8.1f %8.1f", k, label, best * 1000, problem.flops / best / 1e9))
            }
            print("k=\(k) planner: \(planned) (est. \(String(format: "%.1f", planned.estimatedSeconds * 1000)) ms)")
        }
    }
}
