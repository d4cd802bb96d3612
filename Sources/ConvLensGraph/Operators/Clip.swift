import ConvLensCore

/// `Clip`: `min(max(x, min), max)`; with `min = 0` a rectifier (ReLU6), otherwise the true
/// derivative (1 inside the bounds).
package struct Clip: UnaryElementwise {
    package static let onnxTypes = ["Clip"]
    /// `nil` bounds are open.
    package let lower: Float?
    package let upper: Float?

    package init(lower: Float?, upper: Float?) {
        self.lower = lower
        self.upper = upper
    }

    /// Bounds were attributes before opset 11 and are constant inputs from 11 on.
    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        if node.opset < 11 {
            let lo = node.float("min"), hi = node.float("max")
            return Clip(lower: lo.flatMap { $0 == -.greatestFiniteMagnitude ? nil : $0 },
                        upper: hi.flatMap { $0 == .greatestFiniteMagnitude ? nil : $0 })
        }
        return Clip(lower: try node.constFloat(1, "min"), upper: try node.constFloat(2, "max"))
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { [inputs[0]] }

    package func value(_ x: Float) -> Float {
        var y = x
        if let lower, y < lower { y = lower }
        if let upper, y > upper { y = upper }
        return y
    }

    /// A tight loop (the generic one calls ``value(_:)`` per element through the protocol).
    package func forward(_ inputs: [Tensor?]) -> ForwardOutput {
        var out = inputs[0]!
        let l = lower ?? -.infinity, h = upper ?? .infinity
        out.scalars.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = min(max(p[i], l), h) } }
        return ForwardOutput(out)
    }

    package var backwardRule: ElementwiseRule {
        let l = lower ?? -.infinity, h = upper ?? .infinity
        if lower == 0 { return .rectifier(inside: { $0 > 0 && $0 < h }, leak: 0) }
        return .derivative { x, _ in x >= l && x <= h ? 1 : 0 }
    }
}
