internal import CZlib
import ConvLensCore
import Foundation

/// A minimal reader of zip archives (stored and deflated members, no zip64, no encryption), enough
/// for Keras 3 `.keras` files. The only code in ConvLens that calls zlib (DESIGN.md §2).
struct ZipArchive {
    struct Entry {
        let name: String
        let method: UInt16
        let crc: UInt32
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
        let flags: UInt16
    }

    let source: String
    let data: Data
    let entries: [Entry]
    /// The largest member ConvLens inflates.
    static let maxMemberSize = 1 << 30

    init(data: Data, source: String) throws {
        self.source = source
        self.data = data
        let bytes = [UInt8](data)
        func fail(_ s: String) -> ConvLensError { ConvLensError(.malformedFile, file: source, "not a valid zip archive (\(s))") }
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        guard bytes.count >= 22 else { throw fail("the file is too short") }
        // The end-of-central-directory record sits in the last 22 + 65535 bytes.
        var eocd = -1
        var o = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65535)
        while o >= lowest {
            if bytes[o] == 0x50, bytes[o + 1] == 0x4b, bytes[o + 2] == 5, bytes[o + 3] == 6 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record; truncated?") }
        let count = u16(eocd + 10)
        let cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16)
        guard cdOffset != 0xFFFF_FFFF, count != 0xFFFF else {
            throw ConvLensError(.unsupportedFeature, file: source, "zip64 archives are not supported")
        }
        guard cdOffset + cdSize <= eocd else { throw fail("the central directory lies outside the file") }
        var entries: [Entry] = []
        var p = cdOffset
        for i in 0..<count {
            guard p + 46 <= eocd, u32(p) == 0x0201_4b50 else { throw fail("central directory entry \(i) is damaged") }
            let nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32)
            guard p + 46 + nameLen <= eocd else { throw fail("central directory entry \(i) is damaged") }
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLen)], as: UTF8.self)
            entries.append(Entry(name: name, method: UInt16(u16(p + 10)), crc: UInt32(u32(p + 16)),
                                 compressedSize: u32(p + 20), size: u32(p + 24), localHeaderOffset: u32(p + 42),
                                 flags: UInt16(u16(p + 8))))
            p += 46 + nameLen + extraLen + commentLen
        }
        self.entries = entries
    }

    /// Reads a zip file from disk.
    init(path: String) throws {
        try self.init(data: try AtomicFile.read(path), source: path)
    }

    func contains(_ name: String) -> Bool { entries.contains { $0.name == name } }

    /// The uncompressed bytes of a member, CRC-checked.
    func read(_ name: String) throws -> Data {
        guard let e = entries.first(where: { $0.name == name }) else {
            throw ConvLensError(.malformedFile, file: source, "the archive has no '\(name)'")
        }
        func fail(_ s: String) -> ConvLensError { ConvLensError(.malformedFile, file: source, "\(name): \(s)") }
        guard e.flags & 1 == 0 else { throw ConvLensError(.unsupportedFeature, file: source, "\(name) is encrypted") }
        guard e.size <= ZipArchive.maxMemberSize, e.compressedSize != 0xFFFF_FFFF else {
            throw ConvLensError(.absurdSize, file: source, "\(name): \(e.size) bytes is too large")
        }
        let h = e.localHeaderOffset
        guard h + 30 <= data.count else { throw fail("the member lies outside the file (truncated?)") }
        let header = [UInt8](data[(data.startIndex + h)..<(data.startIndex + h + 30)])
        guard header[0] == 0x50, header[1] == 0x4b, header[2] == 3, header[3] == 4 else { throw fail("damaged local header") }
        let start = h + 30 + (Int(header[26]) | Int(header[27]) << 8) + (Int(header[28]) | Int(header[29]) << 8)
        guard start + e.compressedSize <= data.count else { throw fail("the member's data is truncated") }
        let packed = data[(data.startIndex + start)..<(data.startIndex + start + e.compressedSize)]
        var out: [UInt8]
        switch e.method {
        case 0:
            guard e.compressedSize == e.size else { throw fail("stored member sizes disagree") }
            out = [UInt8](packed)
        case 8:
            // Deflate expands at most 1032:1, so a larger declared size is a lie; refuse it before
            // allocating (a small file must not cost a gigabyte).
            guard e.size <= e.compressedSize * 1032 + 1024 else {
                throw fail("the directory declares \(e.size) bytes for \(e.compressedSize) deflated bytes, more than deflate can expand")
            }
            out = [UInt8](repeating: 0, count: e.size)
            var input = [UInt8](packed)
            var stream = z_stream()
            guard convlens_inflate_init_raw(&stream) == Z_OK else { throw fail("cannot start inflating") }
            defer { inflateEnd(&stream) }
            let status: Int32 = input.withUnsafeMutableBufferPointer { inp in
                out.withUnsafeMutableBufferPointer { outp in
                    stream.next_in = inp.baseAddress
                    stream.avail_in = UInt32(inp.count)
                    stream.next_out = outp.baseAddress
                    stream.avail_out = UInt32(outp.count)
                    return inflate(&stream, Z_FINISH)
                }
            }
            guard status == Z_STREAM_END, Int(stream.total_out) == e.size else {
                throw fail("the deflated data is damaged or its size disagrees with the directory")
            }
        default:
            throw ConvLensError(.unsupportedFeature, file: source, "\(name) uses zip compression method \(e.method); ConvLens reads stored and deflated members")
        }
        let crc = out.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        guard crc == e.crc else { throw fail("CRC mismatch (the archive is damaged)") }
        return Data(out)
    }
}
