import ConvLensCore

/// `HardSwish`: `x · max(0, min(1, x/6 + 1/2))`; the true derivative.
package struct HardSwish: PlainElementwise {
    package static let onnxTypes = ["HardSwish"]
    package init() {}
    package func value(_ x: Float) -> Float { x * max(0, min(1, x / 6 + 0.5)) }
    package var backwardRule: ElementwiseRule { .derivative { x, _ in x < -3 ? 0 : (x <= 3 ? x / 3 + 0.5 : 1) } }
}
