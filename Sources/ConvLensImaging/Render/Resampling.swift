/// Resampling of scalar maps.
public enum Resampling {
    /// Bilinear resampling of a `height × width` map (row-major) to `newHeight × newWidth`, with
    /// half-pixel centres and edge clamping — PyTorch's `interpolate(mode="bilinear",
    /// align_corners=False)` without antialiasing. Each output pixel samples the map at
    /// `(y + 0.5) · height / newHeight − 0.5` (and the same for x).
    /// - Parameter values: `height × width` values.
    /// - Returns: `newHeight × newWidth` values.
    /// - Precondition: all sizes ≥ 1 and `values.count == height * width`.
    public static func bilinear<C: RandomAccessCollection>(_ values: C, width: Int, height: Int, newWidth: Int, newHeight: Int) -> [Float]
    where C.Element == Float, C.Index == Int {
        precondition(width >= 1 && height >= 1 && newWidth >= 1 && newHeight >= 1)
        precondition(values.count == width * height)
        let base = values.startIndex
        func taps(_ i: Int, _ n: Int, _ m: Int) -> (Int, Int, Float) {
            var s = (Float(i) + 0.5) * Float(n) / Float(m) - 0.5
            if s < 0 { s = 0 }
            let i0 = min(Int(s), n - 1)
            let i1 = min(i0 + 1, n - 1)
            return (i0, i1, s - Float(i0))
        }
        let xs = (0..<newWidth).map { taps($0, width, newWidth) }
        var out = [Float](repeating: 0, count: newWidth * newHeight)
        for y in 0..<newHeight {
            let (y0, y1, fy) = taps(y, height, newHeight)
            for x in 0..<newWidth {
                let (x0, x1, fx) = xs[x]
                let a = values[base + y0 * width + x0], b = values[base + y0 * width + x1]
                let c = values[base + y1 * width + x0], d = values[base + y1 * width + x1]
                let top = a + (b - a) * fx, bottom = c + (d - c) * fx
                out[y * newWidth + x] = top + (bottom - top) * fy
            }
        }
        return out
    }
}
