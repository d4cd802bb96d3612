import ConvLensCore
import ConvLensGraph
import Foundation

/// The backward pass through one node for a batch of seeds (DESIGN.md §1's rule table).
///
/// Gradients are stacked per seed: a tensor of forward shape `[1, …]` carries `[S, 1, …]`, so the
/// heavy operations (transposed convolution, pooling) run on all seeds at once by treating `S` as the
/// batch, and the cheap ones loop over seeds.
struct BackwardStep {
    let node: Node
    let trace: Trace
    let seeds: Int
    let rule: ProjectionRule
    let lrn: LRNMode
    /// The convolution algorithm requested for this projection.
    var algorithm: ConvolutionAlgorithm = .auto
    /// Collects the algorithms that ran.
    var log: AlgorithmLog? = nil

    var graph: Graph { trace.graph }

    /// The forward value of a node input (computed tensor or initializer).
    func value(_ name: String) -> Tensor? { trace.values[name] ?? graph.initializers[name] }
    /// Whether an input carries a backward signal (a computed tensor, not a constant).
    func isComputed(_ name: String) -> Bool { !name.isEmpty && trace.values[name] != nil }
    func forwardShape(_ name: String) -> Shape { value(name)!.shape }

    /// `[S] + shape` view of stacked per-seed tensors.
    private func stacked(_ t: Tensor, _ shape: Shape) -> Tensor { t.reshaped(Shape([seeds] + shape.dimensions)) }

    /// The stacked gradient viewed as a batch of `S·N` forward tensors.
    private func batched(_ g: Tensor, _ shape: Shape) -> Tensor {
        var d = shape.dimensions
        d[0] *= seeds
        return g.reshaped(Shape(d))
    }

    /// Applies `f` to each seed's slice (forward-shaped) and stacks the results.
    private func perSeed(_ g: Tensor, _ shape: Shape, outShape: Shape, _ f: (Tensor) throws -> Tensor) rethrows -> Tensor {
        let n = shape.count
        var out = [Float]()
        out.reserveCapacity(seeds * outShape.count)
        for s in 0..<seeds {
            let slice = Tensor(shape: shape, scalars: Array(g.scalars[(s * n)..<((s + 1) * n)]))
            out += try f(slice).scalars
        }
        return Tensor(shape: Shape([seeds] + outShape.dimensions), scalars: out)
    }

    /// Elementwise product of stacked gradients with a forward-shaped factor (broadcast over seeds).
    private func scaled(_ g: Tensor, by factor: [Float]) -> Tensor {
        var out = g
        let n = factor.count
        out.scalars.withUnsafeMutableBufferPointer { p in
            for s in 0..<seeds { for i in 0..<n { p[s * n + i] *= factor[i] } }
        }
        return out
    }

    private func unsupported(_ what: String) -> ConvLensError {
        ConvLensError(.unsupportedFeature, file: graph.source, "node '\(node.name)' (\(node.opType)): back-projection through \(what) is not supported")
    }

    func inputGradients(_ outGrads: [Tensor?]) throws -> [Tensor?] {
        let inputs = node.inputs
        let x0 = inputs[0]
        let inShape = forwardShape(x0)
        let outShape = graph.shapes[node.outputs[0]] ?? inShape
        var result = [Tensor?](repeating: nil, count: inputs.count)
        let g = outGrads[0] ?? Tensor(shape: Shape([seeds] + outShape.dimensions))

        switch node.op {
        case .conv(let geometry):
            guard !inputs.dropFirst().contains(where: isComputed) else { throw unsupported("computed weights") }
            let (dx, choice) = Convolution.transposedConv2DWithChoice(batched(g, outShape), weight: value(inputs[1])!, bias: nil,
                                                                      geometry: geometry, outputSize: (inShape[2], inShape[3]),
                                                                      algorithm: algorithm)
            log?.record(choice)
            result[0] = stacked(dx, inShape)
        case .convTranspose(let geometry, _, _):
            guard !inputs.dropFirst().contains(where: isComputed) else { throw unsupported("computed weights") }
            let forward = Convolution.conv2DWithChoice(batched(g, outShape), weight: value(inputs[1])!, bias: nil,
                                                       geometry: geometry, algorithm: algorithm)
            log?.record(forward.choice)
            var dx = forward.output
            if dx.shape[2] != inShape[2] || dx.shape[3] != inShape[3] {
                dx = Reshaping.slice(dx, starts: [0, 0], ends: [inShape[2], inShape[3]], axes: [2, 3], steps: [1, 1])
                if dx.shape[2] < inShape[2] || dx.shape[3] < inShape[3] {
                    dx = Reshaping.pad(dx, pads: [0, 0, 0, 0, 0, 0, inShape[2] - dx.shape[2], inShape[3] - dx.shape[3]], mode: .constant, value: 0)
                }
            }
            result[0] = stacked(dx, inShape)
        case .activation(let a):
            result[0] = activationBackward(a, g, x: value(x0)!, y: trace.values[node.outputs[0]]!, perSeed: false)
        case .binary(let op):
            let a = value(inputs[0])!, b = value(inputs[1])!
            for k in 0..<2 where isComputed(inputs[k]) {
                let target = k == 0 ? a.shape : b.shape
                guard target.rank == outShape.rank else { throw unsupported("a broadcast of a lower-rank computed input") }
                result[k] = perSeed(g, outShape, outShape: target) { gs in
                    let local: Tensor
                    switch (op, k) {
                    case (.add, _), (.sub, 0): local = gs
                    case (.sub, _): local = Activation.negate(gs)
                    case (.mul, 0): local = BinaryOperator.mul.apply(gs, b)
                    case (.mul, _): local = BinaryOperator.mul.apply(gs, a)
                    case (.div, 0): local = BinaryOperator.div.apply(gs, b)
                    default: // d(a/b)/db = −a/b²
                        local = Activation.negate(BinaryOperator.div.apply(BinaryOperator.mul.apply(gs, a), BinaryOperator.mul.apply(b, b)))
                    }
                    return Backward.unbroadcast(local, to: target)
                }
            }
        case .maxPool:
            guard let sw = trace.switches[node.outputs[0]] else { throw unsupported("MaxPool without switches") }
            result[0] = stacked(Backward.maxPool2D(batched(g, outShape), switches: sw, inputShape: Shape([seeds * inShape[0]] + inShape.dimensions.dropFirst())), inShape)
        case .averagePool(let geometry, let include):
            result[0] = stacked(Backward.averagePool2D(batched(g, outShape), geometry: geometry, countIncludePad: include,
                                                       inputShape: Shape([seeds * inShape[0]] + inShape.dimensions.dropFirst())), inShape)
        case .globalAveragePool:
            let plane = inShape.count / (inShape[0] * inShape[1])
            var dx = Tensor(shape: Shape([seeds] + inShape.dimensions))
            for p in 0..<(seeds * inShape[0] * inShape[1]) {
                let v = g.scalars[p] / Float(plane)
                for i in 0..<plane { dx.scalars[p * plane + i] = v }
            }
            result[0] = dx
        case .globalMaxPool:
            let x = value(x0)!
            let plane = inShape.count / (inShape[0] * inShape[1]), planes = inShape[0] * inShape[1]
            var dx = Tensor(shape: Shape([seeds] + inShape.dimensions))
            for p in 0..<planes {
                var best = 0
                for i in 0..<plane where x.scalars[p * plane + i] > x.scalars[p * plane + best] { best = i }
                for s in 0..<seeds { dx.scalars[(s * planes + p) * plane + best] = g.scalars[s * planes + p] }
            }
            result[0] = dx
        case .batchNormalization(let eps):
            let scale = value(inputs[1])!, variance = value(inputs[4])!
            let c = inShape[1], plane = inShape.count / (inShape[0] * c)
            var factor = [Float](repeating: 0, count: inShape.count)
            for b in 0..<inShape[0] {
                for ch in 0..<c {
                    let k = scale.scalars[ch] / (variance.scalars[ch] + eps).squareRoot()
                    for i in 0..<plane { factor[(b * c + ch) * plane + i] = k }
                }
            }
            result[0] = scaled(g, by: factor)
        case .lrn(let size, let alpha, let beta, let bias):
            if lrn == .passthrough {
                result[0] = g
            } else {
                let x = value(x0)!
                result[0] = perSeed(g, outShape, outShape: inShape) { Backward.lrn($0, input: x, size: size, alpha: alpha, beta: beta, bias: bias) }
            }
        case .gemm(let alpha, let beta, let transA, let transB):
            if isComputed(inputs[1]) { throw unsupported("Gemm with a computed B") }
            if isComputed(inputs[0]) {
                if transA { throw unsupported("Gemm with transA on a computed A") }
                let b = value(inputs[1])!
                let m = outShape[0], n = outShape[1], k = inShape[1]
                // dA = α · g · op(B)ᵀ, all seeds as S·M rows.
                var da = MatrixMultiply.multiply(g.scalars, b.scalars, m: seeds * m, n: k, k: n, transB: !transB)
                if alpha != 1 { for i in 0..<da.count { da[i] *= alpha } }
                result[0] = Tensor(shape: Shape([seeds] + inShape.dimensions), scalars: da)
            }
            if inputs.count > 2, isComputed(inputs[2]) {
                let cShape = forwardShape(inputs[2])
                result[2] = perSeed(g, outShape, outShape: cShape) { gs in
                    var t = Backward.unbroadcast(gs, to: cShape)
                    for i in 0..<t.count { t.scalars[i] *= beta }
                    return t
                }
            }
        case .matMul:
            if isComputed(inputs[1]) { throw unsupported("MatMul with a computed right operand") }
            let b = value(inputs[1])!
            guard b.rank == 2 else { throw unsupported("MatMul with a batched right operand") }
            let k = b.shape[0], n = b.shape[1]
            let rows = g.count / n
            let da = MatrixMultiply.multiply(g.scalars, b.scalars, m: rows, n: k, k: n, transB: true)
            result[0] = Tensor(shape: Shape([seeds] + inShape.dimensions), scalars: da)
        case .reshape, .identity:
            result[0] = g.reshaped(Shape([seeds] + inShape.dimensions))
        case .transpose(let perm):
            var inverse = [Int](repeating: 0, count: perm.count)
            for (i, p) in perm.enumerated() { inverse[p] = i }
            result[0] = Reshaping.transpose(g, perm: [0] + inverse.map { $0 + 1 })
        case .concat(let axis):
            var start = 0
            for (k, name) in inputs.enumerated() {
                let size = forwardShape(name)[axis]
                if isComputed(name) {
                    result[k] = Reshaping.slice(g, starts: [start], ends: [start + size], axes: [axis + 1], steps: [1])
                }
                start += size
            }
        case .split(let axis, let sizes):
            let parts = zip(outGrads, sizes).map { og, size -> Tensor in
                if let og { return og }
                var d = inShape.dimensions
                d[axis] = size
                return Tensor(shape: Shape([seeds] + d))
            }
            result[0] = Reshaping.concat(parts, axis: axis + 1)
        case .slice(let starts, let ends, let axes, let steps):
            result[0] = Reshaping.sliceBackward(g, inputShape: Shape([seeds] + inShape.dimensions), starts: starts, ends: ends,
                                                axes: axes.map { $0 + 1 }, steps: steps)
        case .pad(let pads, let mode, _):
            let r = inShape.rank
            let batchedPads = [0] + pads[0..<r] + [0] + pads[r...]
            result[0] = Reshaping.padBackward(g, inputShape: Shape([seeds] + inShape.dimensions), pads: Array(batchedPads), mode: mode)
        case .reduceMean(let axes, let keepDims):
            let count = Float(axes.reduce(1) { $0 * inShape[$1] })
            var kept = inShape.dimensions
            for a in axes { kept[a] = 1 }
            result[0] = perSeed(g, outShape, outShape: inShape) { gs in
                let expanded = BinaryOperator.add.apply(Tensor(shape: inShape), gs.reshaped(Shape(kept)))
                var t = expanded
                for i in 0..<t.count { t.scalars[i] /= count }
                _ = keepDims
                return t
            }
        case .resize(_, _, let sy, let sx, let linear, let transform, let nearest):
            result[0] = stacked(Reshaping.resize2DBackward(batched(g, outShape), inputShape: Shape([seeds * inShape[0]] + inShape.dimensions.dropFirst()),
                                                           scales: (sy, sx), linear: linear, transform: transform, nearest: nearest), inShape)
        case .softmax(let axis, let legacy):
            let y = trace.values[node.outputs[0]]!
            result[0] = perSeed(g, outShape, outShape: inShape) { gs in
                // dx = y ⊙ (g − Σ g⊙y) along the softmax axis (or the flattened tail for legacy).
                let d = inShape.dimensions
                let outer = legacy ? d[..<axis].reduce(1, *) : d[..<axis].reduce(1, *)
                let len = legacy ? d[axis...].reduce(1, *) : d[axis]
                let inner = legacy ? 1 : d[(axis + 1)...].reduce(1, *)
                var dx = gs
                for o in 0..<outer {
                    for i in 0..<inner {
                        let base = o * len * inner + i
                        var dot: Float = 0
                        for k in 0..<len { dot += gs.scalars[base + k * inner] * y.scalars[base + k * inner] }
                        for k in 0..<len {
                            let idx = base + k * inner
                            dx.scalars[idx] = y.scalars[idx] * (gs.scalars[idx] - dot)
                        }
                    }
                }
                return dx
            }
        }
        // Constants never receive a signal.
        for (k, name) in inputs.enumerated() where !isComputed(name) && name != graph.inputName { result[k] = nil }
        return result
    }

    /// Elementwise nonlinearities under the rule table of DESIGN.md §1.
    ///
    /// Every rule is `g ← f · g` or `g ← f · max(g, 0)` with a factor `f` from the forward pass:
    /// the mask of a rectifier (guided, backprop; `leak` outside for leaky ReLU under backprop),
    /// the local derivative of a smooth function; deconvnet rectifies and ignores the mask.
    /// - Parameters:
    ///   - g: the stacked signal, `S · n` values (consumed: rewritten in place when unshared).
    ///   - x, y: the forward input and output: `n` values shared by every seed, or (`perSeed`)
    ///     `S · n` values, each seed's own window of the maps.
    func activationBackward(_ a: Activation, _ g: consuming Tensor, x: Tensor, y: Tensor?, perSeed: Bool) -> Tensor {
        let n = g.count / max(1, seeds)
        let count = perSeed ? seeds * n : n
        let rule = self.rule
        // The factor from the forward values (nil: none), and whether the rule rectifies.
        func factors(_ v: Tensor, _ body: (Float) -> Float) -> [Float] {
            v.scalars.withUnsafeBufferPointer { src in
                [Float](unsafeUninitializedCapacity: count) { buf, k in
                    for i in 0..<count { buf[i] = body(src[i]) }
                    k = count
                }
            }
        }
        func rectifier(_ inside: (Float) -> Bool, leak: Float = 0) -> ([Float]?, Bool) {
            switch rule {
            case .deconvnet: return (nil, true)
            case .guided: return (factors(x) { inside($0) ? 1 : 0 }, true)
            case .backprop: return (factors(x) { inside($0) ? 1 : leak }, false)
            }
        }
        let (f, rectify): ([Float]?, Bool)
        switch a {
        case .relu:
            (f, rectify) = rectifier { $0 > 0 }
        case .clip(let lo, let hi) where lo == 0:
            let m = hi ?? .infinity
            (f, rectify) = rectifier { $0 > 0 && $0 < m }
        case .clip(let lo, let hi):
            let l = lo ?? -.infinity, h = hi ?? .infinity
            (f, rectify) = (factors(x) { $0 >= l && $0 <= h ? 1 : 0 }, false)
        case .leakyRelu(let alpha):
            (f, rectify) = rectifier({ $0 > 0 }, leak: alpha)
        case .sigmoid:
            (f, rectify) = (factors(y!) { $0 * (1 - $0) }, false)
        case .tanh:
            (f, rectify) = (factors(y!) { 1 - $0 * $0 }, false)
        case .hardSigmoid(let alpha, let beta):
            (f, rectify) = (factors(x) { let t = alpha * $0 + beta; return t > 0 && t < 1 ? alpha : 0 }, false)
        case .hardSwish:
            (f, rectify) = (factors(x) { $0 < -3 ? 0 : ($0 <= 3 ? $0 / 3 + 0.5 : 1) }, false)
        }
        let stride = perSeed ? n : 0
        g.scalars.withUnsafeMutableBufferPointer { p in
            let pp = SendablePointer(p.baseAddress!)
            f.withUnsafeBufferPointerIfPresent { fp in
                let pf = fp.map { SendableConstPointer($0) }
                Parallelism.forEach(seeds) { s in
                    let v = pp.pointer + s * n
                    if rectify { for i in 0..<n { v[i] = max(v[i], 0) } }
                    if let pf {
                        let k = pf.pointer + s * stride
                        for i in 0..<n { v[i] *= k[i] }
                    }
                }
            }
        }
        return g
    }
}

private extension Optional where Wrapped == [Float] {
    /// The base address of the array, or `nil`, for the duration of `body`.
    func withUnsafeBufferPointerIfPresent<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let a = self else { return body(nil) }
        return a.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

extension Activation {
    /// `−t`.
    static func negate(_ t: Tensor) -> Tensor {
        var o = t
        for i in 0..<o.count { o.scalars[i] = -o.scalars[i] }
        return o
    }
}
