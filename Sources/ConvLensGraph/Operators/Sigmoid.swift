import ConvLensCore
import Foundation

/// `Sigmoid`: `1 / (1 + e^−x)`; derivative `y (1 − y)`.
package struct Sigmoid: PlainElementwise {
    package static let onnxTypes = ["Sigmoid"]
    package init() {}
    package func value(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }
    package var backwardRule: ElementwiseRule { .derivative { _, y in y * (1 - y) } }
}
