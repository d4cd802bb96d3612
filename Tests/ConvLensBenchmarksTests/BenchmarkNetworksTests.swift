import ConvLens
import ConvLensBenchmarks
import Foundation
import TestSupport
import XCTest

/// The in-code benchmark networks (``BenchmarkNetworks``) and ``ONNXModelBuilder``: they import
/// through the ONNX importer with the shapes of the torchvision modules, deterministically.
final class BenchmarkNetworksTests: XCTestCase {
    func shape(_ graph: Graph, _ layer: String) throws -> [Int] {
        try graph.layer(matching: layer).shape.dimensions
    }

    func testAlexNetFeaturesShapesAndFlops() throws {
        let g = try BenchmarkNetworks.alexNetFeatures()
        XCTAssertEqual(g.inputShape, [1, 3, 224, 224])
        XCTAssertEqual(try shape(g, "/features/features.0/Conv"), [1, 64, 55, 55])
        XCTAssertEqual(try shape(g, "/features/features.2/MaxPool"), [1, 64, 27, 27])
        XCTAssertEqual(try shape(g, BenchmarkNetworks.alexNetProbe), [1, 192, 27, 27])
        XCTAssertEqual(try shape(g, "/features/features.12/MaxPool"), [1, 256, 6, 6])
        XCTAssertEqual(g.initializers["features.3.weight"]?.shape, [192, 64, 5, 5])
        // Hand-computed 2·C_out·C_in·k²·H_out·W_out per conv.
        let convs: [Double] = [2 * 64 * 3 * 121 * 55 * 55, 2 * 192 * 64 * 25 * 27 * 27, 2 * 384 * 192 * 9 * 13 * 13,
                               2 * 256 * 384 * 9 * 13 * 13, 2 * 256 * 256 * 9 * 13 * 13]
        XCTAssertEqual(g.forwardConvolutionFlops, convs.reduce(0, +))
        // features.4's backward path crosses features.3 and features.0.
        XCTAssertEqual(g.backwardConvolutionFlops(from: try g.layer(matching: BenchmarkNetworks.alexNetProbe)), convs[0] + convs[1])
    }

    func testVGG16FeaturesShapes() throws {
        let g = try BenchmarkNetworks.vgg16Features()
        XCTAssertEqual(g.nodes.filter { $0.opType == "Conv" }.count, 13)
        XCTAssertEqual(g.nodes.filter { $0.opType == "MaxPool" }.count, 5)
        XCTAssertEqual(try shape(g, "/features/features.28/Conv"), [1, 512, 14, 14])
        XCTAssertEqual(try shape(g, BenchmarkNetworks.vggProbe), [1, 512, 14, 14])
        XCTAssertEqual(try shape(g, "/features/features.30/MaxPool"), [1, 512, 7, 7])
        // conv5_3's backward path is every convolution.
        XCTAssertEqual(g.backwardConvolutionFlops(from: try g.layer(matching: BenchmarkNetworks.vggProbe)),
                       g.forwardConvolutionFlops)
    }

    func testCIFARRecipeShapesAndForward() throws {
        let g = try BenchmarkNetworks.cifar10Recipe()
        XCTAssertEqual(g.inputShape, [1, 3, 32, 32])
        XCTAssertEqual(try shape(g, "/pool1/MaxPool"), [1, 64, 16, 16])
        XCTAssertEqual(try shape(g, "/conv2/Conv"), [1, 64, 16, 16])
        XCTAssertEqual(try shape(g, BenchmarkNetworks.cifarProbe), [1, 64, 16, 16])
        guard let lrn = g.nodes.first(where: { $0.opType == "LRN" })?.op as? LRN else {
            return XCTFail("no LRN node")
        }
        XCTAssertEqual(lrn.size, 9)
        XCTAssertEqual(lrn.alpha, 0.001)
        XCTAssertEqual(lrn.beta, 0.75)
        XCTAssertEqual(lrn.bias, 1)
        var rng = SplitMix64(seed: 1)
        let out = try g.run(rng.normalTensor(g.inputShape)).activation(try g.layer(matching: BenchmarkNetworks.cifarProbe))
        XCTAssertTrue(out.scalars.allSatisfy { $0.isFinite && $0 >= 0 })
        XCTAssertGreaterThan(out.range.max, 0)
    }

    func testWeightsAreFixedAndHeNormal() throws {
        let a = try BenchmarkNetworks.cifar10Recipe(), b = try BenchmarkNetworks.cifar10Recipe()
        XCTAssertEqual(a.initializers, b.initializers)
        let w = a.initializers["conv2.weight"]!
        XCTAssertEqual(w.shape, [64, 64, 5, 5])
        let std = (w.scalars.reduce(0) { $0 + Double($1) * Double($1) } / Double(w.count)).squareRoot()
        XCTAssertEqual(std, (2.0 / 1600).squareRoot(), accuracy: 0.002)
        XCTAssertEqual(a.initializers["conv2.bias"], Tensor(shape: [64], repeating: 0.01))
    }

    func testSplitMix64KnownValues() {
        // Reference values of SplitMix64 with seed 0 (Vigna's splitmix64.c).
        var r = SplitMix64(seed: 0)
        XCTAssertEqual(r.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(r.next(), 0x6E78_9E6A_A1B9_65F4)
    }

    func testSettingBatchSizeRunsMobileNetOnABatch() throws {
        let path = try BundledResources.path(BundledResources.defaultModel)
        let data = try AtomicFile.read(path)
        let one = try Graph(onnx: data, source: path)
        let two = try Graph(onnx: try ONNXRewriting.settingBatchSize(2, of: data, source: path), source: path)
        XCTAssertEqual(two.inputShape, [2, 3, 224, 224])
        XCTAssertEqual(two.shapes["logits"], [2, 1000])
        var rng = SplitMix64(seed: 7)
        let x0 = rng.normalTensor(one.inputShape), x1 = rng.normalTensor(one.inputShape)
        let batch = try two.run(Tensor(shape: two.inputShape, scalars: x0.scalars + x1.scalars)).outputs[0]
        let single = try one.run(x1).outputs[0]
        assertClose(Tensor(shape: [1, 1000], scalars: Array(batch.scalars[1000...])), single, tolerance: 1e-5)
        XCTAssertEqual(two.forwardConvolutionFlops, 2 * one.forwardConvolutionFlops)
    }

    func testSettingBatchSizeRejectsGarbage() {
        XCTAssertThrowsError(try ONNXRewriting.settingBatchSize(2, of: Data([1, 2, 3]), source: "x.onnx"))
    }
}
