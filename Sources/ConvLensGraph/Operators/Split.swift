import ConvLensCore

/// `Split`: one output per size. Backward: the output signals concatenated (zeros for outputs
/// without one).
package struct Split: DenseBackward {
    package static let onnxTypes = ["Split"]
    package let axis: Int
    package let sizes: [Int]

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let x = node.x
        let ax = try node.axis(node.int("axis") ?? 0, rank: x.count)
        let n = node.outputs.count
        var sizes: [Int]
        if node.opset < 13, let s = node.ints("split") {
            sizes = s
        } else if node.opset >= 13, let s = try node.constInts(1, "split") {
            sizes = s
        } else {
            let parts = node.int("num_outputs") ?? n
            guard parts >= 1 else { throw node.fail("num_outputs must be positive") }
            let chunk = (x[ax] + parts - 1) / parts
            sizes = (0..<parts).map { min(chunk, max(0, x[ax] - $0 * chunk)) }
        }
        guard sizes.count == n, sizes.allSatisfy({ $0 >= 0 && $0 <= x[ax] }), sizes.reduce(0, +) == x[ax] else {
            throw node.fail("split sizes \(sizes) do not partition axis \(ax) of size \(x[ax]) into \(n) outputs")
        }
        return Split(axis: ax, sizes: sizes)
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { [inputs[0]] }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0)
        guard axis < x.count, sizes.reduce(0, +) == x[axis] else { throw check.fail("split sizes \(sizes) do not fit \(x)") }
        return sizes.map { var d = x; d[axis] = $0; return Shape(d) }
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput { ForwardOutput(Reshaping.split(x[0]!, axis: axis, sizes: sizes)) }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        context.first(inputs)
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let inShape = context.inputShape
        let parts = zip(outputs, sizes).map { og, size -> Tensor in
            if let og { return og }
            var d = inShape.dimensions
            d[axis] = size
            return Tensor(shape: Shape([context.seeds] + d))
        }
        return context.first(Reshaping.concat(parts, axis: axis + 1))
    }
}
