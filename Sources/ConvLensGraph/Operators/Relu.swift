import ConvLensCore

/// `Relu`: `max(x, 0)`, the rectifier of DESIGN.md §1's table.
package struct Relu: PlainElementwise {
    package static let onnxTypes = ["Relu"]
    package init() {}
    package func value(_ x: Float) -> Float { x > 0 ? x : 0 }
    package var backwardRule: ElementwiseRule { .rectifier(inside: { $0 > 0 }, leak: 0) }
    package var fusedActivation: ConvolutionActivation { .relu }
}

extension Relu: FusableActivation {}
