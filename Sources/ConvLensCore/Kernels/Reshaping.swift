import Foundation

/// Index shuffles: transpose, concatenation, splitting, slicing, padding, reductions, resizing.
public enum Reshaping {
    /// Permutes axes: output axis `i` is input axis `perm[i]`.
    public static func transpose(_ x: Tensor, perm: [Int]) -> Tensor {
        let dims = x.shape.dimensions
        let outDims = perm.map { dims[$0] }
        let inStrides = x.shape.strides
        let strides = perm.map { inStrides[$0] }
        let r = perm.count
        return Tensor(shape: Shape(outDims)) { out in
            x.scalars.withUnsafeBufferPointer { src in
                var index = [Int](repeating: 0, count: r)
                var offset = 0
                for o in 0..<out.count {
                    out[o] = src[offset]
                    var axis = r - 1
                    while axis >= 0 {
                        index[axis] += 1
                        offset += strides[axis]
                        if index[axis] < outDims[axis] { break }
                        offset -= strides[axis] * outDims[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
    }

    /// Concatenates along `axis`.
    /// - Precondition: all other dimensions agree.
    public static func concat(_ xs: [Tensor], axis: Int) -> Tensor {
        var dims = xs[0].shape.dimensions
        dims[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        let outer = dims[..<axis].reduce(1, *)
        let inner = dims[(axis + 1)...].reduce(1, *)
        var out = [Float]()
        out.reserveCapacity(Shape.checkedCount(dims) ?? 0)
        for o in 0..<outer {
            for x in xs {
                let chunk = x.shape[axis] * inner
                out.append(contentsOf: x.scalars[(o * chunk)..<((o + 1) * chunk)])
            }
        }
        return Tensor(shape: Shape(dims), scalars: out)
    }

    /// Splits along `axis` into pieces of the given sizes.
    public static func split(_ x: Tensor, axis: Int, sizes: [Int]) -> [Tensor] {
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(x, starts: [start], ends: [start + size], axes: [axis], steps: [1])
        }
    }

    /// Resolves ONNX `Slice` bounds for one axis of length `dim` (negative indices count from the
    /// end, out-of-range values are clamped as ONNX specifies).
    /// - Returns: the first index, the step and the element count.
    public static func sliceRange(start: Int, end: Int, step: Int, dim: Int) -> (first: Int, step: Int, count: Int) {
        var s = start < 0 ? start + dim : start
        var e = end < 0 ? end + dim : end
        if step > 0 {
            s = min(max(s, 0), dim)
            e = min(max(e, 0), dim)
            return (s, step, max(0, (e - s + step - 1) / step))
        } else {
            s = min(max(s, -1), dim - 1)
            e = min(max(e, -1), dim - 1)
            return (s, step, max(0, (s - e + (-step) - 1) / (-step)))
        }
    }

    /// ONNX `Slice` with resolved axes (non-negative) and bounds.
    public static func slice(_ x: Tensor, starts: [Int], ends: [Int], axes: [Int], steps: [Int]) -> Tensor {
        let dims = x.shape.dimensions
        var first = [Int](repeating: 0, count: dims.count)
        var step = [Int](repeating: 1, count: dims.count)
        var outDims = dims
        for (i, axis) in axes.enumerated() {
            let r = sliceRange(start: starts[i], end: ends[i], step: steps[i], dim: dims[axis])
            first[axis] = r.first; step[axis] = r.step; outDims[axis] = r.count
        }
        if step.allSatisfy({ $0 == 1 }) { return box(x, first: first, outDims: outDims) }
        return gather(x, outDims: outDims) { axis, i in first[axis] + i * step[axis] }
    }

    /// A step-1 slice (a box at `first` of size `outDims`): contiguous runs copied whole, each run
    /// spanning the innermost partial axis and every full axis after it (a channel range of a
    /// `[S, C, H, W]` stack is `S` runs of `c·H·W`).
    static func box(_ x: Tensor, first: [Int], outDims: [Int]) -> Tensor {
        let dims = x.shape.dimensions, strides = x.shape.strides, r = dims.count
        let count = Shape.checkedCount(outDims) ?? 0
        guard r > 0, count > 0 else { return Tensor(shape: Shape(outDims)) }
        var j = r - 1
        while j > 0 && first[j] == 0 && outDims[j] == dims[j] { j -= 1 }
        let run = outDims[j] * strides[j]
        return Tensor(shape: Shape(outDims)) { out in
            x.scalars.withUnsafeBufferPointer { src in
                var index = [Int](repeating: 0, count: j)
                var o = 0
                while o < count {
                    var offset = first[j] * strides[j]
                    for a in 0..<j { offset += (first[a] + index[a]) * strides[a] }
                    (out.baseAddress! + o).update(from: src.baseAddress! + offset, count: run)
                    o += run
                    var a = j - 1
                    while a >= 0 {
                        index[a] += 1
                        if index[a] < outDims[a] { break }
                        index[a] = 0
                        a -= 1
                    }
                }
            }
        }
    }

    /// Builds a tensor of `outDims` whose element at index `i` along each axis reads input index
    /// `source(axis, i)` (or zero/`fill` when it returns a negative index).
    static func gather(_ x: Tensor, outDims: [Int], fill: Float = 0, source: (Int, Int) -> Int) -> Tensor {
        let dims = x.shape.dimensions, strides = x.shape.strides, r = dims.count
        // Per axis, the input offset of each output index (-1: outside).
        let maps: [[Int]] = (0..<r).map { axis in
            (0..<outDims[axis]).map { i in
                let s = source(axis, i)
                return s < 0 || s >= dims[axis] ? -1 : s * strides[axis]
            }
        }
        let count = Shape.checkedCount(outDims) ?? 0
        return Tensor(shape: Shape(outDims)) { out in
            guard count > 0 else { return }
            x.scalars.withUnsafeBufferPointer { src in
                var index = [Int](repeating: 0, count: r)
                for o in 0..<out.count {
                    var offset = 0
                    var inside = true
                    for axis in 0..<r {
                        let m = maps[axis][index[axis]]
                        if m < 0 { inside = false; break }
                        offset += m
                    }
                    out[o] = inside ? src[offset] : fill
                    var axis = r - 1
                    while axis >= 0 {
                        index[axis] += 1
                        if index[axis] < outDims[axis] { break }
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
    }

    /// Padding modes of ONNX `Pad`.
    public enum PadMode: String, Sendable, Hashable {
        case constant, reflect, edge
    }

    /// ONNX `Pad`: `pads` is `[begin_0, …, begin_{r−1}, end_0, …, end_{r−1}]` (negative values crop).
    public static func pad(_ x: Tensor, pads: [Int], mode: PadMode, value: Float) -> Tensor {
        let dims = x.shape.dimensions, r = dims.count
        let outDims = (0..<r).map { dims[$0] + pads[$0] + pads[$0 + r] }
        return gather(x, outDims: outDims, fill: value) { axis, i in padSource(axis, i, dims: dims, pads: pads, mode: mode) }
    }

    /// The input index that padded index `i` along `axis` reads (negative: the constant).
    static func padSource(_ axis: Int, _ i: Int, dims: [Int], pads: [Int], mode: PadMode) -> Int {
        let d = dims[axis]
        var s = i - pads[axis]
        switch mode {
        case .constant:
            return s
        case .edge:
            return min(max(s, 0), d - 1)
        case .reflect:
            if d == 1 { return 0 }
            let period = 2 * (d - 1)
            s = ((s % period) + period) % period
            return s < d ? s : period - s
        }
    }

    /// The adjoint of ``pad(_:pads:mode:value:)``: each padded element's gradient is added to the
    /// input element it copied.
    public static func padBackward(_ g: Tensor, inputShape: Shape, pads: [Int], mode: PadMode) -> Tensor {
        let dims = inputShape.dimensions
        return scatterAdd(g, into: inputShape) { axis, i in padSource(axis, i, dims: dims, pads: pads, mode: mode) }
    }

    /// The adjoint of ``slice(_:starts:ends:axes:steps:)``.
    public static func sliceBackward(_ g: Tensor, inputShape: Shape, starts: [Int], ends: [Int], axes: [Int], steps: [Int]) -> Tensor {
        let dims = inputShape.dimensions
        var first = [Int](repeating: 0, count: dims.count)
        var step = [Int](repeating: 1, count: dims.count)
        for (i, axis) in axes.enumerated() {
            let r = sliceRange(start: starts[i], end: ends[i], step: steps[i], dim: dims[axis])
            first[axis] = r.first; step[axis] = r.step
        }
        return scatterAdd(g, into: inputShape) { axis, i in first[axis] + i * step[axis] }
    }

    /// The adjoint of ``gather(_:outDims:fill:source:)``: adds each element of `g` into the input
    /// element it was read from.
    static func scatterAdd(_ g: Tensor, into shape: Shape, source: (Int, Int) -> Int) -> Tensor {
        let dims = shape.dimensions, strides = shape.strides, r = dims.count
        let outDims = g.shape.dimensions
        let maps: [[Int]] = (0..<r).map { axis in
            (0..<outDims[axis]).map { i in
                let s = source(axis, i)
                return s < 0 || s >= dims[axis] ? -1 : s * strides[axis]
            }
        }
        var out = [Float](repeating: 0, count: shape.count)
        guard g.count > 0 else { return Tensor(shape: shape, scalars: out) }
        var index = [Int](repeating: 0, count: r)
        for v in g.scalars {
            var offset = 0
            var inside = true
            for axis in 0..<r {
                let m = maps[axis][index[axis]]
                if m < 0 { inside = false; break }
                offset += m
            }
            if inside { out[offset] += v }
            var axis = r - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < outDims[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// Mean over `axes` (non-negative, sorted); `keepDims` keeps them as size 1.
    public static func reduceMean(_ x: Tensor, axes: [Int], keepDims: Bool) -> Tensor {
        let dims = x.shape.dimensions
        let reduced = Set(axes)
        var keptDims = dims
        for a in reduced { keptDims[a] = 1 }
        var sums = [Double](repeating: 0, count: keptDims.reduce(1, *))
        let keptStrides = Shape(keptDims).strides
        var index = [Int](repeating: 0, count: dims.count)
        for v in x.scalars {
            var o = 0
            for axis in 0..<dims.count where !reduced.contains(axis) { o += index[axis] * keptStrides[axis] }
            sums[o] += Double(v)
            var axis = dims.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < dims[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        let n = Double(axes.reduce(1) { $0 * dims[$1] })
        let outDims = keepDims ? keptDims : dims.enumerated().filter { !reduced.contains($0.offset) }.map(\.element)
        return Tensor(shape: Shape(outDims), scalars: sums.map { Float($0 / n) })
    }

    /// How ONNX `Resize` maps an output coordinate to an input coordinate.
    public enum CoordinateTransform: String, Sendable, Hashable {
        case halfPixel = "half_pixel", asymmetric, alignCorners = "align_corners",
             pytorchHalfPixel = "pytorch_half_pixel", tfHalfPixelForNN = "tf_half_pixel_for_nn"

        func source(_ x: Int, scale: Double, inSize: Int, outSize: Int) -> Double {
            let xd = Double(x)
            switch self {
            case .halfPixel: return (xd + 0.5) / scale - 0.5
            case .pytorchHalfPixel: return outSize > 1 ? (xd + 0.5) / scale - 0.5 : 0
            case .asymmetric: return xd / scale
            case .alignCorners: return outSize > 1 ? xd * Double(inSize - 1) / Double(outSize - 1) : 0
            case .tfHalfPixelForNN: return (xd + 0.5) / scale
            }
        }
    }

    /// ONNX `nearest_mode`.
    public enum NearestMode: String, Sendable, Hashable {
        case roundPreferFloor = "round_prefer_floor", roundPreferCeil = "round_prefer_ceil", floor, ceil

        func pick(_ x: Double) -> Int {
            switch self {
            case .floor: return Int(x.rounded(.down))
            case .ceil: return Int(x.rounded(.up))
            case .roundPreferFloor: return x == x.rounded(.down) + 0.5 ? Int(x.rounded(.down)) : Int(x.rounded())
            case .roundPreferCeil: return x == x.rounded(.down) + 0.5 ? Int(x.rounded(.up)) : Int(x.rounded())
            }
        }
    }

    /// Per output index along one axis: the two input indices and the weight of the second.
    static func resizeTaps(_ outLen: Int, _ inLen: Int, _ scale: Double, linear: Bool,
                           transform: CoordinateTransform, nearest: NearestMode) -> [(Int, Int, Float)] {
        (0..<outLen).map { o in
            let s = transform.source(o, scale: scale, inSize: inLen, outSize: outLen)
            if linear {
                let sc = min(max(s, 0), Double(inLen - 1))
                let i0 = Int(sc.rounded(.down)), i1 = min(i0 + 1, inLen - 1)
                return (i0, i1, Float(sc - Double(i0)))
            }
            let i = min(max(nearest.pick(s), 0), inLen - 1)
            return (i, i, 0)
        }
    }

    /// The adjoint of ``resize2D(_:outSize:scales:linear:transform:nearest:)``.
    public static func resize2DBackward(_ g: Tensor, inputShape: Shape, scales: (Double, Double), linear: Bool,
                                        transform: CoordinateTransform, nearest: NearestMode) -> Tensor {
        let planes = g.shape[0] * g.shape[1], h = inputShape[2], w = inputShape[3]
        let oh = g.shape[2], ow = g.shape[3]
        let ty = resizeTaps(oh, h, scales.0, linear: linear, transform: transform, nearest: nearest)
        let tx = resizeTaps(ow, w, scales.1, linear: linear, transform: transform, nearest: nearest)
        var out = Tensor(shape: Shape([g.shape[0], g.shape[1], h, w]))
        for p in 0..<planes {
            for oy in 0..<oh {
                let (y0, y1, fy) = ty[oy]
                for ox in 0..<ow {
                    let (x0, x1, fx) = tx[ox]
                    let v = g.scalars[p * oh * ow + oy * ow + ox]
                    out.scalars[p * h * w + y0 * w + x0] += v * (1 - fy) * (1 - fx)
                    out.scalars[p * h * w + y0 * w + x1] += v * (1 - fy) * fx
                    out.scalars[p * h * w + y1 * w + x0] += v * fy * (1 - fx)
                    out.scalars[p * h * w + y1 * w + x1] += v * fy * fx
                }
            }
        }
        return out
    }

    /// ONNX `Resize` on the two spatial axes of `[N, C, H, W]`, nearest or (bi)linear.
    /// - Parameters:
    ///   - outSize: `(H_out, W_out)`.
    ///   - scales: the scale factors `(H_out/H, W_out/W)` as given by the model (used by the
    ///     coordinate transform).
    public static func resize2D(_ x: Tensor, outSize: (Int, Int), scales: (Double, Double), linear: Bool,
                                transform: CoordinateTransform, nearest: NearestMode) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let (oh, ow) = outSize
        let ty = resizeTaps(oh, h, scales.0, linear: linear, transform: transform, nearest: nearest)
        let tx = resizeTaps(ow, w, scales.1, linear: linear, transform: transform, nearest: nearest)
        return Tensor(shape: [n, c, oh, ow]) { out in
            x.scalars.withUnsafeBufferPointer { src in
                for p in 0..<(n * c) {
                    let plane = src.baseAddress! + p * h * w
                    for oy in 0..<oh {
                        let (y0, y1, fy) = ty[oy]
                        for ox in 0..<ow {
                            let (x0, x1, fx) = tx[ox]
                            let top = plane[y0 * w + x0] * (1 - fx) + plane[y0 * w + x1] * fx
                            let bottom = plane[y1 * w + x0] * (1 - fx) + plane[y1 * w + x1] * fx
                            out[p * oh * ow + oy * ow + ox] = top * (1 - fy) + bottom * fy
                        }
                    }
                }
            }
        }
    }
}
