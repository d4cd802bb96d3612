import ConvLensCore

/// A rectangle in pixel coordinates: `x` is the column and `y` the row of its top-left corner.
public struct Rect: Sendable, Hashable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// An RGB drawing surface: rectangles, pasted images and bitmap-font text, clipped to its bounds.
///
/// Colours are ``RGB`` in `[0, 1]`; the result, ``image``, is an RGB ``Image`` with samples in
/// `0...255` (unit colour × 255, not rounded, so the float grid behind a PNG is exact).
public struct Canvas: Sendable {
    /// The drawing so far (3 channels).
    public private(set) var image: Image

    /// A canvas of `width × height` pixels filled with `background`.
    /// - Precondition: `width >= 0`, `height >= 0`.
    public init(width: Int, height: Int, background: RGB = .white) {
        precondition(width >= 0 && height >= 0)
        var px = [Float](repeating: 0, count: width * height * 3)
        let c = [background.red * 255, background.green * 255, background.blue * 255]
        for i in 0..<(width * height) {
            px[3 * i] = c[0]; px[3 * i + 1] = c[1]; px[3 * i + 2] = c[2]
        }
        image = Image(width: width, height: height, channels: 3, pixels: px)
    }

    /// Starts from an existing image (gray is promoted to RGB).
    public init(_ image: Image) { self.image = image.rgb() }

    public var width: Int { image.width }
    public var height: Int { image.height }

    /// Sets one pixel (ignored outside the canvas).
    public mutating func set(x: Int, y: Int, _ color: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let o = (y * width + x) * 3
        image.pixels[o] = color.red * 255
        image.pixels[o + 1] = color.green * 255
        image.pixels[o + 2] = color.blue * 255
    }

    /// Fills `rect` (clipped) with `color`.
    public mutating func fill(_ rect: Rect, _ color: RGB) {
        let x0 = max(0, rect.x), y0 = max(0, rect.y)
        let x1 = min(width, rect.x + rect.width), y1 = min(height, rect.y + rect.height)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 { for x in x0..<x1 { set(x: x, y: y, color) } }
    }

    /// Draws the outline of `rect`, `lineWidth` pixels wide, inside the rectangle.
    public mutating func stroke(_ rect: Rect, _ color: RGB, lineWidth: Int = 1) {
        let w = max(1, lineWidth)
        fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: w), color)
        fill(Rect(x: rect.x, y: rect.y + rect.height - w, width: rect.width, height: w), color)
        fill(Rect(x: rect.x, y: rect.y, width: w, height: rect.height), color)
        fill(Rect(x: rect.x + rect.width - w, y: rect.y, width: w, height: rect.height), color)
    }

    /// Copies `source` (gray or RGB, samples in `0...255`) with its top-left corner at `(x, y)`;
    /// the part outside the canvas is dropped.
    public mutating func paste(_ source: Image, x: Int, y: Int) {
        let c = source.channels
        for sy in 0..<source.height {
            let ty = y + sy
            guard ty >= 0, ty < height else { continue }
            for sx in 0..<source.width {
                let tx = x + sx
                guard tx >= 0, tx < width else { continue }
                let s = (sy * source.width + sx) * c, t = (ty * width + tx) * 3
                image.pixels[t] = source.pixels[s]
                image.pixels[t + 1] = source.pixels[s + (c == 3 ? 1 : 0)]
                image.pixels[t + 2] = source.pixels[s + (c == 3 ? 2 : 0)]
            }
        }
    }

    /// Draws `text` with its top-left corner at `(x, y)` in the bitmap font, each font pixel a
    /// `scale × scale` square.
    public mutating func draw(text: String, x: Int, y: Int, scale: Int = 1, color: RGB = .black, font: BitmapFont = .standard) {
        let s = max(1, scale)
        var cx = x
        for ch in text {
            for gy in 0..<font.glyphHeight {
                for gx in 0..<font.glyphWidth where font.isLit(ch, x: gx, y: gy) {
                    fill(Rect(x: cx + gx * s, y: y + gy * s, width: s, height: s), color)
                }
            }
            cx += (font.glyphWidth + font.spacing) * s
        }
    }

    /// Draws `text` centred horizontally in the band `[x, x + width)`, top at `y`.
    public mutating func draw(text: String, centeredIn x: Int, width bandWidth: Int, y: Int, scale: Int = 1, color: RGB = .black) {
        let w = BitmapFont.standard.size(of: text, scale: scale).width
        draw(text: text, x: x + (bandWidth - w) / 2, y: y, scale: scale, color: color)
    }

    /// How ``horizontal(_:spacing:background:)`` and ``vertical(_:spacing:background:)`` place
    /// images smaller than the row or column.
    public enum Alignment: Sendable { case start, center }

    /// Images side by side, `spacing` pixels apart, aligned at the top (or centred), on
    /// `background`.
    public static func horizontal(_ images: [Image], spacing: Int = 0, background: RGB = .white, alignment: Alignment = .start) -> Image {
        let w = images.reduce(0) { $0 + $1.width } + spacing * max(0, images.count - 1)
        let h = images.map(\.height).max() ?? 0
        var canvas = Canvas(width: w, height: h, background: background)
        var x = 0
        for im in images {
            canvas.paste(im, x: x, y: alignment == .center ? (h - im.height) / 2 : 0)
            x += im.width + spacing
        }
        return canvas.image
    }

    /// Images one above the other, `spacing` pixels apart, aligned at the left (or centred), on
    /// `background`.
    public static func vertical(_ images: [Image], spacing: Int = 0, background: RGB = .white, alignment: Alignment = .start) -> Image {
        let h = images.reduce(0) { $0 + $1.height } + spacing * max(0, images.count - 1)
        let w = images.map(\.width).max() ?? 0
        var canvas = Canvas(width: w, height: h, background: background)
        var y = 0
        for im in images {
            canvas.paste(im, x: alignment == .center ? (w - im.width) / 2 : 0, y: y)
            y += im.height + spacing
        }
        return canvas.image
    }
}

extension Image {
    /// The image magnified by an integer factor with nearest-neighbour sampling.
    /// - Precondition: `factor >= 1`.
    public func zoomed(by factor: Int) -> Image {
        precondition(factor >= 1, "zoom factor must be at least 1")
        if factor == 1 { return self }
        let w = width * factor, h = height * factor, c = channels
        var out = [Float](repeating: 0, count: w * h * c)
        for y in 0..<h {
            let sy = y / factor
            for x in 0..<w {
                let s = (sy * width + x / factor) * c, t = (y * w + x) * c
                for k in 0..<c { out[t + k] = pixels[s + k] }
            }
        }
        return Image(width: w, height: h, channels: c, pixels: out)
    }

    /// The image as a `[H, W, 3]` tensor of unit values (samples / 255), the float array behind
    /// a rendered PNG (DESIGN.md §3: a grid's `.npy`). Gray is replicated to three channels.
    public func unitTensor() -> Tensor {
        let rgb = self.rgb()
        return Tensor(shape: [height, width, 3], scalars: rgb.pixels.map { $0 / 255 })
    }

    /// A gray or RGB image from unit values (`[0, 1]` → `0...255`), `height × width × channels`
    /// interleaved.
    public init(unit values: [Float], width: Int, height: Int, channels: Int) {
        self.init(width: width, height: height, channels: channels, pixels: values.map { $0 * 255 })
    }
}
