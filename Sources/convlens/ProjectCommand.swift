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

    @OptionGroup var units: UnitOptions
    @OptionGroup var algorithmOptions: AlgorithmOptions

    @Option(help: "Seed: unit (1 at one unit) or map (the channel's activation map).")
    var seed: ProjectionRequest.SeedKind = .unit

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

    @Flag(help: "Write per rule one [S, C, H, W] array, a contact sheet and a seeds table instead of per-seed files.")
    var stack = false

    @Flag(help: "With --stack, write the per-seed files too.")
    var perSeed = false

    @Option(help: "Output folder (created if missing).")
    var out: String

    func validate() throws {
        if rule != "all" && ProjectionRule(rawValue: rule) == nil { throw ValidationError("--rule must be deconvnet, guided, backprop or all") }
        if units.at != nil && seed == .map { throw ValidationError("--at applies to unit seeds") }
        if !(0..<100).contains(outlierPercent) { throw ValidationError("--outlier-percent must be in [0, 100)") }
        if perSeed && !stack { throw ValidationError("--per-seed applies with --stack (per-seed files are the default)") }
        if inputOptions.gridScale != nil { throw ValidationError("--scale layer|tile does not apply to project (each projection has its own scale)") }
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try modelOptions.load()
            var request = ProjectionRequest(layer: units.layer)
            let l = try model.graph.layer(matching: units.layer)
            request.channels = try units.channels(of: l)
            request.seedKind = seed
            request.at = units.position
            request.rules = rule == "all" ? ProjectionRule.allCases : [ProjectionRule(rawValue: rule)!]
            request.display = Display(mode: display, outlierPercent: outlierPercent)
            request.crop = crop
            request.lrn = lrn
            request.algorithm = algorithmOptions.algorithm
            request.memoryBudget = algorithmOptions.memoryBudget.bytes
            request.files = stack ? (perSeed ? .both : .stack) : .perSeed
            algorithmOptions.apply()
            let input = try inputOptions.load(for: model)
            let trace = try model.run(input)
            var params = modelOptions.parameters.merging(inputOptions.parameters) { a, _ in a }
            params.merge(units.parameters) { a, _ in a }
            params.merge(algorithmOptions.parameters) { a, _ in a }
            params["seed"] = .string(seed.rawValue)
            params["rule"] = .string(rule)
            params["display"] = .string(display.rawValue)
            if display == .heat { params["outlier-percent"] = .number(outlierPercent) }
            if crop { params["crop"] = .bool(true) }
            params["lrn"] = .string(lrn.rawValue)
            if stack { params["stack"] = .bool(true) }
            if perSeed { params["per-seed"] = .bool(true) }
            params["out"] = .string(out)
            let progress = ProgressLine(label: "project")
            let (manifest, _) = try model.writeProjections(request, trace: trace, input: input, to: out, parameters: params,
                                                           progress: progress.update)
            progress.finish()
            try algorithmOptions.finish()
            let count = manifest.outputs.filter { $0.kind == .projection }.count
                + manifest.outputs.filter { $0.kind == .projectionStack && !perSeed }.reduce(0) { $0 + ($1.shape?.first ?? 0) }
            print("\(count) projections of \(l.name) → \(out)/")
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
