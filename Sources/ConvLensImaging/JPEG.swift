internal import CTurboJPEG
import ConvLensCore
import Foundation

/// The one place ConvLens calls libjpeg-turbo, through the TurboJPEG `tj*` API (which reports
/// errors by return value, so no `longjmp` crosses a Swift frame).
enum JPEG {
    /// Owns a TurboJPEG decompressor handle.
    private final class Decompressor {
        let handle: tjhandle
        init?() {
            guard let h = tjInitDecompress() else { return nil }
            handle = h
        }
        deinit { tjDestroy(handle) }
        var lastError: String { String(cString: tjGetErrorStr2(handle)) }
    }

    static func decode(_ data: Data, file: String) throws -> Image {
        guard let d = Decompressor() else {
            throw ConvLensError(.unreadableFile, file: file, "cannot initialize the JPEG decoder")
        }
        var bytes = [UInt8](data)
        var w: Int32 = 0, h: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        let rc = bytes.withUnsafeMutableBufferPointer { buf in
            tjDecompressHeader3(d.handle, buf.baseAddress, UInt(buf.count), &w, &h, &subsamp, &colorspace)
        }
        guard rc == 0 else {
            throw ConvLensError(.malformedFile, file: file, "invalid JPEG: \(d.lastError)")
        }
        let width = Int(w), height = Int(h)
        guard width > 0, height > 0 else {
            throw ConvLensError(.malformedFile, file: file, "invalid JPEG: its header gives a size of \(width)×\(height) pixels (the file is corrupt)")
        }
        guard width * height <= Image.maximumPixelCount else {
            throw ConvLensError(.absurdSize, file: file, "JPEG declares \(width)×\(height) pixels, more than the limit of \(Image.maximumPixelCount)")
        }
        if colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) {
            throw ConvLensError(.unsupportedFeature, file: file, "CMYK JPEG images are not supported; convert the image to RGB first")
        }
        let gray = colorspace == Int32(TJCS_GRAY.rawValue)
        let channels = gray ? 1 : 3
        var out = [UInt8](repeating: 0, count: width * height * channels)
        let format = gray ? TJPF_GRAY : TJPF_RGB
        let rc2 = bytes.withUnsafeMutableBufferPointer { buf in
            out.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(d.handle, buf.baseAddress, UInt(buf.count), dst.baseAddress,
                              w, 0, h, Int32(format.rawValue), TJFLAG_ACCURATEDCT)
            }
        }
        // Warnings (such as a truncated but usable file) return -1 with a warning error code.
        if rc2 != 0 {
            let code = tjGetErrorCode(d.handle)
            if code != Int32(TJERR_WARNING.rawValue) {
                throw ConvLensError(.malformedFile, file: file, "invalid JPEG: \(d.lastError)")
            }
            throw ConvLensError(.malformedFile, file: file, "damaged JPEG: \(d.lastError)")
        }
        let image = Image(width: width, height: height, channels: channels, pixels: out.map(Float.init))
        return Orientation(exifOf: bytes).apply(to: image)
    }
}

/// The EXIF orientation of a JPEG (tag 0x0112), 1…8; 1 means upright.
struct Orientation {
    var value: Int

    /// Reads the orientation from the APP1 Exif segment; 1 when absent or unreadable.
    init(exifOf b: [UInt8]) {
        value = 1
        var i = 2
        while i + 4 <= b.count, b[i] == 0xFF {
            let marker = b[i + 1]
            if marker == 0xDA || marker == 0xD9 { break } // start of scan / end of image
            let len = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard len >= 2, i + 2 + len <= b.count else { break }
            if marker == 0xE1, len >= 16, Array(b[(i + 4)..<(i + 10)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                value = Orientation.parseTIFF(Array(b[(i + 10)..<(i + 2 + len)])) ?? 1
                return
            }
            i += 2 + len
        }
    }

    private static func parseTIFF(_ t: [UInt8]) -> Int? {
        guard t.count >= 8 else { return nil }
        let little: Bool
        if t[0] == 0x49 && t[1] == 0x49 { little = true } else if t[0] == 0x4D && t[1] == 0x4D { little = false } else { return nil }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= t.count else { return nil }
            return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let b = u16(o + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard let ifd = u32(4), let n = u16(ifd) else { return nil }
        for k in 0..<n {
            let e = ifd + 2 + 12 * k
            guard let tag = u16(e) else { return nil }
            if tag == 0x0112, let v = u16(e + 8), (1...8).contains(v) { return v }
        }
        return nil
    }

    /// The image turned upright.
    func apply(to image: Image) -> Image {
        if value == 1 { return image }
        let w = image.width, h = image.height, c = image.channels
        let transposed = value >= 5
        let ow = transposed ? h : w, oh = transposed ? w : h
        var out = [Float](repeating: 0, count: ow * oh * c)
        for oy in 0..<oh {
            for ox in 0..<ow {
                // Source coordinates for each EXIF orientation (the inverse of its display transform).
                let (sx, sy): (Int, Int)
                switch value {
                case 2: (sx, sy) = (w - 1 - ox, oy)
                case 3: (sx, sy) = (w - 1 - ox, h - 1 - oy)
                case 4: (sx, sy) = (ox, h - 1 - oy)
                case 5: (sx, sy) = (oy, ox)
                case 6: (sx, sy) = (oy, h - 1 - ox)
                case 7: (sx, sy) = (w - 1 - oy, h - 1 - ox)
                default: (sx, sy) = (w - 1 - oy, ox) // 8
                }
                for ch in 0..<c { out[(oy * ow + ox) * c + ch] = image.pixels[(sy * w + sx) * c + ch] }
            }
        }
        return Image(width: ow, height: oh, channels: c, pixels: out)
    }
}
