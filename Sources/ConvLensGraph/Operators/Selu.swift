import ConvLensCore
import Foundation

/// `Selu`: `γ · (x > 0 ? x : α (e^x − 1))`; the true derivative (`γ`, or `γ α e^x`).
package struct Selu: UnaryElementwise {
    package static let onnxTypes = ["Selu"]
    package let alpha: Float
    package let gamma: Float

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        Selu(alpha: node.float("alpha") ?? 1.67326319217681884765625, gamma: node.float("gamma") ?? 1.05070102214813232421875)
    }

    package func value(_ x: Float) -> Float { gamma * (x > 0 ? x : alpha * Foundation.expm1(x)) }

    package var backwardRule: ElementwiseRule {
        let (a, g) = (alpha, gamma)
        return .derivative { x, _ in x > 0 ? g : g * a * Foundation.exp(x) }
    }
}
