import ConvLensCore
import Foundation
import TestSupport
import XCTest

final class AtomicFileTests: XCTestCase {
    func testWriteReplacesAtomicallyAndLeavesNoTemporaryFiles() throws {
        let dir = try temporaryDirectory(self)
        let path = dir + "/a.bin"
        try AtomicFile.write(Data([1, 2, 3]), to: path)
        try AtomicFile.write(Data([4, 5]), to: path)
        XCTAssertEqual(try AtomicFile.read(path), Data([4, 5]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.bin"])
    }

    func testUnwritableDestinationsAreTypedErrors() throws {
        let dir = try temporaryDirectory(self)
        let file = dir + "/plain"
        try AtomicFile.write(Data([0]), to: file)
        assertThrowsConvLensError(.unwritableOutput, mentioning: "not a folder") { try AtomicFile.makeDirectory(file) }
        assertThrowsConvLensError(.unwritableOutput) { try AtomicFile.makeDirectory(file + "/sub") }
        assertThrowsConvLensError(.unwritableOutput, mentioning: "does not exist") { try AtomicFile.write(Data(), to: dir + "/missing/x.npy") }
        assertThrowsConvLensError(.unreadableFile, mentioning: "folder") { try AtomicFile.read(dir) }
    }

    /// Bytes handed over in pieces land in order; a body that throws leaves neither the file nor a
    /// temporary one, and an existing file keeps its old contents.
    func testPiecewiseWriteAndFailingBodyLeaveNoPartialFile() throws {
        let dir = try temporaryDirectory(self)
        let path = dir + "/b.bin"
        try AtomicFile.write(to: path) { put in
            try [UInt8]([1, 2]).withUnsafeBytes { try put($0) }
            try [UInt8]([]).withUnsafeBytes { try put($0) }
            try [UInt8](repeating: 7, count: 1 << 20).withUnsafeBytes { try put($0) }
        }
        let data = try AtomicFile.read(path)
        XCTAssertEqual(data.count, 2 + (1 << 20))
        XCTAssertEqual(Array(data.prefix(3)), [1, 2, 7])
        struct Stop: Error {}
        XCTAssertThrowsError(try AtomicFile.write(to: path) { put in
            try [UInt8]([9, 9, 9]).withUnsafeBytes { try put($0) }
            throw Stop()
        })
        XCTAssertEqual(try AtomicFile.read(path), data, "the old file stays whole")
        XCTAssertThrowsError(try AtomicFile.write(to: dir + "/c.bin") { _ in throw Stop() })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["b.bin"])
    }

    /// Without `CONVLENS_SYNC=1` the durable commit is off (and then a no-op even on a folder that
    /// cannot be opened); the writes themselves never `fsync`.
    func testCommitIsANoOpUnlessRequested() throws {
        if !AtomicFile.syncRequested {
            XCTAssertNoThrow(try AtomicFile.commit(folder: "/nonexistent-folder"))
        } else {
            XCTAssertNoThrow(try AtomicFile.commit(folder: try temporaryDirectory(self)))
        }
    }
}
