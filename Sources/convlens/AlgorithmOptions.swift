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

    @Option(help: "Memory for backward signals and FFT caches, e.g. 512M, 4G (default 4G); seeds run in chunks that fit.")
    var memoryBudget: MemorySize = MemorySize(bytes: Projector.defaultMemoryBudget)

    /// Configures the planner and FFTW before the run.
    func apply() {
        ConvolutionMemory.configure(budget: memoryBudget.bytes)
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
        if memoryBudget.bytes != Projector.defaultMemoryBudget { p["memory_budget"] = .string(memoryBudget.description) }
        return p
    }
}

/// A byte count written as `4G`, `512M`, `64K` or plain bytes (powers of 1024).
struct MemorySize: ExpressibleByArgument, CustomStringConvertible {
    var bytes: Int
    var text: String?

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = argument.uppercased()
        if digits.hasSuffix("B") { digits.removeLast() }
        var scale = 1
        if let u = digits.last, let s = units[u] {
            scale = s
            digits.removeLast()
        }
        // At least 16 MiB; at most 1 TiB.
        guard let v = Double(digits), v.isFinite, v > 0, v * Double(scale) >= Double(16 << 20), v * Double(scale) <= Double(1 << 40) else { return nil }
        bytes = Int(v * Double(scale))
        text = argument
    }

    var description: String { text ?? "\(bytes >> 20)M" }
    var defaultValueDescription: String { "4G" }
}
