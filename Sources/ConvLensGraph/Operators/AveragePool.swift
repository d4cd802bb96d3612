import ConvLensCore

/// `AveragePool` (2-D). Backward under every rule: the signal spread evenly over each window.
package struct AveragePool: DenseBackward {
    package static let onnxTypes = ["AveragePool"]
    package let geometry: Pool2DGeometry
    package let countIncludePad: Bool

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let g = try PoolingAttributes.geometry(node)
        guard g.dilations == [1, 1] else { throw node.fail(.unsupportedFeature, "AveragePool with dilations is not supported") }
        return AveragePool(geometry: g, countIncludePad: node.bool("count_include_pad"))
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        [try PoolingAttributes.outputShape(geometry, inputs, check)]
    }

    package var locality: ForwardLocality {
        let include = countIncludePad
        return PoolingAttributes.locality(geometry) { AveragePool(geometry: $0, countIncludePad: include) }
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(Pooling.averagePool2D(x[0]!, geometry: geometry, countIncludePad: countIncludePad))
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        PoolingAttributes.field(geometry, context.first(inputs))
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let inShape = context.inputShape
        return context.first(context.stacked(Backward.averagePool2D(context.batched(context.signal(outputs), context.outputShape),
                                                                    geometry: geometry, countIncludePad: countIncludePad,
                                                                    inputShape: context.batchedShape(inShape)), inShape))
    }
}
