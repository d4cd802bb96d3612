import ConvLensCore

/// `GroupNormalization` (opsets 18 and 21): standardization over each group of `C/G` channels and
/// the map, then `scale` and `bias` — per group (opset 18) or per channel (opset 21), told apart by
/// their length. Backward: the true gradient under every rule.
package struct GroupNormalization: DenseBackward {
    package static let onnxTypes = ["GroupNormalization"]
    package static let requiredInputs = 3
    package let groups: Int
    package let epsilon: Float

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        try node.requireConstant(1, "scale")
        try node.requireConstant(2, "bias")
        guard let g = node.int("num_groups"), g >= 1 else { throw node.fail("num_groups must be positive") }
        return GroupNormalization(groups: g, epsilon: node.float("epsilon") ?? 1e-5)
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0)
        guard x.count >= 3, x[1] % groups == 0 else { throw check.fail("\(groups) groups do not divide the channels of \(x)") }
        for i in 1..<3 {
            guard let p = inputs[i], p.dimensions == [x[1]] || p.dimensions == [groups] else {
                throw check.fail("parameter \(i) should have shape [\(x[1])] or [\(groups)]")
            }
        }
        guard inputs[1]!.dimensions == inputs[2]!.dimensions else {
            throw check.fail("scale \(inputs[1]!) and bias \(inputs[2]!) must have the same shape")
        }
        return [Shape(x)]
    }

    func standardization(_ shape: Shape, perChannel: Bool) -> Standardization {
        let d = shape.dimensions, c = d[1], g = groups
        let plane = d[2...].reduce(1, *), per = c / g
        return Standardization(groups: d[0] * g, length: per * plane, epsilon: epsilon) { grp, i in
            perChannel ? (grp % g) * per + i / plane : grp % g
        }
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        let perChannel = x[1]!.count == x[0]!.shape[1]
        return ForwardOutput(standardization(x[0]!.shape, perChannel: perChannel).forward(x[0]!, scale: x[1], bias: x[2]))
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        context.first(inputs).withGlobalContext()
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let x = context.input(0), scale = context.input(1)
        return context.first(standardization(x.shape, perChannel: scale.count == x.shape[1])
            .backward(context.signal(outputs), x: x, scale: scale, seeds: context.seeds))
    }
}
