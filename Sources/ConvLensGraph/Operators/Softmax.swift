import ConvLensCore

/// `Softmax`; `legacy` is opset < 13 (the input flattened to 2-D at `axis`). Backward: the true
/// Jacobian (reached only when seeding after a softmax).
package struct Softmax: DenseBackward {
    package static let onnxTypes = ["Softmax"]
    package let axis: Int
    package let legacy: Bool

    package init(axis: Int, legacy: Bool) {
        self.axis = axis
        self.legacy = legacy
    }

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let legacy = node.opset < 13
        return Softmax(axis: try node.axis(node.int("axis") ?? (legacy ? 1 : -1), rank: node.x.count), legacy: legacy)
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0)
        guard axis < x.count else { throw check.fail("axis \(axis) is out of range for \(x)") }
        return [Shape(x)]
    }

    package var locality: ForwardLocality { axis == 1 && !legacy ? .pointwise(broadcasting: false) : .global }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        let t = x[0]!
        if legacy {
            let dims = t.shape.dimensions
            let flat = t.reshaped([dims[..<axis].reduce(1, *), dims[axis...].reduce(1, *)])
            return ForwardOutput(Normalization.softmax(flat, axis: 1).reshaped(t.shape))
        }
        return ForwardOutput(Normalization.softmax(t, axis: axis))
    }

    /// A softmax across a spatial axis sees the whole map; across channels it keeps the map.
    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        let base = context.first(inputs)
        guard let rank = context.inputShapes[0]?.rank else { return base }
        let reduced = legacy ? Array(axis..<rank) : [axis]
        return base.mapIntersects(reduced, rank: rank) ? base.withGlobalContext() : base
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let y = context.output(), inShape = context.inputShape
        return context.first(context.perSeed(context.signal(outputs), context.outputShape, outShape: inShape) { gs in
            // dx = y ⊙ (g − Σ g⊙y) along the softmax axis (or the flattened tail for legacy).
            let d = inShape.dimensions
            let outer = d[..<axis].reduce(1, *)
            let len = legacy ? d[axis...].reduce(1, *) : d[axis]
            let inner = legacy ? 1 : d[(axis + 1)...].reduce(1, *)
            var dx = gs
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * len * inner + i
                    var dot: Float = 0
                    for k in 0..<len { dot += gs.scalars[base + k * inner] * y.scalars[base + k * inner] }
                    for k in 0..<len {
                        let idx = base + k * inner
                        dx.scalars[idx] = y.scalars[idx] * (gs.scalars[idx] - dot)
                    }
                }
            }
            return dx
        })
    }
}
