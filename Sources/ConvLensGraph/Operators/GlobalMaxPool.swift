import ConvLensCore

/// `GlobalMaxPool`: the maximum of each map. Backward under every rule: the signal goes to the
/// first maximum. Every unit sees the whole input.
package struct GlobalMaxPool: DenseBackward, PlainResolution {
    package static let onnxTypes = ["GlobalMaxPool"]
    package init() {}

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        [try GlobalPooling.outputShape(inputs, check)]
    }

    package var batching: ForwardBatching { .independent }

    package func forward(_ x: [Tensor?]) -> ForwardOutput { ForwardOutput(Pooling.globalMaxPool(x[0]!)) }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        context.first(inputs).wholeInput()
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let x = context.input(0), inShape = context.inputShape, g = context.signal(outputs)
        let seeds = context.seeds
        let plane = inShape.count / (inShape[0] * inShape[1]), planes = inShape[0] * inShape[1]
        var dx = Tensor(shape: Shape([seeds] + inShape.dimensions))
        for p in 0..<planes {
            var best = 0
            for i in 0..<plane where x.scalars[p * plane + i] > x.scalars[p * plane + best] { best = i }
            for s in 0..<seeds { dx.scalars[(s * planes + p) * plane + best] = g.scalars[s * planes + p] }
        }
        return context.first(dx)
    }
}
