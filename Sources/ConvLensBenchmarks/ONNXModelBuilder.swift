import ConvLensCore
import ConvLensGraph
import Foundation
internal import SwiftProtobuf

/// Builds a small ONNX model in code (a chain of `Conv`, `Relu`, `MaxPool` and `LRN` nodes) and
/// imports it through the real importer, so it gets the same validation and shape inference as a
/// file from torch's exporter.
///
/// Names follow torch's TorchScript exporter: a node `/features/features.3/Conv` writes the tensor
/// `/features/features.3/Conv_output_0`; weights are initializers (`features.3.weight`). The
/// benchmark networks of `convlens bench` (AlexNet and VGG16 convolutional parts, the CIFAR-10
/// recipe) are made this way, with fixed random weights.
///
/// ```swift
/// var b = ONNXModelBuilder(inputShape: [1, 3, 32, 32])
/// b.conv("/conv1/Conv", weight: w, bias: bias, pads: [2, 2, 2, 2])
/// b.relu("/relu1/Relu")
/// let graph = try b.graph(source: "<cifar>")
/// ```
public struct ONNXModelBuilder {
    private var model = Onnx_ModelProto()
    /// The tensor the next node reads by default: the output of the last node added (at first, the input).
    public private(set) var last: String

    /// Starts a model with one FLOAT input.
    /// - Parameters:
    ///   - inputName: the graph input's tensor name.
    ///   - inputShape: `[N, C, H, W]`, fixed dimensions.
    ///   - opset: the default-domain opset version written into the model (13: Reshape's shape and
    ///     Split's sizes as inputs; the operators built here are the same from 7 to 22).
    public init(inputName: String = "input", inputShape: [Int], opset: Int = 13) {
        model.irVersion = 7
        model.producerName = "convlens"
        var o = Onnx_OperatorSetIdProto()
        o.domain = ""
        o.version = Int64(opset)
        model.opsetImport = [o]
        model.graph.name = "convlens-built"
        model.graph.input = [Self.valueInfo(inputName, shape: inputShape)]
        last = inputName
    }

    /// Adds a `Conv` node.
    /// - Parameters:
    ///   - node: the node name (`/features/features.0/Conv`).
    ///   - weight: `[C_out, C_in/groups, kH, kW]`.
    ///   - bias: `[C_out]` or `nil`.
    ///   - strides: `[sH, sW]`.
    ///   - pads: `[top, left, bottom, right]`.
    ///   - groups: the `group` attribute.
    ///   - input: the tensor to read; `nil`: ``last``.
    ///   - parameterPrefix: the initializer names' prefix (`features.0` → `features.0.weight`);
    ///     `nil`: derived from `node` (`/features/features.0/Conv` → `features.0`).
    /// - Returns: the output tensor's name (also the new ``last``).
    @discardableResult
    public mutating func conv(_ node: String, weight: Tensor, bias: Tensor?, strides: [Int] = [1, 1],
                              pads: [Int] = [0, 0, 0, 0], groups: Int = 1, input: String? = nil,
                              parameterPrefix: String? = nil) -> String {
        precondition(weight.rank == 4, "Conv weights are [C_out, C_in/groups, kH, kW]")
        let prefix = parameterPrefix ?? Self.parameterPrefix(node)
        var inputs = [input ?? last, prefix + ".weight"]
        model.graph.initializer.append(Self.tensorProto(prefix + ".weight", weight))
        if let bias {
            inputs.append(prefix + ".bias")
            model.graph.initializer.append(Self.tensorProto(prefix + ".bias", bias))
        }
        return add(node, "Conv", inputs: inputs, attributes: [
            Self.ints("dilations", [1, 1]), Self.int("group", groups),
            Self.ints("kernel_shape", [weight.shape[2], weight.shape[3]]),
            Self.ints("pads", pads), Self.ints("strides", strides),
        ])
    }

    /// Adds a `Relu` node reading `input` (default ``last``) and returns its output's name.
    @discardableResult
    public mutating func relu(_ node: String, input: String? = nil) -> String {
        add(node, "Relu", inputs: [input ?? last], attributes: [])
    }

    /// Adds a `MaxPool` node (`ceil_mode` 0) and returns its output's name.
    /// - Parameters:
    ///   - kernel: `[kH, kW]`.
    ///   - strides: `[sH, sW]`.
    ///   - pads: `[top, left, bottom, right]`.
    @discardableResult
    public mutating func maxPool(_ node: String, kernel: [Int], strides: [Int], pads: [Int] = [0, 0, 0, 0],
                                 input: String? = nil) -> String {
        add(node, "MaxPool", inputs: [input ?? last], attributes: [
            Self.int("ceil_mode", 0), Self.ints("kernel_shape", kernel), Self.ints("pads", pads), Self.ints("strides", strides),
        ])
    }

    /// Adds an `LRN` node (ONNX semantics: the sum of squares is scaled by `alpha / size`) and
    /// returns its output's name.
    @discardableResult
    public mutating func lrn(_ node: String, size: Int, alpha: Float, beta: Float, bias: Float, input: String? = nil) -> String {
        add(node, "LRN", inputs: [input ?? last], attributes: [
            Self.float("alpha", alpha), Self.float("beta", beta), Self.float("bias", bias), Self.int("size", size),
        ])
    }

    /// Declares a graph output (default: ``last``). Without a call, ``serializedData()`` declares
    /// ``last``.
    public mutating func markOutput(_ tensor: String? = nil) {
        var v = Onnx_ValueInfoProto()
        v.name = tensor ?? last
        v.type.tensorType.elemType = 1
        model.graph.output.append(v)
    }

    /// The serialized `ModelProto`.
    /// - Throws: a SwiftProtobuf encoding error (not expected for models built here).
    public func serializedData() throws -> Data {
        var m = model
        if m.graph.output.isEmpty {
            var v = Onnx_ValueInfoProto()
            v.name = last
            v.type.tensorType.elemType = 1
            m.graph.output = [v]
        }
        return try m.serializedData()
    }

    /// Imports the model with ``Graph/init(onnx:source:directory:)``.
    /// - Parameter source: names the model in errors.
    /// - Throws: ``ConvLensError`` when the importer rejects the model (inconsistent shapes).
    public func graph(source: String) throws -> Graph {
        try Graph(onnx: try serializedData(), source: source)
    }

    // MARK: - Proto helpers

    private mutating func add(_ node: String, _ op: String, inputs: [String], attributes: [Onnx_AttributeProto]) -> String {
        var n = Onnx_NodeProto()
        n.name = node
        n.opType = op
        n.input = inputs
        let out = node + "_output_0"
        n.output = [out]
        n.attribute = attributes
        model.graph.node.append(n)
        last = out
        return out
    }

    /// `/features/features.3/Conv` → `features.3`; `/conv1/Conv` → `conv1`.
    static func parameterPrefix(_ node: String) -> String {
        let parts = node.split(separator: "/")
        return parts.count >= 2 ? String(parts[parts.count - 2]) : node
    }

    static func valueInfo(_ name: String, shape: [Int]) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        v.type.tensorType.elemType = 1
        v.type.tensorType.shape.dim = shape.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = Int64(d)
            return dim
        }
        return v
    }

    static func tensorProto(_ name: String, _ t: Tensor) -> Onnx_TensorProto {
        var p = Onnx_TensorProto()
        p.name = name
        p.dataType = 1
        p.dims = t.shape.dimensions.map { Int64($0) }
        // raw_data is little-endian; so is every platform Swift runs ConvLens on.
        p.rawData = t.scalars.withUnsafeBufferPointer { Data(buffer: $0) }
        return p
    }

    static func ints(_ name: String, _ v: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = v.map { Int64($0) }
        return a
    }

    static func int(_ name: String, _ v: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(v)
        return a
    }

    static func float(_ name: String, _ v: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = v
        return a
    }
}
