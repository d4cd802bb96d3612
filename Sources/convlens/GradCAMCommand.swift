import ArgumentParser
import ConvLens
import Foundation

struct GradCAMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcam",
        abstract: "Grad-CAM and guided Grad-CAM of a class or a unit at a convolution layer.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: InputOptions

    @Option(help: "The layer whose maps are weighted (a [1, C, H, W] layer: name, tensor name or #N).")
    var layer: String

    @OptionGroup var target: TargetOptions

    @Flag(inversion: .prefixedNo, help: "Keep only the positive part of the map (the paper's ReLU).")
    var relu = true

    @Flag(inversion: .prefixedNo, help: "Also write guided Grad-CAM (guided backprop × the map).")
    var guided = true

    @Option(help: "Upsampling of the map to the input: bilinear or nearest.")
    var interpolation: GradCAMRequest.Interpolation = .bilinear

    @Option(help: "Guided Grad-CAM PNG rendering: raw, gray, norm, normblur or heat.")
    var display: DisplayMode = .raw

    @Option(help: "Opacity of the map over the image, in [0, 1].")
    var opacity: Float = 0.5

    @Option(help: "Output folder (created if missing).")
    var out: String

    func validate() throws {
        if !(opacity.isFinite && (0...1).contains(opacity)) { throw ValidationError("--opacity must be in [0, 1]") }
        if inputOptions.gridScale != nil { throw ValidationError("gradcam draws no grid: --scale takes a number (the pixel divisor)") }
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try target.apply(to: try modelOptions.load())
            var request = GradCAMRequest(layer: layer)
            request.targets = try target.targets(for: model)
            request.relu = relu
            request.guided = guided
            request.interpolation = interpolation
            request.display = Display(mode: display)
            request.opacity = opacity
            let input = try inputOptions.load(for: model)
            let trace = try model.run(input)
            var params = modelOptions.parameters.merging(inputOptions.parameters) { a, _ in a }
            params.merge(target.parameters) { a, _ in a }
            params["layer"] = .string(layer)
            params["relu"] = .bool(relu)
            params["guided"] = .bool(guided)
            params["interpolation"] = .string(interpolation.rawValue)
            params["display"] = .string(display.rawValue)
            params["opacity"] = .number(Double(opacity))
            params["out"] = .string(out)
            let (_, results) = try model.writeGradCAM(request, trace: trace, input: input, to: out, parameters: params)
            for r in results {
                print(String(format: "%@  (%@ %.4g)", r.target.label, r.target.isClass ? "score" : "activation", Double(r.target.value)))
            }
            print("\(results.count) Grad-CAM map\(results.count == 1 ? "" : "s") of \(results.first?.layer.name ?? layer) → \(out)/")
        }
    }
}
