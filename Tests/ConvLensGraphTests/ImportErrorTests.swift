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
