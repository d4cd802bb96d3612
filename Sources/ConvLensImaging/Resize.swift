import ConvLensCore

extension Image {
    /// Resamples the image to `width × height` with a bilinear (triangle) filter.
    ///
    /// When shrinking, the filter support widens with the scale factor (antialiasing), so every
    /// source pixel contributes — the same convolution-based resampling as Pillow's
    /// `Image.resize(..., Image.BILINEAR)` and so torchvision's `Resize` on PIL images. Rows are
    /// resampled first, then columns; results stay in floating point (no intermediate rounding).
    /// - Precondition: `width > 0 && height > 0`.
    /// - Complexity: O(width·H·support + width·height·support).
    public func resized(width newWidth: Int, height newHeight: Int) -> Image {
        precondition(newWidth > 0 && newHeight > 0)
        if newWidth == width && newHeight == height { return self }
        let c = channels
        // Horizontal pass: height × newWidth.
        let hx = Image.bilinearWeights(inSize: width, outSize: newWidth)
        var tmp = [Float](repeating: 0, count: height * newWidth * c)
        pixels.withUnsafeBufferPointer { src in
            tmp.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    for ox in 0..<newWidth {
                        let (start, weights) = hx[ox]
                        for ch in 0..<c {
                            var acc: Float = 0
                            for (k, w) in weights.enumerated() {
                                acc += Float(w) * src[(y * width + start + k) * c + ch]
                            }
                            dst[(y * newWidth + ox) * c + ch] = acc
                        }
                    }
                }
            }
        }
        // Vertical pass: newHeight × newWidth.
        let vy = Image.bilinearWeights(inSize: height, outSize: newHeight)
        var out = [Float](repeating: 0, count: newHeight * newWidth * c)
        tmp.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for oy in 0..<newHeight {
                    let (start, weights) = vy[oy]
                    for i in 0..<(newWidth * c) {
                        var acc: Float = 0
                        for (k, w) in weights.enumerated() {
                            acc += Float(w) * src[(start + k) * newWidth * c + i]
                        }
                        dst[oy * newWidth * c + i] = acc
                    }
                }
            }
        }
        return Image(width: newWidth, height: newHeight, channels: c, pixels: out)
    }

    /// Per output index, the first input index and the normalized triangle-filter weights.
    /// Output pixel `i` is centred at input coordinate `(i + 0.5)·scale`; when shrinking
    /// (`scale > 1`) the triangle is stretched by `scale`.
    static func bilinearWeights(inSize: Int, outSize: Int) -> [(Int, [Double])] {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filterScale // triangle support 1, stretched
        return (0..<outSize).map { i in
            let center = (Double(i) + 0.5) * scale
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inSize)
            var weights: [Double] = []
            for x in lo..<max(hi, lo + 1) {
                let t = abs((Double(x) - center + 0.5) / filterScale)
                weights.append(max(0, 1 - t))
            }
            let total = weights.reduce(0, +)
            return (lo, weights.map { total > 0 ? $0 / total : 0 })
        }
    }

    /// Resamples an 8-bit image exactly as Pillow does (`Image.resize(size, Image.BILINEAR)` on an
    /// `L` or `RGB` image): the same triangle-filter weights in 22-bit fixed point, rows first, each
    /// pass rounded and clamped to 0…255. torchvision's `Resize` on PIL images is this function, so
    /// preprocessing matches a PyTorch pipeline bit for bit.
    /// - Precondition: every sample is an integer in `0...255` (any decoded image is).
    public func resized8(width newWidth: Int, height newHeight: Int) -> Image {
        precondition(newWidth > 0 && newHeight > 0)
        if newWidth == width && newHeight == height { return self }
        let c = channels
        let precision = 22
        func fixed(_ taps: [(Int, [Double])]) -> [(Int, [Int])] {
            taps.map { start, w in (start, w.map { v in Int((v * Double(1 << precision)).rounded(.toNearestOrAwayFromZero)) }) }
        }
        func clip8(_ ss: Int) -> Float { Float(min(255, max(0, ss >> precision))) }
        let half = 1 << (precision - 1)
        var tmp = [Float](repeating: 0, count: height * newWidth * c)
        if newWidth != width {
            let hx = fixed(Image.bilinearWeights(inSize: width, outSize: newWidth))
            for y in 0..<height {
                for ox in 0..<newWidth {
                    let (start, weights) = hx[ox]
                    for ch in 0..<c {
                        var ss = half
                        for (k, w) in weights.enumerated() { ss += w * Int(pixels[(y * width + start + k) * c + ch]) }
                        tmp[(y * newWidth + ox) * c + ch] = clip8(ss)
                    }
                }
            }
        } else {
            tmp = pixels
        }
        if newHeight == height { return Image(width: newWidth, height: newHeight, channels: c, pixels: tmp) }
        let vy = fixed(Image.bilinearWeights(inSize: height, outSize: newHeight))
        var out = [Float](repeating: 0, count: newHeight * newWidth * c)
        for oy in 0..<newHeight {
            let (start, weights) = vy[oy]
            for i in 0..<(newWidth * c) {
                var ss = half
                for (k, w) in weights.enumerated() { ss += w * Int(tmp[(start + k) * newWidth * c + i]) }
                out[oy * newWidth * c + i] = clip8(ss)
            }
        }
        return Image(width: newWidth, height: newHeight, channels: c, pixels: out)
    }

    /// The `height × width` box whose top-left corner is at row `top`, column `left`.
    /// - Precondition: the box lies inside the image.
    public func cropped(top: Int, left: Int, width w: Int, height h: Int) -> Image {
        precondition(top >= 0 && left >= 0 && top + h <= height && left + w <= width, "crop outside the image")
        var out = [Float](repeating: 0, count: w * h * channels)
        for y in 0..<h {
            let srcStart = ((top + y) * width + left) * channels
            let dstStart = y * w * channels
            out.replaceSubrange(dstStart..<(dstStart + w * channels), with: pixels[srcStart..<(srcStart + w * channels)])
        }
        return Image(width: w, height: h, channels: channels, pixels: out)
    }
}
