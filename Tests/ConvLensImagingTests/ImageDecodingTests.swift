import ConvLensCore
import ConvLensImaging
import Foundation
import TestSupport
import XCTest

final class ImageDecodingTests: XCTestCase {
    private func expected(_ name: String) throws -> Tensor { try NPY.read(fixture("imaging/\(name).expected.npy")) }

    private func assertDecodes(_ file: String, as name: String, maxDifference: Float = 0,
                               line: UInt = #line) throws {
        let img = try Image.read(fixture("imaging/\(file)"))
        let exp = try expected(name)
        XCTAssertEqual([img.height, img.width, img.channels], exp.shape.dimensions, file, line: line)
        guard [img.height, img.width, img.channels] == exp.shape.dimensions else { return }
        var worst: Float = 0
        for (a, b) in zip(img.pixels, exp.scalars) { worst = max(worst, abs(a - b)) }
        XCTAssertLessThanOrEqual(worst, maxDifference, "\(file): worst pixel difference \(worst)", line: line)
    }

    func testEveryPNGColourType() throws {
        for name in ["gray8", "graya8", "rgb8", "rgba8", "palette8", "gray16", "graya16", "rgb16", "rgba16"] {
            try assertDecodes("\(name).png", as: name)
        }
    }

    func testJPEGMatchesPillowsDecode() throws {
        try assertDecodes("rgb.jpg", as: "rgb.jpg", maxDifference: 1)
        try assertDecodes("gray.jpg", as: "gray.jpg", maxDifference: 1)
    }

    func testEXIFOrientationIsApplied() throws {
        for o in [3, 6, 8] {
            try assertDecodes("orientation\(o).jpg", as: "orientation\(o).jpg", maxDifference: 1)
        }
    }

    func testPNGEncodeRoundTripsBytes() throws {
        let img = try Image.read(fixture("imaging/rgb8.png"))
        let back = try Image.decode(try img.pngData())
        XCTAssertEqual(back, img)
        let gray = try Image.read(fixture("imaging/gray8.png"))
        XCTAssertEqual(try Image.decode(try gray.pngData()), gray)
    }

    /// PNGs are written at zlib level 1 (the zlib stream's header says deflate with FLEVEL 0,
    /// "fastest"; libpng's default level 6 says 2) and decode to the same pixels, gray and RGB, at
    /// odd sizes.
    func testPNGsAreWrittenAtTheFastZlibLevel() throws {
        var rng = SystemRandomNumberGenerator()
        for (w, h, c) in [(1, 1, 3), (17, 5, 1), (64, 33, 3)] {
            let img = Image(width: w, height: h, channels: c, pixels: (0..<(w * h * c)).map { _ in Float(UInt8.random(in: 0...255, using: &rng)) })
            let data = [UInt8](try img.pngData())
            XCTAssertEqual(try Image.decode(Data(data)), img)
            // The first IDAT chunk: 4-byte length, "IDAT", then the zlib header.
            let idat = try XCTUnwrap((8..<(data.count - 4)).first { data[$0..<($0 + 4)].elementsEqual(Array("IDAT".utf8)) })
            let (cmf, flg) = (data[idat + 4], data[idat + 5])
            XCTAssertEqual(cmf & 0x0F, 8, "deflate")
            XCTAssertEqual((UInt16(cmf) << 8 | UInt16(flg)) % 31, 0, "a valid zlib header")
            XCTAssertEqual(flg >> 6, 0, "FLEVEL of \(w)×\(h)×\(c)")
        }
        // FLEVEL 0 is also what level 0 (stored, no compression) says: a smooth image must shrink.
        let smooth = Image(width: 64, height: 64, channels: 3, pixels: (0..<(64 * 64 * 3)).map { Float(($0 / 3) % 64 * 4) })
        XCTAssertLessThan(try smooth.pngData().count, 64 * 64 * 3 / 4)
    }

    func testBadImagesAreTypedErrors() {
        assertThrowsConvLensError(.malformedFile, mentioning: "empty") { try Image.read(fixture("imaging/empty.png")) }
        assertThrowsConvLensError(.malformedFile, mentioning: "truncated.png") { try Image.read(fixture("imaging/truncated.png")) }
        assertThrowsConvLensError(.absurdSize, mentioning: "1000000") { try Image.read(fixture("imaging/huge.png")) }
        assertThrowsConvLensError(.malformedFile, mentioning: "not a PNG or JPEG") { try Image.read(fixture("imaging/not_an_image.png")) }
        assertThrowsConvLensError(.unsupportedFeature, mentioning: "CMYK") { try Image.read(fixture("imaging/cmyk.jpg")) }
        assertThrowsConvLensError(.unreadableFile) { try Image.read(fixture("imaging/missing.png")) }
    }

    func testTruncatedJPEGIsAnError() throws {
        let data = try AtomicFile.read(fixture("imaging/rgb.jpg"))
        assertThrowsConvLensError(.malformedFile, mentioning: "cut.jpg") { try Image.decode(data.prefix(data.count / 2), file: "cut.jpg") }
    }
}
