import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import Foundation

/// An imported model with what it says about its inputs (the `convlens.*` metadata of DESIGN.md §3).
public struct Model: Sendable {
    /// The model file.
    public let path: String
    /// The imported graph.
    public let graph: Graph
    /// Class names (`convlens.labels`, or a labels file given by the user), empty when the model
    /// has none; see ``classNames(count:)``.
    public var labels: [String]
    /// The preprocessing the model's metadata asks for (defaults where it is silent).
    public let preprocessing: Preprocessing

    /// Loads a model file: ONNX, or Keras (`.h5`, `.hdf5`, `.keras`, chosen by extension; see
    /// `Docs/Keras.md`); `nil` loads the bundled MobileNetV2.
    /// - Throws: `ConvLensError` naming the file (unreadable, malformed, unsupported, bad metadata).
    public static func load(_ path: String?) throws -> Model {
        let p = try path ?? BundledResources.path(BundledResources.defaultModel)
        let graph = Graph.isKerasFile(p) ? try Graph.load(keras: p) : try Graph.load(onnx: p)
        return try Model(path: p, graph: graph)
    }

    /// Wraps an imported graph, reading its metadata.
    public init(path: String, graph: Graph) throws {
        self.path = path
        self.graph = graph
        let m = graph.metadata
        labels = m["convlens.labels"].map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) } ?? []
        var pre = Preprocessing()
        func floats(_ key: String) throws -> [Float]? {
            guard let s = m[key] else { return nil }
            let v = s.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard !v.isEmpty, v.allSatisfy({ $0 != nil }) else {
                throw ConvLensError(.malformedFile, file: path, "metadata \(key) = '\(s)' is not a comma-separated list of numbers")
            }
            return v.map { $0! }
        }
        func int(_ key: String) throws -> Int? {
            guard let s = m[key] else { return nil }
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v > 0, v <= Preprocessing.maximumSize else {
                throw ConvLensError(.malformedFile, file: path, "metadata \(key) = '\(s)' is not an integer between 1 and \(Preprocessing.maximumSize)")
            }
            return v
        }
        if let s = try floats("convlens.scale") { pre.scale = s[0] }
        if let v = try floats("convlens.mean") { pre.mean = v }
        if let v = try floats("convlens.std") { pre.std = v }
        pre.resize = try int("convlens.resize")
        if let c = try int("convlens.crop") { pre.crop = (c, c) }
        if let order = m["convlens.channel_order"] {
            guard let o = Preprocessing.ChannelOrder(rawValue: order.uppercased()) else {
                throw ConvLensError(.malformedFile, file: path, "metadata convlens.channel_order = '\(order)' is neither RGB nor BGR")
            }
            pre.channelOrder = o
        }
        preprocessing = pre
    }

    /// Whether the graph input is NHWC (`[1, H, W, C]` with C = 1 or 3 and H, W > 3), as tf2onnx
    /// exports produce.
    public var inputIsNHWC: Bool {
        let s = graph.inputShape.dimensions
        return s.count == 4 && ![1, 3].contains(s[1]) && [1, 3].contains(s[3])
    }

    /// Prepares the model input.
    /// - Parameters:
    ///   - path: a PNG or JPEG image (preprocessed), or a `.npy` holding the exact input tensor
    ///     (with or without the batch axis of 1); `nil` means the bundled sample image.
    ///   - preprocessing: the preprocessing for images (default: the model's).
    /// - Returns: the input tensor of shape `graph.inputShape` and how it was made.
    /// - Throws: `ConvLensError` naming the file (unreadable, wrong shape, …).
    public func input(from path: String?, preprocessing: Preprocessing? = nil) throws -> ModelInput {
        let p = try path ?? BundledResources.path(BundledResources.defaultImage)
        let want = graph.inputShape
        if p.lowercased().hasSuffix(".npy") {
            let t = try NPY.read(p)
            if t.shape == want { return ModelInput(path: p, tensor: t, preprocessing: nil) }
            if want.rank > 0, want[0] == 1, t.shape.dimensions == Array(want.dimensions.dropFirst()) {
                return ModelInput(path: p, tensor: t.reshaped(want), preprocessing: nil)
            }
            throw ConvLensError(.shapeMismatch, file: p, "the array has shape \(t.shape); the model expects \(want)")
        }
        guard want.rank == 4, want[0] == 1 else {
            throw ConvLensError(.unsupportedFeature, file: p, "the model's input \(want) is not an image batch; give a .npy input")
        }
        let pre = preprocessing ?? self.preprocessing
        let image = try Image.read(p)
        if inputIsNHWC {
            let nchw = try pre.apply(to: image, channels: want[3], height: want[1], width: want[2], file: p)
            return ModelInput(path: p, tensor: Reshaping.transpose(nchw, perm: [0, 2, 3, 1]), preprocessing: pre)
        }
        let t = try pre.apply(to: image, channels: want[1], height: want[2], width: want[3], file: p)
        return ModelInput(path: p, tensor: t, preprocessing: pre)
    }

    /// Runs the model on an input.
    public func run(_ input: ModelInput) throws -> Trace {
        do { return try graph.run(input.tensor) } catch let e as ConvLensError { throw e.attributed(to: input.path) }
    }

    /// Runs the model on an input keeping only some tensors (``Graph/evaluate(_:keep:)``: no
    /// trace, activations fused into their convolutions, tensors dropped after their last reader).
    /// - Parameter keep: tensor names; empty keeps the graph's outputs.
    public func evaluate(_ input: ModelInput, keep: Set<String> = []) throws -> [String: Tensor] {
        do { return try graph.evaluate(input.tensor, keep: keep) } catch let e as ConvLensError { throw e.attributed(to: input.path) }
    }

    /// The manifest record of the model file.
    public func record() throws -> Manifest.FileRecord { try Manifest.record(path: path) }
}

/// A model input and where it came from.
public struct ModelInput: Sendable {
    /// The file it was read from.
    public let path: String
    /// The tensor fed to the model.
    public let tensor: Tensor
    /// The preprocessing applied (`nil` for `.npy` inputs, which are used as they are).
    public let preprocessing: Preprocessing?

    /// The manifest record of the input file.
    public func record() throws -> Manifest.FileRecord {
        var pre: JSONValue? = nil
        if let p = preprocessing {
            var o: [String: JSONValue] = [
                "scale": .number(Double(p.scale)),
                "mean": .array(p.mean.map { .number(Double($0)) }),
                "std": .array(p.std.map { .number(Double($0)) }),
                "channel_order": .string(p.channelOrder.rawValue),
            ]
            if let r = p.resize { o["resize"] = .integer(r) }
            if let c = p.crop { o["crop"] = .array([.integer(c.height), .integer(c.width)]) }
            pre = .object(o)
        }
        return try Manifest.record(path: path, shape: tensor.shape.dimensions, preprocessing: pre)
    }
}

extension Model {
    /// The bundled ImageNet-1k class names (`Resources/labels/imagenet1k.txt`).
    public static let imageNetLabelsResource = "labels/imagenet1k.txt"

    /// Class names for an output of `count` classes: the model's own ``labels``; else, for a
    /// 1,000-way output, the bundled ImageNet-1k names; else none (`class N` is printed).
    public func classNames(count: Int) -> [String] {
        if !labels.isEmpty { return labels }
        guard count == 1000, let path = try? BundledResources.path(Model.imageNetLabelsResource),
              let names = try? Model.readLabels(path), names.count == 1000 else { return [] }
        return names
    }

    /// Reads a labels file: one class name per line, in class-index order (a trailing newline and
    /// `\r` line ends are accepted).
    /// - Throws: `ConvLensError` naming the file when it cannot be read, is not UTF-8 or is empty.
    public static func readLabels(_ path: String) throws -> [String] {
        let data = try AtomicFile.read(path)
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConvLensError(.malformedFile, file: path, "the labels file is not UTF-8 text")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { throw ConvLensError(.malformedFile, file: path, "the labels file holds no class names") }
        return lines
    }

    /// A copy with the class names of a labels file.
    /// - Throws: `ConvLensError` naming the file when it cannot be read, or when its number of names
    ///   differs from the model's number of classes (when the output is a class vector).
    public func withLabels(from path: String) throws -> Model {
        var copy = self
        copy.labels = try Model.readLabels(path)
        if let out = graph.outputNames.first, let shape = graph.shapes[out], shape.dimensions.filter({ $0 > 1 }).count == 1,
           shape.count != copy.labels.count {
            throw ConvLensError(.invalidArgument, file: path, "the labels file has \(copy.labels.count) names; the model has \(shape.count) classes")
        }
        return copy
    }
}
