import ConvLensCore

/// `LayerNormalization` (opset 17): standardization over the axes from `axis` on, then `Scale`
/// and `B` (shaped as those axes). Backward: the true gradient under every rule.
package struct LayerNormalization: DenseBackward {
    package static let onnxTypes = ["LayerNormalization"]
    package static let requiredInputs = 2
    package let axis: Int
    package let epsilon: Float

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        if node.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
            throw node.fail(.unsupportedFeature, "the Mean and InvStdDev outputs of LayerNormalization are not supported")
        }
        try node.requireConstant(1, "scale")
        try node.requireConstant(2, "bias")
        return LayerNormalization(axis: try node.axis(node.int("axis") ?? -1, rank: node.x.count), epsilon: node.float("epsilon") ?? 1e-5)
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { ConvolutionAttributes.runtimeInputs(inputs) }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0)
        guard axis < x.count else { throw check.fail("axis \(axis) is out of range for \(x)") }
        let tail = x[axis...].reduce(1, *)
        for i in 1..<inputs.count {
            guard let p = inputs[i] else { continue }
            guard p.count == tail, BinaryOperator.broadcastShape(p.dimensions, Array(x[axis...])) == Array(x[axis...]) else {
                throw check.fail("parameter \(i) has shape \(p); expected \(Array(x[axis...]))")
            }
        }
        return [Shape(x)]
    }

    func standardization(_ shape: Shape) -> Standardization {
        let d = shape.dimensions
        return Standardization(groups: d[..<axis].reduce(1, *), length: d[axis...].reduce(1, *), epsilon: epsilon) { _, i in i }
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(standardization(x[0]!.shape).forward(x[0]!, scale: x[1], bias: x.count > 2 ? x[2] : nil))
    }

    /// Normalizing over channels keeps the map; normalizing over the map adds global context.
    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        let base = context.first(inputs)
        guard let rank = context.inputShapes[0]?.rank else { return base }
        return base.mapIntersects(Array(axis..<rank), rank: rank) ? base.withGlobalContext() : base
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        if context.carriesSignal(1) || context.carriesSignal(2) { throw context.unsupported("computed normalization parameters") }
        let x = context.input(0)
        return context.first(standardization(x.shape).backward(context.signal(outputs), x: x, scale: context.input(1), seeds: context.seeds))
    }
}
