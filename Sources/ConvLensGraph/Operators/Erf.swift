import ConvLensCore
import Foundation

/// `Erf` (exporters decompose GELU into `x · (1 + erf(x/√2)) / 2`); derivative `2/√π · e^(−x²)`.
package struct Erf: PlainElementwise {
    package static let onnxTypes = ["Erf"]
    package init() {}
    package func value(_ x: Float) -> Float { Foundation.erf(x) }
    package var backwardRule: ElementwiseRule { .derivative { x, _ in 1.1283791670955126 * Foundation.exp(-x * x) } }
}
