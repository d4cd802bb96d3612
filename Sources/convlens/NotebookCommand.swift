import ArgumentParser
import ConvLens
import Foundation

extension NotebookRequest.Section: ExpressibleByArgument {}

struct NotebookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notebook",
        abstract: "A Jupyter notebook (nbformat 4.5) of filters, activations, projections and comparison panels, with its arrays and images beside it.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: FieldCropInputOptions

    @Option(help: "Layer: canonical name, output tensor name, or #N (repeatable; each layer gets its own sections).")
    var layer: [String] = []

    @Option(help: "Channels: 3, 3,7,12 or 0-15 (applies to every layer).")
    var channel: String?

    @Flag(help: "Every channel of each layer.")
    var allChannels = false

    @Option(help: "The N channels of each layer with the largest activation.")
    var strongest: Int?

    @Option(help: "Unit position Y,X in the layer's activation map (default: each channel's argmax).")
    var at: String?

    @OptionGroup var algorithmOptions: AlgorithmOptions

    @Option(help: "Sections, comma-separated: filters, activations, projections, compare, optimize, gradcam, occlusion (default: the first four).")
    var sections: String = "filters,activations,projections,compare"

    @Option(help: "Seed of the projections: unit or map.")
    var seed: ProjectionRequest.SeedKind = .unit

    @Option(help: "Rule set of the projections section: deconvnet, guided, backprop or all.")
    var rule: String = "all"

    @Option(help: "Projection rendering: raw, gray, norm, normblur or heat.")
    var display: DisplayMode = .norm

    @Option(help: "LRN backward: gradient or passthrough.")
    var lrn: LRNMode = .gradient

    @Option(help: "Comparison panel tile height in pixels.")
    var tileSize = 128

    @Option(help: "Filter and activation grids: at most this many tiles (the first ones).")
    var maxTiles: Int?

    @Option(help: "Delete .npy arrays larger than this many bytes after writing (their PNGs stay); keeps exported notebooks small.")
    var maxArrayBytes: Int?

    @Option(help: "Steps of the optimize section's activation maximization.")
    var optimizeSteps = 128

    @Option(help: "Notebook title.")
    var title: String?

    @Option(help: "Output folder (created if missing): notebook.ipynb, manifest.json, and the arrays and images.")
    var out: String

    func validate() throws {
        if layer.isEmpty { throw ValidationError("give at least one --layer") }
        let given = [channel != nil, allChannels, strongest != nil].filter { $0 }.count
        if given > 1 { throw ValidationError("--channel, --all-channels and --strongest exclude each other") }
        if given == 0, let s = parsedSections, s.contains(.projections) || s.contains(.compare) || s.contains(.optimize) {
            throw ValidationError("the projections, compare and optimize sections need --channel LIST, --all-channels or --strongest N")
        }
        if let channel, (try? ChannelSelection(parsing: channel)) == nil {
            throw ValidationError("--channel must be a list such as 3, 3,7,12 or 0-15, got '\(channel.prefix(80))'")
        }
        if let strongest, strongest < 1 { throw ValidationError("--strongest must be at least 1") }
        if let at, UnitOptions.position(at) == nil { throw ValidationError("--at must be Y,X with non-negative integers, got '\(at.prefix(80))'") }
        if at != nil && seed == .map { throw ValidationError("--at applies to unit seeds") }
        if rule != "all" && ProjectionRule(rawValue: rule) == nil { throw ValidationError("--rule must be deconvnet, guided, backprop or all") }
        if parsedSections == nil { throw ValidationError("--sections must list filters, activations, projections, compare, optimize, gradcam or occlusion, got '\(sections.prefix(80))'") }
        if !(1...OptimizeCommand.maximumSteps).contains(optimizeSteps) {
            throw ValidationError("--optimize-steps must be between 1 and \(OptimizeCommand.maximumSteps)")
        }
        if !(16...1024).contains(tileSize) { throw ValidationError("--tile-size must be between 16 and 1024") }
        if let m = maxTiles, m < 1 { throw ValidationError("--max-tiles must be at least 1") }
        if let m = maxArrayBytes, m < 0 { throw ValidationError("--max-array-bytes must not be negative") }
        if inputOptions.gridScale != nil { throw ValidationError("--scale layer|tile does not apply to notebook") }
    }

    var parsedSections: [NotebookRequest.Section]? {
        let s = sections.split(separator: ",").map { NotebookRequest.Section(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
        return s.isEmpty || s.contains(where: { $0 == nil }) ? nil : s.map { $0! }
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try modelOptions.load()
            var request = NotebookRequest(layers: layer)
            if let channel { request.channels = try ChannelSelection(parsing: channel) }
            request.strongest = strongest
            request.at = at.flatMap(UnitOptions.position)
            request.sections = parsedSections ?? []
            request.seedKind = seed
            request.rules = rule == "all" ? ProjectionRule.allCases : [ProjectionRule(rawValue: rule)!]
            request.display = Display(mode: display)
            request.lrn = lrn
            request.algorithm = algorithmOptions.algorithm
            request.memoryBudget = algorithmOptions.memoryBudget.bytes
            request.tileSize = tileSize
            request.maxArrayBytes = maxArrayBytes
            request.maxTiles = maxTiles
            request.title = title
            request.optimizeSteps = optimizeSteps
            request.commandLine = (["convlens"] + CommandLine.arguments.dropFirst()).map(shellQuote).joined(separator: " ")
            algorithmOptions.apply()
            let input = try inputOptions.load(for: model)
            let trace = try model.run(input)
            var params = modelOptions.parameters.merging(inputOptions.parameters) { a, _ in a }
            params.merge(algorithmOptions.parameters) { a, _ in a }
            params["layer"] = .array(layer.map(JSONValue.string))
            if let channel { params["channel"] = .string(channel) }
            if allChannels { params["all-channels"] = .bool(true) }
            if let strongest { params["strongest"] = .integer(strongest) }
            if let at { params["at"] = .string(at) }
            params["sections"] = .string(sections)
            params["seed"] = .string(seed.rawValue)
            params["rule"] = .string(rule)
            params["display"] = .string(display.rawValue)
            params["lrn"] = .string(lrn.rawValue)
            params["tile-size"] = .integer(tileSize)
            if let maxTiles { params["max-tiles"] = .integer(maxTiles) }
            if let maxArrayBytes { params["max-array-bytes"] = .integer(maxArrayBytes) }
            if let title { params["title"] = .string(title) }
            if parsedSections?.contains(.optimize) == true { params["optimize-steps"] = .integer(optimizeSteps) }
            params["out"] = .string(out)
            let progress = ProgressLine(label: "notebook")
            let manifest = try model.writeNotebook(request, trace: trace, input: input, to: out, parameters: params, progress: progress.update)
            progress.finish()
            try algorithmOptions.finish()
            print("notebook with \(manifest.outputs.filter { $0.png != nil }.count) images and \(manifest.outputs.filter { $0.npy != nil }.count) arrays → \(out)/notebook.ipynb")
        }
    }
}
