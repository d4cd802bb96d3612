import ConvLensCore
import Foundation

extension ONNXGraphBuilder {
    /// Resolves one ONNX operator into an ``Op``, reading parameter inputs from constants.
    func resolve(_ op: String, inputs: [String], outputs: [String], a: Attributes, ctx: String) throws -> Op {
        let x = inputs.first.flatMap { shapeOf($0) } ?? []
        switch op {
        case "Conv", "ConvTranspose":
            guard inputs.count >= 2, let w = shapeOf(inputs[1]) else { throw fail("\(ctx) needs an input and a weight") }
            guard consts[inputs[1]] != nil else {
                throw fail(.unsupportedFeature, "\(ctx): the weights '\(inputs[1])' are computed at run time; ConvLens needs constant weights")
            }
            if inputs.count > 2, !inputs[2].isEmpty, consts[inputs[2]] == nil {
                throw fail(.unsupportedFeature, "\(ctx): the bias '\(inputs[2])' is computed at run time; ConvLens needs a constant bias")
            }
            guard x.count == 4, w.count == 4 else {
                throw fail(.unsupportedFeature, "\(ctx): only 2-D convolutions are supported (input \(x), weight \(w))")
            }
            let kernel = a.ints("kernel_shape") ?? Array(w[2...])
            guard kernel == Array(w[2...]) else { throw fail("\(ctx): kernel_shape \(kernel) disagrees with the weight shape \(w)") }
            var g = Conv2DGeometry(kernel: kernel, strides: a.ints("strides") ?? [1, 1], pads: a.ints("pads") ?? [0, 0, 0, 0],
                                   dilations: a.ints("dilations") ?? [1, 1], groups: a.int("group") ?? 1)
            guard g.strides.count == 2, g.pads.count == 4, g.dilations.count == 2, g.groups >= 1,
                  g.strides.allSatisfy({ $0 >= 1 }), g.dilations.allSatisfy({ $0 >= 1 }), kernel.allSatisfy({ $0 >= 1 }),
                  g.pads.allSatisfy({ $0 >= 0 }) else {
                throw fail("\(ctx): invalid strides, pads, dilations or group")
            }
            let autoPad = a.string("auto_pad") ?? "NOTSET"
            if op == "Conv" {
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
                return .conv(g)
            }
            let outputPadding = a.ints("output_padding") ?? [0, 0]
            guard outputPadding.count == 2, outputPadding.allSatisfy({ $0 >= 0 }) else {
                throw fail("\(ctx): output_padding must hold two non-negative values")
            }
            var size = [0, 0]
            if let outputShape = a.ints("output_shape") {
                guard outputShape.count == 2 || outputShape.count == 4 else {
                    throw fail("\(ctx): output_shape must hold 2 (or 4) values")
                }
                let os = Array(outputShape.suffix(2))
                for i in 0..<2 {
                    let total = g.strides[i] * (x[2 + i] - 1) + outputPadding[i] + g.extent(i) - os[i]
                    guard total >= 0 else {
                        throw fail(.unsupportedFeature, "\(ctx): output_shape \(os) is larger than the transposed convolution produces")
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
            guard size.allSatisfy({ $0 > 0 }) else { throw fail("\(ctx): the output would be empty") }
            return .convTranspose(g, outputHeight: size[0], outputWidth: size[1])
        case "Relu": return .activation(.relu)
        case "Sigmoid": return .activation(.sigmoid)
        case "Tanh": return .activation(.tanh)
        case "HardSwish": return .activation(.hardSwish)
        case "LeakyRelu": return .activation(.leakyRelu(alpha: a.float("alpha") ?? 0.01))
        case "HardSigmoid": return .activation(.hardSigmoid(alpha: a.float("alpha") ?? 0.2, beta: a.float("beta") ?? 0.5))
        case "Clip":
            if opset < 11 {
                let lo = a.float("min"), hi = a.float("max")
                return .activation(.clip(min: lo.flatMap { $0 == -.greatestFiniteMagnitude ? nil : $0 },
                                         max: hi.flatMap { $0 == .greatestFiniteMagnitude ? nil : $0 }))
            }
            let lo = try constFloat(inputs.count > 1 ? inputs[1] : nil, ctx, "min")
            let hi = try constFloat(inputs.count > 2 ? inputs[2] : nil, ctx, "max")
            return .activation(.clip(min: lo, max: hi))
        case "Add": return .binary(.add)
        case "Sub": return .binary(.sub)
        case "Mul": return .binary(.mul)
        case "Div": return .binary(.div)
        case "MaxPool", "AveragePool":
            guard x.count == 4 else { throw fail(.unsupportedFeature, "\(ctx): only 2-D pooling is supported (input \(x))") }
            if op == "MaxPool", outputs.count > 1, !outputs[1].isEmpty {
                throw fail(.unsupportedFeature, "\(ctx): the Indices output of MaxPool is not supported")
            }
            guard let kernel = a.ints("kernel_shape"), kernel.count == 2, kernel.allSatisfy({ $0 >= 1 }) else {
                throw fail("\(ctx): kernel_shape must hold two positive sizes")
            }
            var g = Pool2DGeometry(kernel: kernel, strides: a.ints("strides") ?? [1, 1], pads: a.ints("pads") ?? [0, 0, 0, 0],
                                   dilations: a.ints("dilations") ?? [1, 1], ceilMode: (a.int("ceil_mode") ?? 0) != 0)
            guard g.strides.count == 2, g.pads.count == 4, g.dilations.count == 2, g.strides.allSatisfy({ $0 >= 1 }),
                  g.dilations.allSatisfy({ $0 >= 1 }), g.pads.allSatisfy({ $0 >= 0 }) else {
                throw fail("\(ctx): invalid strides, pads or dilations")
            }
            let autoPad = a.string("auto_pad") ?? "NOTSET"
            if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
                for i in 0..<2 {
                    let out = (x[2 + i] + g.strides[i] - 1) / g.strides[i]
                    let extent = g.dilations[i] * (g.kernel[i] - 1) + 1
                    let total = max(0, (out - 1) * g.strides[i] + extent - x[2 + i])
                    let small = total / 2, large = total - small
                    (g.pads[i], g.pads[i + 2]) = autoPad == "SAME_UPPER" ? (small, large) : (large, small)
                }
            } else if autoPad == "VALID" {
                g.pads = [0, 0, 0, 0]
            }
            if op == "MaxPool" { return .maxPool(g) }
            guard g.dilations == [1, 1] else {
                throw fail(.unsupportedFeature, "\(ctx): AveragePool with dilations is not supported")
            }
            return .averagePool(g, countIncludePad: (a.int("count_include_pad") ?? 0) != 0)
        case "GlobalAveragePool": return .globalAveragePool
        case "GlobalMaxPool": return .globalMaxPool
        case "BatchNormalization":
            if outputs.dropFirst().contains(where: { !$0.isEmpty }) {
                throw fail(.unsupportedFeature, "\(ctx): training-mode BatchNormalization (extra outputs) is not supported")
            }
            if let spatial = a.int("spatial"), spatial == 0 {
                throw fail(.unsupportedFeature, "\(ctx): BatchNormalization with spatial=0 is not supported")
            }
            guard inputs.count == 5, inputs[1...].allSatisfy({ consts[$0] != nil }) else {
                throw fail(.unsupportedFeature, "\(ctx): BatchNormalization needs constant scale, bias, mean and variance")
            }
            return .batchNormalization(epsilon: a.float("epsilon") ?? 1e-5)
        case "LRN":
            guard let size = a.int("size"), size >= 1 else { throw fail("\(ctx): LRN needs a positive size") }
            return .lrn(size: size, alpha: a.float("alpha") ?? 1e-4, beta: a.float("beta") ?? 0.75, bias: a.float("bias") ?? 1)
        case "Gemm":
            return .gemm(alpha: a.float("alpha") ?? 1, beta: a.float("beta") ?? 1,
                         transA: (a.int("transA") ?? 0) != 0, transB: (a.int("transB") ?? 0) != 0)
        case "MatMul": return .matMul
        case "Flatten":
            let ax = a.int("axis") ?? 1
            let r = ax < 0 ? ax + x.count : ax
            guard r >= 0 && r <= x.count else { throw fail("\(ctx): axis \(ax) is out of range for rank \(x.count)") }
            return .reshape(to: Shape([x[..<r].reduce(1, *), x[r...].reduce(1, *)]))
        case "Reshape":
            let target = try (opset < 5 ? a.ints("shape") : constInts(inputs.count > 1 ? inputs[1] : nil, ctx, "shape")) ?? []
            let allowZero = (a.int("allowzero") ?? 0) != 0
            var dims: [Int] = []
            var infer = -1
            for (i, d) in target.enumerated() {
                if d == 0 && !allowZero {
                    guard i < x.count else { throw fail("\(ctx): shape \(target) copies dimension \(i) that the input \(x) lacks") }
                    dims.append(x[i])
                } else if d == -1 {
                    guard infer < 0 else { throw fail("\(ctx): shape \(target) has more than one -1") }
                    infer = i
                    dims.append(1)
                } else if d < 0 {
                    throw fail("\(ctx): shape \(target) has a negative dimension")
                } else {
                    dims.append(d)
                }
            }
            let total = x.reduce(1, *)
            if infer >= 0 {
                guard let known = Shape.checkedCount(dims) else { throw fail("\(ctx): shape \(target) overflows") }
                guard known > 0, total % known == 0 else { throw fail("\(ctx): cannot reshape \(x) to \(target)") }
                dims[infer] = total / known
            }
            guard Shape.checkedCount(dims) == total else { throw fail("\(ctx): cannot reshape \(x) (\(total) elements) to \(target)") }
            return .reshape(to: Shape(dims))
        case "Squeeze":
            let given = try (opset < 13 ? a.ints("axes") : constInts(inputs.count > 1 ? inputs[1] : nil, ctx, "axes"))
            let axes = try Set((given ?? x.indices.filter { x[$0] == 1 }).map { try axis($0, rank: x.count, ctx) })
            for ax in axes where x[ax] != 1 { throw fail("\(ctx): cannot squeeze axis \(ax) of size \(x[ax])") }
            return .reshape(to: Shape(x.indices.filter { !axes.contains($0) }.map { x[$0] }))
        case "Unsqueeze":
            guard let given = try (opset < 13 ? a.ints("axes") : constInts(inputs.count > 1 ? inputs[1] : nil, ctx, "axes")) else {
                throw fail("\(ctx): Unsqueeze needs axes")
            }
            let r = x.count + given.count
            let axes = try Set(given.map { try axis($0, rank: r, ctx) })
            guard axes.count == given.count else { throw fail("\(ctx): repeated axes \(given)") }
            var dims: [Int] = []
            var it = x.makeIterator()
            for i in 0..<r { dims.append(axes.contains(i) ? 1 : it.next()!) }
            return .reshape(to: Shape(dims))
        case "Transpose":
            let perm = a.ints("perm") ?? Array(x.indices.reversed())
            guard perm.sorted() == Array(x.indices) else { throw fail("\(ctx): perm \(perm) is not a permutation of \(x.count) axes") }
            return .transpose(perm: perm)
        case "Concat":
            guard let ax = a.int("axis") else { throw fail("\(ctx): Concat needs an axis") }
            return .concat(axis: try axis(ax, rank: x.count, ctx))
        case "Split":
            let ax = try axis(a.int("axis") ?? 0, rank: x.count, ctx)
            let n = outputs.count
            var sizes: [Int]
            if opset < 13, let s = a.ints("split") {
                sizes = s
            } else if opset >= 13, let s = try constInts(inputs.count > 1 ? inputs[1] : nil, ctx, "split") {
                sizes = s
            } else {
                let parts = a.int("num_outputs") ?? n
                guard parts >= 1 else { throw fail("\(ctx): num_outputs must be positive") }
                let chunk = (x[ax] + parts - 1) / parts
                sizes = (0..<parts).map { min(chunk, max(0, x[ax] - $0 * chunk)) }
            }
            guard sizes.count == n, sizes.allSatisfy({ $0 >= 0 && $0 <= x[ax] }), sizes.reduce(0, +) == x[ax] else {
                throw fail("\(ctx): split sizes \(sizes) do not partition axis \(ax) of size \(x[ax]) into \(n) outputs")
            }
            return .split(axis: ax, sizes: sizes)
        case "Slice":
            let starts: [Int], ends: [Int]
            var axes: [Int]?, steps: [Int]?
            if opset < 10 {
                starts = a.clampedInts("starts") ?? []
                ends = a.clampedInts("ends") ?? []
                axes = a.ints("axes")
            } else {
                starts = try constInts(inputs.count > 1 ? inputs[1] : nil, ctx, "starts", clamp: true) ?? []
                ends = try constInts(inputs.count > 2 ? inputs[2] : nil, ctx, "ends", clamp: true) ?? []
                axes = try constInts(inputs.count > 3 ? inputs[3] : nil, ctx, "axes")
                steps = try constInts(inputs.count > 4 ? inputs[4] : nil, ctx, "steps")
            }
            let resolvedAxes = try (axes ?? Array(0..<starts.count)).map { try axis($0, rank: x.count, ctx) }
            let st = steps ?? [Int](repeating: 1, count: starts.count)
            guard starts.count == ends.count, resolvedAxes.count == starts.count, st.count == starts.count, !st.contains(0) else {
                throw fail("\(ctx): starts, ends, axes and steps disagree (or a step is 0)")
            }
            return .slice(starts: starts, ends: ends, axes: resolvedAxes, steps: st)
        case "Pad":
            let mode = a.string("mode") ?? "constant"
            guard let m = Reshaping.PadMode(rawValue: mode) else { throw fail(.unsupportedFeature, "\(ctx): pad mode '\(mode)' is not supported") }
            var pads: [Int]
            var value: Float = 0
            if opset < 11 {
                pads = a.ints("pads") ?? a.ints("paddings") ?? []
                value = a.float("value") ?? 0
            } else {
                pads = try constInts(inputs.count > 1 ? inputs[1] : nil, ctx, "pads") ?? []
                value = try constFloat(inputs.count > 2 ? inputs[2] : nil, ctx, "constant_value") ?? 0
                if let axes = try constInts(inputs.count > 3 ? inputs[3] : nil, ctx, "axes") {
                    guard pads.count == 2 * axes.count else {
                        throw fail("\(ctx): pads has \(pads.count) values for \(axes.count) axes")
                    }
                    var full = [Int](repeating: 0, count: 2 * x.count)
                    for (i, ax) in try axes.map({ try axis($0, rank: x.count, ctx) }).enumerated() {
                        full[ax] = pads[i]; full[ax + x.count] = pads[i + axes.count]
                    }
                    pads = full
                }
            }
            guard pads.count == 2 * x.count else { throw fail("\(ctx): pads has \(pads.count) values for rank \(x.count)") }
            return .pad(pads: pads, mode: m, value: value)
        case "ReduceMean":
            let given = try (opset < 18 ? a.ints("axes") : constInts(inputs.count > 1 ? inputs[1] : nil, ctx, "axes"))
            if (given ?? []).isEmpty, (a.int("noop_with_empty_axes") ?? 0) != 0 { return .identity }
            let axes = try Set((given ?? []).isEmpty ? Array(x.indices) : given!.map { try axis($0, rank: x.count, ctx) }).sorted()
            return .reduceMean(axes: axes, keepDims: (a.int("keepdims") ?? 1) != 0)
        case "Resize":
            guard x.count == 4 else { throw fail(.unsupportedFeature, "\(ctx): only 4-D Resize is supported") }
            let mode = a.string("mode") ?? "nearest"
            guard mode == "nearest" || mode == "linear" else {
                throw fail(.unsupportedFeature, "\(ctx): Resize mode '\(mode)' is not supported (nearest, linear are)")
            }
            let ctmName = opset < 11 ? "asymmetric" : (a.string("coordinate_transformation_mode") ?? "half_pixel")
            guard let ctm = Reshaping.CoordinateTransform(rawValue: ctmName) else {
                throw fail(.unsupportedFeature, "\(ctx): coordinate_transformation_mode '\(ctmName)' is not supported")
            }
            if (a.int("antialias") ?? 0) != 0 {
                throw fail(.unsupportedFeature, "\(ctx): Resize with antialias=1 is not supported")
            }
            // Opset 10's Resize (like Upsample) picks the nearest pixel by flooring.
            let nmName = opset < 11 ? "floor" : (a.string("nearest_mode") ?? "round_prefer_floor")
            guard let nm = Reshaping.NearestMode(rawValue: nmName) else {
                throw fail(.unsupportedFeature, "\(ctx): nearest_mode '\(nmName)' is not supported")
            }
            let scalesName = opset < 11 ? (inputs.count > 1 ? inputs[1] : nil) : (inputs.count > 2 ? inputs[2] : nil)
            let sizesName = opset < 11 ? nil : (inputs.count > 3 ? inputs[3] : nil)
            var oh = 0, ow = 0, sy = 1.0, sx = 1.0
            if let sizes = try constInts(sizesName, ctx, "sizes"), !sizes.isEmpty {
                guard sizes.count == 4, sizes[0] == x[0], sizes[1] == x[1] else {
                    throw fail(.unsupportedFeature, "\(ctx): Resize may only change the two spatial axes (sizes \(sizes))")
                }
                (oh, ow) = (sizes[2], sizes[3])
                (sy, sx) = (Double(oh) / Double(x[2]), Double(ow) / Double(x[3]))
            } else if let name = scalesName, !name.isEmpty, let c = consts[name] {
                let s = c.floatTensor.scalars.map(Double.init)
                guard s.count == 4, s[0] == 1, s[1] == 1, s[2] > 0, s[3] > 0, s[2] < 4096, s[3] < 4096 else {
                    throw fail(.unsupportedFeature, "\(ctx): Resize may only scale the two spatial axes (scales \(s))")
                }
                (sy, sx) = (s[2], s[3])
                (oh, ow) = (Int((Double(x[2]) * sy).rounded(.down)), Int((Double(x[3]) * sx).rounded(.down)))
            } else {
                throw fail(.unsupportedFeature, "\(ctx): Resize needs constant scales or sizes")
            }
            guard oh > 0, ow > 0 else { throw fail("\(ctx): the output would be empty") }
            return .resize(height: oh, width: ow, scaleY: sy, scaleX: sx, linear: mode == "linear", transform: ctm, nearest: nm)
        case "Softmax":
            let legacy = opset < 13
            let ax = try axis(a.int("axis") ?? (legacy ? 1 : -1), rank: x.count, ctx)
            return .softmax(axis: ax, legacy: legacy)
        case "Cast":
            let to = a.int("to") ?? 1
            guard to == 1 else {
                throw fail(.unsupportedFeature, "\(ctx): Cast of a computed tensor to type \(to) is not supported (only to FLOAT)")
            }
            return .identity
        case "Dropout", "Identity":
            return .identity
        case "Gather", "Shape", "Constant", "ConstantOfShape":
            throw fail(.unsupportedFeature, "\(ctx): \(op) on a tensor computed at run time is not supported; ConvLens folds it only when its inputs are constant")
        default:
            throw fail(.unsupportedOperator, "\(ctx): operator '\(op)' is not supported")
        }
    }
}
