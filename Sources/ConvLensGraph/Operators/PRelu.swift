import ConvLensCore

/// `PRelu`: `x ≥ 0 ? x : α·x` with a constant slope `α` broadcast to `x` (per channel). A rectifier
/// as leaky ReLU: `deconvnet` rectifies, `guided` rectifies and masks, `backprop` leaks `α`.
package struct PRelu: Operator {
    package static let onnxTypes = ["PRelu"]
    package static let requiredInputs = 2

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        try node.requireConstant(1, "slope")
        return PRelu()
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0), s = try check.input(inputs, 1, "slope")
        guard BinaryOperator.broadcastShape(x, s) == x else { throw check.fail("slope \(s) does not broadcast to the input \(x)") }
        return [Shape(x)]
    }

    /// The slope of every element of `x` (broadcast).
    func slopes(_ x: Tensor, _ slope: Tensor) -> [Float] {
        BinaryOperator.add.apply(Tensor(shape: x.shape), slope).scalars
    }

    package var locality: ForwardLocality { .pointwise(broadcasting: true) }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        let a = slopes(x[0]!, x[1]!)
        var y = x[0]!
        y.scalars.withUnsafeMutableBufferPointer { p in for i in 0..<p.count where p[i] < 0 { p[i] *= a[i] } }
        return ForwardOutput(y)
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        context.first(inputs)
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let x = context.input(0)
        return context.first(rectify(context.signal(outputs), x: x.scalars, slopes: slopes(x, context.input(1)), perSeed: false, context))
    }

    package func isWindowable(_ context: BackwardContext) -> Bool { context.hasWindowableInput }

    package func windowedBackward(_ g: consuming Tensor, _ w: SeedWindows, _ context: BackwardContext) throws -> [Signal?] {
        let x = context.input(0)
        let a = Tensor(shape: x.shape, scalars: slopes(x, context.input(1)))
        let whole = w.isWholeMap
        let xw = whole ? x : WindowCopy.gather(x, into: w), aw = whole ? a : WindowCopy.gather(a, into: w)
        return [Signal(rectify(g, x: xw.scalars, slopes: aw.scalars, perSeed: !whole, context), windows: w), nil]
    }

    func rectify(_ g: consuming Tensor, x: [Float], slopes: [Float], perSeed: Bool, _ context: BackwardContext) -> Tensor {
        let n = g.count / max(1, context.seeds)
        let rule = context.rule
        g.scalars.withUnsafeMutableBufferPointer { p in
            for s in 0..<context.seeds {
                let base = s * n, f = perSeed ? base : 0
                for i in 0..<n {
                    let inside = x[f + i] > 0
                    switch rule {
                    case .deconvnet: p[base + i] = max(p[base + i], 0)
                    case .guided: p[base + i] = inside ? max(p[base + i], 0) : 0
                    case .backprop: p[base + i] *= inside ? 1 : slopes[f + i]
                    }
                }
            }
        }
        return g
    }
}
