import ConvLensCore

/// `Gemm`: `α·op(A)·op(B) + β·C`, 2-D. Backward under every rule: the transposed weights
/// (`dA = α·g·op(B)ᵀ`); a computed `C` gets the reduced signal times `β`. Every unit sees the whole
/// input.
package struct Gemm: DenseBackward {
    package static let onnxTypes = ["Gemm"]
    package static let requiredInputs = 2
    package let alpha: Float
    package let beta: Float
    package let transA: Bool
    package let transB: Bool

    package init(alpha: Float = 1, beta: Float = 1, transA: Bool = false, transB: Bool = false) {
        self.alpha = alpha
        self.beta = beta
        self.transA = transA
        self.transB = transB
    }

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        Gemm(alpha: node.float("alpha") ?? 1, beta: node.float("beta") ?? 1, transA: node.bool("transA"), transB: node.bool("transB"))
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { ConvolutionAttributes.runtimeInputs(inputs) }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0), b = try check.input(inputs, 1)
        guard x.count == 2, b.count == 2 else { throw check.fail("Gemm needs 2-D inputs, got \(x) and \(b)") }
        let m = transA ? x[1] : x[0], k = transA ? x[0] : x[1], kb = transB ? b[1] : b[0], n = transB ? b[0] : b[1]
        guard k == kb else { throw check.fail("cannot multiply \(x) by \(b) (transA \(transA), transB \(transB))") }
        if inputs.count > 2, let c = inputs[2], BinaryOperator.broadcastShape(c.dimensions, [m, n]) != [m, n] {
            throw check.fail("C of shape \(c) does not broadcast to [\(m), \(n)]")
        }
        return [try check.make([m, n])]
    }

    /// A batch of rows of A (A is the activation; `transA` would put the batch in columns).
    package var batching: ForwardBatching { transA ? .none : .independent }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(LinearAlgebra.gemm(x[0]!, x[1]!, x.count > 2 ? x[2] : nil, alpha: alpha, beta: beta, transA: transA, transB: transB))
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        context.first(inputs).wholeInput()
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        if context.carriesSignal(1) { throw context.unsupported("Gemm with a computed B") }
        let g = context.signal(outputs), seeds = context.seeds
        let inShape = context.inputShape, outShape = context.outputShape
        var result = [Tensor?](repeating: nil, count: context.node.inputs.count)
        if context.carriesSignal(0) {
            if transA { throw context.unsupported("Gemm with transA on a computed A") }
            let b = context.input(1)
            let m = outShape[0], n = outShape[1], k = inShape[1]
            // dA = α · g · op(B)ᵀ, all seeds as S·M rows.
            var da = MatrixMultiply.multiply(g.scalars, b.scalars, m: seeds * m, n: k, k: n, transB: !transB)
            if alpha != 1 { for i in 0..<da.count { da[i] *= alpha } }
            result[0] = Tensor(shape: Shape([seeds] + inShape.dimensions), scalars: da)
        }
        if context.carriesSignal(2) {
            let cShape = context.forwardShape(context.node.inputs[2])
            result[2] = context.perSeed(g, outShape, outShape: cShape) { Backward.unbroadcast($0, to: cShape).scaled(by: beta) }
        }
        return result
    }
}
