import ArgumentParser
import ConvLens
import Foundation

extension ProjectionRule: ExpressibleByArgument {}
extension DisplayMode: ExpressibleByArgument {}
extension LRNMode: ExpressibleByArgument {}
extension ProjectionRequest.SeedKind: ExpressibleByArgument {}

struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Project activations back to pixel space (deconvnet, guided backprop, backprop).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: FieldCropInputOptions

    @Option(help: "Layer: canonical name, output tensor name, or #N.")
    var layer: String

    @Option(help: "Channels: 3, 3,7,12 or 0-15.")
    var channel: String?

    @Flag(help: "Seed every channel of the layer.")
    var allChannels = false

    @Option(help: "Seed: unit (1 at one unit) or map (the channel's activation map).")
    var seed: ProjectionRequest.SeedKind = .unit

    @Option(help: "Unit position Y,X in the layer's activation map (default: each channel's argmax).")
    var at: String?

    @Option(help: "Rule set: deconvnet, guided, backprop or all.")
    var rule: String = "deconvnet"

    @Option(help: "PNG rendering: raw, gray, norm, normblur or heat.")
    var display: DisplayMode = .raw

    @Option(help: "For --display heat: percent of absolute mass clipped as outliers.")
    var outlierPercent: Double = 2

    @Flag(help: "Crop each projection to the unit's receptive field.")
    var crop = false

    @Option(help: "LRN backward: gradient or passthrough.")
    var lrn: LRNMode = .gradient

    @Option(help: "Output folder (created if missing).")
    var out: String

    func validate() throws {
        if channel == nil && !allChannels { throw ValidationError("give --channel LIST or --all-channels") }
        if channel != nil && allChannels { throw ValidationError("--channel and --all-channels exclude each other") }
        if rule != "all" && ProjectionRule(rawValue: rule) == nil { throw ValidationError("--rule must be deconvnet, guided, backprop or all") }
        if let at, Self.position(at) == nil { throw ValidationError("--at must be Y,X with non-negative integers, got '\(at)'") }
        if at != nil && seed == .map { throw ValidationError("--at applies to unit seeds") }
        if !(0..<100).contains(outlierPercent) { throw ValidationError("--outlier-percent must be in [0, 100)") }
        if inputOptions.gridScale != nil { throw ValidationError("--scale layer|tile does not apply to project (each projection has its own scale)") }
        if let channel, (try? ChannelSelection(parsing: channel)) == nil { throw ValidationError("--channel must be a list such as 3, 3,7,12 or 0-15, got '\(channel)'") }
    }

    static func position(_ s: String) -> (y: Int, x: Int)? {
        let p = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard p.count == 2, let y = p[0], let x = p[1], y >= 0, x >= 0 else { return nil }
        return (y, x)
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try modelOptions.load()
            var request = ProjectionRequest(layer: layer)
            let l = try model.graph.layer(matching: layer)
            if let channel {
                request.channels = try ChannelSelection(parsing: channel).channels(count: l.shape.rank >= 2 ? l.shape[1] : 0, layer: l.name)
            }
            request.seedKind = seed
            request.at = at.flatMap(Self.position)
            request.rules = rule == "all" ? ProjectionRule.allCases : [ProjectionRule(rawValue: rule)!]
            request.display = Display(mode: display, outlierPercent: outlierPercent)
            request.crop = crop
            request.lrn = lrn
            let input = try inputOptions.load(for: model)
            let trace = try model.run(input)
            var params = modelOptions.parameters.merging(inputOptions.parameters) { a, _ in a }
            params["layer"] = .string(layer)
            if let channel { params["channel"] = .string(channel) }
            if allChannels { params["all-channels"] = .bool(true) }
            params["seed"] = .string(seed.rawValue)
            if let at { params["at"] = .string(at) }
            params["rule"] = .string(rule)
            params["display"] = .string(display.rawValue)
            if display == .heat { params["outlier-percent"] = .number(outlierPercent) }
            if crop { params["crop"] = .bool(true) }
            params["lrn"] = .string(lrn.rawValue)
            params["out"] = .string(out)
            let progress = ProgressLine(label: "project")
            let (manifest, _) = try model.writeProjections(request, trace: trace, input: input, to: out, parameters: params,
                                                           progress: progress.update)
            progress.finish()
            print("\(manifest.outputs.count) projections of \(l.name) → \(out)/")
        }
    }
}

/// A progress line on stderr, shown only when stderr is a terminal.
final class ProgressLine: @unchecked Sendable {
    let label: String
    let enabled = isatty(2) != 0
    private var shown = false

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 1 else { return }
        shown = true
        FileHandle.standardError.write(Data("\r\(label): \(done)/\(total)".utf8))
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
