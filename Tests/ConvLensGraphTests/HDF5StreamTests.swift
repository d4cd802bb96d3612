import ConvLensCore
import ConvLensGraph
import Foundation
import TestSupport
import XCTest

/// The parent's decoder of the HDF5 child's stream (`Sources/CHDF5/snapshot.h`): a whole stream
/// answers queries; a cut, garbled or inconsistent one is one error naming the file, never a trap.
final class HDF5StreamTests: XCTestCase {
    /// Writes records the way the child does (native byte order).
    struct Stream {
        var bytes: [UInt8] = Array("CLH5SNP1".utf8)
        mutating func tag(_ t: Character) { bytes.append(t.asciiValue!) }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v) { bytes += $0 } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v) { bytes += $0 } }
        mutating func text(_ s: String) { u32(UInt32(s.utf8.count)); bytes += Array(s.utf8) }
        mutating func group(_ p: String) { tag("G"); text(p) }
        mutating func attribute(_ p: String, _ name: String, _ value: String) {
            tag("A"); text(p); text(name); u64(UInt64(value.utf8.count)); bytes += Array(value.utf8)
        }
        mutating func dataset(_ p: String, _ dims: [Int], _ values: [Float], count: Int? = nil) {
            tag("D"); text(p); u32(UInt32(dims.count)); dims.forEach { u64(UInt64($0)) }
            u64(UInt64(count ?? values.count)); values.forEach { v in withUnsafeBytes(of: v) { bytes += $0 } }
        }
    }

    func wellFormed() -> Stream {
        var s = Stream()
        s.group("/")
        s.attribute("/", "model_config", "{\"a\": 1}")
        s.group("/model_weights")
        s.dataset("/model_weights/w", [2, 3], [1, 2, 3, 4, 5, 6])
        s.tag("X"); s.text("/model_weights/big"); s.bytes.append(1); s.text("the dataset's shape [1, 99999999999] is too large")
        s.group("/broken")  // the child writes a group's record before saying its members cannot be listed
        s.tag("B"); s.text("/broken"); s.text("cannot list the group's members (the file is corrupt)")
        s.tag("Y"); s.text("/"); s.text("keras_version"); s.text("cannot be read (the file is corrupt)")
        s.tag("Z")
        return s
    }

    func testAWholeStreamAnswersEveryQuery() throws {
        let h5 = try HDF5File(stream: wellFormed().bytes, source: "m.h5")
        XCTAssertEqual(h5.kind("/model_weights"), .group)
        XCTAssertEqual(h5.kind("/model_weights/w"), .dataset)
        XCTAssertEqual(h5.kind("/model_weights/big"), .unreadable)
        XCTAssertNil(h5.kind("/nothing"))
        XCTAssertEqual(try h5.members("/model_weights"), ["w", "big"])
        XCTAssertEqual(try h5.members("/"), ["model_weights", "broken"])
        XCTAssertEqual(try h5.stringAttribute("model_config"), "{\"a\": 1}")
        let w = try h5.floatDataset("/model_weights/w")
        XCTAssertEqual(w.shape, Shape([2, 3]))
        XCTAssertEqual(w.scalars, [1, 2, 3, 4, 5, 6])
        assertThrowsConvLensError(.absurdSize, mentioning: "m.h5") { try h5.floatDataset("/model_weights/big") }
        assertThrowsConvLensError(.absurdSize, mentioning: "is too large") { try h5.check("/model_weights/big") }
        assertThrowsConvLensError(.malformedFile, mentioning: "/broken: cannot list") { try h5.members("/broken") }
        assertThrowsConvLensError(.malformedFile, mentioning: "the attribute 'keras_version' cannot be read") {
            try h5.stringAttribute("keras_version")
        }
    }

    func testEveryCutStreamIsAnErrorNotATrap() {
        let whole = wellFormed().bytes
        for n in 0..<whole.count {
            assertThrowsConvLensError(.malformedFile, mentioning: "m.h5") { try HDF5File(stream: Array(whole.prefix(n)), source: "m.h5") }
        }
        // Bytes after the end record are as wrong as a missing end.
        assertThrowsConvLensError(.malformedFile, mentioning: "midway") { try HDF5File(stream: whole + [0], source: "m.h5") }
    }

    func testInconsistentRecordsAreRejected() {
        var relative = Stream(); relative.group("model_weights"); relative.tag("Z")
        var count = Stream(); count.group("/"); count.dataset("/w", [2, 3], [1, 2, 3, 4, 5, 6], count: 5); count.tag("Z")
        var rank = Stream(); rank.group("/"); rank.dataset("/w", Array(repeating: 1, count: 9), [1]); rank.tag("Z")
        var huge = Stream(); huge.group("/"); huge.dataset("/w", [1 << 40], []); huge.tag("Z")
        var unknown = Stream(); unknown.tag("Q"); unknown.tag("Z")
        for s in [relative, count, rank, huge, unknown] {
            assertThrowsConvLensError(.malformedFile, mentioning: "midway") { try HDF5File(stream: s.bytes, source: "m.h5") }
        }
        var fatal = Stream(); fatal.tag("E"); fatal.text("groups nest more than 32 deep")
        assertThrowsConvLensError(.malformedFile, mentioning: "m.h5: groups nest more than 32 deep") { try HDF5File(stream: fatal.bytes, source: "m.h5") }
    }
}
