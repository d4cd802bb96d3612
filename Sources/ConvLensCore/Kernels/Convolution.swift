/// Geometry of a 2-D convolution (ONNX `Conv` / `ConvTranspose` attributes, resolved).
public struct Conv2DGeometry: Sendable, Hashable {
    /// Kernel height and width.
    public var kernel: [Int]
    /// Vertical and horizontal stride.
    public var strides: [Int]
    /// Padding `[top, left, bottom, right]` (ONNX's `[x1_begin, x2_begin, x1_end, x2_end]`).
    public var pads: [Int]
    /// Vertical and horizontal dilation.
    public var dilations: [Int]
    /// Number of groups (`C_in` for depthwise).
    public var groups: Int

    public init(kernel: [Int], strides: [Int] = [1, 1], pads: [Int] = [0, 0, 0, 0], dilations: [Int] = [1, 1], groups: Int = 1) {
        self.kernel = kernel
        self.strides = strides
        self.pads = pads
        self.dilations = dilations
        self.groups = groups
    }

    /// Effective (dilated) kernel extent along axis `i` (0 = rows, 1 = columns).
    public func extent(_ i: Int) -> Int { dilations[i] * (kernel[i] - 1) + 1 }

    /// Output size of a convolution along axis `i` for an input of `size`.
    public func convOutput(_ size: Int, axis i: Int) -> Int {
        let span = size + pads[i] + pads[i + 2] - extent(i)
        return span < 0 ? 0 : span / strides[i] + 1 // ONNX's floor: a window that overhangs yields nothing
    }

    /// Output size of a transposed convolution along axis `i`.
    public func transposedOutput(_ size: Int, axis i: Int, outputPadding: Int = 0) -> Int {
        (size - 1) * strides[i] - pads[i] - pads[i + 2] + extent(i) + outputPadding
    }
}

/// An activation applied to a convolution's output as it is written: ReLU, ReLU6 and ONNX `Clip`
/// fused into the convolution when nothing else reads the convolution's own output
/// (``Convolution/conv2D(_:weight:bias:geometry:algorithm:tile:activation:)``). Each case computes
/// exactly what its operator computes, NaN included.
public enum ConvolutionActivation: Sendable, Hashable {
    /// `x > 0 ? x : 0` (the `Relu` operator).
    case relu
    /// `min(max(x, lower), upper)` (the `Clip` operator; open bounds are infinite).
    case clamp(lower: Float, upper: Float)

    /// Applies the activation to `count` floats in place.
    func apply(_ p: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .relu:
            for i in 0..<count { p[i] = p[i] > 0 ? p[i] : 0 }
        case .clamp(let lower, let upper):
            for i in 0..<count { p[i] = min(max(p[i], lower), upper) }
        }
    }

    /// Applies the activation to a whole tensor in place, in parallel chunks.
    func apply(_ t: inout Tensor) {
        let count = t.count
        t.scalars.withUnsafeMutableBufferPointer { buf in
            let p = SendablePointer(buf.baseAddress!)
            let parts = Parallelism.chunks(count, minimum: 1 << 16)
            Parallelism.forEach(parts.count) { i in
                apply(p.pointer + parts[i].lowerBound, count: parts[i].count)
            }
        }
    }
}

public enum Convolution {
    /// 2-D convolution (cross-correlation, as ONNX `Conv`).
    ///
    /// - Parameters:
    ///   - input: `[N, C_in, H, W]`.
    ///   - weight: `[C_out, C_in/groups, kH, kW]`.
    ///   - bias: `[C_out]` or `nil`.
    ///   - algorithm: `.auto` lets ``ConvolutionPlanner/shared`` choose; the others force a path.
    ///   - tile: the FFT tile size (when FFT runs); `nil` lets the planner choose.
    ///   - activation: an activation applied to the output as it is written (ReLU, ReLU6, `Clip`);
    ///     `nil` returns the convolution itself.
    /// - Returns: `[N, C_out, H_out, W_out]`.
    /// - Precondition: shapes agree with `geometry` (checked by the importer).
    public static func conv2D(_ input: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv2DGeometry,
                              algorithm: ConvolutionAlgorithm = .auto, tile: Int? = nil,
                              activation: ConvolutionActivation? = nil) -> Tensor {
        conv2DWithChoice(input, weight: weight, bias: bias, geometry: g, algorithm: algorithm, tile: tile, activation: activation).output
    }

    /// ``conv2D(_:weight:bias:geometry:algorithm:tile:activation:)`` that also returns what ran.
    public static func conv2DWithChoice(_ input: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv2DGeometry,
                                        algorithm: ConvolutionAlgorithm = .auto, tile: Int? = nil,
                                        activation: ConvolutionActivation? = nil) -> (output: Tensor, choice: ConvolutionChoice) {
        let problem = ConvolutionProblem(direction: .forward, input: input.shape, weight: weight.shape, geometry: g,
                                         outputSize: (g.convOutput(input.shape[2], axis: 0), g.convOutput(input.shape[3], axis: 1)))
        let choice = ConvolutionPlanner.shared.choose(problem, algorithm: algorithm, tile: tile) { c in
            _ = runConv2D(input, weight: weight, geometry: g, choice: c)
        }
        return (runConv2D(input, weight: weight, geometry: g, choice: choice, bias: bias, activation: activation), choice)
    }

    /// The convolution by `choice`, plus `bias`, then `activation`: the direct path fills each
    /// output plane with its bias, sums into it and clamps it while it is in cache; the GEMM path
    /// adds bias and activation to each block of output columns right after its product.
    static func runConv2D(_ input: Tensor, weight: Tensor, geometry g: Conv2DGeometry, choice: ConvolutionChoice,
                          bias: Tensor? = nil, activation: ConvolutionActivation? = nil) -> Tensor {
        let oh = g.convOutput(input.shape[2], axis: 0), ow = g.convOutput(input.shape[3], axis: 1)
        precondition(oh > 0 && ow > 0, "conv output is empty")
        let shape: Shape = [input.shape[0], weight.shape[0], oh, ow]
        switch choice.algorithm {
        case .fft:
            var out = Tensor(shape: shape)
            fftConv2D(input, weight: weight, geometry: g, tile: choice.tile, out: &out)
            if let bias { addBias(&out, bias) }
            activation?.apply(&out)
            return out
        case .direct:
            return directConv2D(input, weight: weight, bias: bias, geometry: g, activation: activation)
        case .gemm, .auto:
            if isBatchedPointwise(input, weight: weight, geometry: g) {
                return batchedPointwise(input, weight: weight, bias: bias, activation: activation)
            }
            return gemmConv2D(input, weight: weight, bias: bias, geometry: g, activation: activation)
        }
    }

    /// im2col + `cblas_sgemm` per batch item and group (1×1 stride-1 unpadded layers skip im2col).
    ///
    /// The output columns go in blocks of about 64 Ki floats of output (L2-sized): each block is
    /// one product into uninitialized storage, then its bias and `activation` are applied while it
    /// is in cache. Blocks run in parallel.
    static func gemmConv2D(_ input: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv2DGeometry,
                           activation: ConvolutionActivation? = nil) -> Tensor {
        let n = input.shape[0], cIn = input.shape[1], h = input.shape[2], w = input.shape[3]
        let cOut = weight.shape[0], cPerGroup = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        precondition(cPerGroup * g.groups == cIn && cOut % g.groups == 0, "conv channel mismatch")
        let oh = g.convOutput(h, axis: 0), ow = g.convOutput(w, axis: 1)
        let outPerGroup = cOut / g.groups
        let inputPlane = h * w, outPlane = oh * ow
        let isPointwise = kh == 1 && kw == 1 && g.strides == [1, 1] && g.pads == [0, 0, 0, 0]
        let kSize = cPerGroup * kh * kw
        let blockColumns = min(outPlane, max(64, (1 << 16) / max(1, outPerGroup) / 16 * 16))
        let blocks = stride(from: 0, to: outPlane, by: blockColumns).map { $0..<min(outPlane, $0 + blockColumns) }
        var columns = isPointwise ? [] : [Float](repeating: 0, count: kSize * outPlane)
        let biasValues = bias?.scalars
        return Tensor(shape: [n, cOut, oh, ow]) { dst in
            input.scalars.withUnsafeBufferPointer { src in
                weight.scalars.withUnsafeBufferPointer { wt in
                    columns.withUnsafeMutableBufferPointer { col in
                        let pw = SendableConstPointer(wt.baseAddress!), pd = SendablePointer(dst.baseAddress!)
                        for b in 0..<n {
                            for grp in 0..<g.groups {
                                let inBase = src.baseAddress! + (b * cIn + grp * cPerGroup) * inputPlane
                                if !isPointwise {
                                    im2col(inBase, channels: cPerGroup, height: h, width: w, kh: kh, kw: kw, geometry: g, oh: oh, ow: ow, into: col.baseAddress!)
                                }
                                let pb = SendableConstPointer(isPointwise ? inBase : UnsafePointer(col.baseAddress!))
                                let cBase = (b * cOut + grp * outPerGroup) * outPlane
                                Parallelism.forEach(blocks.count, flops: 2 * outPerGroup * kSize * outPlane) { i in
                                    let r = blocks[i]
                                    let c = pd.pointer + cBase + r.lowerBound
                                    BLAS.sgemm(m: outPerGroup, n: r.count, k: kSize, a: pw.pointer + grp * outPerGroup * kSize, lda: kSize,
                                               b: pb.pointer + r.lowerBound, ldb: outPlane, c: c, ldc: outPlane)
                                    guard biasValues != nil || activation != nil else { return }
                                    for o in 0..<outPerGroup {
                                        let row = c + o * outPlane
                                        if let v = biasValues?[grp * outPerGroup + o] {
                                            for j in 0..<r.count { row[j] += v }
                                        }
                                        activation?.apply(row, count: r.count)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whether ``batchedPointwise(_:weight:bias:)`` runs: a 1×1 stride-1 unpadded ungrouped
    /// convolution of several small maps, where packing the weights once per image would cost
    /// more than moving the images into one product.
    static func isBatchedPointwise(_ input: Tensor, weight: Tensor, geometry g: Conv2DGeometry) -> Bool {
        weight.shape[2] == 1 && weight.shape[3] == 1 && g.strides == [1, 1] && g.pads == [0, 0, 0, 0] && g.groups == 1
            && input.shape[0] > 1 && input.shape[2] * input.shape[3] < 256
    }

    /// A 1×1 convolution of a batch of small maps as one product: the images side by side as
    /// columns (`[C_in, N·H·W]`), so the weights are packed once instead of once per image.
    static func batchedPointwise(_ input: Tensor, weight: Tensor, bias: Tensor?, activation: ConvolutionActivation? = nil) -> Tensor {
        let n = input.shape[0], cIn = input.shape[1], cOut = weight.shape[0]
        let plane = input.shape[2] * input.shape[3], columns = n * plane
        let x = [Float](unsafeUninitializedCapacity: cIn * columns) { dst, count in
            input.scalars.withUnsafeBufferPointer { src in
                for b in 0..<n {
                    for c in 0..<cIn {
                        (dst.baseAddress! + c * columns + b * plane).initialize(from: src.baseAddress! + (b * cIn + c) * plane, count: plane)
                    }
                }
            }
            count = cIn * columns
        }
        let y = [Float](unsafeUninitializedCapacity: cOut * columns) { py, count in
            x.withUnsafeBufferPointer { px in
                weight.scalars.withUnsafeBufferPointer { wt in
                    BLAS.sgemmParallelColumns(m: cOut, n: columns, k: cIn, a: wt.baseAddress!, lda: cIn, b: px.baseAddress!, ldb: columns,
                                              c: py.baseAddress!, ldc: columns)
                }
            }
            count = cOut * columns
        }
        return Tensor(shape: [n, cOut, input.shape[2], input.shape[3]]) { dst in
            y.withUnsafeBufferPointer { src in
                for b in 0..<n {
                    for o in 0..<cOut {
                        let d = dst.baseAddress! + (b * cOut + o) * plane, s = src.baseAddress! + o * columns + b * plane
                        let v = bias?.scalars[o] ?? 0
                        for i in 0..<plane { d[i] = s[i] + v }
                        activation?.apply(d, count: plane)
                    }
                }
            }
        }
    }

    /// Adds `bias[c]` to every element of channel `c` of an `[N, C, …]` tensor.
    static func addBias(_ t: inout Tensor, _ bias: Tensor) {
        let n = t.shape[0], c = t.shape[1], plane = t.count / max(1, n * c)
        t.scalars.withUnsafeMutableBufferPointer { p in
            for b in 0..<n {
                for ch in 0..<c {
                    let v = bias.scalars[ch]
                    let base = (b * c + ch) * plane
                    for i in 0..<plane { p[base + i] += v }
                }
            }
        }
    }

    /// Unfolds patches: `col[(c·kh + i)·kw + j][oy·ow + ox] = x[c][oy·sh − pt + i·dh][ox·sw − pl + j·dw]` (0 outside).
    static func im2col(_ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int, kh: Int, kw: Int,
                       geometry g: Conv2DGeometry, oh: Int, ow: Int, into col: UnsafeMutablePointer<Float>) {
        let sh = g.strides[0], sw = g.strides[1], dh = g.dilations[0], dw = g.dilations[1]
        let pt = g.pads[0], pl = g.pads[1]
        var row = 0
        for c in 0..<channels {
            let plane = x + c * h * w
            for i in 0..<kh {
                for j in 0..<kw {
                    let dst = col + row * oh * ow
                    for oy in 0..<oh {
                        let iy = oy * sh - pt + i * dh
                        let d = dst + oy * ow
                        if iy < 0 || iy >= h {
                            d.update(repeating: 0, count: ow)
                            continue
                        }
                        let srcRow = plane + iy * w
                        for ox in 0..<ow {
                            let ix = ox * sw - pl + j * dw
                            d[ox] = (ix >= 0 && ix < w) ? srcRow[ix] : 0
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Folds columns back, adding overlaps: the adjoint of ``im2col``.
    static func col2im(_ col: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int, kh: Int, kw: Int,
                       geometry g: Conv2DGeometry, oh: Int, ow: Int, into x: UnsafeMutablePointer<Float>) {
        let sh = g.strides[0], sw = g.strides[1], dh = g.dilations[0], dw = g.dilations[1]
        let pt = g.pads[0], pl = g.pads[1]
        var row = 0
        for c in 0..<channels {
            let plane = x + c * h * w
            for i in 0..<kh {
                for j in 0..<kw {
                    let src = col + row * oh * ow
                    for oy in 0..<oh {
                        let iy = oy * sh - pt + i * dh
                        if iy < 0 || iy >= h { continue }
                        let dstRow = plane + iy * w
                        let s = src + oy * ow
                        for ox in 0..<ow {
                            let ix = ox * sw - pl + j * dw
                            if ix >= 0 && ix < w { dstRow[ix] += s[ox] }
                        }
                    }
                    row += 1
                }
            }
        }
    }


    /// 2-D transposed convolution (ONNX `ConvTranspose`): the adjoint of ``conv2D`` with the same
    /// weights.
    /// - Parameters:
    ///   - input: `[N, C_in, H, W]`.
    ///   - weight: `[C_in, C_out/groups, kH, kW]` (ONNX `ConvTranspose` layout).
    ///   - bias: `[C_out]` or `nil`.
    ///   - outputSize: `(H_out, W_out)`; every output pixel within it receives its contributions
    ///     (ONNX's pads crop the full result; output padding extends it).
    ///   - algorithm: `.auto` lets ``ConvolutionPlanner/shared`` choose; the others force a path.
    ///   - tile: the FFT tile size (when FFT runs); `nil` lets the planner choose.
    /// - Returns: `[N, C_out, H_out, W_out]`.
    public static func transposedConv2D(_ input: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv2DGeometry,
                                        outputSize: (Int, Int), algorithm: ConvolutionAlgorithm = .auto, tile: Int? = nil) -> Tensor {
        transposedConv2DWithChoice(input, weight: weight, bias: bias, geometry: g, outputSize: outputSize,
                                   algorithm: algorithm, tile: tile).output
    }

    /// ``transposedConv2D(_:weight:bias:geometry:outputSize:algorithm:tile:)`` that also returns what ran.
    public static func transposedConv2DWithChoice(_ input: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv2DGeometry,
                                                  outputSize: (Int, Int), algorithm: ConvolutionAlgorithm = .auto,
                                                  tile: Int? = nil) -> (output: Tensor, choice: ConvolutionChoice) {
        let problem = ConvolutionProblem(direction: .transposed, input: input.shape, weight: weight.shape, geometry: g, outputSize: outputSize)
        let choice = ConvolutionPlanner.shared.choose(problem, algorithm: algorithm, tile: tile) { c in
            _ = runTransposedConv2D(input, weight: weight, geometry: g, outputSize: outputSize, choice: c)
        }
        var out = runTransposedConv2D(input, weight: weight, geometry: g, outputSize: outputSize, choice: choice)
        if let bias { addBias(&out, bias) }
        return (out, choice)
    }

    static func runTransposedConv2D(_ input: Tensor, weight: Tensor, geometry g: Conv2DGeometry, outputSize: (Int, Int),
                                    choice: ConvolutionChoice) -> Tensor {
        var out = Tensor(shape: [input.shape[0], weight.shape[1] * g.groups, outputSize.0, outputSize.1])
        switch choice.algorithm {
        case .fft: fftTransposedConv2D(input, weight: weight, geometry: g, tile: choice.tile, out: &out)
        case .direct: directTransposedConv2D(input, weight: weight, geometry: g, out: &out)
        case .gemm, .auto: gemmTransposedConv2D(input, weight: weight, geometry: g, out: &out)
        }
        return out
    }

    /// `colᵀ = Wᵀ · x` per batch item and group, followed by col2im.
    static func gemmTransposedConv2D(_ input: Tensor, weight: Tensor, geometry g: Conv2DGeometry, out: inout Tensor) {
        let n = input.shape[0], cIn = input.shape[1], h = input.shape[2], w = input.shape[3]
        let outPerGroup = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let inPerGroup = cIn / g.groups
        let cOut = outPerGroup * g.groups
        let oh = out.shape[2], ow = out.shape[3]
        let kSize = outPerGroup * kh * kw
        let pointwise = kh == 1 && kw == 1 && g.strides == [1, 1] && g.pads[0] == 0 && g.pads[1] == 0 && oh == h && ow == w
        input.scalars.withUnsafeBufferPointer { src in
            weight.scalars.withUnsafeBufferPointer { wt in
                out.scalars.withUnsafeMutableBufferPointer { dst in
                    let ps = SendableConstPointer(src.baseAddress!), pw = SendableConstPointer(wt.baseAddress!)
                    let pd = SendablePointer(dst.baseAddress!)
                    // Batch items (seeds, in back-projection) run in parallel, each with its own columns.
                    let parts = Parallelism.chunks(n)
                    Parallelism.forEach(parts.count) { part in
                        var columns = [Float](repeating: 0, count: pointwise ? 0 : kSize * h * w)
                        columns.withUnsafeMutableBufferPointer { col in
                            for b in parts[part] {
                                for grp in 0..<g.groups {
                                    let x = ps.pointer + (b * cIn + grp * inPerGroup) * h * w
                                    let a = pw.pointer + grp * inPerGroup * kSize
                                    if pointwise {
                                        // 1×1, stride 1, no offset: the product is the output itself.
                                        BLAS.sgemm(transA: true, m: kSize, n: h * w, k: inPerGroup, a: a, lda: kSize,
                                                   b: x, ldb: h * w, c: pd.pointer + (b * cOut + grp * outPerGroup) * oh * ow, ldc: h * w)
                                        continue
                                    }
                                    // col[kSize × HW] = Aᵀ[kSize × inPerGroup] · x[inPerGroup × HW]
                                    BLAS.sgemm(transA: true, m: kSize, n: h * w, k: inPerGroup, a: a, lda: kSize,
                                               b: x, ldb: h * w, c: col.baseAddress!, ldc: h * w)
                                    // The transposed conv's output is the conv's input: col2im with the
                                    // roles of (H, W) and (oh, ow) swapped.
                                    col2im(col.baseAddress!, channels: outPerGroup, height: oh, width: ow, kh: kh, kw: kw,
                                           geometry: g, oh: h, ow: w,
                                           into: pd.pointer + (b * cOut + grp * outPerGroup) * oh * ow)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `⌈a / b⌉` for any sign of `a` and positive `b`.
    @inline(__always) static func ceilDiv(_ a: Int, _ b: Int) -> Int {
        a >= 0 ? (a + b - 1) / b : -((-a) / b)
    }

}
