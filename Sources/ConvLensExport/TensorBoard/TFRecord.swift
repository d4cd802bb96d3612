import ConvLensCore
import Foundation

/// TFRecord framing, the container of TensorBoard event files.
///
/// A record is: the payload length as a little-endian `UInt64`, the masked CRC-32C of those 8
/// bytes (`UInt32` LE), the payload, and the masked CRC-32C of the payload (`UInt32` LE).
/// TensorBoard silently drops a record whose CRC does not match.
public enum TFRecord {
    /// One framed record holding `payload`.
    public static func frame(_ payload: Data) -> Data {
        var out = Data(capacity: payload.count + 16)
        let length = withUnsafeBytes(of: UInt64(payload.count).littleEndian) { Data($0) }
        out.append(length)
        append32(CRC32C.masked(CRC32C.checksum(length)), to: &out)
        out.append(payload)
        append32(CRC32C.masked(CRC32C.checksum(payload)), to: &out)
        return out
    }

    private static func append32(_ v: UInt32, to data: inout Data) {
        withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) }
    }

    /// The payloads of a sequence of records, checking both CRCs of each.
    /// - Parameters:
    ///   - data: the bytes of a TFRecord file.
    ///   - file: names the file in errors.
    /// - Throws: ``ConvLensError`` `malformedFile` naming the record for a truncated record or a CRC
    ///   mismatch.
    public static func payloads(in data: Data, file: String = "<records>") throws -> [Data] {
        let bytes = [UInt8](data)
        var out: [Data] = [], i = 0
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        while i < bytes.count {
            let n = out.count
            guard bytes.count - i >= 12 else {
                throw ConvLensError(.malformedFile, file: file, "record \(n) is truncated (header)")
            }
            let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[i + $1]) << (8 * $1) }
            guard u32(i + 8) == CRC32C.masked(CRC32C.checksum(bytes[i..<(i + 8)])) else {
                throw ConvLensError(.malformedFile, file: file, "record \(n): the length CRC does not match")
            }
            guard length <= UInt64(bytes.count - i - 12), bytes.count - i - 12 - Int(length) >= 4 else {
                throw ConvLensError(.malformedFile, file: file, "record \(n) is truncated (declares \(length) bytes)")
            }
            let start = i + 12, end = start + Int(length)
            guard u32(end) == CRC32C.masked(CRC32C.checksum(bytes[start..<end])) else {
                throw ConvLensError(.malformedFile, file: file, "record \(n): the data CRC does not match")
            }
            out.append(Data(bytes[start..<end]))
            i = end + 4
        }
        return out
    }
}
