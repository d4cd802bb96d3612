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

    @Option(help: "Pixels (0-255) are divided by this first.")
    var scale: Float?

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
        if let s = scale, !(s > 0) { throw ValidationError("--scale must be positive") }
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
        if let s = scale { p.scale = s }
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
        if let scale { p["scale"] = .number(Double(scale)) }
        if let resize { p["resize"] = .integer(resize) }
        if let crop { p["crop"] = .integer(crop) }
        if bgr { p["bgr"] = .bool(true) }
        return p
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
