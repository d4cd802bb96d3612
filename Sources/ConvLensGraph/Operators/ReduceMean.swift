import ConvLensCore

/// `ReduceMean` over resolved axes. Backward: the signal spread evenly over the reduced axes.
package struct ReduceMean: DenseBackward {
    package static let onnxTypes = ["ReduceMean"]
    package let axes: [Int]
    package let keepDims: Bool

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let x = node.x
        let given = try (node.opset < 18 ? node.ints("axes") : node.constInts(1, "axes"))
        if (given ?? []).isEmpty, node.bool("noop_with_empty_axes") { return Identity() }
        let axes = try Set((given ?? []).isEmpty ? Array(x.indices) : given!.map { try node.axis($0, rank: x.count) }).sorted()
        return ReduceMean(axes: axes, keepDims: node.bool("keepdims", default: true))
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { [inputs[0]] }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0)
        guard axes.allSatisfy({ $0 < x.count }) else { throw check.fail("axes \(axes) are out of range for \(x)") }
        let set = Set(axes)
        return [Shape(keepDims ? x.indices.map { set.contains($0) ? 1 : x[$0] } : x.indices.filter { !set.contains($0) }.map { x[$0] })]
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(Reshaping.reduceMean(x[0]!, axes: axes, keepDims: keepDims))
    }

    /// A mean over a spatial axis sees the whole input; a mean over other axes (channels) keeps the
    /// map.
    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        let base = context.first(inputs)
        guard let spatial = base.axes, let rank = context.inputShapes[0]?.rank else { return base }
        if base.mapIntersects(axes, rank: rank) { return base.wholeInput() }
        if keepDims || spatial.isEmpty { return base }
        return base.moved(to: spatial.map { a in a - axes.filter { $0 < a }.count })
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let inShape = context.inputShape
        let count = Float(axes.reduce(1) { $0 * inShape[$1] })
        var kept = inShape.dimensions
        for a in axes { kept[a] = 1 }
        return context.first(context.perSeed(context.signal(outputs), context.outputShape, outShape: inShape) { gs in
            BinaryOperator.add.apply(Tensor(shape: inShape), gs.reshaped(Shape(kept))).scaled(by: 1 / count)
        })
    }
}
