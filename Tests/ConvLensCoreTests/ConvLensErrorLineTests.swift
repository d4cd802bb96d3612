import ConvLensCore
import XCTest

/// `ConvLensError.line`: what the CLI prints, one line with long user strings cut (issue 19).
final class ConvLensErrorLineTests: XCTestCase {
    func testLongQuotedStringKeepsItsStartAndLength() {
        let name = String(repeating: "x", count: 5000)
        let e = ConvLensError(.unknownLayer, file: "--layer", "no layer named '\(name)' in m.onnx; nearest: 'conv1'")
        XCTAssertEqual(e.line, "--layer: no layer named '\(String(repeating: "x", count: 60))… (5000 characters)' in m.onnx; nearest: 'conv1'")
    }

    /// The library names a request parameter; each front end spells it its own way (issue 18).
    func testParameterIsNamedByTheFrontEnd() {
        let e = ConvLensError(.outOfRange, parameter: "channel", "channel 9 is out of range: layer 'c' has channels 0-7")
        XCTAssertNil(e.file)
        XCTAssertEqual(e.line, "channel: channel 9 is out of range: layer 'c' has channels 0-7")
        XCTAssertEqual(e.naming { "--\($0)" }.line, "--channel: channel 9 is out of range: layer 'c' has channels 0-7")
        XCTAssertEqual(e.naming { $0 == "channel" ? "unit" : $0 }.description, "unit: channel 9 is out of range: layer 'c' has channels 0-7")
        // A parameter error keeps its subject when a caller attributes errors to its input file.
        XCTAssertEqual(e.attributed(to: "image.png").line, e.line)
        // Naming leaves a file error alone.
        let f = ConvLensError(.malformedFile, file: "m.onnx", "truncated")
        XCTAssertEqual(f.naming { "--\($0)" }, f)
        XCTAssertEqual(ConvLensError(.malformedFile, "truncated").attributed(to: "m.onnx").line, "m.onnx: truncated")
    }

    func testApostrophesInWordsAreNotQuotes() {
        let detail = "the model's input [1, 3, 224, 224] is not an image batch; give a .npy input of the layer's shape, as the guide's table shows; 'conv1'"
        XCTAssertEqual(ConvLensError(.unsupportedFeature, detail).line, detail)
    }

    func testShortMessagesAreUnchangedButForLineBreaks() {
        XCTAssertEqual(ConvLensError(.malformedFile, file: "a.png", "bad\nPNG\r\nfile").line, "a.png: bad PNG file")
    }

    func testLongFilePathKeepsItsStartAndEnd() {
        let path = "/data/" + String(repeating: "d/", count: 200) + "model.onnx"
        let line = ConvLensError(.malformedFile, file: path, "truncated").line
        XCTAssertEqual(line, "\(path.prefix(40))…\(path.suffix(100)): truncated")
    }

    func testLineStopsAtAThousandCharacters() {
        let words = Array(repeating: "word", count: 400).joined(separator: " ")
        let line = ConvLensError(.malformedFile, words).line
        XCTAssertEqual(line.count, 1000)
        XCTAssertTrue(line.hasSuffix("…"))
    }

    func testControlCharactersBecomeSpaces() {
        let e = ConvLensError(.malformedFile, file: "m.onnx", "node 'a\u{1B}[2Jb\u{2028}c\u{0B}d' is bad")
        XCTAssertEqual(e.line, "m.onnx: node 'a [2Jb c d' is bad")
    }

    func testManyUnclosedQuotesTakeLinearTime() {
        // " 'a" repeated: every quote opens, none closes. A quadratic scan of 3 MB would not end.
        let detail = String(repeating: " 'a", count: 1_000_000)
        let start = Date()
        let line = ConvLensError(.malformedFile, detail).line
        XCTAssertEqual(line.count, 1000)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }
}
