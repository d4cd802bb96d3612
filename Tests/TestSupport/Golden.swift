import ConvLensCore
import ConvLensImaging
import Foundation
import XCTest

/// The folder of golden images, `Tests/Fixtures/golden`.
public let goldenDirectory = fixturesDirectory + "/golden"

/// Compares `image`'s 8-bit pixels exactly with those of `Tests/Fixtures/golden/<name>.png` (decoded:
/// the PNG encoder's zlib level and filters may change the bytes, never the pixels).
///
/// When the golden is missing or `RECORD_SNAPSHOTS=1` is set, the golden is (re)written and the
/// test fails, so a recording is never mistaken for a pass. On a mismatch, `<name>.actual.png`
/// and `<name>.diff.png` (differing pixels red over a dimmed copy of the actual image) are written
/// beside the golden.
/// - Precondition: goldens stay small (≤ 64×64).
public func assertGolden(_ image: Image, named name: String, file: StaticString = #filePath, line: UInt = #line) {
    precondition(image.width <= 64 && image.height <= 64, "golden \(name) is \(image.width)×\(image.height); keep goldens ≤ 64×64")
    let path = goldenDirectory + "/\(name).png"
    let actualPath = goldenDirectory + "/\(name).actual.png"
    let diffPath = goldenDirectory + "/\(name).diff.png"
    do {
        let data = try image.pngData()
        let record = ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1"
        if record || !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: goldenDirectory, withIntermediateDirectories: true)
            try AtomicFile.write(data, to: path)
            XCTFail("recorded golden \(name).png (\(image.width)×\(image.height)); check it and rerun without RECORD_SNAPSHOTS", file: file, line: line)
            return
        }
        let golden = try AtomicFile.read(path)
        let expected = try Image.decode(golden, file: path).rgb()
        let actual = Image(width: image.width, height: image.height, channels: image.channels, pixels: image.bytes().map(Float.init)).rgb()
        if expected.width == actual.width && expected.height == actual.height && expected.pixels == actual.pixels {
            try? FileManager.default.removeItem(atPath: actualPath)
            try? FileManager.default.removeItem(atPath: diffPath)
            return
        }
        try AtomicFile.write(data, to: actualPath)
        var detail = "size \(actual.width)×\(actual.height) vs golden \(expected.width)×\(expected.height)"
        if expected.width == actual.width && expected.height == actual.height {
            var px = actual.pixels.map { $0 / 4 }
            var differing = 0
            for i in 0..<(actual.width * actual.height) where (0..<3).contains(where: { actual.pixels[3 * i + $0] != expected.pixels[3 * i + $0] }) {
                differing += 1
                px[3 * i] = 255; px[3 * i + 1] = 0; px[3 * i + 2] = 0
            }
            try Image(width: actual.width, height: actual.height, channels: 3, pixels: px).writePNG(to: diffPath)
            detail = "\(differing) pixels differ"
        }
        XCTFail("\(name).png does not match its golden (\(detail)); see \(name).actual.png and \(name).diff.png", file: file, line: line)
    } catch {
        XCTFail("golden \(name): \(error)", file: file, line: line)
    }
}
