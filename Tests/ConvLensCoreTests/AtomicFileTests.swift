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
}
