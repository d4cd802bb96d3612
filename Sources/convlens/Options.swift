import ArgumentParser
import ConvLens
import Foundation

/// `--model`.
struct ModelOptions: ParsableArguments {
    @Option(help: "ONNX model file (default: the bundled MobileNetV2).")
    var model: String?

    func load() throws -> Model { try Model.load(model) }
}

/// `--image` and the preprocessing overrides.
struct InputOptions: ParsableArguments {
    @Option(help: "Input: PNG or JPEG (preprocessed), or .npy holding the exact input tensor (default: the bundled photograph).")
    var image: String?

    @Option(help: "Per-channel mean after scaling, in the model's channel order (e.g. 0.485,0.456,0.406).")
    var mean: String?

    @Option(help: "Per-channel standard deviation (e.g. 0.229,0.224,0.225).")
    var std: String?

    @Option(help: ArgumentHelp(
        "Pixels (0-255) are divided by this number first. On commands that draw activation grids, --scale layer|tile chooses the grid scaling instead (both may be given).",
        valueName: "S|layer|tile"))
    var scale: [ScaleArgument] = []

    /// The pixel divisor given with `--scale S`.
    var pixelScale: Float? { scale.lazy.compactMap { if case .divisor(let d) = $0 { d } else { nil } }.first }
    /// The grid scaling given with `--scale layer|tile` (`global` is a synonym of `layer`).
    var gridScale: TileScale? { scale.lazy.compactMap { if case .grid(let g) = $0 { g } else { nil } }.first }

    @Option(help: "Resize the shorter side to N pixels.")
    var resize: Int?

    @Option(help: "Centre-crop N×N pixels.")
    var crop: Int?

    @Flag(help: "The model expects BGR channel order.")
    var bgr = false

    func validate() throws {
        for (name, v) in [("--mean", mean), ("--std", std)] {
            if let v, Self.floats(v) == nil { throw ValidationError("\(name) must be comma-separated numbers, got '\(v)'") }
        }
        let divisors = scale.filter { if case .divisor = $0 { true } else { false } }
        if divisors.count > 1 || scale.count - divisors.count > 1 {
            throw ValidationError("--scale takes at most one number and one of layer|tile")
        }
        if let s = pixelScale, !(s > 0) { throw ValidationError("--scale must be positive") }
        if let r = resize, r <= 0 { throw ValidationError("--resize must be positive") }
        if let c = crop, c <= 0 { throw ValidationError("--crop must be positive") }
    }

    static func floats(_ s: String) -> [Float]? {
        let v = s.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        return v.isEmpty || v.contains(where: { $0 == nil }) ? nil : v.map { $0! }
    }

    /// The model's preprocessing with the flags applied.
    func preprocessing(for model: Model) -> Preprocessing {
        var p = model.preprocessing
        if let m = mean.flatMap(Self.floats) { p.mean = m }
        if let s = std.flatMap(Self.floats) { p.std = s }
        if let s = pixelScale { p.scale = s }
        if let r = resize { p.resize = r }
        if let c = crop { p.crop = (c, c) }
        if bgr { p.channelOrder = .bgr }
        return p
    }

    func load(for model: Model) throws -> ModelInput {
        try model.input(from: image, preprocessing: preprocessing(for: model))
    }

    /// The options as manifest parameters.
    var parameters: [String: JSONValue] {
        var p: [String: JSONValue] = [:]
        if let image { p["image"] = .string(image) }
        if let mean { p["mean"] = .string(mean) }
        if let std { p["std"] = .string(std) }
        let scales: [JSONValue] = scale.map {
            switch $0 {
            case .divisor(let d): .number(Double(d))
            case .grid(let g): .string(g == .global ? "layer" : "tile")
            }
        }
        if scales.count == 1 { p["scale"] = scales[0] } else if !scales.isEmpty { p["scale"] = .array(scales) }
        if let resize { p["resize"] = .integer(resize) }
        if let crop { p["crop"] = .integer(crop) }
        if bgr { p["bgr"] = .bool(true) }
        return p
    }
}

/// A `--scale` value: a pixel divisor (a number) or a grid scaling (`layer`, `global`, `tile`).
enum ScaleArgument: ExpressibleByArgument {
    case divisor(Float)
    case grid(TileScale)

    init?(argument: String) {
        switch argument {
        case "layer", "global": self = .grid(.global)
        case "tile": self = .grid(.tile)
        default:
            guard let d = Float(argument) else { return nil }
            self = .divisor(d)
        }
    }
}

extension ModelOptions {
    var parameters: [String: JSONValue] { model.map { ["model": .string($0)] } ?? [:] }
}

/// Encodes a value as pretty JSON on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try e.encode(value), as: UTF8.self))
}
