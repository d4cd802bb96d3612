import ConvLensCore
import Foundation

/// `Tanh`; derivative `1 − y²`.
package struct Tanh: PlainElementwise {
    package static let onnxTypes = ["Tanh"]
    package init() {}
    package func value(_ x: Float) -> Float { Foundation.tanh(x) }
    package var backwardRule: ElementwiseRule { .derivative { _, y in 1 - y * y } }
}
