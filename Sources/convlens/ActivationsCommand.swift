import ArgumentParser
import ConvLens
import Foundation

struct ActivationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activations",
        abstract: "Write layer activations as .npy (NCHW float32) and a grid PNG per layer, with manifest.json; --overlay C blends a channel onto the input.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: InputOptions

    @Option(name: .long, help: "Layer: canonical name, output tensor name, or #N from `convlens inspect` (repeatable).")
    var layer: [String] = []

    @Option(help: "Output folder (created if missing).")
    var out: String

    @Option(help: "Also blend channel C's map (bilinear upsampling) onto the input image, with a colour bar.")
    var overlay: Int?

    @OptionGroup var drawing: ActivationDrawingOptions
    @OptionGroup var layout: GridLayoutOptions

    func validate() throws {
        if layer.isEmpty { throw ValidationError("give at least one --layer") }
        if let c = overlay, c < 0 { throw ValidationError("--overlay takes a channel index (0 or more)") }
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
            params.merge(drawing.parameters) { a, _ in a }
            params.merge(layout.parameters) { a, _ in a }
            if let overlay { params["overlay"] = .integer(overlay) }
            let overlayRequest = overlay.map { OverlayRequest(channel: $0, overlay: Overlay(colormap: drawing.colormap ?? .viridis)) }
            let manifest = try model.writeActivations(layer, trace: trace, input: input, to: out, parameters: params,
                                                      grid: drawing.request(scale: inputOptions.gridScale, layout: layout),
                                                      overlay: overlayRequest)
            for o in manifest.outputs {
                print("\(o.kind)  \(o.layer ?? "")  \(o.shape ?? [])  → \(out)/\(o.png ?? o.npy ?? "")")
            }
        }
    }
}
