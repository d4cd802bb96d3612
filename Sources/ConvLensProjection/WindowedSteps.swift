import ConvLensCore
import ConvLensGraph
import Foundation

/// The backward steps that keep per-seed windows (DESIGN.md §5, Docs/Performance.md): convolution,
/// the nonlinearities, max pooling, batch normalization, LRN, residual additions and identities.
/// Every other operator runs densely (``BackwardStep/inputGradients(_:)``).
extension BackwardStep {
    /// Whether this node has a windowed form: a windowed operator on a `[1, C, H, W]` input that
    /// carries the signal (and, for additions, inputs of the output's shape).
    var isWindowable: Bool {
        let inputs = node.inputs
        let x0 = inputs[0]
        guard isComputed(x0) || x0 == graph.inputName else { return false }
        let inShape = forwardShape(x0)
        guard inShape.rank == 4, inShape[0] == 1 else { return false }
        switch node.op {
        case .conv: return !inputs.dropFirst().contains(where: isComputed)
        case .maxPool: return trace.switches[node.outputs[0]] != nil
        case .activation, .batchNormalization, .lrn, .identity: return true
        case .binary(let op) where op == .add || op == .sub:
            return (0..<2).allSatisfy { k in !(isComputed(inputs[k]) || inputs[k] == graph.inputName) || forwardShape(inputs[k]) == inShape }
        default: return false
        }
    }

    /// The input signals of the node for a windowed output signal `g`.
    /// - Precondition: ``isWindowable``.
    func windowedInputGradients(_ g: consuming Tensor, _ w: SeedWindows) -> [Signal?] {
        let inputs = node.inputs
        let x0 = inputs[0]
        let inShape = forwardShape(x0)
        let channels = inShape[1]
        var result = [Signal?](repeating: nil, count: inputs.count)
        switch node.op {
        case .conv(let geometry):
            result[0] = convolution(g, w, weight: value(inputs[1])!, geometry: geometry, inShape: inShape)
        case .activation(let a):
            let needsOutput: Bool
            switch a {
            case .sigmoid, .tanh: needsOutput = true
            default: needsOutput = false
            }
            // Whole-map windows share the forward maps; other windows gather each seed's part.
            let whole = w.isWholeMap
            let x = whole ? value(x0)! : WindowCopy.gather(value(x0)!, into: w)
            let yMap = trace.values[node.outputs[0]]!
            let y = needsOutput ? (whole ? yMap : WindowCopy.gather(yMap, into: w)) : nil
            result[0] = Signal(activationBackward(a, consume g, x: x, y: y, perSeed: !whole), windows: w)
        case .maxPool(let pool):
            result[0] = maxPool(g, w, switches: trace.switches[node.outputs[0]]!, geometry: pool, inShape: inShape)
        case .batchNormalization(let eps):
            let scale = value(inputs[1])!, variance = value(inputs[4])!
            let plane = w.height * w.width
            g.scalars.withUnsafeMutableBufferPointer { p in
                for s in 0..<seeds {
                    for c in 0..<channels {
                        let k = scale.scalars[c] / (variance.scalars[c] + eps).squareRoot()
                        let base = (s * channels + c) * plane
                        for i in 0..<plane { p[base + i] *= k }
                    }
                }
            }
            result[0] = Signal(g, windows: w)
        case .lrn(let size, let alpha, let beta, let bias):
            result[0] = lrn == .passthrough ? Signal(g, windows: w)
                : lrnBackward(g, w, x: value(x0)!, size: size, alpha: alpha, beta: beta, bias: bias)
        case .binary(let op):
            for k in 0..<2 where isComputed(inputs[k]) || inputs[k] == graph.inputName {
                result[k] = Signal(op == .sub && k == 1 ? Activation.negate(g) : g, windows: w)
            }
        default: // .identity
            result[0] = Signal(g, windows: w)
        }
        return result
    }

    /// The transposed convolution of a windowed signal: each seed's input window is what its output
    /// window reaches (`(h − 1)·stride + extent`), kept inside the map. When every seed's window sits
    /// at the same offset from its natural place (always so for whole-map windows), the offset
    /// becomes the convolution's padding and the result lands in place; otherwise the natural
    /// windows are computed and copied into the kept ones.
    private func convolution(_ g: Tensor, _ w: SeedWindows, weight: Tensor, geometry: Conv2DGeometry, inShape: Shape) -> Signal {
        let natural = w.below(stride: geometry.strides, padBegin: [geometry.pads[0], geometry.pads[1]],
                              extent: [geometry.extent(0), geometry.extent(1)], inputHeight: inShape[2], inputWidth: inShape[3])
        let kept = SeedWindows.covering(natural, mapHeight: inShape[2], mapWidth: inShape[3])
        let dy = kept.top[0] - natural.top[0], dx = kept.left[0] - natural.left[0]
        let uniform = (0..<w.seeds).allSatisfy { kept.top[$0] - natural.top[$0] == dy && kept.left[$0] - natural.left[$0] == dx }
        var local = geometry
        local.pads = uniform ? [dy, dx, 0, 0] : [0, 0, 0, 0]
        let outSize = uniform ? (kept.height, kept.width) : (natural.height, natural.width)
        let (dxTensor, choice) = Convolution.transposedConv2DWithChoice(g, weight: weight, bias: nil, geometry: local,
                                                                        outputSize: outSize, algorithm: algorithm)
        if let log {
            log.record(choice)
            let executed = ConvolutionProblem(direction: .transposed, input: g.shape, weight: weight.shape, geometry: local, outputSize: outSize)
            let outShape = graph.shapes[node.outputs[0]]!
            let dense = ConvolutionProblem(direction: .transposed, input: Shape([w.seeds, g.shape[1], outShape[2], outShape[3]]),
                                           weight: weight.shape, geometry: geometry, outputSize: (inShape[2], inShape[3]))
            log.record(flops: executed.flops, denseFlops: dense.flops)
        }
        if uniform { return Signal(dxTensor, windows: kept) }
        return Signal(WindowCopy.rewindow(dxTensor, channels: inShape[1], from: natural, to: kept), windows: kept)
    }

    /// Max-pool backward through the forward switches, window to window.
    private func maxPool(_ g: Tensor, _ w: SeedWindows, switches: [Int32], geometry pool: Pool2DGeometry, inShape: Shape) -> Signal {
        let c = inShape[1], inW = inShape[3]
        let outShape = graph.shapes[node.outputs[0]]!
        let outH = outShape[2], outW = outShape[3]
        let extent = (0..<2).map { pool.dilations[$0] * (pool.kernel[$0] - 1) + 1 }
        let natural = w.below(stride: pool.strides, padBegin: [pool.pads[0], pool.pads[1]], extent: extent,
                              inputHeight: inShape[2], inputWidth: inW)
        let kept = SeedWindows.covering(natural, mapHeight: inShape[2], mapWidth: inW)
        var out = Tensor(shape: Shape([w.seeds, c, kept.height, kept.width]))
        g.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                switches.withUnsafeBufferPointer { sw in
                    let ps = SendableConstPointer(src.baseAddress!), pd = SendablePointer(dst.baseAddress!)
                    let psw = SendableConstPointer(sw.baseAddress!)
                    Parallelism.forEach(w.seeds) { s in
                        for ch in 0..<c {
                            let from = ps.pointer + (s * c + ch) * w.height * w.width
                            let to = pd.pointer + (s * c + ch) * kept.height * kept.width
                            for a in 0..<w.height {
                                let row = psw.pointer + (ch * outH + w.top[s] + a) * outW + w.left[s]
                                for b in 0..<w.width {
                                    let v = from[a * w.width + b]
                                    if v == 0 { continue }
                                    let index = Int(row[b])
                                    let y = index / inW - kept.top[s], x = index % inW - kept.left[s]
                                    precondition(y >= 0 && y < kept.height && x >= 0 && x < kept.width, "max-pool switch outside the window")
                                    to[y * kept.width + x] += v
                                }
                            }
                        }
                    }
                }
            }
        }
        return Signal(out, windows: kept)
    }

    /// The LRN gradient on windows. With `D_i = bias + α/n Σ_{window(i)} x²` (over channels),
    /// `dx_j = g_j D_j^−β − 2αβ/n · x_j Σ_{i: j ∈ window(i)} g_i x_i D_i^(−β−1)`; the factors that
    /// depend only on the forward pass are computed once per map, then gathered per seed.
    private func lrnBackward(_ g: Tensor, _ w: SeedWindows, x: Tensor, size: Int, alpha: Float, beta: Float, bias: Float) -> Signal {
        let c = x.shape[1], plane = x.shape[2] * x.shape[3]
        let lo = (size - 1) / 2, hi = size - 1 - lo
        let a = Double(alpha) / Double(size), b = Double(beta)
        // p = D^−β, r = x · D^(−β−1), on the whole map.
        var pf = [Float](repeating: 0, count: x.count), rf = [Float](repeating: 0, count: x.count)
        x.scalars.withUnsafeBufferPointer { xs in
            for q in 0..<plane {
                for i in 0..<c {
                    var sum = 0.0
                    for k in max(0, i - lo)...min(c - 1, i + hi) { let v = Double(xs[k * plane + q]); sum += v * v }
                    let d = Double(bias) + a * sum
                    pf[i * plane + q] = Float(Foundation.pow(d, -b))
                    rf[i * plane + q] = Float(Double(xs[i * plane + q]) * Foundation.pow(d, -b - 1))
                }
            }
        }
        let p = Tensor(shape: x.shape, scalars: pf), r = Tensor(shape: x.shape, scalars: rf)
        // Whole-map windows read the maps themselves; others gather each seed's part.
        let shared = w.isWholeMap
        let pw = shared ? p : WindowCopy.gather(p, into: w), rw = shared ? r : WindowCopy.gather(r, into: w)
        let xw = shared ? x : WindowCopy.gather(x, into: w)
        var out = Tensor(shape: g.shape)
        let wp = w.height * w.width
        let k2 = 2 * a * b
        g.scalars.withUnsafeBufferPointer { gs in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                let pg = SendableConstPointer(gs.baseAddress!), pd = SendablePointer(dst.baseAddress!)
                Parallelism.forEach(w.seeds) { s in
                    let base = s * c * wp, fb = shared ? 0 : base
                    var t = [Double](repeating: 0, count: c)
                    for q in 0..<wp {
                        for i in 0..<c { t[i] = Double(pg.pointer[base + i * wp + q]) * Double(rw.scalars[fb + i * wp + q]) }
                        for j in 0..<c {
                            var sum = 0.0
                            for i in max(0, j - hi)...min(c - 1, j + lo) { sum += t[i] }
                            let idx = j * wp + q
                            pd.pointer[base + idx] = Float(Double(pg.pointer[base + idx]) * Double(pw.scalars[fb + idx])
                                                           - k2 * Double(xw.scalars[fb + idx]) * sum)
                        }
                    }
                }
            }
        }
        return Signal(out, windows: w)
    }
}
