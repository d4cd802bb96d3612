import ConvLensCore
import Foundation

/// `Gelu` (opset 20): `x · Φ(x)`, or its `tanh` approximation; the true derivative.
package struct Gelu: UnaryElementwise {
    package static let onnxTypes = ["Gelu"]
    /// `approximate = "tanh"`.
    package let tanhApproximation: Bool

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let mode = node.string("approximate") ?? "none"
        guard mode == "none" || mode == "tanh" else { throw node.fail("approximate must be 'none' or 'tanh', not '\(mode)'") }
        return Gelu(tanhApproximation: mode == "tanh")
    }

    static let k: Float = 0.7978845608028654 // √(2/π)

    package func value(_ x: Float) -> Float {
        if tanhApproximation { return 0.5 * x * (1 + Foundation.tanh(Gelu.k * (x + 0.044715 * x * x * x))) }
        return 0.5 * x * (1 + Foundation.erf(x * 0.7071067811865476))
    }

    package var backwardRule: ElementwiseRule {
        if tanhApproximation {
            return .derivative { x, _ in
                let t = Foundation.tanh(Gelu.k * (x + 0.044715 * x * x * x))
                return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * Gelu.k * (1 + 3 * 0.044715 * x * x)
            }
        }
        return .derivative { x, _ in
            0.5 * (1 + Foundation.erf(x * 0.7071067811865476)) + x * 0.3989422804014327 * Foundation.exp(-0.5 * x * x)
        }
    }
}
