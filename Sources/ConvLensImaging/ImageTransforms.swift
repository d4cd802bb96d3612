import ConvLensCore
import Foundation

/// One step of the robustness transforms of activation maximization, on `[N, C, H, W]` images, with
/// its adjoint (the transposed linear map, for the gradient). Semantics in Docs/Optimize.md.
public enum ImageTransform: Sendable, Hashable {
    /// Pads every side with `pixels` pixels of `value`.
    case pad(pixels: Int, value: Float)
    /// Shifts the image down by `dy` and right by `dx` pixels (negative: up, left); zeros come in.
    case translate(dy: Int, dx: Int)
    /// Bilinear resize to `ceil(factor·H) × ceil(factor·W)`, corners aligned (PyTorch's
    /// `interpolate(mode="bilinear", align_corners=True)`).
    case scale(Float)
    /// Rotation by `degrees` (counter-clockwise on screen for positive angles as PyTorch's
    /// `affine_grid` convention gives) about `((W−1)/2, (H−1)/2)`, bilinear, zeros outside
    /// (`grid_sample(align_corners=True, padding_mode="zeros")`).
    case rotate(degrees: Float)
    /// Centre crop (or pad with `value`, then crop) to `height × width`: padding puts
    /// `floor(missing/2)` before, the crop starts at `floor((H − height)/2)`.
    case fit(height: Int, width: Int, value: Float)

    /// The transformed images.
    public func apply(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        switch self {
        case .pad(let p, let v):
            return ImageTransform.place(x, into: [n, c, h + 2 * p, w + 2 * p], top: p, left: p, fill: v)
        case .translate(let dy, let dx):
            return ImageTransform.shift(x, dy: dy, dx: dx)
        case .scale(let f):
            let (oh, ow) = ImageTransform.scaledSize(h, w, f)
            return Reshaping.resize2D(x, outSize: (oh, ow), scales: (Double(oh) / Double(h), Double(ow) / Double(w)), linear: true,
                                      transform: .alignCorners, nearest: .floor)
        case .rotate(let degrees):
            return ImageTransform.rotate(x, degrees: degrees, adjoint: false)
        case .fit(let th, let tw, let v):
            let (padded, top, left) = ImageTransform.fitGeometry(h, w, th, tw)
            let big = padded == nil ? x : ImageTransform.place(x, into: [n, c, padded!.0, padded!.1], top: padded!.2, left: padded!.3, fill: v)
            return ImageTransform.window(big, top: top, left: left, height: th, width: tw)
        }
    }

    /// The adjoint: the gradient with respect to the input for the gradient `g` of the output, where
    /// `inputShape` is the shape `apply` received.
    public func adjoint(_ g: Tensor, inputShape: Shape) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        switch self {
        case .pad(let p, _):
            return ImageTransform.window(g, top: p, left: p, height: h, width: w)
        case .translate(let dy, let dx):
            return ImageTransform.shift(g, dy: -dy, dx: -dx)
        case .scale:
            return Reshaping.resize2DBackward(g, inputShape: inputShape, scales: (Double(g.shape[2]) / Double(h), Double(g.shape[3]) / Double(w)),
                                              linear: true, transform: .alignCorners, nearest: .floor)
        case .rotate(let degrees):
            return ImageTransform.rotate(g, degrees: degrees, adjoint: true)
        case .fit(let th, let tw, _):
            let (padded, top, left) = ImageTransform.fitGeometry(h, w, th, tw)
            let bigShape = padded.map { [n, c, $0.0, $0.1] } ?? [n, c, h, w]
            let big = ImageTransform.place(g, into: bigShape, top: top, left: left, fill: 0)
            guard let p = padded else { return big }
            return ImageTransform.window(big, top: p.2, left: p.3, height: h, width: w)
        }
    }

    /// The output size of ``scale(_:)``.
    static func scaledSize(_ h: Int, _ w: Int, _ f: Float) -> (Int, Int) {
        (max(1, Int((Double(f) * Double(h)).rounded(.up))), max(1, Int((Double(f) * Double(w)).rounded(.up))))
    }

    /// ``fit(height:width:value:)``'s padding (`nil`: none; else the padded size and the offsets)
    /// and crop origin.
    static func fitGeometry(_ h: Int, _ w: Int, _ th: Int, _ tw: Int) -> ((Int, Int, Int, Int)?, Int, Int) {
        var (ph, pw) = (h, w)
        var padded: (Int, Int, Int, Int)? = nil
        if h < th || w < tw {
            let py = max(0, th - h), px = max(0, tw - w)
            (ph, pw) = (h + py, w + px)
            padded = (ph, pw, py / 2, px / 2)
        }
        return (padded, (ph - th) / 2, (pw - tw) / 2)
    }

    /// `x` written at `(top, left)` of a new tensor of `shape` filled with `fill`.
    static func place(_ x: Tensor, into shape: [Int], top: Int, left: Int, fill: Float) -> Tensor {
        let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
        let (oh, ow) = (shape[2], shape[3])
        var out = Tensor(shape: Shape(shape), scalars: [Float](repeating: fill, count: shape.reduce(1, *)))
        out.scalars.withUnsafeMutableBufferPointer { dst in
            x.scalars.withUnsafeBufferPointer { src in
                for p in 0..<planes {
                    for y in 0..<h {
                        (dst.baseAddress! + (p * oh + y + top) * ow + left).update(from: src.baseAddress! + (p * h + y) * w, count: w)
                    }
                }
            }
        }
        return out
    }

    /// The `height × width` window of `x` at `(top, left)` (inside `x`).
    static func window(_ x: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
        Reshaping.slice(x, starts: [top, left], ends: [top + height, left + width], axes: [2, 3], steps: [1, 1])
    }

    /// `x` shifted by `(dy, dx)` with zeros coming in.
    static func shift(_ x: Tensor, dy: Int, dx: Int) -> Tensor {
        let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
        var out = Tensor(shape: x.shape)
        let hh = h - abs(dy), ww = w - abs(dx)
        guard hh > 0, ww > 0 else { return out }
        let (ys, yd) = dy >= 0 ? (0, dy) : (-dy, 0)
        let (xs, xd) = dx >= 0 ? (0, dx) : (-dx, 0)
        out.scalars.withUnsafeMutableBufferPointer { dst in
            x.scalars.withUnsafeBufferPointer { src in
                for p in 0..<planes {
                    for y in 0..<hh {
                        (dst.baseAddress! + (p * h + yd + y) * w + xd).update(from: src.baseAddress! + (p * h + ys + y) * w + xs, count: ww)
                    }
                }
            }
        }
        return out
    }

    /// Bilinear rotation (or its adjoint, which scatters with the same weights); planes in parallel.
    static func rotate(_ x: Tensor, degrees: Float, adjoint: Bool) -> Tensor {
        let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
        let a = Double(degrees) * .pi / 180
        let (cosA, sinA) = (cos(a), sin(a))
        let cy = Double(h - 1) / 2, cx = Double(w - 1) / 2
        // Per output pixel, four (source index, weight) taps; -1 marks a tap outside the image.
        var index = [Int32](repeating: -1, count: 4 * h * w)
        var weight = [Float](repeating: 0, count: 4 * h * w)
        for y in 0..<h {
            for xx in 0..<w {
                let dxp = Double(xx) - cx, dyp = Double(y) - cy
                let sx = cosA * dxp + sinA * dyp + cx
                let sy = -sinA * dxp + cosA * dyp + cy
                let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                let fx = Float(sx - Double(x0)), fy = Float(sy - Double(y0))
                for tap in 0..<4 {
                    let ty = y0 + tap / 2, tx = x0 + tap % 2
                    let wt = (tap / 2 == 0 ? 1 - fy : fy) * (tap % 2 == 0 ? 1 - fx : fx)
                    guard ty >= 0 && ty < h && tx >= 0 && tx < w && wt != 0 else { continue }
                    index[4 * (y * w + xx) + tap] = Int32(ty * w + tx)
                    weight[4 * (y * w + xx) + tap] = wt
                }
            }
        }
        var out = Tensor(shape: x.shape)
        out.scalars.withUnsafeMutableBufferPointer { dst in
            x.scalars.withUnsafeBufferPointer { src in
                index.withUnsafeBufferPointer { ix in
                    weight.withUnsafeBufferPointer { wt in
                        let d = SendablePointer(dst.baseAddress!), s = SendableConstPointer(src.baseAddress!)
                        let pi = SendableConstPointer(ix.baseAddress!), pw = SendableConstPointer(wt.baseAddress!)
                        Parallelism.forEach(planes) { p in
                            let to = d.pointer + p * h * w, from = s.pointer + p * h * w
                            for k in 0..<(h * w) {
                                for tap in 0..<4 {
                                    let j = Int(pi.pointer[4 * k + tap])
                                    if j < 0 { continue }
                                    if adjoint { to[j] += pw.pointer[4 * k + tap] * from[k] } else { to[k] += pw.pointer[4 * k + tap] * from[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
