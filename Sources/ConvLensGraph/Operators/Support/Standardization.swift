import ConvLensCore

/// Standardization over groups of contiguous elements, with a per-element affine transform:
/// `y = (x − μ_g) / √(σ²_g + ε) · γ[a] + β[a]`, the shared computation of LayerNormalization,
/// InstanceNormalization and GroupNormalization.
///
/// A tensor of `groups · length` elements (per batch item the groups follow each other) is
/// standardized per group; `affine(g, i)` is the index into `γ`, `β` of element `i` of group `g`.
struct Standardization {
    let groups: Int
    let length: Int
    let epsilon: Float
    let affine: (Int, Int) -> Int

    /// The forward pass. Statistics in double precision (as ONNX Runtime's `stash_type = 1` does
    /// in fp32 over fp16 data; here it keeps long groups accurate).
    func forward(_ x: Tensor, scale: Tensor?, bias: Tensor?) -> Tensor {
        var out = x
        let (mean, inv) = statistics(x)
        out.scalars.withUnsafeMutableBufferPointer { y in
            x.scalars.withUnsafeBufferPointer { xs in
                for g in 0..<groups {
                    for i in 0..<length {
                        let k = g * length + i, a = affine(g, i)
                        var v = Float((Double(xs[k]) - mean[g]) * inv[g])
                        if let scale { v *= scale.scalars[a] }
                        if let bias { v += bias.scalars[a] }
                        y[k] = v
                    }
                }
            }
        }
        return out
    }

    /// Per group: mean and `1/√(σ² + ε)`.
    func statistics(_ x: Tensor) -> ([Double], [Double]) {
        var mean = [Double](repeating: 0, count: groups), inv = mean
        x.scalars.withUnsafeBufferPointer { xs in
            for g in 0..<groups {
                var s = 0.0
                for i in 0..<length { s += Double(xs[g * length + i]) }
                let m = s / Double(length)
                var v = 0.0
                for i in 0..<length { let d = Double(xs[g * length + i]) - m; v += d * d }
                mean[g] = m
                inv[g] = 1 / (v / Double(length) + Double(epsilon)).squareRoot()
            }
        }
        return (mean, inv)
    }

    /// The true gradient for stacked signals `g` (`S` copies of the forward shape):
    /// `dx = (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)) / √(σ² + ε)` with `ĝ = g ⊙ γ`.
    func backward(_ g: Tensor, x: Tensor, scale: Tensor?, seeds: Int) -> Tensor {
        let (mean, inv) = statistics(x)
        let n = groups * length
        var out = g
        let gs = g.scalars, xs = x.scalars
        out.scalars.withUnsafeMutableBufferPointer { dx in
            var gh = [Double](repeating: 0, count: length), xh = gh
            for s in 0..<seeds {
                for grp in 0..<groups {
                    var sumG = 0.0, sumGX = 0.0
                    for i in 0..<length {
                        let k = grp * length + i
                        gh[i] = Double(gs[s * n + k]) * Double(scale?.scalars[affine(grp, i)] ?? 1)
                        xh[i] = (Double(xs[k]) - mean[grp]) * inv[grp]
                        sumG += gh[i]
                        sumGX += gh[i] * xh[i]
                    }
                    let mG = sumG / Double(length), mGX = sumGX / Double(length)
                    for i in 0..<length { dx[s * n + grp * length + i] = Float((gh[i] - mG - xh[i] * mGX) * inv[grp]) }
                }
            }
        }
        return out
    }
}
