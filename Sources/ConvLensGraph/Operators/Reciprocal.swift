import ConvLensCore

/// `Reciprocal`: `1/x`; derivative `−y²`.
package struct Reciprocal: PlainElementwise {
    package static let onnxTypes = ["Reciprocal"]
    package init() {}
    package func value(_ x: Float) -> Float { 1 / x }
    package var backwardRule: ElementwiseRule { .derivative { _, y in -y * y } }
}
