import ArgumentParser
import ConvLens
import Foundation

struct TopKCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topk",
        abstract: "Per unit of a scan: the receptive-field crops of its top images beside their back-projections, as montages.")

    @Option(help: "A scan's output folder (holding scan.json).")
    var scan: String

    @Option(help: "ONNX model file (default: the model the scan ran).")
    var model: String?

    @Option(help: "Layer: canonical name, output tensor name, or #N (one of the scanned layers).")
    var layer: String

    @Option(help: "Channels: 3, 3,7,12 or 0-15.")
    var channel: String?

    @Flag(help: "Every channel of the layer.")
    var allChannels = false

    @Option(help: "Rule set: deconvnet, guided, backprop or all.")
    var rule: String = "deconvnet"

    @Option(help: "PNG rendering of projections: raw, gray, norm, normblur or heat.")
    var display: DisplayMode = .raw

    @Option(help: "LRN backward: gradient or passthrough.")
    var lrn: LRNMode = .gradient

    @OptionGroup var algorithmOptions: AlgorithmOptions

    @Option(help: "Output folder (created if missing).")
    var out: String

    func validate() throws {
        if rule != "all" && ProjectionRule(rawValue: rule) == nil { throw ValidationError("--rule must be deconvnet, guided, backprop or all") }
        if channel == nil && !allChannels { throw ValidationError("give --channel LIST or --all-channels") }
        if channel != nil && allChannels { throw ValidationError("--channel and --all-channels exclude each other") }
        if let channel, (try? ChannelSelection(parsing: channel)) == nil {
            throw ValidationError("--channel must be a list such as 3, 3,7,12 or 0-15, got '\(channel.prefix(80))'")
        }
    }

    func run() async throws {
        try await runReportingErrors {
            let result = try ScanResult.read(directory: scan)
            let m = try Model.load(model ?? result.model.path)
            var request = TopKRequest(layer: layer)
            let l = try m.graph.layer(matching: layer)
            if let channel {
                request.channels = try ChannelSelection(parsing: channel).channels(count: l.shape.rank >= 2 ? l.shape[1] : 0, layer: l.name)
            }
            request.rules = rule == "all" ? ProjectionRule.allCases : [ProjectionRule(rawValue: rule)!]
            request.display = Display(mode: display)
            request.lrn = lrn
            request.algorithm = algorithmOptions.algorithm
            request.memoryBudget = algorithmOptions.memoryBudget.bytes
            algorithmOptions.apply()
            var params = algorithmOptions.parameters
            params["scan"] = .string(scan)
            if let model { params["model"] = .string(model) }
            params["layer"] = .string(layer)
            if let channel { params["channel"] = .string(channel) }
            if allChannels { params["all-channels"] = .bool(true) }
            params["rule"] = .string(rule)
            params["display"] = .string(display.rawValue)
            params["lrn"] = .string(lrn.rawValue)
            params["out"] = .string(out)
            let progress = RateProgressLine(label: "topk", unit: "projections")
            let start = Date()
            let (manifest, count) = try m.writeTopK(request, scan: result, to: out, parameters: params) { done, total in
                progress.update(done, total, thisRun: done)
            }
            progress.finish()
            try algorithmOptions.finish()
            let seconds = Date().timeIntervalSince(start)
            let montages = manifest.outputs.filter { $0.view == "montage" }.count
            print("\(count) projections, \(montages) montages of \(l.name)" + String(format: " in %.1f s", seconds) + " → \(out)/")
        }
    }
}
