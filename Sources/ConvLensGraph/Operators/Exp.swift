import ConvLensCore
import Foundation

/// `Exp`; derivative `y`.
package struct Exp: PlainElementwise {
    package static let onnxTypes = ["Exp"]
    package init() {}
    package func value(_ x: Float) -> Float { Foundation.exp(x) }
    package var backwardRule: ElementwiseRule { .derivative { _, y in y } }
}
