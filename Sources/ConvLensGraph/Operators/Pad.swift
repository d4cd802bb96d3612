import ConvLensCore

/// `Pad` (constant, reflect, edge). Backward: the padding cut off (reflected and replicated
/// elements fold back onto their sources).
package struct Pad: DenseBackward {
    package static let onnxTypes = ["Pad"]
    /// `[begin_0 … begin_{r−1}, end_0 … end_{r−1}]`.
    package let pads: [Int]
    package let mode: Reshaping.PadMode
    package let value: Float

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let x = node.x
        let modeName = node.string("mode") ?? "constant"
        guard let mode = Reshaping.PadMode(rawValue: modeName) else {
            throw node.fail(.unsupportedFeature, "pad mode '\(modeName)' is not supported")
        }
        var pads: [Int]
        var value: Float = 0
        if node.opset < 11 {
            pads = node.ints("pads") ?? node.ints("paddings") ?? []
            value = node.float("value") ?? 0
        } else {
            pads = try node.constInts(1, "pads") ?? []
            value = try node.constFloat(2, "constant_value") ?? 0
            if let axes = try node.constInts(3, "axes") {
                guard pads.count == 2 * axes.count else { throw node.fail("pads has \(pads.count) values for \(axes.count) axes") }
                var full = [Int](repeating: 0, count: 2 * x.count)
                for (i, ax) in try axes.map({ try node.axis($0, rank: x.count) }).enumerated() {
                    full[ax] = pads[i]
                    full[ax + x.count] = pads[i + axes.count]
                }
                pads = full
            }
        }
        guard pads.count == 2 * x.count else { throw node.fail("pads has \(pads.count) values for rank \(x.count)") }
        return Pad(pads: pads, mode: mode, value: value)
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { [inputs[0]] }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0)
        guard pads.count == 2 * x.count else { throw check.fail("pads has \(pads.count) values for rank \(x.count)") }
        let d = (0..<x.count).map { x[$0] + pads[$0] + pads[$0 + x.count] }
        if mode == .reflect {
            for i in 0..<x.count where pads[i] >= x[i] || pads[i + x.count] >= x[i] {
                if x[i] > 1 { throw check.fail("reflect padding \(pads) is not smaller than the input \(x)") }
            }
        }
        return [try check.make(d)]
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(Reshaping.pad(x[0]!, pads: pads, mode: mode, value: value))
    }

    /// Padding a spatial axis moves the first unit back and widens the reachable range.
    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        let base = context.first(inputs)
        guard let spatial = base.axes else { return base }
        let r = pads.count / 2
        var out = base
        for (i, ax) in spatial.enumerated() where ax < r {
            out.offset[i] = base.offset[i] - Double(pads[ax]) * base.jump[i]
            out.bounds[2 * i] = base.bounds[2 * i] - Double(pads[ax]) * base.jump[i]
            out.bounds[2 * i + 1] = base.bounds[2 * i + 1] + Double(pads[ax + r]) * base.jump[i]
        }
        return out
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let inShape = context.inputShape
        let r = inShape.rank
        let batchedPads = [0] + pads[0..<r] + [0] + pads[r...]
        return context.first(Reshaping.padBackward(context.signal(outputs), inputShape: Shape([context.seeds] + inShape.dimensions),
                                                   pads: Array(batchedPads), mode: mode))
    }
}
