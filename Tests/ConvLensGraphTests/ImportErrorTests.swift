import ConvLens
import Foundation
import TestSupport
import XCTest

final class ImportErrorTests: XCTestCase {
    func testBadModelsAreTypedErrorsNamingTheFile() throws {
        let bad = fixture("forward/bad")
        assertThrowsConvLensError(.malformedFile, mentioning: "truncated.onnx") { try Graph.load(onnx: bad + "/truncated.onnx") }
        assertThrowsConvLensError(.malformedFile, mentioning: "random.onnx") { try Graph.load(onnx: bad + "/random.onnx") }
        assertThrowsConvLensError(.unsupportedOperator, mentioning: "weird_node") { try Graph.load(onnx: bad + "/unsupported_op.onnx") }
        assertThrowsConvLensError(.malformedFile, mentioning: "needs") { try Graph.load(onnx: bad + "/initializer_size_mismatch.onnx") }
        assertThrowsConvLensError(.absurdSize, mentioning: "overflow_shape.onnx") { try Graph.load(onnx: bad + "/overflow_shape.onnx") }
        assertThrowsConvLensError(.malformedFile, mentioning: "leaves the model's folder") { try Graph.load(onnx: bad + "/external_escape.onnx") }
        assertThrowsConvLensError(.unreadableFile) { try Graph.load(onnx: bad + "/missing.onnx") }
    }

    func testUnsupportedOperatorListsTheSupportedOnes() {
        assertThrowsConvLensError(.unsupportedOperator, mentioning: "supported: Add, AveragePool") {
            try Graph.load(onnx: fixture("forward/bad/unsupported_op.onnx"))
        }
    }

    func testWrongInputShapeIsAnError() throws {
        let graph = try Graph.load(onnx: fixture("forward/squeeze_excitation/model.onnx"))
        let wrong = try NPY.read(fixture("forward/bad/wrong_input.npy"))
        assertThrowsConvLensError(.shapeMismatch, mentioning: "[1, 8, 9, 9]") { try graph.run(wrong) }
    }
}

/// Parseable but malformed models (Tests/ReferenceGenerators/make_malformed_models.py): each is a
/// typed error naming the problem, never a trap.
final class MalformedModelTests: XCTestCase {
    func testEveryMalformedModelIsATypedError() throws {
        let dir = fixture("malformed")
        let expected = try JSONDecoder().decode([String: String].self, from: try AtomicFile.read(dir + "/expected.json"))
        XCTAssertGreaterThanOrEqual(expected.count, 10)
        for (file, fragment) in expected.sorted(by: { $0.key < $1.key }) {
            do {
                _ = try Graph.load(onnx: dir + "/" + file)
                XCTFail("\(file) imported without an error")
            } catch let e as ConvLensError {
                XCTAssertTrue(e.description.contains(fragment), "\(file): '\(e)' does not mention '\(fragment)'")
                XCTAssertTrue(e.description.contains(file), "\(file): '\(e)' does not name the file")
            }
        }
    }
}
