import ArgumentParser
import ConvLens
import Foundation

struct TensorboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tensorboard",
        abstract: "Write a TensorBoard event file with each layer's filters, activations and activation grid as image summaries.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: InputOptions

    @Option(help: "Layer: canonical name, output tensor name, or #N from `convlens inspect` (repeatable).")
    var layer: [String] = []

    @Option(help: "The TensorBoard log folder (created if missing); each run adds one event file and replaces manifest.json.")
    var logdir: String

    @Option(help: "The training step of these summaries (log one run per checkpoint into the same logdir for a series).")
    var step = 0

    @Option(name: .customLong("max-outputs"), help: "At most this many filter images and activation images per layer.")
    var maxOutputs = 16

    @OptionGroup var drawing: ActivationDrawingOptions
    @OptionGroup var layout: GridLayoutOptions

    func validate() throws {
        if layer.isEmpty { throw ValidationError("give at least one --layer") }
        if step < 0 { throw ValidationError("--step must not be negative") }
        if maxOutputs < 1 { throw ValidationError("--max-outputs must be at least 1") }
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try modelOptions.load()
            for q in layer { _ = try model.graph.layer(matching: q) }
            let input = try inputOptions.load(for: model)
            let trace = try model.run(input)
            var params = modelOptions.parameters.merging(inputOptions.parameters) { a, _ in a }
            params.merge(drawing.parameters) { a, _ in a }
            params.merge(layout.parameters) { a, _ in a }
            params["layer"] = .array(layer.map { .string($0) })
            params["logdir"] = .string(logdir)
            params["step"] = .integer(step)
            params["max-outputs"] = .integer(maxOutputs)
            let request = TensorBoardRequest(layers: layer, step: step, maxOutputs: maxOutputs,
                                             grid: drawing.request(scale: inputOptions.gridScale, layout: layout))
            let (manifest, path) = try model.writeTensorBoard(request, trace: trace, input: input, logdir: logdir, parameters: params)
            for o in manifest.outputs {
                print("\(o.layer ?? "")  \(o.tags?.count ?? 0) images at step \(step)")
            }
            print("wrote \(path)")
            print("view it with:")
            print("  tensorboard --logdir \(shellQuoted(logdir))")
        }
    }
}
