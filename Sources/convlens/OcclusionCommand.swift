import ArgumentParser
import ConvLens
import Foundation

struct OcclusionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "occlusion",
        abstract: "Occlusion sensitivity: slide a gray square over the image and map what changes (Zeiler & Fergus).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: InputOptions
    @OptionGroup var target: TargetOptions

    @Option(help: "Side of the square window, in input pixels.")
    var window = 16

    @Option(help: "Step between window positions, in input pixels.")
    var stride = 8

    @Option(help: "The window's value in the model's normalized input space (0: the mean colour).")
    var baseline: Float = 0

    @Flag(help: "Run every occluded image through the whole network (default: recompute only what the window changes).")
    var wholeNetwork = false

    @Option(help: "Output folder (created if missing).")
    var out: String

    func validate() throws {
        if !(1...Preprocessing.maximumSize).contains(window) { throw ValidationError("--window must be between 1 and \(Preprocessing.maximumSize)") }
        if !(1...Preprocessing.maximumSize).contains(stride) { throw ValidationError("--stride must be between 1 and \(Preprocessing.maximumSize)") }
        if !baseline.isFinite || abs(baseline) > 1e6 { throw ValidationError("--baseline must be a finite number of magnitude at most 1e6") }
        if inputOptions.gridScale != nil { throw ValidationError("occlusion draws no grid: --scale takes a number (the pixel divisor)") }
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try target.apply(to: try modelOptions.load())
            var request = OcclusionRequest()
            request.targets = try target.targets(for: model)
            request.window = window
            request.stride = stride
            request.baseline = baseline
            request.incremental = !wholeNetwork
            let input = try inputOptions.load(for: model)
            let trace = try model.run(input)
            var params = modelOptions.parameters.merging(inputOptions.parameters) { a, _ in a }
            params.merge(target.parameters) { a, _ in a }
            params["window"] = .integer(window)
            params["stride"] = .integer(stride)
            params["baseline"] = .number(Double(baseline))
            if wholeNetwork { params["whole-network"] = .bool(true) }
            params["out"] = .string(out)
            let progress = ProgressLine(label: "occlusion")
            let (_, maps) = try model.writeOcclusion(request, trace: trace, input: input, to: out, parameters: params, progress: progress.update)
            progress.finish()
            for (t, v) in zip(maps.targets, maps.clean) {
                print(String(format: "%@  (%@ %.4g)", t.label, t.isClass ? "probability" : "value", Double(v)))
            }
            let share = maps.work.whole == 0 ? 1 : Double(maps.work.computed) / Double(maps.work.whole)
            print(String(format: "%d window positions (%d×%d); computed %.0f%% of the activations of whole forward passes → %@/",
                         maps.rows.count * maps.columns.count, maps.rows.count, maps.columns.count, 100 * share, out))
        }
    }
}
