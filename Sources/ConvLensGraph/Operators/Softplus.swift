import ConvLensCore
import Foundation

/// `Softplus`: `ln(1 + e^x)`; derivative `σ(x)`.
package struct Softplus: PlainElementwise {
    package static let onnxTypes = ["Softplus"]
    package init() {}

    /// Overflow-safe `ln(1 + e^x)`.
    static func softplus(_ x: Float) -> Float { x > 20 ? x : Foundation.log1p(Foundation.exp(x)) }

    package func value(_ x: Float) -> Float { Softplus.softplus(x) }
    package var backwardRule: ElementwiseRule { .derivative { x, _ in 1 / (1 + Foundation.exp(-x)) } }
}
