import Foundation

/// Binary arithmetic with NumPy broadcasting.
public enum BinaryOperator: String, Sendable, Hashable {
    case add, sub, mul, div

    /// The broadcast shape of two shapes (NumPy rules), or `nil` if they do not broadcast.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: r - a.count) + a
        let pb = [Int](repeating: 1, count: r - b.count) + b
        var out: [Int] = []
        for (x, y) in zip(pa, pb) {
            if x == y || y == 1 { out.append(x) } else if x == 1 { out.append(y) } else { return nil }
        }
        return out
    }

    /// `a ∘ b` elementwise with broadcasting.
    /// - Precondition: the shapes broadcast.
    public func apply(_ a: Tensor, _ b: Tensor) -> Tensor {
        guard let dims = BinaryOperator.broadcastShape(a.shape.dimensions, b.shape.dimensions) else {
            preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let shape = Shape(dims)
        if a.shape == b.shape {
            return Tensor(shape: shape) { out in
                a.scalars.withUnsafeBufferPointer { pa in
                    b.scalars.withUnsafeBufferPointer { pb in
                        Self.row(self, out.baseAddress!, pa.baseAddress!, 1, pb.baseAddress!, 1, out.count)
                    }
                }
            }
        }
        let (axes, sa, sb) = Self.coalesced(dims, Self.broadcastStrides(a.shape.dimensions, to: dims),
                                            Self.broadcastStrides(b.shape.dimensions, to: dims))
        let r = axes.count
        return Tensor(shape: shape) { out in
            a.scalars.withUnsafeBufferPointer { pa in
                b.scalars.withUnsafeBufferPointer { pb in
                    var index = [Int](repeating: 0, count: r)
                    var ia = 0, ib = 0
                    let inner = r > 0 ? axes[r - 1] : 1
                    let innerA = r > 0 ? sa[r - 1] : 0, innerB = r > 0 ? sb[r - 1] : 0
                    var o = 0
                    while o < out.count {
                        Self.row(self, out.baseAddress! + o, pa.baseAddress! + ia, innerA, pb.baseAddress! + ib, innerB, inner)
                        o += inner
                        // Advance the outer index (odometer over all axes but the last).
                        var axis = r - 2
                        while axis >= 0 {
                            index[axis] += 1
                            ia += sa[axis]; ib += sb[axis]
                            if index[axis] < axes[axis] { break }
                            ia -= sa[axis] * axes[axis]; ib -= sb[axis] * axes[axis]
                            index[axis] = 0
                            axis -= 1
                        }
                    }
                }
            }
        }
    }

    /// The broadcast's axes with extent-1 axes dropped and neighbours merged wherever both operands
    /// step through them as through one axis (`[S, 1, C, H, W] ∘ [1, C, H, W]` becomes `[S, C·H·W]`),
    /// so that the innermost rows are as long as possible.
    static func coalesced(_ dims: [Int], _ sa: [Int], _ sb: [Int]) -> ([Int], [Int], [Int]) {
        var d: [Int] = [], a: [Int] = [], b: [Int] = []
        for k in 0..<dims.count where dims[k] != 1 {
            if let n = d.last, a.last! == sa[k] * dims[k], b.last! == sb[k] * dims[k] {
                d[d.count - 1] = n * dims[k]
                a[a.count - 1] = sa[k]
                b[b.count - 1] = sb[k]
            } else {
                d.append(dims[k]); a.append(sa[k]); b.append(sb[k])
            }
        }
        return d.isEmpty ? ([1], [0], [0]) : (d, a, b)
    }

    /// One innermost row of a broadcast: `out[i] = a[i·sa] ∘ b[i·sb]`, with the operation and the
    /// common strides (1 or 0: a row or a repeated value) fixed outside the loop so that it vectorizes.
    @inline(__always)
    static func row(_ op: BinaryOperator, _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ sa: Int,
                    _ b: UnsafePointer<Float>, _ sb: Int, _ n: Int) {
        @inline(__always) func loop(_ f: (Float, Float) -> Float) {
            switch (sa, sb) {
            case (1, 1): for i in 0..<n { out[i] = f(a[i], b[i]) }
            case (1, 0): let y = b[0]; for i in 0..<n { out[i] = f(a[i], y) }
            case (0, 1): let x = a[0]; for i in 0..<n { out[i] = f(x, b[i]) }
            default: for i in 0..<n { out[i] = f(a[i * sa], b[i * sb]) }
            }
        }
        switch op {
        case .add: loop(+)
        case .sub: loop(-)
        case .mul: loop(*)
        case .div: loop(/)
        }
    }

    /// Strides of `shape` (right-aligned) in a broadcast to `target`; 0 on broadcast axes.
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let padded = [Int](repeating: 1, count: target.count - shape.count) + shape
        var strides = [Int](repeating: 0, count: target.count)
        var acc = 1
        for i in stride(from: target.count - 1, through: 0, by: -1) {
            strides[i] = padded[i] == 1 ? 0 : acc
            acc *= padded[i]
        }
        return strides
    }
}

public enum Normalization {
    /// Inference batch normalization: `y = γ·(x − μ)/√(σ² + ε) + β` per channel of `[N, C, …]`.
    public static func batchNorm(_ x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) -> Tensor {
        let n = x.shape[0], c = x.shape[1], plane = x.count / max(1, n * c)
        var out = x
        out.scalars.withUnsafeMutableBufferPointer { p in
            for ch in 0..<c {
                let k = scale.scalars[ch] / (variance.scalars[ch] + epsilon).squareRoot()
                let b = bias.scalars[ch] - mean.scalars[ch] * k
                for bi in 0..<n {
                    let base = (bi * c + ch) * plane
                    for i in 0..<plane { p[base + i] = p[base + i] * k + b }
                }
            }
        }
        return out
    }

    /// Local response normalization across channels (ONNX `LRN`):
    /// `y = x / (bias + α/size · Σ x²)^β`, the sum over channels `c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉`.
    public static func lrn(_ x: Tensor, size: Int, alpha: Float, beta: Float, bias: Float) -> Tensor {
        let n = x.shape[0], c = x.shape[1], plane = x.count / max(1, n * c)
        let lo = (size - 1) / 2, hi = size - 1 - lo
        var out = x
        x.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                for b in 0..<n {
                    for ch in 0..<c {
                        for i in 0..<plane {
                            var sum: Float = 0
                            for k in max(0, ch - lo)...min(c - 1, ch + hi) {
                                let v = src[(b * c + k) * plane + i]
                                sum += v * v
                            }
                            let o = (b * c + ch) * plane + i
                            dst[o] = src[o] / Foundation.pow(bias + alpha / Float(size) * sum, beta)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Softmax along `axis` (ONNX opset ≥ 13 semantics). For opset < 13, reshape to 2-D at `axis`
    /// first and call with `axis = 1`.
    public static func softmax(_ x: Tensor, axis: Int) -> Tensor {
        let dims = x.shape.dimensions
        let outer = dims[..<axis].reduce(1, *), len = dims[axis], inner = dims[(axis + 1)...].reduce(1, *)
        var out = x
        out.scalars.withUnsafeMutableBufferPointer { p in
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * len * inner + i
                    var m = -Float.infinity
                    for k in 0..<len { m = max(m, p[base + k * inner]) }
                    var s: Float = 0
                    for k in 0..<len {
                        let e = Foundation.exp(p[base + k * inner] - m)
                        p[base + k * inner] = e
                        s += e
                    }
                    for k in 0..<len { p[base + k * inner] /= s }
                }
            }
        }
        return out
    }
}
