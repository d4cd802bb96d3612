import ConvLensCore
import Foundation
import TestSupport
import XCTest

final class NPYTests: XCTestCase {
    func testReadsNumPyFloat32AndFloat64() throws {
        let expected = try NPY.read(fixture("npy/f4.expected.npy"))
        XCTAssertEqual(expected.shape, [2, 3, 4])
        XCTAssertEqual(try NPY.read(fixture("npy/f4.npy")), expected)
        XCTAssertEqual(try NPY.read(fixture("npy/f4_big_endian.npy")), expected)
        XCTAssertEqual(try NPY.read(fixture("npy/f4_v2.npy")), expected)
        let f8 = try NPY.read(fixture("npy/f8.npy"))
        XCTAssertEqual(f8, try NPY.read(fixture("npy/f8.expected.npy")))
        XCTAssertNotEqual(f8, expected)
        let scalar = try NPY.read(fixture("npy/scalar.npy"))
        XCTAssertEqual(scalar.shape, Shape([]))
        XCTAssertEqual(scalar.scalars, [3.5])
    }

    func testRoundTripIsExactAndHeaderIsAligned() throws {
        let t = Tensor(shape: [2, 1, 3], scalars: [1, -2.5, .pi, 0, -0.0, 1e-30])
        let data = NPY.encode(t)
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        XCTAssertEqual(data.count, 10 + headerLength + 6 * 4)
        let back = try NPY.decode(data)
        XCTAssertEqual(back.shape, t.shape)
        XCTAssertEqual(back.scalars.map(\.bitPattern), t.scalars.map(\.bitPattern))
    }

    func testWrittenFileMatchesNumPysBytesForTheSameArray() throws {
        // NumPy 2.4 writes the same header text for a C-order <f4 array, so the bytes agree.
        let expected = try AtomicFile.read(fixture("npy/f4.expected.npy"))
        let t = try NPY.read(fixture("npy/f4.expected.npy"))
        XCTAssertEqual(NPY.encode(t), expected)
    }

    func testRejectsBadFiles() throws {
        assertThrowsConvLensError(.unsupportedFeature, mentioning: "Fortran") { try NPY.read(fixture("npy/fortran.npy")) }
        assertThrowsConvLensError(.unsupportedFeature, mentioning: "<i4") { try NPY.read(fixture("npy/int32.npy")) }
        assertThrowsConvLensError(.unsupportedFeature, mentioning: "|O") { try NPY.read(fixture("npy/object.npy")) }
        assertThrowsConvLensError(.malformedFile, mentioning: "truncated") { try NPY.read(fixture("npy/truncated.npy")) }
        assertThrowsConvLensError(.malformedFile, mentioning: "bad_header.npy") { try NPY.read(fixture("npy/bad_header.npy")) }
        assertThrowsConvLensError(.absurdSize, mentioning: "huge_shape.npy") { try NPY.read(fixture("npy/huge_shape.npy")) }
        assertThrowsConvLensError(.malformedFile, mentioning: "magic") { try NPY.decode(Data("not numpy".utf8), file: "x.npy") }
        assertThrowsConvLensError(.unreadableFile, mentioning: "no such file") { try NPY.read("/nonexistent/a.npy") }
    }
}
