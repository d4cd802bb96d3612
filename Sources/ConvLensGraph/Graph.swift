import ConvLensCore

/// One operation of the imported graph, with every attribute and constant parameter resolved.
///
/// Parameters that ONNX passes as constant inputs in later opsets (Reshape's shape, Clip's bounds,
/// Pad's pads, Split's sizes, Slice's bounds, Resize's scales, axes of Squeeze/Unsqueeze/ReduceMean)
/// are folded into the case at import, so the runtime graph only moves fp32 tensors.
public enum Op: Sendable, Hashable {
    /// Inputs: `x [N, C_in, H, W]`, `W [C_out, C_in/g, kH, kW]`, optional `B [C_out]`.
    case conv(Conv2DGeometry)
    /// Inputs: `x [N, C_in, H, W]`, `W [C_in, C_out/g, kH, kW]`, optional `B`; the output size is
    /// resolved at import.
    case convTranspose(Conv2DGeometry, outputHeight: Int, outputWidth: Int)
    /// One input, elementwise.
    case activation(Activation)
    /// Two inputs, NumPy broadcasting.
    case binary(BinaryOperator)
    case maxPool(Pool2DGeometry)
    case averagePool(Pool2DGeometry, countIncludePad: Bool)
    case globalAveragePool
    case globalMaxPool
    /// Inputs: `x`, `scale`, `B`, `mean`, `var` (inference mode).
    case batchNormalization(epsilon: Float)
    case lrn(size: Int, alpha: Float, beta: Float, bias: Float)
    /// Inputs: `A`, `B`, optional `C`.
    case gemm(alpha: Float, beta: Float, transA: Bool, transB: Bool)
    case matMul
    /// Flatten, Reshape, Squeeze, Unsqueeze: the same elements with a new (resolved) shape.
    case reshape(to: Shape)
    case transpose(perm: [Int])
    case concat(axis: Int)
    /// One output per size.
    case split(axis: Int, sizes: [Int])
    /// Resolved (non-negative) axes.
    case slice(starts: [Int], ends: [Int], axes: [Int], steps: [Int])
    case pad(pads: [Int], mode: Reshaping.PadMode, value: Float)
    case reduceMean(axes: [Int], keepDims: Bool)
    case resize(height: Int, width: Int, scaleY: Double, scaleX: Double, linear: Bool,
                transform: Reshaping.CoordinateTransform, nearest: Reshaping.NearestMode)
    /// `legacy`: opset < 13 semantics (the input is flattened to 2-D at `axis`).
    case softmax(axis: Int, legacy: Bool)
    /// Identity, Dropout (inference), Cast to float.
    case identity
}

/// A node of the imported graph.
public struct Node: Sendable, Hashable {
    /// The canonical name: the ONNX node name, or `<op>_<index>` for an unnamed node (`index` is
    /// the node's position in the ONNX file).
    public let name: String
    /// The ONNX `op_type` (`Conv`, `Relu`, …).
    public let opType: String
    /// The resolved operation.
    public let op: Op
    /// Input tensor names: computed tensors, the graph input, or initializers.
    public let inputs: [String]
    /// Output tensor names.
    public let outputs: [String]
}

/// One row of `convlens inspect`: the output tensor of one node (a node with several outputs gives
/// one layer per output, named `NAME:K`).
public struct Layer: Sendable, Hashable {
    /// The 0-based row number (`#N` in layer queries).
    public let index: Int
    /// The canonical layer name.
    public let name: String
    /// The index of the producing node in ``Graph/nodes``.
    public let nodeIndex: Int
    /// Which output of the node.
    public let outputIndex: Int
    /// The ONNX tensor name.
    public let tensorName: String
    /// The ONNX op type of the producing node.
    public let opType: String
    /// The output shape.
    public let shape: Shape
}

/// An imported model: an immutable, topologically sorted graph of fp32 operations.
public struct Graph: Sendable {
    /// The graph input's tensor name.
    public let inputName: String
    /// The graph input's shape (`[1, C, H, W]` for image models).
    public let inputShape: Shape
    /// The nodes in execution order.
    public let nodes: [Node]
    /// Constant tensors (weights, biases, folded constants) by name.
    public let initializers: [String: Tensor]
    /// The shape of every computed tensor, and of the input.
    public let shapes: [String: Shape]
    /// The graph outputs' tensor names.
    public let outputNames: [String]
    /// `metadata_props` of the model.
    public let metadata: [String: String]
    /// The default-domain opset version.
    public let opsetVersion: Int
    /// Where the model was read from (for messages).
    public let source: String
    /// Every node output, in order.
    public let layers: [Layer]

    init(inputName: String, inputShape: Shape, nodes: [Node], initializers: [String: Tensor], shapes: [String: Shape],
         outputNames: [String], metadata: [String: String], opsetVersion: Int, source: String) {
        self.inputName = inputName
        self.inputShape = inputShape
        self.nodes = nodes
        self.initializers = initializers
        self.shapes = shapes
        self.outputNames = outputNames
        self.metadata = metadata
        self.opsetVersion = opsetVersion
        self.source = source
        var layers: [Layer] = []
        for (i, node) in nodes.enumerated() {
            for (k, out) in node.outputs.enumerated() where !out.isEmpty {
                let name = node.outputs.count > 1 ? "\(node.name):\(k)" : node.name
                layers.append(Layer(index: layers.count, name: name, nodeIndex: i, outputIndex: k,
                                    tensorName: out, opType: node.opType, shape: shapes[out] ?? Shape([])))
            }
        }
        self.layers = layers
    }

    /// The number of parameters (elements of the initializers) a node reads.
    public func parameterCount(of node: Node) -> Int {
        node.inputs.reduce(0) { $0 + (initializers[$1]?.count ?? 0) }
    }
}
