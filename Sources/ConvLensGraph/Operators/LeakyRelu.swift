import ConvLensCore

/// `LeakyRelu`: `x ≥ 0 ? x : α·x`; a rectifier whose backprop rule leaks `α`.
package struct LeakyRelu: UnaryElementwise {
    package static let onnxTypes = ["LeakyRelu"]
    package let alpha: Float

    package init(alpha: Float) { self.alpha = alpha }

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        LeakyRelu(alpha: node.float("alpha") ?? 0.01)
    }

    package func value(_ x: Float) -> Float { x >= 0 ? x : alpha * x }
    package var backwardRule: ElementwiseRule { .rectifier(inside: { $0 > 0 }, leak: alpha) }
}
