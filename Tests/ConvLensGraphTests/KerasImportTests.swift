import ConvLens
import Foundation
import TestSupport
import XCTest

/// The Keras importer against Keras 3's own intermediate outputs, transposed to NCHW
/// (Tests/ReferenceGenerators/make_keras_fixtures.py).
final class KerasImportTests: XCTestCase {
    struct Index: Decodable {
        struct Output: Decodable { var layer: String; var npy: String; var shape: [Int] }
        struct ModelRef: Decodable { var model: String; var input: String; var outputs: [Output] }
        var models: [ModelRef]
    }

    func index() throws -> Index {
        try JSONDecoder().decode(Index.self, from: try AtomicFile.read(fixture("keras/index.json")))
    }

    func testActivationsMatchKerasForBothModelsAndBothFormats() throws {
        let idx = try index()
        XCTAssertEqual(idx.models.map(\.model), ["seq", "func"])
        for m in idx.models {
            let input = try NPY.read(fixture("keras/\(m.input)"))
            var traces: [[Tensor]] = []
            for ext in ["keras", "h5"] {
                let model = try Model.load(fixture("keras/\(m.model).\(ext)"))
                XCTAssertEqual(model.graph.inputShape.dimensions, input.shape.dimensions)
                let trace = try model.graph.run(input)
                var acts: [Tensor] = []
                for o in m.outputs {
                    let layer = try model.graph.layer(matching: o.layer)
                    let a = trace.activation(layer)
                    XCTAssertEqual(a.shape.dimensions, o.shape, "\(m.model).\(ext) \(o.layer)")
                    assertClose(a, try NPY.read(fixture("keras/\(o.npy)")), tolerance: 1e-4, "\(m.model).\(ext) \(o.layer)")
                    acts.append(a)
                }
                traces.append(acts)
            }
            // The same model saved as .keras and .h5 gives the same numbers.
            XCTAssertEqual(traces[0].count, traces[1].count, m.model)
            for (a, b) in zip(traces[0], traces[1]) { XCTAssertEqual(a, b, m.model) }
        }
    }

    func testLayerNamesFollowKeras() throws {
        let g = try Graph.load(keras: fixture("keras/seq.keras"))
        let names = g.layers.map(\.name)
        XCTAssertEqual(Array(names.prefix(3)), ["conv1/preactivation", "conv1", "pool1"])
        XCTAssertTrue(names.contains("conv2/sigmoid") && names.contains("sep/depthwise") && names.contains("flat/nhwc"))
        XCTAssertEqual(try g.layer(matching: "conv1").opType, "Relu")
        XCTAssertEqual(try g.layer(matching: "conv1/preactivation").opType, "Conv")
        // Kernels are OIHW.
        let conv = g.nodes.first { $0.name == "conv1/preactivation" }!
        XCTAssertEqual(g.initializers[conv.inputs[1]]!.shape.dimensions, [6, 3, 3, 3])
    }

    /// A Keras layer name works for the commands that need its weights: `conv1` is the fused
    /// activation's `Relu` node, its weights are those of `conv1/preactivation`.
    func testKerasLayerNameGivesItsConvolutionWeights() throws {
        for file in ["keras/seq.keras", "keras/seq.h5"] {
            let model = try Model.load(fixture(file))
            let g = model.graph
            let fw = try model.filterWeights(of: try g.layer(matching: "conv1"))
            XCTAssertEqual(fw.layer.name, "conv1/preactivation", file)
            let conv = g.nodes.first { $0.name == "conv1/preactivation" }!
            XCTAssertEqual(fw.weights, g.initializers[conv.inputs[1]]!, file)
            // A layer that is no convolution at all still fails, naming what it is.
            XCTAssertThrowsError(try model.filterWeights(of: try g.layer(matching: "pool1"))) { error in
                XCTAssertTrue("\(error)".contains("MaxPool layer, not a convolution"), "\(error)")
            }
        }
    }

    func testPreprocessingComesFromRescalingAndNormalization() throws {
        let seq = try Model.load(fixture("keras/seq.h5"))
        XCTAssertEqual(seq.preprocessing.scale, 255, accuracy: 1e-3)
        XCTAssertEqual(seq.preprocessing.mean, [0.5, 0.5, 0.5])
        XCTAssertEqual(seq.preprocessing.std, [1, 1, 1])
        // Normalization(mean m, variance v): (p − m_c) / √v_c, written as (p / S − mean_c) / std_c.
        let f = try Model.load(fixture("keras/func.keras")).preprocessing
        let m: [Float] = [0.4, 0.5, 0.6], sd = [Float(0.05).squareRoot(), Float(0.06).squareRoot(), Float(0.07).squareRoot()]
        for c in 0..<3 {
            for p: Float in [0, 0.3, 1, 200] {
                let ours = (p / f.scale - f.mean[c]) / f.std[c]
                XCTAssertEqual(ours, (p - m[c]) / sd[c], accuracy: 1e-3 * max(1, abs(ours)))
            }
        }
    }

    func testBadKerasFilesAreTypedErrors() {
        assertThrowsConvLensError(.malformedFile, mentioning: "truncated") { try Graph.load(keras: fixture("keras/bad_truncated.h5")) }
        assertThrowsConvLensError(.malformedFile, mentioning: "config.json") { try Graph.load(keras: fixture("keras/bad_noconfig.keras")) }
        assertThrowsConvLensError(.unsupportedOperator, mentioning: "UpSampling2D") { try Graph.load(keras: fixture("keras/bad_unsupported.keras")) }
        assertThrowsConvLensError(.shapeMismatch, mentioning: "conv1") { try Graph.load(keras: fixture("keras/bad_weightshape.h5")) }
        assertThrowsConvLensError(.unreadableFile) { try Graph.load(keras: fixture("keras/missing.keras")) }
    }
}
