import ConvLensCore

/// `MatMul` with NumPy semantics. Backward (every rule) through a constant right operand:
/// `dA = g · Bᵀ`, also for `[…, K]` left operands (a channels-last `Linear` on `[1, H, W, C]`).
package struct MatMul: DenseBackward, PlainResolution {
    package static let onnxTypes = ["MatMul"]
    package static let requiredInputs = 2
    package init() {}

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let a = try check.input(inputs, 0), b = try check.input(inputs, 1)
        guard let d = LinearAlgebra.matMulShape(a, b) else { throw check.fail("cannot multiply \(a) by \(b)") }
        return [try check.shape(d)]
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput { ForwardOutput(LinearAlgebra.matMul(x[0]!, x[1]!)) }

    /// Contracting the last axis keeps a map held in earlier axes (channels-last `Linear`).
    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        // A constant left operand: the computed right operand is mixed over all of it.
        guard let base = inputs[0] else { return ((inputs.count > 1 ? inputs[1] : nil) ?? context.inputField).wholeInput() }
        guard base.axes != nil, let x = context.inputShapes[0], let out = context.outputShapes.first,
              x.rank == out.rank, !base.mapIntersects([x.rank - 1], rank: x.rank) else { return base.wholeInput() }
        return inputs.count > 1 && inputs[1] != nil ? base.withGlobalContext() : base
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        if context.carriesSignal(1) { throw context.unsupported("MatMul with a computed right operand") }
        let b = context.input(1)
        guard b.rank == 2 else { throw context.unsupported("MatMul with a batched right operand") }
        let g = context.signal(outputs)
        let k = b.shape[0], n = b.shape[1]
        let rows = g.count / n
        let da = MatrixMultiply.multiply(g.scalars, b.scalars, m: rows, n: k, k: n, transB: true)
        return context.first(Tensor(shape: Shape([context.seeds] + context.inputShape.dimensions), scalars: da))
    }
}
