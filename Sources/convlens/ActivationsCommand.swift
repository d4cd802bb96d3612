import ArgumentParser
import ConvLens
import Foundation

struct ActivationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activations",
        abstract: "Write layer activations as .npy (NCHW float32) with manifest.json.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: InputOptions

    @Option(name: .long, help: "Layer: canonical name, output tensor name, or #N from `convlens inspect` (repeatable).")
    var layer: [String] = []

    @Option(help: "Output folder (created if missing).")
    var out: String

    func validate() throws {
        if layer.isEmpty { throw ValidationError("give at least one --layer") }
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try modelOptions.load()
            // Resolve every query before any work, so an unknown layer writes nothing.
            for q in layer { _ = try model.graph.layer(matching: q) }
            let input = try inputOptions.load(for: model)
            let trace = try model.run(input)
            var params = modelOptions.parameters.merging(inputOptions.parameters) { a, _ in a }
            params["layer"] = .array(layer.map { .string($0) })
            params["out"] = .string(out)
            let manifest = try model.writeActivations(layer, trace: trace, input: input, to: out, parameters: params)
            for o in manifest.outputs {
                print("\(o.layer ?? "")  \(o.shape ?? [])  → \(out)/\(o.npy ?? "")")
            }
        }
    }
}
