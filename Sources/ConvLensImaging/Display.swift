import ConvLensCore
import Foundation

/// How a projection (`[1, C, H, W]`) becomes a picture (DESIGN.md §1 "Display"); one scale per image.
public enum DisplayMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// `G / (2·max|G| + 1e-10) + 0.5` per element: zero is mid-gray, colour kept (inputs without
    /// three channels show as `gray`).
    case raw
    /// As `raw` after summing the channels.
    case gray
    /// Per-pixel L2 norm over channels, min–max to [0, 1].
    case norm
    /// `norm` after a Gaussian blur (σ = 4 px at 224 px, scaled with the image).
    case normblur
    /// Captum-style: channel sum, clipped at the top `outlierPercent` of absolute mass, diverging
    /// colours (negative blue, zero white, positive red).
    case heat
}

/// Renders projections for display.
public struct Display: Sendable, Hashable {
    /// The mode.
    public var mode: DisplayMode
    /// For `heat`: the percentage of total absolute mass clipped as outliers (Captum's default 2).
    public var outlierPercent: Double = 2
    /// The model's channel order; BGR projections are shown in RGB order.
    public var bgr: Bool = false

    public init(mode: DisplayMode, outlierPercent: Double = 2, bgr: Bool = false) {
        self.mode = mode
        self.outlierPercent = outlierPercent
        self.bgr = bgr
    }

    /// Renders a projection.
    /// - Parameter t: `[1, C, H, W]` (any C; 3-channel projections keep colour in `raw`).
    /// - Returns: an RGB image (gray modes are replicated to RGB), values 0…255.
    public func render(_ t: Tensor) -> Image {
        var rgb = renderUnit(t)
        rgb.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= 255 } }
        return Image(width: t.shape[3], height: t.shape[2], channels: 3, pixels: rgb)
    }

    /// The rendered image as `H×W×3` floats in [0, 1] (what a grid `.npy` holds).
    public func renderUnit(_ t: Tensor) -> [Float] {
        precondition(t.rank == 4 && t.shape[0] == 1, "display needs [1, C, H, W]")
        let c = t.shape[1], h = t.shape[2], w = t.shape[3], plane = h * w
        func channel(_ k: Int) -> ArraySlice<Float> { t.scalars[(k * plane)..<((k + 1) * plane)] }
        var out = [Float](repeating: 0, count: plane * 3)
        func gray(_ v: [Float]) { for i in 0..<plane { out[3 * i] = v[i]; out[3 * i + 1] = v[i]; out[3 * i + 2] = v[i] } }
        switch mode {
        case .raw where c == 3:
            let m = t.scalars.reduce(0) { max($0, abs($1)) }
            let k = 1 / (2 * m + 1e-10)
            t.scalars.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for ch in 0..<3 {
                        let from = (bgr ? 2 - ch : ch) * plane
                        for i in 0..<plane { dst[3 * i + ch] = src[from + i] * k + 0.5 }
                    }
                }
            }
        case .raw, .gray:
            // Projections without three colour channels show as gray.
            let s = sum(t)
            let m = s.reduce(0) { max($0, abs($1)) }
            gray(s.map { $0 / (2 * m + 1e-10) + 0.5 })
        case .norm, .normblur:
            var v = [Float](repeating: 0, count: plane)
            for k in 0..<c { let ch = channel(k); for i in 0..<plane { let x = ch[ch.startIndex + i]; v[i] += x * x } }
            v = v.map { $0.squareRoot() }
            if mode == .normblur {
                v = Display.gaussianBlur(v, height: h, width: w, sigma: 4 * Double(min(h, w)) / 224)
            }
            gray(Display.minMax(v))
        case .heat:
            let s = sum(t)
            let threshold = Display.cumulativeThreshold(s.map(abs), percentile: 100 - outlierPercent)
            for i in 0..<plane {
                let v = threshold > 0 ? max(-1, min(1, s[i] / threshold)) : 0
                // Diverging: white at 0, red for positive, blue for negative.
                if v >= 0 { (out[3 * i], out[3 * i + 1], out[3 * i + 2]) = (1, 1 - v, 1 - v) }
                else { (out[3 * i], out[3 * i + 1], out[3 * i + 2]) = (1 + v, 1 + v, 1) }
            }
        }
        out.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = max(0, min(1, p[i])) } }
        return out
    }

    /// Sum over channels: `[H·W]`.
    private func sum(_ t: Tensor) -> [Float] {
        let c = t.shape[1], plane = t.shape[2] * t.shape[3]
        var s = [Float](repeating: 0, count: plane)
        for k in 0..<c { for i in 0..<plane { s[i] += t.scalars[k * plane + i] } }
        return s
    }

    /// Min–max to [0, 1]; a constant map becomes 0.
    static func minMax(_ v: [Float]) -> [Float] {
        guard let lo = v.min(), let hi = v.max(), hi > lo else { return v.map { _ in 0 } }
        return v.map { ($0 - lo) / (hi - lo) }
    }

    /// Captum's `_cumulative_sum_threshold`: the smallest sorted value whose cumulative sum reaches
    /// `percentile`% of the total.
    static func cumulativeThreshold(_ values: [Float], percentile: Double) -> Float {
        let sorted = values.sorted()
        let total = sorted.reduce(0.0) { $0 + Double($1) }
        var acc = 0.0
        for v in sorted {
            acc += Double(v)
            if acc >= total * 0.01 * percentile { return v }
        }
        return sorted.last ?? 0
    }

    /// Separable Gaussian blur with edge replication; the kernel spans ±3σ.
    package static func gaussianBlur(_ v: [Float], height h: Int, width w: Int, sigma: Double) -> [Float] {
        guard sigma > 0.3 else { return v }
        let r = Int((3 * sigma).rounded(.up))
        var k = (-r...r).map { Float(Foundation.exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let total = k.reduce(0, +)
        k = k.map { $0 / total }
        var tmp = [Float](repeating: 0, count: v.count), out = tmp
        for y in 0..<h {
            for x in 0..<w {
                var acc: Float = 0
                for (j, kv) in k.enumerated() { acc += kv * v[y * w + min(max(x + j - r, 0), w - 1)] }
                tmp[y * w + x] = acc
            }
        }
        for y in 0..<h {
            for x in 0..<w {
                var acc: Float = 0
                for (j, kv) in k.enumerated() { acc += kv * tmp[min(max(y + j - r, 0), h - 1) * w + x] }
                out[y * w + x] = acc
            }
        }
        return out
    }
}
