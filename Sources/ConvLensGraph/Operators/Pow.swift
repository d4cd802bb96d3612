import ConvLensCore
import Foundation

/// `Pow` with a constant scalar exponent (exporters' `x²` in LayerNorm decompositions); derivative
/// `p · x^(p−1)`.
package struct Pow: UnaryElementwise {
    package static let onnxTypes = ["Pow"]
    package static let requiredInputs = 2
    package let exponent: Float

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        guard node.isConstant(1) else {
            throw node.fail(.unsupportedFeature, "Pow with a computed exponent is not supported (only a constant scalar exponent)")
        }
        guard let p = try node.constFloat(1, "exponent") else { throw node.fail("Pow needs an exponent") }
        if let e = node.shape(1), e.count > node.x.count {
            throw node.fail(.unsupportedFeature, "Pow with an exponent of higher rank than the base is not supported")
        }
        return Pow(exponent: p)
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { [inputs[0]] }

    package func value(_ x: Float) -> Float {
        exponent == 2 ? x * x : Foundation.pow(x, exponent)
    }

    package var backwardRule: ElementwiseRule {
        let p = exponent
        if p == 2 { return .derivative { x, _ in 2 * x } }
        return .derivative { x, _ in p * Foundation.pow(x, p - 1) }
    }
}
