import ConvLensCore

/// `HardSigmoid`: `max(0, min(1, α·x + β))`; derivative `α` inside the ramp.
package struct HardSigmoid: UnaryElementwise {
    package static let onnxTypes = ["HardSigmoid"]
    package let alpha: Float
    package let beta: Float

    package init(alpha: Float, beta: Float) {
        self.alpha = alpha
        self.beta = beta
    }

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        HardSigmoid(alpha: node.float("alpha") ?? 0.2, beta: node.float("beta") ?? 0.5)
    }

    package func value(_ x: Float) -> Float { max(0, min(1, alpha * x + beta)) }

    package var backwardRule: ElementwiseRule {
        let (a, b) = (alpha, beta)
        return .derivative { x, _ in let t = a * x + b; return t > 0 && t < 1 ? a : 0 }
    }
}
