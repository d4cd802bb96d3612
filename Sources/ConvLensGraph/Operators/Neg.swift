import ConvLensCore

/// `Neg`: `−x`; derivative `−1`.
package struct Neg: PlainElementwise {
    package static let onnxTypes = ["Neg"]
    package init() {}
    package func value(_ x: Float) -> Float { -x }
    package var backwardRule: ElementwiseRule { .derivative { _, _ in -1 } }
}
