import ConvLensCore

/// `GlobalAveragePool`: the mean of each map. Backward: the signal spread evenly over the map.
/// Every unit sees the whole input.
package struct GlobalAveragePool: DenseBackward, PlainResolution {
    package static let onnxTypes = ["GlobalAveragePool"]
    package init() {}

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        [try GlobalPooling.outputShape(inputs, check)]
    }

    package var batching: ForwardBatching { .independent }

    package func forward(_ x: [Tensor?]) -> ForwardOutput { ForwardOutput(Pooling.globalAveragePool(x[0]!)) }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        context.first(inputs).wholeInput()
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let inShape = context.inputShape
        let g = context.signal(outputs)
        let plane = inShape.count / (inShape[0] * inShape[1])
        var dx = Tensor(shape: Shape([context.seeds] + inShape.dimensions))
        dx.scalars.withUnsafeMutableBufferPointer { d in
            for p in 0..<(context.seeds * inShape[0] * inShape[1]) {
                let v = g.scalars[p] / Float(plane)
                for i in 0..<plane { d[p * plane + i] = v }
            }
        }
        return context.first(dx)
    }
}

/// The shape rule of the global poolings.
enum GlobalPooling {
    static func outputShape(_ inputs: [Shape?], _ check: ShapeCheck) throws -> Shape {
        let x = try check.input(inputs, 0)
        guard x.count >= 3 else { throw check.fail("needs an [N, C, …] input, got \(x)") }
        return try check.make([x[0], x[1]] + [Int](repeating: 1, count: x.count - 2))
    }
}

/// Resolution of operators without attributes.
package protocol PlainResolution: Operator {
    init()
}

extension PlainResolution {
    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator { Self() }
}
