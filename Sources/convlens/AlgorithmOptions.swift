import ArgumentParser
import ConvLens
import Foundation

extension ConvolutionAlgorithm: ExpressibleByArgument {}
extension ConvolutionPlanner.Mode: ExpressibleByArgument {}

/// `--algorithm`, `--plan`, `--plan-cache` and `--fft-wisdom` (project, compare).
struct AlgorithmOptions: ParsableArguments {
    @Option(help: "Convolution algorithm of the backward pass: auto (planner per layer), fft, gemm or direct.")
    var algorithm: ConvolutionAlgorithm = .auto

    @Option(help: "How auto plans: estimate (cost model) or measure (time the candidates once per layer shape).")
    var plan: ConvolutionPlanner.Mode = .estimate

    @Option(help: "JSON file remembering --plan measure choices across runs.")
    var planCache: String?

    @Option(help: "FFTW wisdom file: loaded if present (FFTW then plans with FFTW_MEASURE) and saved after the run.")
    var fftWisdom: String?

    /// Configures the planner and FFTW before the run.
    func apply() {
        ConvolutionPlanner.shared.mode = plan
        if let planCache { ConvolutionPlanner.shared.cacheFile = planCache }
        if let fftWisdom { FFTWisdom.load(from: fftWisdom) }
    }

    /// Saves FFTW wisdom after the run.
    func finish() throws {
        if let fftWisdom { try FFTWisdom.save(to: fftWisdom) }
    }

    var parameters: [String: JSONValue] {
        var p: [String: JSONValue] = ["algorithm": .string(algorithm.rawValue)]
        if plan != .estimate { p["plan"] = .string(plan.rawValue) }
        return p
    }
}
