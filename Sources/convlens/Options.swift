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

    @Flag(help: "The model expects BGR channel order.")
    var bgr = false

    func validate() throws {
        for (name, v) in [("--mean", mean), ("--std", std)] {
            if let v, Self.floats(v) == nil { throw ValidationError("\(name) must be comma-separated finite numbers, got '\(v.prefix(80))'") }
        }
        if let s = std.flatMap(Self.floats), s.contains(0) { throw ValidationError("--std must not contain 0 (it divides)") }
        let divisors = scale.filter { if case .divisor = $0 { true } else { false } }
        if divisors.count > 1 || scale.count - divisors.count > 1 {
            throw ValidationError("--scale takes at most one number and one of layer|tile")
        }
        if let s = pixelScale, !(s > 0 && s.isFinite) { throw ValidationError("--scale must be a positive finite number") }
        if let r = resize, !(1...Preprocessing.maximumSize).contains(r) { throw ValidationError("--resize must be between 1 and \(Preprocessing.maximumSize)") }
    }

    static func floats(_ s: String) -> [Float]? {
        let v = s.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        return v.isEmpty || v.contains(where: { $0 == nil || !$0!.isFinite }) ? nil : v.map { $0! }
    }
}

/// An input and its preprocessing, with the centre crop spelled by the conforming type.
protocol InputSource {
    var flags: PreprocessingFlags { get }
    var centerCrop: Int? { get }
    /// How the centre crop is recorded in the manifest (as it is spelled on the command line).
    var centerCropParameter: String { get }
}

extension InputSource {
    /// The model's preprocessing with the flags applied.
    func preprocessing(for model: Model) -> Preprocessing {
        var p = model.preprocessing
        if let m = flags.mean.flatMap(PreprocessingFlags.floats) { p.mean = m }
        if let s = flags.std.flatMap(PreprocessingFlags.floats) { p.std = s }
        if let s = flags.pixelScale { p.scale = s }
        if let r = flags.resize { p.resize = r }
        if let c = centerCrop { p.crop = (c, c) }
        if flags.bgr { p.channelOrder = .bgr }
        return p
    }

    /// The grid scaling given with `--scale layer|tile`, if any.
    var gridScale: TileScale? { flags.gridScale }

    func load(for model: Model) throws -> ModelInput {
        try model.input(from: flags.image, preprocessing: preprocessing(for: model))
    }

    /// The options as manifest parameters.
    var parameters: [String: JSONValue] {
        var p: [String: JSONValue] = [:]
        if let v = flags.image { p["image"] = .string(v) }
        if let v = flags.mean { p["mean"] = .string(v) }
        if let v = flags.std { p["std"] = .string(v) }
        let scales: [JSONValue] = flags.scale.map {
            switch $0 {
            case .divisor(let d): .number(Double(d))
            case .grid(let g): .string(g == .global ? "layer" : "tile")
            }
        }
        if scales.count == 1 { p["scale"] = scales[0] } else if !scales.isEmpty { p["scale"] = .array(scales) }
        if let v = flags.resize { p["resize"] = .integer(v) }
        if let v = centerCrop { p[centerCropParameter] = .integer(v) }
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

    var centerCropParameter: String { "crop" }

    func validate() throws {
        if let c = centerCrop, !(1...Preprocessing.maximumSize).contains(c) { throw ValidationError("--crop must be between 1 and \(Preprocessing.maximumSize)") }
    }
}

/// The input options of commands whose `--crop` is the receptive-field crop (`project`, `compare`):
/// the centre crop is spelled `--center-crop N`.
struct FieldCropInputOptions: ParsableArguments, InputSource {
    @OptionGroup var flags: PreprocessingFlags

    @Option(name: .customLong("center-crop"), help: "Centre-crop N×N pixels (preprocessing).")
    var centerCrop: Int?

    var centerCropParameter: String { "center-crop" }

    func validate() throws {
        if let c = centerCrop, !(1...Preprocessing.maximumSize).contains(c) { throw ValidationError("--center-crop must be between 1 and \(Preprocessing.maximumSize)") }
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
