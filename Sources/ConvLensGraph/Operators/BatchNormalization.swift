import ConvLensCore

/// `BatchNormalization` in inference mode. Inputs: `x [N, C, …]`, `scale`, `B`, `mean`, `var`
/// (constants, `[C]`). Backward under every rule: the per-channel scale `γ/√(σ² + ε)`.
package struct BatchNormalization: Operator {
    package static let onnxTypes = ["BatchNormalization"]
    package static let requiredInputs = 5
    package let epsilon: Float

    package init(epsilon: Float) { self.epsilon = epsilon }

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        if node.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
            throw node.fail(.unsupportedFeature, "training-mode BatchNormalization (extra outputs) is not supported")
        }
        if let spatial = node.int("spatial"), spatial == 0 {
            throw node.fail(.unsupportedFeature, "BatchNormalization with spatial=0 is not supported")
        }
        guard node.inputs.count == 5, (1...4).allSatisfy(node.isConstant) else {
            throw node.fail(.unsupportedFeature, "BatchNormalization needs constant scale, bias, mean and variance")
        }
        return BatchNormalization(epsilon: node.float("epsilon") ?? 1e-5)
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0)
        guard x.count >= 2 else { throw check.fail("needs an [N, C, …] input") }
        for i in 1..<5 where inputs[i]?.dimensions != [x[1]] {
            throw check.fail("parameter \(i) has shape \(inputs[i].map { "\($0)" } ?? "none"); expected [\(x[1])]")
        }
        return [Shape(x)]
    }

    package var locality: ForwardLocality { .pointwise(broadcasting: false) }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(Normalization.batchNorm(x[0]!, scale: x[1]!, bias: x[2]!, mean: x[3]!, variance: x[4]!, epsilon: epsilon))
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        context.first(inputs)
    }

    /// `γ_c / √(σ²_c + ε)`.
    func channelScale(_ context: BackwardContext) -> [Float] {
        let scale = context.input(1), variance = context.input(4)
        return (0..<scale.count).map { scale.scalars[$0] / (variance.scalars[$0] + epsilon).squareRoot() }
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let inShape = context.inputShape
        let k = channelScale(context)
        let c = inShape[1], plane = inShape.count / (inShape[0] * c)
        var factor = [Float](repeating: 0, count: inShape.count)
        for b in 0..<inShape[0] {
            for ch in 0..<c {
                for i in 0..<plane { factor[(b * c + ch) * plane + i] = k[ch] }
            }
        }
        return context.first(context.scaled(context.signal(outputs), by: factor))
    }

    package func isWindowable(_ context: BackwardContext) -> Bool { context.hasWindowableInput }

    package func windowedBackward(_ g: consuming Tensor, _ w: SeedWindows, _ context: BackwardContext) throws -> [Signal?] {
        let channels = context.inputShape[1]
        let k = channelScale(context)
        let plane = w.height * w.width
        g.scalars.withUnsafeMutableBufferPointer { p in
            for s in 0..<context.seeds {
                for c in 0..<channels {
                    let base = (s * channels + c) * plane
                    for i in 0..<plane { p[base + i] *= k[c] }
                }
            }
        }
        var r = [Signal?](repeating: nil, count: context.node.inputs.count)
        r[0] = Signal(g, windows: w)
        return r
    }
}
