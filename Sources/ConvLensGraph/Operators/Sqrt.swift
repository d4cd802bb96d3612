import ConvLensCore
import Foundation

/// `Sqrt` (in exporters' LayerNorm decompositions); derivative `1 / (2y)`.
package struct Sqrt: PlainElementwise {
    package static let onnxTypes = ["Sqrt"]
    package init() {}
    package func value(_ x: Float) -> Float { x.squareRoot() }
    package var backwardRule: ElementwiseRule { .derivative { _, y in 0.5 / y } }
}
