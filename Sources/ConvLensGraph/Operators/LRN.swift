import ConvLensCore
import Foundation

/// `LRN`: local response normalization across channels. Backward: the true gradient, or the
/// identity under ``LRNMode/passthrough``.
package struct LRN: Operator {
    package static let onnxTypes = ["LRN"]
    package let size: Int
    package let alpha: Float
    package let beta: Float
    package let bias: Float

    package init(size: Int, alpha: Float, beta: Float, bias: Float) {
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.bias = bias
    }

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        guard let size = node.int("size"), size >= 1 else { throw node.fail("LRN needs a positive size") }
        return LRN(size: size, alpha: node.float("alpha") ?? 1e-4, beta: node.float("beta") ?? 0.75, bias: node.float("bias") ?? 1)
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0)
        guard x.count >= 3 else { throw check.fail("needs an [N, C, …] input") }
        return [Shape(x)]
    }

    package var locality: ForwardLocality { .pointwise(broadcasting: false) }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(Normalization.lrn(x[0]!, size: size, alpha: alpha, beta: beta, bias: bias))
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        context.first(inputs)
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let g = context.signal(outputs)
        if context.lrn == .passthrough { return context.first(g) }
        let x = context.input(0)
        return context.first(context.perSeed(g, context.outputShape, outShape: context.inputShape) {
            Backward.lrn($0, input: x, size: size, alpha: alpha, beta: beta, bias: bias)
        })
    }

    package func isWindowable(_ context: BackwardContext) -> Bool { context.hasWindowableInput }

    /// With `D_i = bias + α/n Σ_{window(i)} x²` (over channels),
    /// `dx_j = g_j D_j^−β − 2αβ/n · x_j Σ_{i: j ∈ window(i)} g_i x_i D_i^(−β−1)`; the factors that
    /// depend only on the forward pass are computed once per map, then gathered per seed.
    package func windowedBackward(_ g: consuming Tensor, _ w: SeedWindows, _ context: BackwardContext) throws -> [Signal?] {
        var result = [Signal?](repeating: nil, count: context.node.inputs.count)
        if context.lrn == .passthrough {
            result[0] = Signal(g, windows: w)
            return result
        }
        let x = context.input(0)
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
        result[0] = Signal(out, windows: w)
        return result
    }
}
