import ConvLensCore

/// `Slice` with resolved (non-negative) axes. Backward: the signal scattered back into zeros.
package struct Slice: DenseBackward {
    package static let onnxTypes = ["Slice"]
    package let starts: [Int]
    package let ends: [Int]
    package let axes: [Int]
    package let steps: [Int]

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let starts: [Int], ends: [Int]
        var axes: [Int]?, steps: [Int]?
        if node.opset < 10 {
            starts = node.clampedInts("starts") ?? []
            ends = node.clampedInts("ends") ?? []
            axes = node.ints("axes")
        } else {
            starts = try node.constInts(1, "starts", clamp: true) ?? []
            ends = try node.constInts(2, "ends", clamp: true) ?? []
            axes = try node.constInts(3, "axes")
            steps = try node.constInts(4, "steps")
        }
        let rank = node.x.count
        let resolvedAxes = try (axes ?? Array(0..<starts.count)).map { try node.axis($0, rank: rank) }
        let st = steps ?? [Int](repeating: 1, count: starts.count)
        guard starts.count == ends.count, resolvedAxes.count == starts.count, st.count == starts.count, !st.contains(0) else {
            throw node.fail("starts, ends, axes and steps disagree (or a step is 0)")
        }
        return Slice(starts: starts, ends: ends, axes: resolvedAxes, steps: st)
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { [inputs[0]] }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        var d = try check.input(inputs, 0)
        let x = d
        for (i, ax) in axes.enumerated() {
            guard ax < x.count else { throw check.fail("axis \(ax) is out of range for \(x)") }
            d[ax] = Reshaping.sliceRange(start: starts[i], end: ends[i], step: steps[i], dim: x[ax]).count
        }
        return [try check.shape(d)]
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(Reshaping.slice(x[0]!, starts: starts, ends: ends, axes: axes, steps: steps))
    }

    /// Slicing a spatial axis moves the first unit and multiplies the jump by the step.
    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        let base = context.first(inputs)
        guard let spatial = base.axes, let x = context.inputShapes[0] else { return base }
        var out = base
        for (k, ax) in axes.enumerated() {
            guard let i = spatial.firstIndex(of: ax) else { continue }
            guard steps[k] > 0 else { return base.wholeInput() }
            let r = Reshaping.sliceRange(start: starts[k], end: Int.max, step: steps[k], dim: x[ax])
            out.offset[i] = base.offset[i] + Double(r.first) * base.jump[i]
            out.jump[i] = base.jump[i] * Double(steps[k])
        }
        return out
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        context.first(Reshaping.sliceBackward(context.signal(outputs), inputShape: Shape([context.seeds] + context.inputShape.dimensions),
                                              starts: starts, ends: ends, axes: axes.map { $0 + 1 }, steps: steps))
    }
}
