import ConvLensCore

/// `Add`, `Sub`, `Mul`, `Div` with NumPy broadcasting. Backward: the signal goes to every input
/// (broadcast inputs get the reduced sum); products and quotients of two computed tensors
/// (squeeze-excitation) follow the product rule.
package struct Arithmetic: Operator {
    package static let onnxTypes = ["Add", "Sub", "Mul", "Div"]
    package static let requiredInputs = 2
    package let op: BinaryOperator

    package init(_ op: BinaryOperator) { self.op = op }

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        guard let op = BinaryOperator(rawValue: node.opType.lowercased()) else { throw node.fail("not an arithmetic operator") }
        return Arithmetic(op)
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let a = try check.input(inputs, 0), b = try check.input(inputs, 1)
        guard let d = BinaryOperator.broadcastShape(a, b) else { throw check.fail("shapes \(a) and \(b) do not broadcast") }
        return [try check.shape(d)]
    }

    package var locality: ForwardLocality { .pointwise(broadcasting: true) }

    package func forward(_ inputs: [Tensor?]) -> ForwardOutput {
        ForwardOutput(op.apply(inputs[0]!, inputs[1]!))
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        .merge(inputs, context)
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let inputs = context.node.inputs
        let outShape = context.outputShape
        let g = context.signal(outputs)
        let a = context.input(0), b = context.input(1)
        var result = [Tensor?](repeating: nil, count: inputs.count)
        for k in 0..<2 where context.carriesSignal(k) {
            let target = k == 0 ? a.shape : b.shape
            // A lower-rank input is broadcast from the right: reduce to its rank-aligned shape.
            let aligned = Shape([Int](repeating: 1, count: max(0, outShape.rank - target.rank)) + target.dimensions)
            // The whole stack of seeds at once (the forward factors broadcast over the seed axis),
            // reduced per seed to the input's shape.
            let gs = g.reshaped(Shape([context.seeds] + outShape.dimensions))
            let local: Tensor
            switch (op, k) {
            case (.add, _), (.sub, 0): local = gs
            case (.sub, _): local = gs.negated()
            case (.mul, 0): local = BinaryOperator.mul.apply(gs, b)
            case (.mul, _): local = BinaryOperator.mul.apply(gs, a)
            case (.div, 0): local = BinaryOperator.div.apply(gs, b)
            case (.div, _): // d(a/b)/db = −a/b²
                local = BinaryOperator.div.apply(BinaryOperator.mul.apply(gs, a), BinaryOperator.mul.apply(b, b)).negated()
            }
            result[k] = Backward.unbroadcast(local, to: Shape([context.seeds] + aligned.dimensions))
                .reshaped(Shape([context.seeds] + target.dimensions))
        }
        return result
    }

    /// Additions and subtractions of maps of the same shape keep the windows.
    package func isWindowable(_ context: BackwardContext) -> Bool {
        guard op == .add || op == .sub, context.hasWindowableInput else { return false }
        let inShape = context.inputShape
        let graph = context.trace.graph
        return (0..<2).allSatisfy { k in
            let name = context.node.inputs[k]
            return !(context.isComputed(name) || name == graph.inputName) || context.forwardShape(name) == inShape
        }
    }

    package func windowedBackward(_ g: consuming Tensor, _ w: SeedWindows, _ context: BackwardContext) throws -> [Signal?] {
        var result = [Signal?](repeating: nil, count: 2)
        let graph = context.trace.graph
        for k in 0..<2 where context.isComputed(context.node.inputs[k]) || context.node.inputs[k] == graph.inputName {
            result[k] = Signal(op == .sub && k == 1 ? g.negated() : g, windows: w)
        }
        return result
    }
}
