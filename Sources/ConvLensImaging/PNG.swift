internal import CPNG
import ConvLensCore
import Foundation

/// The one place ConvLens calls libpng: decoding through its simplified `png_image` API (errors in
/// `png_image.message`), encoding through `convlens_png_encode` in the `CPNG` shim, which uses the
/// full write API to set the zlib level and row filter (its `setjmp`/`longjmp` stay inside that C
/// function; errors in `convlens_png_sink.message`). No `longjmp` crosses a Swift frame.
enum PNG {
    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let chars = raw.bindMemory(to: CChar.self)
            let end = chars.firstIndex(of: 0) ?? chars.count
            return String(decoding: raw.prefix(end), as: UTF8.self)
        }
    }

    static func decode(_ data: Data, file: String) throws -> Image {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        let ok = data.withUnsafeBytes { raw in
            png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count)
        }
        guard ok != 0 else {
            throw ConvLensError(.malformedFile, file: file, "invalid PNG: \(message(&image))")
        }
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0 else {
            png_image_free(&image)
            throw ConvLensError(.malformedFile, file: file, "invalid PNG: its header gives a size of \(width)×\(height) pixels (the file is corrupt)")
        }
        guard width * height <= Image.maximumPixelCount else {
            png_image_free(&image)
            throw ConvLensError(.absurdSize, file: file, "PNG declares \(width)×\(height) pixels, more than the limit of \(Image.maximumPixelCount)")
        }
        let isColor = image.format & convlens_png_format_flag_color() != 0
        let hasAlpha = image.format & convlens_png_format_flag_alpha() != 0
        let channels = isColor ? 3 : 1
        let stored = channels + (hasAlpha ? 1 : 0)
        // 8-bit sRGB output; 16-bit files are taken as sRGB-encoded (not linear), so the conversion
        // is a plain rounding to 8 bits. Alpha is read (8-bit alpha is not premultiplied) and then
        // dropped, as Pillow's convert("RGB") does: libpng would otherwise composite onto black.
        image.format = (isColor ? convlens_png_format_rgb() : convlens_png_format_gray())
            | (hasAlpha ? convlens_png_format_flag_alpha() : 0)
        image.flags |= png_uint_32(PNG_IMAGE_FLAG_16BIT_sRGB)
        var buffer = [UInt8](repeating: 0, count: width * height * stored)
        let ok2 = buffer.withUnsafeMutableBytes { out in
            png_image_finish_read(&image, nil, out.baseAddress, 0, nil)
        }
        guard ok2 != 0 else {
            throw ConvLensError(.malformedFile, file: file, "invalid PNG: \(message(&image))")
        }
        var pixels = [Float](repeating: 0, count: width * height * channels)
        for p in 0..<(width * height) {
            for c in 0..<channels { pixels[p * channels + c] = Float(buffer[p * stored + c]) }
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// The zlib level of every PNG ConvLens writes. Level 1 with the Up filter: on projection
    /// images 4.9× faster than libpng's default (level 6, adaptive filters) for files 29% larger,
    /// on photographs 5.3× faster for 14% larger (Docs/FileFormats.md "PNG encoding").
    static let compressionLevel: Int32 = 1
    /// The row filter (libpng's Up; `convlens_png_encode`'s numbering).
    static let rowFilter: Int32 = 2

    /// Encodes 8-bit gray (`channels == 1`) or RGB (`channels == 3`) samples as PNG.
    static func encode(width: Int, height: Int, channels: Int, bytes: [UInt8]) throws -> Data {
        precondition(bytes.count == width * height * channels && (channels == 1 || channels == 3))
        var sink = convlens_png_sink()
        defer { free(sink.data) }
        let ok = bytes.withUnsafeBufferPointer { raw in
            convlens_png_encode(raw.baseAddress, UInt32(width), UInt32(height), Int32(channels),
                                compressionLevel, rowFilter, &sink)
        }
        guard ok != 0, let data = sink.data else {
            let cause = withUnsafeBytes(of: &sink.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw ConvLensError(.unwritableOutput, "cannot encode PNG: \(cause)")
        }
        return Data(bytes: data, count: sink.size)
    }
}
