import Foundation

/// Adjoint (backward) kernels of the forward operations, used by back-projection.
public enum Backward {
    /// Routes each output gradient to the input position its max-pool window chose (the switches),
    /// adding where windows overlap.
    /// - Parameters:
    ///   - gradient: `[N, C, H_out, W_out]`.
    ///   - switches: per output element, the row-major index in its input plane (`Trace.switches`).
    ///   - inputShape: `[N, C, H, W]`.
    public static func maxPool2D(_ gradient: Tensor, switches: [Int32], inputShape: Shape) -> Tensor {
        let plane = inputShape[2] * inputShape[3]
        let outPlane = gradient.shape[2] * gradient.shape[3]
        let planes = gradient.shape[0] * gradient.shape[1]
        // The switches belong to one forward pass; a batch of gradients reuses them per plane.
        let forwardPlanes = switches.count / max(1, outPlane)
        precondition(switches.count % max(1, outPlane) == 0 && forwardPlanes > 0 && planes % forwardPlanes == 0, "switches do not match")
        var out = Tensor(shape: inputShape)
        out.scalars.withUnsafeMutableBufferPointer { dst in
            gradient.scalars.withUnsafeBufferPointer { g in
                for p in 0..<planes {
                    let swBase = (p % forwardPlanes) * outPlane
                    for o in 0..<outPlane {
                        dst[p * plane + Int(switches[swBase + o])] += g[p * outPlane + o]
                    }
                }
            }
        }
        return out
    }

    /// Spreads each output gradient evenly over its average-pool window (the true gradient, with
    /// the forward pass's divisor).
    public static func averagePool2D(_ gradient: Tensor, geometry g: Pool2DGeometry, countIncludePad: Bool, inputShape: Shape) -> Tensor {
        let h = inputShape[2], w = inputShape[3]
        let oh = gradient.shape[2], ow = gradient.shape[3]
        let planes = gradient.shape[0] * gradient.shape[1]
        var out = Tensor(shape: inputShape)
        out.scalars.withUnsafeMutableBufferPointer { dst in
            gradient.scalars.withUnsafeBufferPointer { src in
                for p in 0..<planes {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let y0 = oy * g.strides[0] - g.pads[0], x0 = ox * g.strides[1] - g.pads[1]
                            let y1 = min(y0 + g.kernel[0], h + g.pads[2]), x1 = min(x0 + g.kernel[1], w + g.pads[3])
                            let ys = max(y0, 0)..<min(y1, h), xs = max(x0, 0)..<min(x1, w)
                            let divisor = countIncludePad ? (y1 - y0) * (x1 - x0) : ys.count * xs.count
                            guard divisor > 0 else { continue }
                            let v = src[p * oh * ow + oy * ow + ox] / Float(divisor)
                            for iy in ys { for ix in xs { dst[p * h * w + iy * w + ix] += v } }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The true gradient of ONNX `LRN` with respect to its input `x` (`[1, C, …]`, forward value),
    /// for a gradient `g` of the same shape.
    public static func lrn(_ g: Tensor, input x: Tensor, size: Int, alpha: Float, beta: Float, bias: Float) -> Tensor {
        let c = x.shape[1], plane = x.count / max(1, x.shape[0] * c)
        let lo = (size - 1) / 2, hi = size - 1 - lo
        let a = Double(alpha) / Double(size), b = Double(beta)
        var out = Tensor(shape: g.shape)
        // D_i = bias + α/n Σ_{window(i)} x², dy_i/dx_j = δ_ij D_i^-β − 2αβ/n · x_i x_j D_i^(−β−1) for j in window(i).
        for p in 0..<plane {
            var d = [Double](repeating: 0, count: c)
            for i in 0..<c {
                var s = 0.0
                for k in max(0, i - lo)...min(c - 1, i + hi) { let v = Double(x.scalars[k * plane + p]); s += v * v }
                d[i] = Double(bias) + a * s
            }
            // t_i = g_i · x_i · D_i^(−β−1)
            var t = [Double](repeating: 0, count: c)
            for i in 0..<c { t[i] = Double(g.scalars[i * plane + p]) * Double(x.scalars[i * plane + p]) * Foundation.pow(d[i], -b - 1) }
            for j in 0..<c {
                var s = 0.0
                // i such that j ∈ window(i): i − lo ≤ j ≤ i + hi  ⇔  j − hi ≤ i ≤ j + lo
                for i in max(0, j - hi)...min(c - 1, j + lo) { s += t[i] }
                let v = Double(g.scalars[j * plane + p]) * Foundation.pow(d[j], -b) - 2 * a * b * Double(x.scalars[j * plane + p]) * s
                out.scalars[j * plane + p] = Float(v)
            }
        }
        return out
    }

    /// Sums a broadcast gradient back to `shape` (NumPy broadcasting in reverse).
    public static func unbroadcast(_ g: Tensor, to shape: Shape) -> Tensor {
        if g.shape == shape { return g }
        let gd = g.shape.dimensions, r = gd.count
        let padded = [Int](repeating: 1, count: r - shape.rank) + shape.dimensions
        // Axes of g merged into runs that are all kept or all summed (extent-1 axes dropped): a
        // kept axis of g has the target's extent, so the kept runs index the target in row-major order.
        var runs: [(n: Int, kept: Bool)] = []
        for ax in 0..<r where gd[ax] != 1 {
            let kept = padded[ax] != 1
            if let last = runs.last, last.kept == kept { runs[runs.count - 1].n *= gd[ax] } else { runs.append((gd[ax], kept)) }
        }
        var out = [Float](repeating: 0, count: shape.count)
        guard let inner = runs.last else {
            out[0] = g.scalars.first ?? 0
            return Tensor(shape: shape, scalars: out)
        }
        let outer = Array(runs.dropLast())
        // The target stride of each outer run: the product of the kept extents after it.
        var strides = [Int](repeating: 0, count: outer.count)
        var step = inner.kept ? inner.n : 1
        for k in stride(from: outer.count - 1, through: 0, by: -1) where outer[k].kept {
            strides[k] = step
            step *= outer[k].n
        }
        g.scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var index = [Int](repeating: 0, count: outer.count)
                var i = 0, o = 0
                let n = inner.n
                while i < src.count {
                    // The same order of additions as one element at a time, a row per step.
                    if inner.kept {
                        for j in 0..<n { dst[o + j] += src[i + j] }
                    } else {
                        var acc = dst[o]
                        for j in 0..<n { acc += src[i + j] }
                        dst[o] = acc
                    }
                    i += n
                    var k = outer.count - 1
                    while k >= 0 {
                        index[k] += 1
                        o += strides[k]
                        if index[k] < outer[k].n { break }
                        o -= strides[k] * outer[k].n
                        index[k] = 0
                        k -= 1
                    }
                }
            }
        }
        return Tensor(shape: shape, scalars: out)
    }
}
