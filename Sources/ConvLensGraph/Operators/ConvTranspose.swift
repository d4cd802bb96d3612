import ConvLensCore

/// `ConvTranspose` (2-D). Inputs: `x [N, C_in, H, W]`, `W [C_in, C_out/g, kH, kW]`, optional `B`;
/// the output size is resolved at import. Backward under every rule: the forward convolution
/// with the same weights and no bias.
package struct ConvTranspose: DenseBackward {
    package static let onnxTypes = ["ConvTranspose"]
    package static let requiredInputs = 2
    package let geometry: Conv2DGeometry
    package let outputHeight: Int
    package let outputWidth: Int

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let x = node.x
        var g = try ConvolutionAttributes.geometry(node)
        let autoPad = node.string("auto_pad") ?? "NOTSET"
        let outputPadding = node.ints("output_padding") ?? [0, 0]
        guard outputPadding.count == 2, outputPadding.allSatisfy({ $0 >= 0 }) else {
            throw node.fail("output_padding must hold two non-negative values")
        }
        var size = [0, 0]
        if let outputShape = node.ints("output_shape") {
            guard outputShape.count == 2 || outputShape.count == 4 else { throw node.fail("output_shape must hold 2 (or 4) values") }
            let os = Array(outputShape.suffix(2))
            for i in 0..<2 {
                let total = g.strides[i] * (x[2 + i] - 1) + outputPadding[i] + g.extent(i) - os[i]
                guard total >= 0 else {
                    throw node.fail(.unsupportedFeature, "output_shape \(os) is larger than the transposed convolution produces")
                }
                let half = total / 2
                (g.pads[i], g.pads[i + 2]) = autoPad == "SAME_UPPER" ? (half, total - half) : (total - half, half)
                size[i] = os[i]
            }
        } else {
            if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
                for i in 0..<2 {
                    let target = x[2 + i] * g.strides[i]
                    let total = g.strides[i] * (x[2 + i] - 1) + outputPadding[i] + g.extent(i) - target
                    let half = total / 2
                    (g.pads[i], g.pads[i + 2]) = autoPad == "SAME_UPPER" ? (half, total - half) : (total - half, half)
                }
            } else if autoPad == "VALID" {
                g.pads = [0, 0, 0, 0]
            }
            for i in 0..<2 { size[i] = g.transposedOutput(x[2 + i], axis: i, outputPadding: outputPadding[i]) }
        }
        guard size.allSatisfy({ $0 > 0 }) else { throw node.fail("the output would be empty") }
        return ConvTranspose(geometry: g, outputHeight: size[0], outputWidth: size[1])
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { ConvolutionAttributes.runtimeInputs(inputs) }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0, rank: 4), w = try check.input(inputs, 1, rank: 4, "weight")
        let g = geometry
        guard x[1] == w[0], w[0] % g.groups == 0 else { throw check.fail("input has \(x[1]) channels; weight \(w) expects \(w[0])") }
        if inputs.count > 2, let b = inputs[2], b.dimensions != [w[1] * g.groups] {
            throw check.fail("bias shape \(b) should be [\(w[1] * g.groups)]")
        }
        return [try check.make([x[0], w[1] * g.groups, outputHeight, outputWidth])]
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(Convolution.transposedConv2D(x[0]!, weight: x[1]!, bias: x.count > 2 ? x[2] : nil, geometry: geometry,
                                                   outputSize: (outputHeight, outputWidth)))
    }

    /// An output unit gathers `⌈extent/stride⌉` input units; the grid is `stride` times finer.
    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        let base = context.first(inputs)
        guard !base.isWholeInput else { return base }
        var out = base
        let g = geometry
        for i in 0..<2 {
            let s = Double(g.strides[i]), ext = Double(g.extent(i))
            out.size[i] = min(base.size[i] + ((ext - 1) / s).rounded(.up) * base.jump[i], base.limit(i))
            out.offset[i] = base.offset[i] + (Double(g.pads[i]) - (ext - 1) / 2) / s * base.jump[i]
            out.jump[i] = base.jump[i] / s
        }
        return out
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        guard !(1..<context.node.inputs.count).contains(where: context.carriesSignal) else { throw context.unsupported("computed weights") }
        let inShape = context.inputShape
        let forward = Convolution.conv2DWithChoice(context.batched(context.signal(outputs), context.outputShape), weight: context.input(1),
                                                   bias: nil, geometry: geometry, algorithm: context.algorithm)
        context.log?.record(forward.choice)
        var dx = forward.output
        if dx.shape[2] != inShape[2] || dx.shape[3] != inShape[3] {
            dx = Reshaping.slice(dx, starts: [0, 0], ends: [inShape[2], inShape[3]], axes: [2, 3], steps: [1, 1])
            if dx.shape[2] < inShape[2] || dx.shape[3] < inShape[3] {
                dx = Reshaping.pad(dx, pads: [0, 0, 0, 0, 0, 0, inShape[2] - dx.shape[2], inShape[3] - dx.shape[3]], mode: .constant, value: 0)
            }
        }
        return context.first(context.stacked(dx, inShape))
    }
}
