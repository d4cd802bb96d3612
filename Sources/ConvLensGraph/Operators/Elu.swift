import ConvLensCore
import Foundation

/// `Elu`: `x > 0 ? x : α (e^x − 1)`; the true derivative (`1`, or `y + α`).
package struct Elu: UnaryElementwise {
    package static let onnxTypes = ["Elu"]
    package let alpha: Float

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        Elu(alpha: node.float("alpha") ?? 1)
    }

    package func value(_ x: Float) -> Float { x > 0 ? x : alpha * Foundation.expm1(x) }

    package var backwardRule: ElementwiseRule {
        let a = alpha
        return .derivative { x, y in x > 0 ? 1 : y + a }
    }
}
