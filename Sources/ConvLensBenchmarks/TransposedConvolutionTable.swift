import ConvLensCore
import Foundation

/// Issue 6's measurement (Docs/Performance.md "Transposed convolution: FFT vs GEMM"): one
/// transposed convolution 128 → 128 channels, 56×56, batch 16, for k = 3, 5, 7 and 11, by GEMM
/// and by FFT at tiles 16 and 32 (and the planner's own tile), best of `repeats` after a run that
/// plans and computes the kernel spectra. `convlens bench --fft-table` prints it;
/// `Scripts/bench-fft.sh` adds PyTorch's `conv_transpose2d` beside it.
public enum TransposedConvolutionTable {
    /// Measures the table, handing each line to `line` as soon as it is measured: a header, then
    /// per k one line per algorithm (`k algorithm best_ms GFLOP/s`) and the planner's choice with
    /// its estimate.
    /// - Parameters:
    ///   - repeats: timed runs per row (the best is reported), ≥ 1.
    ///   - line: receives each line of the table.
    public static func run(repeats: Int, line: (String) -> Void) {
        precondition(repeats >= 1, "repeats must be positive")
        let n = 16, c = 128, size = 56
        var rng = SplitMix64(seed: 6)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1..<1, using: &rng) } }
        let x = Tensor(shape: [n, c, size, size], scalars: values(n * c * size * size))
        line("k  algorithm  best_ms  direct_equiv_GFLOPs  (threads \(Parallelism.threadCount), best of \(repeats))")
        for k in [3, 5, 7, 11] {
            let w = Tensor(shape: [c, c, k, k], scalars: values(c * c * k * k))
            let g = Conv2DGeometry(kernel: [k, k], pads: [k / 2, k / 2, k / 2, k / 2])
            let problem = ConvolutionProblem(direction: .transposed, input: x.shape, weight: w.shape, geometry: g, outputSize: (size, size))
            let planned = ConvolutionPlanner.shared.estimate(problem)
            var rows: [(String, ConvolutionAlgorithm, Int?)] = [("gemm", .gemm, nil)]
            for t in [16, 32] where t >= 2 * (k - 1) { rows.append(("fft\(t)", .fft, t)) }
            if let tile = ConvolutionPlanner.shared.candidates(problem).first(where: { $0.algorithm == .fft })?.tile, tile != 16, tile != 32 {
                rows.append(("fft\(tile)", .fft, tile))
            }
            for (label, algorithm, tile) in rows {
                var best = Double.infinity
                for _ in 0..<(repeats + 1) {  // the first run plans and computes kernel spectra
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = Convolution.transposedConv2D(x, weight: w, bias: nil, geometry: g, outputSize: (size, size),
                                                     algorithm: algorithm, tile: tile)
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                line(String(format: "%-2d %-9@ %8.1f %8.1f", k, label, best * 1000, problem.flops / best / 1e9))
            }
            line("k=\(k) planner: \(planned) (est. \(String(format: "%.1f", planned.estimatedSeconds * 1000)) ms)")
        }
    }
}
