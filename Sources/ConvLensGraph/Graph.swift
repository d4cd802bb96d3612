import ConvLensCore

/// A node of the imported graph.
public struct Node: Sendable {
    /// The canonical name: the ONNX node name, or `<op>_<index>` for an unnamed node (`index` is
    /// the node's position in the ONNX file).
    public let name: String
    /// The ONNX `op_type` (`Conv`, `Relu`, …).
    public let opType: String
    /// The resolved operation (its type carries shapes, forward, backward and receptive field).
    package let op: any Operator
    /// Input tensor names: computed tensors, the graph input, or initializers.
    public let inputs: [String]
    /// Output tensor names.
    public let outputs: [String]
    /// The layer of the source framework this node implements, for importers that split one layer
    /// into several nodes (a Keras `Conv2D(activation='relu')` gives `conv2d/preactivation` and
    /// `conv2d`, both from Keras layer `conv2d`); `nil` for ONNX nodes.
    public let origin: String?

    package init(name: String, opType: String, op: any Operator, inputs: [String], outputs: [String], origin: String? = nil) {
        self.name = name
        self.opType = opType
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.origin = origin
    }

    /// The convolution geometry of a `Conv` or `ConvTranspose` node, and whether it is transposed.
    public var convolution: (geometry: Conv2DGeometry, transposed: Bool)? {
        if let c = op as? Conv { return (c.geometry, false) }
        if let c = op as? ConvTranspose { return (c.geometry, true) }
        return nil
    }

    /// The window geometry of a `MaxPool` or `AveragePool` node.
    public var pooling: Pool2DGeometry? {
        (op as? MaxPool)?.geometry ?? (op as? AveragePool)?.geometry
    }
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
    /// Convolutions whose output only a `Relu` or `Clip` reads, by node index: forward passes that
    /// need not keep the convolution's own output (``evaluate(_:keep:)``, occlusion's incremental
    /// passes) apply the activation as the convolution writes its output and skip the activation
    /// node. ``run(_:through:)`` keeps every tensor and fuses nothing.
    package let fusions: [Int: Fusion]

    /// A convolution node and the activation node that alone reads its output.
    package struct Fusion: Sendable {
        /// The activation's node index.
        package let activationNode: Int
        package let activation: ConvolutionActivation
        /// The convolution's output tensor (not computed when fused).
        package let intermediate: String
        /// The activation's output tensor (what the fused convolution produces).
        package let output: String
    }

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
        var readers: [String: [Int]] = [:]
        for (i, node) in nodes.enumerated() { for name in node.inputs where !name.isEmpty { readers[name, default: []].append(i) } }
        var fusions: [Int: Fusion] = [:]
        for (i, node) in nodes.enumerated() where node.op is Conv && node.outputs.count == 1 {
            let t = node.outputs[0]
            guard !t.isEmpty, !outputNames.contains(t), let r = readers[t], r.count == 1, r[0] > i else { continue }
            let next = nodes[r[0]]
            guard let act = next.op as? any FusableActivation, next.inputs == [t], next.outputs.count == 1,
                  !next.outputs[0].isEmpty else { continue }
            fusions[i] = Fusion(activationNode: r[0], activation: act.fusedActivation, intermediate: t, output: next.outputs[0])
        }
        self.fusions = fusions
    }

    /// The number of parameters (elements of the initializers) a node reads.
    public func parameterCount(of node: Node) -> Int {
        node.inputs.reduce(0) { $0 + (initializers[$1]?.count ?? 0) }
    }
}
