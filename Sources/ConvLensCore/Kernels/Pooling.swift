/// Geometry of a 2-D pooling window (ONNX `MaxPool` / `AveragePool` attributes, resolved).
public struct Pool2DGeometry: Sendable, Hashable {
    /// Window height and width.
    public var kernel: [Int]
    /// Vertical and horizontal stride.
    public var strides: [Int]
    /// Padding `[top, left, bottom, right]`.
    public var pads: [Int]
    /// Dilation (MaxPool only).
    public var dilations: [Int]
    /// Round the output size up instead of down.
    public var ceilMode: Bool

    public init(kernel: [Int], strides: [Int] = [1, 1], pads: [Int] = [0, 0, 0, 0], dilations: [Int] = [1, 1], ceilMode: Bool = false) {
        self.kernel = kernel
        self.strides = strides
        self.pads = pads
        self.dilations = dilations
        self.ceilMode = ceilMode
    }

    /// Output size along axis `i`; with `ceilMode`, a last window that would start in the end
    /// padding is dropped (as ONNX Runtime and PyTorch do).
    public func output(_ size: Int, axis i: Int) -> Int {
        let extent = dilations[i] * (kernel[i] - 1) + 1
        let span = size + pads[i] + pads[i + 2] - extent
        if span < 0 { return 0 }
        var o = (ceilMode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1
        if ceilMode && (o - 1) * strides[i] >= size + pads[i] { o -= 1 }
        return o
    }
}

public enum Pooling {
    /// Max pooling that also returns the switches.
    /// - Parameter input: `[N, C, H, W]`.
    /// - Returns: the pooled `[N, C, H_out, W_out]` tensor and, per output element, the row-major
    ///   index `y·W + x` of its maximum in the input plane (the first maximum in row-major window
    ///   order on ties; padding never wins).
    public static func maxPool2D(_ input: Tensor, geometry g: Pool2DGeometry) -> (output: Tensor, switches: [Int32]) {
        let n = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3]
        let oh = g.output(h, axis: 0), ow = g.output(w, axis: 1)
        var out = Tensor(shape: [n, c, oh, ow])
        var switches = [Int32](repeating: 0, count: n * c * oh * ow)
        input.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                switches.withUnsafeMutableBufferPointer { sw in
                    for plane in 0..<(n * c) {
                        let x = src.baseAddress! + plane * h * w
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                var best = -Float.infinity
                                var bestIndex = -1
                                for i in 0..<g.kernel[0] {
                                    let iy = oy * g.strides[0] - g.pads[0] + i * g.dilations[0]
                                    if iy < 0 || iy >= h { continue }
                                    for j in 0..<g.kernel[1] {
                                        let ix = ox * g.strides[1] - g.pads[1] + j * g.dilations[1]
                                        if ix < 0 || ix >= w { continue }
                                        let v = x[iy * w + ix]
                                        if v > best || bestIndex < 0 { best = v; bestIndex = iy * w + ix }
                                    }
                                }
                                let o = plane * oh * ow + oy * ow + ox
                                dst[o] = best
                                sw[o] = Int32(max(bestIndex, 0))
                            }
                        }
                    }
                }
            }
        }
        return (out, switches)
    }

    /// Average pooling.
    /// - Parameters:
    ///   - input: `[N, C, H, W]`.
    ///   - countIncludePad: divide by the full window (padding counted as zeros) instead of the
    ///     number of input pixels in the window.
    /// - Returns: `[N, C, H_out, W_out]`.
    public static func averagePool2D(_ input: Tensor, geometry g: Pool2DGeometry, countIncludePad: Bool) -> Tensor {
        let n = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3]
        let oh = g.output(h, axis: 0), ow = g.output(w, axis: 1)
        var out = Tensor(shape: [n, c, oh, ow])
        input.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                for plane in 0..<(n * c) {
                    let x = src.baseAddress! + plane * h * w
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let y0 = oy * g.strides[0] - g.pads[0], x0 = ox * g.strides[1] - g.pads[1]
                            // The padded window is clipped to the padded input (ceil mode may run past it).
                            let y1 = min(y0 + g.kernel[0], h + g.pads[2]), x1 = min(x0 + g.kernel[1], w + g.pads[3])
                            var acc: Float = 0
                            var count = 0
                            for iy in max(y0, 0)..<min(y1, h) {
                                for ix in max(x0, 0)..<min(x1, w) {
                                    acc += x[iy * w + ix]
                                    count += 1
                                }
                            }
                            let divisor = countIncludePad ? (y1 - y0) * (x1 - x0) : count
                            dst[plane * oh * ow + oy * ow + ox] = divisor > 0 ? acc / Float(divisor) : 0
                        }
                    }
                }
            }
        }
        return out
    }

    /// Mean over each `H×W` plane. `[N, C, H, W]` → `[N, C, 1, 1]`.
    public static func globalAveragePool(_ input: Tensor) -> Tensor {
        reducePlanes(input) { p in p.reduce(0, +) / Float(p.count) }
    }

    /// Maximum over each `H×W` plane. `[N, C, H, W]` → `[N, C, 1, 1]`.
    public static func globalMaxPool(_ input: Tensor) -> Tensor {
        reducePlanes(input) { p in p.max() ?? 0 }
    }

    private static func reducePlanes(_ input: Tensor, _ f: (ArraySlice<Float>) -> Float) -> Tensor {
        let n = input.shape[0], c = input.shape[1]
        let plane = input.count / max(1, n * c)
        var dims = [n, c]
        dims += [Int](repeating: 1, count: input.rank - 2)
        var out = Tensor(shape: Shape(dims))
        for i in 0..<(n * c) { out.scalars[i] = f(input.scalars[(i * plane)..<((i + 1) * plane)]) }
        return out
    }
}
