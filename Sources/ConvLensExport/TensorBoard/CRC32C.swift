/// CRC-32C (Castagnoli), the checksum of TFRecord framing.
///
/// Reflected polynomial `0x82F63B78`, initial value and final XOR `0xFFFFFFFF`; the check value of
/// the ASCII bytes `123456789` is `0xE3069283`.
public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// The CRC-32C of `bytes`.
    /// - Complexity: O(n), one table lookup per byte.
    public static func checksum<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked form of a CRC: `((crc >> 15) | (crc << 17)) + 0xA282EAD8` (mod 2³²), so
    /// that a CRC of data that itself contains CRCs stays well distributed.
    public static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
