import ArgumentParser
import ConvLens
import Foundation

struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Panels per unit: the input and its receptive field, the activation, and the deconvnet, guided and backprop projections.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: FieldCropInputOptions

    @Option(help: "Layer: canonical name, output tensor name, or #N.")
    var layer: String

    @Option(help: "Channels: 3, 3,7,12 or 0-15.")
    var channel: String?

    @Flag(help: "One panel for every channel of the layer.")
    var allChannels = false

    @Option(help: "Unit position Y,X in the layer's activation map (default: each channel's argmax).")
    var at: String?

    @Option(help: "Projection rendering: raw, gray, norm, normblur or heat.")
    var display: DisplayMode = .norm

    @Option(help: "LRN backward: gradient or passthrough.")
    var lrn: LRNMode = .gradient

    @Option(help: "Tile height in pixels.")
    var tileSize = 128

    @Option(help: "Output folder (created if missing).")
    var out: String

    func validate() throws {
        if channel == nil && !allChannels { throw ValidationError("give --channel LIST or --all-channels") }
        if channel != nil && allChannels { throw ValidationError("--channel and --all-channels exclude each other") }
        if let channel, (try? ChannelSelection(parsing: channel)) == nil { throw ValidationError("--channel must be a list such as 3, 3,7,12 or 0-15, got '\(channel)'") }
        if let at, ProjectCommand.position(at) == nil { throw ValidationError("--at must be Y,X with non-negative integers, got '\(at)'") }
        if !(16...1024).contains(tileSize) { throw ValidationError("--tile-size must be between 16 and 1024") }
        if inputOptions.gridScale != nil { throw ValidationError("--scale layer|tile does not apply to compare") }
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try modelOptions.load()
            let l = try model.graph.layer(matching: layer)
            var request = ComparisonRequest(layer: layer)
            if let channel {
                request.channels = try ChannelSelection(parsing: channel).channels(count: l.shape.rank >= 2 ? l.shape[1] : 0, layer: l.name)
            }
            request.at = at.flatMap(ProjectCommand.position)
            request.display = Display(mode: display)
            request.lrn = lrn
            request.tileSize = tileSize
            let input = try inputOptions.load(for: model)
            let trace = try model.run(input)
            var params = modelOptions.parameters.merging(inputOptions.parameters) { a, _ in a }
            params["layer"] = .string(layer)
            if let channel { params["channel"] = .string(channel) }
            if allChannels { params["all-channels"] = .bool(true) }
            if let at { params["at"] = .string(at) }
            params["display"] = .string(display.rawValue)
            params["lrn"] = .string(lrn.rawValue)
            params["tile-size"] = .integer(tileSize)
            params["out"] = .string(out)
            let progress = ProgressLine(label: "compare")
            let manifest = try model.writeComparisons(request, trace: trace, input: input, to: out, parameters: params, progress: progress.update)
            progress.finish()
            print("\(manifest.outputs.filter { $0.channel != nil }.count) panels of \(l.name) → \(out)/")
        }
    }
}
