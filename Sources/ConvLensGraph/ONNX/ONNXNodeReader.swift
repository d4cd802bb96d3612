import ConvLensCore

/// What an operator's ONNX resolution reads: the node's attributes, its inputs and outputs, the
/// shapes known so far and the constants folded so far. Errors name the file and the node.
package struct ONNXNodeReader {
    let builder: ONNXGraphBuilder
    let attributes: Attributes
    /// The ONNX `op_type`.
    let opType: String
    /// The node's input tensor names (empty strings for absent optional inputs).
    let inputs: [String]
    /// The node's output tensor names.
    let outputs: [String]
    /// `node 'NAME' (OP)`, for messages.
    let context: String

    /// The default-domain opset of the model.
    var opset: Int { builder.opset }
    /// The shape of the first input (empty when unknown).
    var x: [Int] { inputs.first.flatMap { builder.shapeOf($0) } ?? [] }

    func int(_ name: String) -> Int? { attributes.int(name) }
    func float(_ name: String) -> Float? { attributes.float(name) }
    func ints(_ name: String) -> [Int]? { attributes.ints(name) }
    func clampedInts(_ name: String) -> [Int]? { attributes.clampedInts(name) }
    func string(_ name: String) -> String? { attributes.string(name) }
    func bool(_ name: String, default value: Bool = false) -> Bool { int(name).map { $0 != 0 } ?? value }

    /// The input name at `index`, or `nil` when absent.
    func input(_ index: Int) -> String? {
        index < inputs.count && !inputs[index].isEmpty ? inputs[index] : nil
    }

    /// The shape of input `index`, when known.
    func shape(_ index: Int) -> [Int]? { input(index).flatMap { builder.shapeOf($0) } }

    /// Whether input `index` is present and constant.
    func isConstant(_ index: Int) -> Bool { input(index).map { builder.consts[$0] != nil } ?? false }

    /// A constant integer input (`nil` when absent); see ``ONNXGraphBuilder/constInts(_:_:_:clamp:)``.
    func constInts(_ index: Int, _ what: String, clamp: Bool = false) throws -> [Int]? {
        try builder.constInts(input(index), context, what, clamp: clamp)
    }

    /// A constant scalar float input (`nil` when absent).
    func constFloat(_ index: Int, _ what: String) throws -> Float? {
        try builder.constFloat(input(index), context, what)
    }

    /// A constant float tensor input (`nil` when absent or computed).
    func constTensor(_ index: Int) -> Tensor? {
        input(index).flatMap { builder.consts[$0]?.floatTensor }
    }

    /// A non-negative axis for `a` in a tensor of rank `rank`.
    func axis(_ a: Int, rank: Int) throws -> Int { try builder.axis(a, rank: rank, context) }

    func fail(_ detail: String) -> ConvLensError { builder.fail("\(context): \(detail)") }
    func fail(_ code: ConvLensError.Code, _ detail: String) -> ConvLensError { builder.fail(code, "\(context): \(detail)") }

    /// Requires input `index` to be a constant (weights, biases, normalization parameters).
    func requireConstant(_ index: Int, _ what: String) throws {
        guard let name = input(index) else { return }
        guard builder.consts[name] != nil else {
            throw fail(.unsupportedFeature, "its \(what) '\(name)' is computed at run time; ConvLens needs it constant")
        }
    }
}
