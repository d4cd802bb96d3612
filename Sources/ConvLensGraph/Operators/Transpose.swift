import ConvLensCore

/// `Transpose`: permuted axes (NHWC ↔ NCHW round trips). Backward: the inverse permutation.
package struct Transpose: DenseBackward {
    package static let onnxTypes = ["Transpose"]
    package let perm: [Int]

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let x = node.x
        let perm = node.ints("perm") ?? Array(x.indices.reversed())
        guard perm.sorted() == Array(x.indices) else { throw node.fail("perm \(perm) is not a permutation of \(x.count) axes") }
        return Transpose(perm: perm)
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0)
        guard perm.sorted() == Array(x.indices) else { throw check.fail("perm \(perm) does not fit the input \(x)") }
        return [Shape(perm.map { x[$0] })]
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput { ForwardOutput(Reshaping.transpose(x[0]!, perm: perm)) }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        let base = context.first(inputs)
        guard let axes = base.axes else { return base }
        // A map flattened into the last axis survives only if that axis stays last.
        if axes.isEmpty { return perm.last == perm.count - 1 ? base : base.wholeInput() }
        let moved = axes.compactMap { a in perm.firstIndex(of: a) }
        return moved.count == axes.count ? base.moved(to: moved) : base.wholeInput()
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        var inverse = [Int](repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return context.first(Reshaping.transpose(context.signal(outputs), perm: [0] + inverse.map { $0 + 1 }))
    }
}
