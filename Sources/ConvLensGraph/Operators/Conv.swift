import ConvLensCore

/// `Conv` (2-D). Inputs: `x [N, C_in, H, W]`, `W [C_out, C_in/g, kH, kW]`, optional `B [C_out]`.
/// Backward under every rule: the transposed convolution with the same weights and no bias.
package struct Conv: Operator {
    package static let onnxTypes = ["Conv"]
    package static let requiredInputs = 2
    package let geometry: Conv2DGeometry

    package init(_ geometry: Conv2DGeometry) { self.geometry = geometry }

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let x = node.x
        var g = try ConvolutionAttributes.geometry(node)
        let autoPad = node.string("auto_pad") ?? "NOTSET"
        if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
            for i in 0..<2 {
                let out = (x[2 + i] + g.strides[i] - 1) / g.strides[i]
                let total = max(0, (out - 1) * g.strides[i] + g.extent(i) - x[2 + i])
                let small = total / 2, large = total - small
                (g.pads[i], g.pads[i + 2]) = autoPad == "SAME_UPPER" ? (small, large) : (large, small)
            }
        } else if autoPad == "VALID" {
            g.pads = [0, 0, 0, 0]
        }
        return Conv(g)
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { ConvolutionAttributes.runtimeInputs(inputs) }

    package var locality: ForwardLocality {
        let g = geometry
        return .window(extent: [g.extent(0), g.extent(1)], strides: g.strides, pads: g.pads) { pads in
            var local = g
            local.pads = pads
            return Conv(local)
        }
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0, rank: 4), w = try check.input(inputs, 1, rank: 4, "weight")
        let g = geometry
        guard x[1] == w[1] * g.groups, w[0] % g.groups == 0 else {
            throw check.fail("input has \(x[1]) channels; weight \(w) with group \(g.groups) expects \(w[1] * g.groups)")
        }
        if inputs.count > 2, let b = inputs[2], b.dimensions != [w[0]] { throw check.fail("bias shape \(b) should be [\(w[0])]") }
        return [try check.make([x[0], w[0], g.convOutput(x[2], axis: 0), g.convOutput(x[3], axis: 1)])]
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(forward(x, activation: nil))
    }

    /// The convolution with `activation` applied as the output is written (``Graph/fusions``).
    package func forward(_ x: [Tensor?], activation: ConvolutionActivation?) -> Tensor {
        Convolution.conv2D(x[0]!, weight: x[1]!, bias: x.count > 2 ? x[2] : nil, geometry: geometry, activation: activation)
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        let g = geometry
        return context.first(inputs).window(extent: [g.extent(0), g.extent(1)], stride: g.strides,
                                            padBegin: [g.pads[0], g.pads[1]], padEnd: [g.pads[2], g.pads[3]])
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        guard !(1..<context.node.inputs.count).contains(where: context.carriesSignal) else { throw context.unsupported("computed weights") }
        let inShape = context.inputShape
        let (dx, choice) = Convolution.transposedConv2DWithChoice(context.batched(context.signal(outputs), context.outputShape),
                                                                  weight: context.input(1), bias: nil, geometry: geometry,
                                                                  outputSize: (inShape[2], inShape[3]), algorithm: context.algorithm)
        context.log?.record(choice)
        return context.first(context.stacked(dx, inShape))
    }

    package func isWindowable(_ context: BackwardContext) -> Bool {
        context.hasWindowableInput && !(1..<context.node.inputs.count).contains(where: context.carriesSignal)
    }

    /// Each seed's input window is what its output window reaches (`(h − 1)·stride + extent`),
    /// kept inside the map. When every seed's window sits at the same offset from its natural place
    /// (always so for whole-map windows), the offset becomes the convolution's padding and the
    /// result lands in place; otherwise the natural windows are computed and copied into the kept
    /// ones.
    package func windowedBackward(_ g: consuming Tensor, _ w: SeedWindows, _ context: BackwardContext) throws -> [Signal?] {
        let inShape = context.inputShape, weight = context.input(1)
        let natural = w.below(stride: geometry.strides, padBegin: [geometry.pads[0], geometry.pads[1]],
                              extent: [geometry.extent(0), geometry.extent(1)], inputHeight: inShape[2], inputWidth: inShape[3])
        let kept = SeedWindows.covering(natural, mapHeight: inShape[2], mapWidth: inShape[3])
        let dy = kept.top[0] - natural.top[0], dx = kept.left[0] - natural.left[0]
        let uniform = (0..<w.seeds).allSatisfy { kept.top[$0] - natural.top[$0] == dy && kept.left[$0] - natural.left[$0] == dx }
        var local = geometry
        local.pads = uniform ? [dy, dx, 0, 0] : [0, 0, 0, 0]
        let outSize = uniform ? (kept.height, kept.width) : (natural.height, natural.width)
        let (dxTensor, choice) = Convolution.transposedConv2DWithChoice(g, weight: weight, bias: nil, geometry: local,
                                                                        outputSize: outSize, algorithm: context.algorithm)
        if let log = context.log {
            log.record(choice)
            let executed = ConvolutionProblem(direction: .transposed, input: g.shape, weight: weight.shape, geometry: local, outputSize: outSize)
            let outShape = context.outputShape
            let dense = ConvolutionProblem(direction: .transposed, input: Shape([w.seeds, g.shape[1], outShape[2], outShape[3]]),
                                           weight: weight.shape, geometry: geometry, outputSize: (inShape[2], inShape[3]))
            log.record(flops: executed.flops, denseFlops: dense.flops)
        }
        var r = [Signal?](repeating: nil, count: context.node.inputs.count)
        r[0] = uniform ? Signal(dxTensor, windows: kept)
            : Signal(WindowCopy.rewindow(dxTensor, channels: inShape[1], from: natural, to: kept), windows: kept)
        return r
    }
}

/// The attribute handling `Conv` and `ConvTranspose` share.
enum ConvolutionAttributes {
    /// Kernel, strides, pads, dilations and group, validated; constant weights and bias required.
    static func geometry(_ node: ONNXNodeReader) throws -> Conv2DGeometry {
        let x = node.x
        guard let w = node.shape(1) else { throw node.fail("needs an input and a weight") }
        try node.requireConstant(1, "weights")
        try node.requireConstant(2, "bias")
        guard x.count == 4, w.count == 4 else {
            throw node.fail(.unsupportedFeature, "only 2-D convolutions are supported (input \(x), weight \(w))")
        }
        let kernel = node.ints("kernel_shape") ?? Array(w[2...])
        guard kernel == Array(w[2...]) else { throw node.fail("kernel_shape \(kernel) disagrees with the weight shape \(w)") }
        let g = Conv2DGeometry(kernel: kernel, strides: node.ints("strides") ?? [1, 1], pads: node.ints("pads") ?? [0, 0, 0, 0],
                               dilations: node.ints("dilations") ?? [1, 1], groups: node.int("group") ?? 1)
        guard g.strides.count == 2, g.pads.count == 4, g.dilations.count == 2, g.groups >= 1,
              g.strides.allSatisfy({ $0 >= 1 }), g.dilations.allSatisfy({ $0 >= 1 }), kernel.allSatisfy({ $0 >= 1 }),
              g.pads.allSatisfy({ $0 >= 0 }) else {
            throw node.fail("invalid strides, pads, dilations or group")
        }
        return g
    }

    /// Input, weight and the bias when present.
    static func runtimeInputs(_ inputs: [String]) -> [String] {
        var r = Array(inputs.prefix(3))
        while r.last == "" { r.removeLast() }
        return r
    }
}
