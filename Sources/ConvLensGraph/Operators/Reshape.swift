import ConvLensCore

/// `Reshape`, `Flatten`, `Squeeze`, `Unsqueeze`: the same elements with a new shape, resolved at
/// import. Backward: the inverse reshape.
package struct Reshape: DenseBackward {
    package static let onnxTypes = ["Flatten", "Reshape", "Squeeze", "Unsqueeze"]
    package let shape: Shape

    package init(to shape: Shape) { self.shape = shape }

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let x = node.x
        let resolvers: [String: (ONNXNodeReader, [Int]) throws -> [Int]] = [
            "Flatten": flatten, "Reshape": reshape, "Squeeze": squeeze, "Unsqueeze": unsqueeze,
        ]
        return Reshape(to: Shape(try resolvers[node.opType]!(node, x)))
    }

    static func flatten(_ node: ONNXNodeReader, _ x: [Int]) throws -> [Int] {
        let ax = node.int("axis") ?? 1
        let r = ax < 0 ? ax + x.count : ax
        guard r >= 0 && r <= x.count else { throw node.fail("axis \(ax) is out of range for rank \(x.count)") }
        return [x[..<r].reduce(1, *), x[r...].reduce(1, *)]
    }

    static func reshape(_ node: ONNXNodeReader, _ x: [Int]) throws -> [Int] {
        let target = try (node.opset < 5 ? node.ints("shape") : node.constInts(1, "shape")) ?? []
        let allowZero = node.bool("allowzero")
        var dims: [Int] = []
        var infer = -1
        for (i, d) in target.enumerated() {
            if d == 0 && !allowZero {
                guard i < x.count else { throw node.fail("shape \(target) copies dimension \(i) that the input \(x) lacks") }
                dims.append(x[i])
            } else if d == -1 {
                guard infer < 0 else { throw node.fail("shape \(target) has more than one -1") }
                infer = i
                dims.append(1)
            } else if d < 0 {
                throw node.fail("shape \(target) has a negative dimension")
            } else {
                dims.append(d)
            }
        }
        let total = x.reduce(1, *)
        if infer >= 0 {
            guard let known = Shape.checkedCount(dims) else { throw node.fail("shape \(target) overflows") }
            guard known > 0, total % known == 0 else { throw node.fail("cannot reshape \(x) to \(target)") }
            dims[infer] = total / known
        }
        guard Shape.checkedCount(dims) == total else { throw node.fail("cannot reshape \(x) (\(total) elements) to \(target)") }
        return dims
    }

    static func squeeze(_ node: ONNXNodeReader, _ x: [Int]) throws -> [Int] {
        let given = try (node.opset < 13 ? node.ints("axes") : node.constInts(1, "axes"))
        let axes = try Set((given ?? x.indices.filter { x[$0] == 1 }).map { try node.axis($0, rank: x.count) })
        for ax in axes where x[ax] != 1 { throw node.fail("cannot squeeze axis \(ax) of size \(x[ax])") }
        return x.indices.filter { !axes.contains($0) }.map { x[$0] }
    }

    static func unsqueeze(_ node: ONNXNodeReader, _ x: [Int]) throws -> [Int] {
        guard let given = try (node.opset < 13 ? node.ints("axes") : node.constInts(1, "axes")) else {
            throw node.fail("Unsqueeze needs axes")
        }
        let r = x.count + given.count
        let axes = try Set(given.map { try node.axis($0, rank: r) })
        guard axes.count == given.count else { throw node.fail("repeated axes \(given)") }
        var dims: [Int] = []
        var it = x.makeIterator()
        for i in 0..<r { dims.append(axes.contains(i) ? 1 : it.next()!) }
        return dims
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { [inputs[0]] }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0)
        guard shape.count == Shape(x).count else { throw check.fail("cannot reshape \(x) to \(shape)") }
        return [shape]
    }

    package var batching: ForwardBatching { .reshape }

    package func forward(_ x: [Tensor?]) -> ForwardOutput { ForwardOutput(x[0]!.reshaped(shape)) }

    /// The map survives when its axes are unchanged (a channel shuffle's `[N, g, C/g, H, W]`).
    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        guard let x = context.inputShapes[0] else { return context.first(inputs).wholeInput() }
        return context.first(inputs).reshaped(from: x.dimensions, to: shape.dimensions)
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        context.first(context.signal(outputs).reshaped(Shape([context.seeds] + context.inputShape.dimensions)))
    }
}
