import ConvLensCore

/// `Relu`: `max(x, 0)`, the rectifier of DESIGN.md §1's table.
package struct Relu: PlainElementwise {
    package static let onnxTypes = ["Relu"]
    package init() {}
    package func value(_ x: Float) -> Float { x > 0 ? x : 0 }
    package var backwardRule: ElementwiseRule { .rectifier(inside: { $0 > 0 }, leak: 0) }

    /// A tight loop (the generic one calls ``value(_:)`` per element through the protocol).
    package func forward(_ inputs: [Tensor?]) -> ForwardOutput {
        var out = inputs[0]!
        out.scalars.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = max(p[i], 0) } }
        return ForwardOutput(out)
    }
}
