import ConvLensCore

/// `Concat`. Backward: each input gets its slice of the signal.
package struct Concat: DenseBackward {
    package static let onnxTypes = ["Concat"]
    package let axis: Int

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        guard let ax = node.int("axis") else { throw node.fail("Concat needs an axis") }
        return Concat(axis: try node.axis(ax, rank: node.x.count))
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        var d = try check.input(inputs, 0)
        let x = d
        guard axis < x.count else { throw check.fail("axis \(axis) is out of range for \(x)") }
        d[axis] = 0
        for s in inputs {
            guard let s, s.rank == x.count else { throw check.fail("Concat inputs have different ranks") }
            for i in 0..<x.count where i != axis && s[i] != x[i] {
                throw check.fail("Concat inputs \(Shape(x)) and \(s) differ outside axis \(axis)")
            }
            d[axis] += s[axis]
        }
        return [try check.shape(d)]
    }

    package var locality: ForwardLocality { axis == 1 ? .pointwise(broadcasting: false) : .global }

    package func forward(_ x: [Tensor?]) -> ForwardOutput { ForwardOutput(Reshaping.concat(x.compactMap { $0 }, axis: axis)) }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        .merge(inputs, context)
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let g = context.signal(outputs)
        var result = [Tensor?](repeating: nil, count: context.node.inputs.count)
        var start = 0
        for (k, name) in context.node.inputs.enumerated() {
            let size = context.forwardShape(name)[axis]
            if context.isComputed(name) {
                result[k] = Reshaping.slice(g, starts: [start], ends: [start + size], axes: [axis + 1], steps: [1])
            }
            start += size
        }
        return result
    }
}
