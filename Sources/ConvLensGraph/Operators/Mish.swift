import ConvLensCore
import Foundation

/// `Mish`: `x · tanh(softplus(x))`; derivative `tanh(sp) + x · (1 − tanh²(sp)) · σ(x)`.
package struct Mish: PlainElementwise {
    package static let onnxTypes = ["Mish"]
    package init() {}
    package func value(_ x: Float) -> Float { x * Foundation.tanh(Softplus.softplus(x)) }

    package var backwardRule: ElementwiseRule {
        .derivative { x, _ in
            let t = Foundation.tanh(Softplus.softplus(x))
            return t + x * (1 - t * t) / (1 + Foundation.exp(-x))
        }
    }
}
