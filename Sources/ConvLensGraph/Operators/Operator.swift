import ConvLensCore

/// One resolved operator: everything ConvLens knows about an operation lives in one type, in one
/// file under `Operators/` (Docs/Architecture.md "How to add an operator").
///
/// A conforming type carries
/// - its ONNX resolution (``onnxTypes``, ``resolve(_:)``, ``runtimeInputs(_:)``),
/// - its shape rule (``outputShapes(_:_:)``),
/// - its forward computation (``forward(_:)``),
/// - its receptive-field rule (``receptiveField(_:_:)``),
/// - its backward pass under each ``ProjectionRule`` (``backward(_:_:)``), and, when the signal can
///   stay in per-seed receptive-field windows, the windowed backward (``windowedBackward(_:_:_:)``).
///
/// The list of supported ONNX operators is derived from ``OperatorTable/all``; nothing else in the
/// code base switches over operator kinds.
package protocol Operator: Sendable {
    /// The ONNX `op_type`s this type imports.
    static var onnxTypes: [String] { get }
    /// How many leading inputs the ONNX node must have (non-empty).
    static var requiredInputs: Int { get }
    /// Builds the operator from an ONNX node, reading attributes and constant parameter inputs.
    /// May return another operator (a `Cast` to float is an ``Identity``).
    static func resolve(_ node: ONNXNodeReader) throws -> any Operator
    /// The node inputs the resolved operator reads at run time (parameter inputs folded into the
    /// operator are dropped).
    static func runtimeInputs(_ inputs: [String]) -> [String]

    /// The output shapes for the given input shapes (`nil`: an absent optional input), validating
    /// them so that kernels never see inconsistent tensors.
    func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape]
    /// Evaluates the operator. Absent optional inputs are `nil`.
    /// - Precondition: the input shapes passed ``outputShapes(_:_:)``.
    func forward(_ inputs: [Tensor?]) -> ForwardOutput
    /// The receptive field of the output from the fields of the inputs (`nil` for constants).
    func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField
    /// The stacked input signals (`[S] + input shape`) for stacked output signals under the rule of
    /// `context` (DESIGN.md §1's table); `nil` for inputs that receive none.
    func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?]
    /// Whether ``windowedBackward(_:_:_:)`` applies to this node (a `[1, C, H, W]` input that
    /// carries the signal, and whatever else the operator needs).
    func isWindowable(_ context: BackwardContext) -> Bool
    /// The input signals for an output signal held in per-seed windows.
    /// - Precondition: ``isWindowable(_:)``.
    func windowedBackward(_ g: consuming Tensor, _ windows: SeedWindows, _ context: BackwardContext) throws -> [Signal?]
    /// How a change confined to a region of the input map reaches the output (the incremental
    /// forward pass of occlusion, ``Graph/runPatched(_:input:region:keep:)``); `.global` by default.
    var locality: ForwardLocality { get }
    /// Whether the forward pass runs on several images stacked along axis 0 of its activation
    /// inputs (``ForwardBatching``); derived from ``locality`` by default.
    var batching: ForwardBatching { get }
}

/// An elementwise operator a preceding convolution can apply as it writes its output
/// (``Graph/fusions``): its ``fusedActivation`` computes exactly what its forward pass computes.
package protocol FusableActivation: Operator {
    var fusedActivation: ConvolutionActivation { get }
}

/// How an operator treats a batch of images stacked along axis 0, for the incremental forward
/// pass that runs many occluded images at once.
package enum ForwardBatching: Sendable {
    /// Image `b` of the output depends only on image `b` of the activation inputs: the stacked
    /// forward equals the forward on each image.
    case independent
    /// The elements are kept and only the shape changes (`Reshape`, `Flatten`): a `[1, …]` to
    /// `[1, …]` reshape applies to each image of a stack.
    case reshape
    /// The operator runs image by image.
    case none
}

/// How far a change in a region of an operator's `[1, C, H, W]` input spreads in its output.
package enum ForwardLocality: Sendable {
    /// Anywhere: the output is recomputed whole.
    case global
    /// Output pixel `(y, x)` reads only pixel `(y, x)` of each input: the operator runs on crops of
    /// its map inputs. Inputs of lower rank are parameters passed whole: per-channel ones
    /// (`broadcasting: false`, BatchNormalization), or NumPy-broadcast ones (`true`), which must
    /// then have size 1 along the map axes they align with.
    case pointwise(broadcasting: Bool)
    /// A sliding window over input 0 (convolution, pooling); `rebuild` gives the same operator with
    /// other pads `[top, left, bottom, right]`, which computes any block of outputs from a crop.
    case window(extent: [Int], strides: [Int], pads: [Int], rebuild: @Sendable ([Int]) -> any Operator)
}

extension Operator {
    package var locality: ForwardLocality { .global }
    package var batching: ForwardBatching {
        if case .global = locality { return .none }
        return .independent
    }
    package static var requiredInputs: Int { 1 }
    package static func runtimeInputs(_ inputs: [String]) -> [String] { inputs.filter { !$0.isEmpty } }
}

/// Operators whose backward signal never travels in windows: they run densely
/// (``BackwardContext``'s dense path).
package protocol DenseBackward: Operator {}

extension DenseBackward {
    package func isWindowable(_ context: BackwardContext) -> Bool { false }
    package func windowedBackward(_ g: consuming Tensor, _ windows: SeedWindows, _ context: BackwardContext) throws -> [Signal?] {
        preconditionFailure("\(Self.self) has no windowed backward")
    }
}

/// The result of a forward evaluation.
package struct ForwardOutput {
    /// One tensor per node output.
    package var outputs: [Tensor]
    /// Max-pool switches: per output element, the row-major index `y·W + x` of the maximum in its
    /// input plane.
    package var switches: [Int32]?

    package init(_ outputs: [Tensor], switches: [Int32]? = nil) {
        self.outputs = outputs
        self.switches = switches
    }

    package init(_ output: Tensor) { self.init([output]) }
}

/// Validation helpers for ``Operator/outputShapes(_:_:)``: errors name the file and the node.
package struct ShapeCheck {
    package let file: String
    package let context: String

    package func fail(_ detail: String) -> ConvLensError {
        ConvLensError(.malformedFile, file: file, "\(context): \(detail)")
    }

    /// A validated non-empty shape.
    package func make(_ dims: [Int]) throws -> Shape {
        guard dims.allSatisfy({ $0 > 0 }) else { throw fail("the output shape \(dims) would be empty") }
        return try Shape(validating: dims, file: file)
    }

    /// A validated shape (empty dimensions allowed).
    package func shape(_ dims: [Int]) throws -> Shape {
        try Shape(validating: dims, file: file)
    }

    /// Requires `inputs[i]` of rank `rank` (when given).
    package func input(_ inputs: [Shape?], _ i: Int, rank: Int? = nil, _ what: String = "input") throws -> [Int] {
        guard i < inputs.count, let s = inputs[i] else { throw fail("\(what) \(i) is missing") }
        if let rank, s.rank != rank { throw fail("\(what) \(i) must have rank \(rank), it has shape \(s)") }
        return s.dimensions
    }
}

/// The registry of operators: the ONNX importer resolves `op_type`s through it and
/// ``Graph/supportedONNXOperators`` is derived from it.
package enum OperatorTable {
    /// Every operator type, in alphabetical order of its first ONNX name.
    package static let all: [any Operator.Type] = [
        Arithmetic.self, AveragePool.self, BatchNormalization.self, Clip.self, Concat.self, Conv.self,
        ConvTranspose.self, Elu.self, Erf.self, Exp.self, Gelu.self, Gemm.self, GlobalAveragePool.self,
        GlobalMaxPool.self, GroupNormalization.self, HardSigmoid.self, HardSwish.self, Identity.self,
        InstanceNormalization.self, LayerNormalization.self, LeakyRelu.self, LRN.self, MatMul.self,
        MaxPool.self, Mish.self, Neg.self, Pad.self, Pow.self, PRelu.self, ReduceMean.self, Reciprocal.self,
        Relu.self, Reshape.self, Resize.self, Selu.self, Sigmoid.self, Slice.self, Softmax.self,
        Softplus.self, Split.self, Sqrt.self, Tanh.self, Transpose.self,
    ]

    /// ONNX operators that ConvLens only folds at import (shape arithmetic on constants), with the
    /// number of inputs each requires.
    static let foldedOnly = ["Constant": 0, "ConstantOfShape": 1, "Gather": 2, "Shape": 1]

    /// The operator type for an ONNX `op_type`.
    static let byONNXType: [String: any Operator.Type] = {
        var table: [String: any Operator.Type] = [:]
        for t in all {
            for name in t.onnxTypes {
                precondition(table[name] == nil, "ONNX operator \(name) is claimed by two operator types")
                table[name] = t
            }
        }
        return table
    }()
}

extension Graph {
    /// The ONNX operators ConvLens imports, sorted (derived from the operator table).
    public static let supportedONNXOperators: [String] =
        (Array(OperatorTable.byONNXType.keys) + Array(OperatorTable.foldedOnly.keys)).sorted()
}
