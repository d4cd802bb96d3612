import ConvLensCore
import ConvLensExport
import Foundation
import TestSupport
import XCTest

final class EventFileTests: XCTestCase {
    func testCRC32CStandardVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of 0xFF, and 0...31.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map(UInt8.init)), 0x46DD_794E)
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
        // tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c(b"123456789") (tensorboard 2.21.0).
        XCTAssertEqual(CRC32C.masked(CRC32C.checksum(Array("123456789".utf8))), 0xC78A_B0E5)
    }

    func testRecordFraming() throws {
        let payload = Data("hello".utf8)
        let r = [UInt8](TFRecord.frame(payload))
        XCTAssertEqual(r.count, 8 + 4 + 5 + 4)
        XCTAssertEqual(Array(r[0..<8]), [5, 0, 0, 0, 0, 0, 0, 0])
        let lengthCRC = UInt32(r[8]) | UInt32(r[9]) << 8 | UInt32(r[10]) << 16 | UInt32(r[11]) << 24
        XCTAssertEqual(lengthCRC, 0x3E04_B2EA, "TensorBoard's masked_crc32c(struct.pack('<Q', 5))")
        let dataCRC = UInt32(r[17]) | UInt32(r[18]) << 8 | UInt32(r[19]) << 16 | UInt32(r[20]) << 24
        XCTAssertEqual(dataCRC, 0x191C_1FBB, "TensorBoard's masked_crc32c(b'hello')")
        XCTAssertEqual(try TFRecord.payloads(in: Data(r)), [payload])
    }

    func testEventFileRoundTripAndCorruptionIsDetected() throws {
        var file = EventFile(wallTime: 1_700_000_000.5)
        let png = Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3])
        file.add(images: [SummaryImage(tag: "conv1/grid", width: 7, height: 5, colorspace: 3, png: png),
                          SummaryImage(tag: "conv1/activations/image/0", width: 2, height: 2, colorspace: 1, png: png)],
                 step: 42, wallTime: 1_700_000_001)
        let events = try EventFile.read(file.data)
        XCTAssertEqual(events.count, 2)
        XCTAssertEqual(events[0].fileVersion, "brain.Event:2")
        XCTAssertEqual(events[0].wallTime, 1_700_000_000.5)
        XCTAssertEqual(events[1].step, 42)
        XCTAssertEqual(events[1].images.map(\.tag), ["conv1/grid", "conv1/activations/image/0"])
        XCTAssertEqual(events[1].images[0], SummaryImage(tag: "conv1/grid", width: 7, height: 5, colorspace: 3, png: png))

        var corrupt = file.data
        corrupt[corrupt.count - 6] ^= 0x01
        assertThrowsConvLensError(.malformedFile, mentioning: "record 1: the data CRC does not match") { try EventFile.read(corrupt) }
        assertThrowsConvLensError(.malformedFile, mentioning: "truncated") { try EventFile.read(file.data.dropLast(3)) }
    }

    func testFileNamesAndWriting() throws {
        XCTAssertEqual(EventFile.fileName(wallTime: 1_700_000_000.9, host: "lab box"), "events.out.tfevents.1700000000.lab_box")
        XCTAssertEqual(EventFile.fileName(wallTime: 5, host: "h"), "events.out.tfevents.0000000005.h")
        let dir = try temporaryDirectory(self) + "/logs"
        let a = try EventFile(wallTime: 1_700_000_000).write(toLogdir: dir, host: "h")
        let b = try EventFile(wallTime: 1_700_000_000).write(toLogdir: dir, host: "h")
        XCTAssertTrue(a.hasSuffix("events.out.tfevents.1700000000.h"))
        XCTAssertTrue(b.hasSuffix("events.out.tfevents.1700000001.h"), "a second run in the same second gets the next name")
        let file = try temporaryDirectory(self) + "/a-file"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data([1])))
        assertThrowsConvLensError(.unwritableOutput, mentioning: "a-file") { try EventFile(wallTime: 0).write(toLogdir: file) }
    }
}
