import ConvLensCore
import Foundation

/// A decoded raster image: `height × width` pixels with 1 (gray) or 3 (RGB) interleaved samples
/// per pixel, values in `0...255` as `Float` (so resampled images keep their fractional values).
public struct Image: Sendable, Equatable {
    /// Columns.
    public var width: Int
    /// Rows.
    public var height: Int
    /// Samples per pixel: 1 (gray) or 3 (RGB, in that order).
    public var channels: Int
    /// `height × width × channels` samples, row-major, interleaved, in `0...255`.
    public var pixels: [Float]

    /// Creates an image from its samples.
    /// - Precondition: `channels` is 1 or 3 and `pixels.count == height * width * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [Float]) {
        precondition(channels == 1 || channels == 3, "channels must be 1 or 3")
        precondition(pixels.count == width * height * channels, "pixel count mismatch")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// The largest image ConvLens decodes: 2^27 pixels (e.g. 11,585 × 11,585).
    public static let maximumPixelCount = 1 << 27

    /// The sample at row `y`, column `x`, channel `c`.
    public subscript(y: Int, x: Int, c: Int) -> Float {
        pixels[(y * width + x) * channels + c]
    }

    /// The same image with 3 channels (gray is replicated).
    public func rgb() -> Image {
        if channels == 3 { return self }
        var out = [Float](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            let v = pixels[i]
            out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v
        }
        return Image(width: width, height: height, channels: 3, pixels: out)
    }

    /// The same image with 1 channel (ITU-R 601-2 luma, as Pillow's `convert("L")`).
    public func gray() -> Image {
        if channels == 1 { return self }
        var out = [Float](repeating: 0, count: width * height)
        for i in 0..<(width * height) {
            out[i] = pixels[3 * i] * 0.299 + pixels[3 * i + 1] * 0.587 + pixels[3 * i + 2] * 0.114
        }
        return Image(width: width, height: height, channels: 1, pixels: out)
    }

    /// The samples rounded and clamped to 8 bits.
    public func bytes() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: pixels.count) { out, n in
            pixels.withUnsafeBufferPointer { p in
                for i in 0..<p.count { out[i] = UInt8(max(0, min(255, p[i].rounded()))) }
            }
            n = pixels.count
        }
    }
}

extension Image {
    /// Decodes a PNG or JPEG file (chosen by its first bytes, not its name).
    ///
    /// PNG: gray, gray+alpha, RGB, RGBA and palette, 8 or 16 bits (16-bit samples are rounded to
    /// 8 bits; alpha is dropped, as Pillow's `convert("RGB")`). JPEG: gray and colour (YCbCr/RGB);
    /// the EXIF orientation is applied; CMYK/YCCK files are rejected.
    /// - Throws: ``ConvLensError`` naming `path` and the cause (`unreadableFile`, `malformedFile`,
    ///   `unsupportedFeature`, `absurdSize`).
    public static func read(_ path: String) throws -> Image {
        let data = try AtomicFile.read(path)
        return try decode(data, file: path)
    }

    /// Decodes PNG or JPEG bytes; `file` names the source in errors.
    public static func decode(_ data: Data, file: String = "<image>") throws -> Image {
        let bytes = [UInt8](data.prefix(8))
        if bytes.isEmpty {
            throw ConvLensError(.malformedFile, file: file, "the file is empty")
        }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return try PNG.decode(data, file: file)
        }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            return try JPEG.decode(data, file: file)
        }
        throw ConvLensError(.malformedFile, file: file, "not a PNG or JPEG image (unrecognized first bytes)")
    }

    /// Encodes the image as an 8-bit PNG (gray or RGB).
    public func pngData() throws -> Data {
        try PNG.encode(width: width, height: height, channels: channels, bytes: bytes())
    }

    /// Writes the image as an 8-bit PNG, atomically.
    /// - Throws: ``ConvLensError`` with code `unwritableOutput`.
    public func writePNG(to path: String) throws {
        try AtomicFile.write(try pngData(), to: path)
    }
}

