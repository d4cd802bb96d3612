import ConvLensCore

/// `InstanceNormalization`: standardization of each `[H, W]` map, then per-channel `scale` and
/// `B`. Backward: the true gradient under every rule.
package struct InstanceNormalization: DenseBackward {
    package static let onnxTypes = ["InstanceNormalization"]
    package static let requiredInputs = 3
    package let epsilon: Float

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        try node.requireConstant(1, "scale")
        try node.requireConstant(2, "bias")
        return InstanceNormalization(epsilon: node.float("epsilon") ?? 1e-5)
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0)
        guard x.count >= 3 else { throw check.fail("needs an [N, C, …] input, got \(x)") }
        for i in 1..<3 where inputs[i]?.dimensions != [x[1]] {
            throw check.fail("parameter \(i) should have shape [\(x[1])]")
        }
        return [Shape(x)]
    }

    func standardization(_ shape: Shape) -> Standardization {
        let d = shape.dimensions, c = d[1]
        return Standardization(groups: d[0] * c, length: d[2...].reduce(1, *), epsilon: epsilon) { g, _ in g % c }
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(standardization(x[0]!.shape).forward(x[0]!, scale: x[1], bias: x[2]))
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        context.first(inputs).withGlobalContext()
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let x = context.input(0)
        return context.first(standardization(x.shape).backward(context.signal(outputs), x: x, scale: context.input(1), seeds: context.seeds))
    }
}
