import ArgumentParser
import ConvLens
import Foundation

/// `--model`.
struct ModelOptions: ParsableArguments {
    @Option(help: "ONNX model file (default: the bundled MobileNetV2).")
    var model: String?

    func load() throws -> Model { try Model.load(model) }
}

/// `--image` and the preprocessing overrides other than the centre crop.
struct PreprocessingFlags: ParsableArguments {
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

    @Flag(help: "The model expects BGR channel order.")
    var bgr = false

    func validate() throws {
        for (name, v) in [("--mean", mean), ("--std", std)] {
            if let v, Self.floats(v) == nil { throw ValidationError("\(name) must be comma-separated numbers, got '\(v)'") }
        }
        if let s = scale, !(s > 0) { throw ValidationError("--scale must be positive") }
        if let r = resize, r <= 0 { throw ValidationError("--resize must be positive") }
    }

    static func floats(_ s: String) -> [Float]? {
        let v = s.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        return v.isEmpty || v.contains(where: { $0 == nil }) ? nil : v.map { $0! }
    }
}

/// An input and its preprocessing, with the centre crop spelled by the conforming type.
protocol InputSource {
    var flags: PreprocessingFlags { get }
    var centerCrop: Int? { get }
}

extension InputSource {
    /// The model's preprocessing with the flags applied.
    func preprocessing(for model: Model) -> Preprocessing {
        var p = model.preprocessing
        if let m = flags.mean.flatMap(PreprocessingFlags.floats) { p.mean = m }
        if let s = flags.std.flatMap(PreprocessingFlags.floats) { p.std = s }
        if let s = flags.scale { p.scale = s }
        if let r = flags.resize { p.resize = r }
        if let c = centerCrop { p.crop = (c, c) }
        if flags.bgr { p.channelOrder = .bgr }
        return p
    }

    func load(for model: Model) throws -> ModelInput {
        try model.input(from: flags.image, preprocessing: preprocessing(for: model))
    }

    /// The options as manifest parameters.
    var parameters: [String: JSONValue] {
        var p: [String: JSONValue] = [:]
        if let v = flags.image { p["image"] = .string(v) }
        if let v = flags.mean { p["mean"] = .string(v) }
        if let v = flags.std { p["std"] = .string(v) }
        if let v = flags.scale { p["scale"] = .number(Double(v)) }
        if let v = flags.resize { p["resize"] = .integer(v) }
        if let v = centerCrop { p["crop"] = .integer(v) }
        if flags.bgr { p["bgr"] = .bool(true) }
        return p
    }
}

/// The common input options: `--image`, the preprocessing overrides and `--crop N` (alias
/// `--center-crop N`).
struct InputOptions: ParsableArguments, InputSource {
    @OptionGroup var flags: PreprocessingFlags

    @Option(name: [.customLong("crop"), .customLong("center-crop")], help: "Centre-crop N×N pixels.")
    var centerCrop: Int?

    func validate() throws {
        if let c = centerCrop, c <= 0 { throw ValidationError("--crop must be positive") }
    }
}

/// The input options of commands whose `--crop` is the receptive-field crop (`project`, `compare`):
/// the centre crop is spelled `--center-crop N`.
struct FieldCropInputOptions: ParsableArguments, InputSource {
    @OptionGroup var flags: PreprocessingFlags

    @Option(name: .customLong("center-crop"), help: "Centre-crop N×N pixels (preprocessing).")
    var centerCrop: Int?

    func validate() throws {
        if let c = centerCrop, c <= 0 { throw ValidationError("--center-crop must be positive") }
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
