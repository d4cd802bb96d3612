import ArgumentParser
import ConvLens
import Foundation

struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Panels per unit: the input and its receptive field, the activation, and the deconvnet, guided and backprop projections.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: FieldCropInputOptions

    @OptionGroup var units: UnitOptions
    @OptionGroup var algorithmOptions: AlgorithmOptions

    @Option(help: "Projection rendering: raw, gray, norm, normblur or heat.")
    var display: DisplayMode = .norm

    @Option(help: "LRN backward: gradient or passthrough.")
    var lrn: LRNMode = .gradient

    @Option(help: "Tile height in pixels.")
    var tileSize = 128

    @Option(help: "Add a Grad-CAM column: the unit's Grad-CAM at this earlier layer.")
    var gradcamLayer: String?

    @Option(help: "Add an occlusion column with this window size (pixels; stride: half the window).")
    var occlusionWindow: Int?

    @Option(help: "Add an optimized-image column: this many steps of activation maximization of each unit's channel (Fourier image, standard transforms), cropped to the unit's field (0: no column).")
    var optimizeSteps = 0

    @Option(help: "Output folder (created if missing).")
    var out: String

    func validate() throws {
        if !(16...1024).contains(tileSize) { throw ValidationError("--tile-size must be between 16 and 1024") }
        if inputOptions.gridScale != nil { throw ValidationError("--scale layer|tile does not apply to compare") }
        if let w = occlusionWindow, !(1...Preprocessing.maximumSize).contains(w) {
            throw ValidationError("--occlusion-window must be between 1 and \(Preprocessing.maximumSize)")
        }
        if !(0...OptimizeCommand.maximumSteps).contains(optimizeSteps) {
            throw ValidationError("--optimize-steps must be between 0 and \(OptimizeCommand.maximumSteps)")
        }
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try modelOptions.load()
            let l = try model.graph.layer(matching: units.layer)
            var request = ComparisonRequest(layer: units.layer)
            request.channels = try units.channels(of: l)
            request.at = units.position
            request.display = Display(mode: display)
            request.lrn = lrn
            request.algorithm = algorithmOptions.algorithm
            request.memoryBudget = algorithmOptions.memoryBudget.bytes
            algorithmOptions.apply()
            request.tileSize = tileSize
            request.gradCAMLayer = gradcamLayer
            if let w = occlusionWindow {
                var o = OcclusionRequest()
                o.window = w
                o.stride = max(1, w / 2)
                request.occlusion = o
            }
            if optimizeSteps > 0 {
                var o = OptimizeRequest(objective: .channelMean(layer: units.layer), channels: [])
                o.steps = optimizeSteps
                request.optimize = o
            }
            let input = try inputOptions.load(for: model)
            let trace = try model.run(input)
            var params = modelOptions.parameters.merging(inputOptions.parameters) { a, _ in a }
            params.merge(units.parameters) { a, _ in a }
            params.merge(algorithmOptions.parameters) { a, _ in a }
            params["display"] = .string(display.rawValue)
            params["lrn"] = .string(lrn.rawValue)
            params["tile-size"] = .integer(tileSize)
            if let gradcamLayer { params["gradcam-layer"] = .string(gradcamLayer) }
            if let occlusionWindow { params["occlusion-window"] = .integer(occlusionWindow) }
            if optimizeSteps > 0 { params["optimize-steps"] = .integer(optimizeSteps) }
            params["out"] = .string(out)
            let progress = ProgressLine(label: "compare")
            let manifest = try model.writeComparisons(request, trace: trace, input: input, to: out, parameters: params, progress: progress.update)
            progress.finish()
            try algorithmOptions.finish()
            print("\(manifest.outputs.filter { $0.channel != nil }.count) panels of \(l.name) → \(out)/")
        }
    }
}
