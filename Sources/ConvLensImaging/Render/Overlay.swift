import Foundation

/// A horizontal colour bar with the values at its ends (and 0 in the middle for a diverging map).
public struct ColorBar: Sendable {
    /// The colormap shown.
    public var colormap: Colormap
    /// The values at the left and right ends (for a diverging map, `−max|v|` and `+max|v|`).
    public var range: ValueRange
    /// Bar height in pixels.
    public var thickness: Int = 6
    /// Text colour.
    public var textColor: RGB = .black
    /// Background colour.
    public var background: RGB = .white

    public init(colormap: Colormap, range: ValueRange) {
        self.colormap = colormap
        self.range = range
    }

    /// A short label for a value: up to 3 significant digits (`0.123`, `12.5`, `-3`, `1.2E+03`).
    public static func label(_ v: Float) -> String {
        if v == 0 || !v.isFinite { return v.isNaN ? "NAN" : (v == 0 ? "0" : (v > 0 ? "INF" : "-INF")) }
        return String(format: "%.3g", Double(v)).uppercased()
    }

    /// The bar and its labels, `length` pixels wide (wider if the labels need it).
    /// - Returns: an RGB image `max(length, labels) × (thickness + 10)`.
    public func render(length: Int) -> Image {
        let font = BitmapFont.standard
        let lo = colormap.isDiverging ? -range.magnitude : range.min
        let hi = colormap.isDiverging ? range.magnitude : range.max
        let left = ColorBar.label(lo), right = ColorBar.label(hi)
        let needed = font.size(of: left).width + font.size(of: right).width + 4
        let width = max(length, needed, 2)
        var canvas = Canvas(width: width, height: thickness + 2 + font.glyphHeight + 1, background: background)
        for x in 0..<width {
            let c = colormap.color(Float(x) / Float(width - 1))
            canvas.fill(Rect(x: x, y: 0, width: 1, height: thickness), c)
        }
        let y = thickness + 2
        canvas.draw(text: left, x: 0, y: y, color: textColor)
        canvas.draw(text: right, x: width - font.size(of: right).width, y: y, color: textColor)
        if colormap.isDiverging {
            let zw = font.size(of: "0").width
            let leftEnd = font.size(of: left).width, rightStart = width - font.size(of: right).width
            let zx = (width - zw) / 2
            if zx > leftEnd + 1 && zx + zw < rightStart - 1 { canvas.draw(text: "0", x: zx, y: y, color: textColor) }
        }
        return canvas.image
    }
}

/// A scalar map (an activation channel) upsampled onto an image, blended, with a colour bar.
public struct Overlay: Sendable {
    /// The colormap of the map.
    public var colormap: Colormap
    /// Weight of the map's colour: `out = (1 − opacity)·image + opacity·colour`.
    public var opacity: Float
    /// Whether to add the colour bar under the image.
    public var legend: Bool
    /// Pixels between the image and the colour bar.
    public var legendGap: Int = 2

    public init(colormap: Colormap = .viridis, opacity: Float = 0.5, legend: Bool = true) {
        self.colormap = colormap
        self.opacity = opacity
        self.legend = legend
    }

    /// Blends a map onto an image.
    /// - Parameters:
    ///   - image: the background image (gray or RGB), `H × W`.
    ///   - map: `mapHeight × mapWidth` values, upsampled bilinearly to `H × W`
    ///     (``Resampling/bilinear(_:width:height:newWidth:newHeight:)``), then scaled by min–max over
    ///     `range` (symmetric `v / max|v|` for a diverging colormap) and coloured.
    ///   - range: the values mapped to the ends of the colormap; default: the map's own range.
    /// - Returns: an RGB image `W × H`, plus the colour bar under it when ``legend`` is set.
    public func render<C: RandomAccessCollection>(image: Image, map: C, mapWidth: Int, mapHeight: Int, range: ValueRange? = nil) -> Image
    where C.Element == Float, C.Index == Int {
        let r = range ?? ValueRange(of: map)
        let up = Resampling.bilinear(map, width: mapWidth, height: mapHeight, newWidth: image.width, newHeight: image.height)
        let base = image.rgb()
        var px = [Float](repeating: 0, count: image.width * image.height * 3)
        for i in 0..<(image.width * image.height) {
            let c = colormap.isDiverging ? colormap.color(signed: r.signedUnit(up[i])) : colormap.color(r.unit(up[i]))
            let rgb = [c.red, c.green, c.blue]
            for k in 0..<3 {
                px[3 * i + k] = (1 - opacity) * base.pixels[3 * i + k] + opacity * rgb[k] * 255
            }
        }
        let blended = Image(width: image.width, height: image.height, channels: 3, pixels: px)
        guard legend else { return blended }
        let bar = ColorBar(colormap: colormap, range: r).render(length: image.width)
        return Canvas.vertical([blended, bar], spacing: legendGap)
    }
}
