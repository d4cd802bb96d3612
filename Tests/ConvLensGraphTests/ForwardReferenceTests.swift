import ConvLens
import Foundation
import TestSupport
import XCTest

/// Forward activations against ONNX Runtime (Tests/ReferenceGenerators/make_forward_fixtures.py).
final class ForwardReferenceTests: XCTestCase {
    struct Expected: Decodable {
        struct LayerRef: Decodable {
            var tensor: String
            var node: String
            var op: String
            var file: String
            var channels: [Int]?
        }
        var model: String
        var input: String
        var layers: [LayerRef]
        var model_variants: [String]?
    }

    static let cases = [
        "mobilenetv2", "alexnet", "vgg_lrn_bn", "pool_variants", "nhwc_transpose", "squeeze_excitation",
        "clip_opset7", "clip_opset13", "pad_opset7", "pad_opset13", "split_opset11", "split_opset13", "split_opset18",
        "softmax_opset11", "softmax_opset13", "squeeze_opset11", "squeeze_opset13", "reducemean_opset13",
        "reducemean_opset18", "reshape_shape_chain", "convtranspose_opset13", "gemm_opset7", "float16_weights",
        "external_ok", "convnext", "convnext_opset13", "activation_zoo", "groupnorm_opset21",
    ]

    func testEveryCaseCoversTheFixtureFolder() throws {
        let dirs = try FileManager.default.contentsOfDirectory(atPath: fixture("forward")).filter { $0 != "bad" }
        XCTAssertEqual(Set(dirs), Set(Self.cases))
    }

    func testForwardMatchesONNXRuntime() throws {
        for name in Self.cases {
            try check(name)
        }
    }

    private func check(_ name: String) throws {
        let dir = fixture("forward/\(name)")
        let expected = try JSONDecoder().decode(Expected.self, from: try AtomicFile.read(dir + "/expected.json"))
        var models = [expected.model == "bundled:mobilenetv2" ? try BundledResources.path(BundledResources.defaultModel) : dir + "/" + expected.model]
        models += (expected.model_variants ?? []).map { dir + "/" + $0 }
        let input = try NPY.read(dir + "/" + expected.input)
        for modelPath in models {
            let graph = try Graph.load(onnx: modelPath)
            let trace = try graph.run(input)
            for ref in expected.layers {
                let layer = try graph.layer(matching: ref.tensor)
                XCTAssertEqual(layer.opType, ref.op, "\(name): \(ref.tensor)")
                if !ref.node.isEmpty {
                    XCTAssertTrue(layer.name == ref.node || layer.name.hasPrefix(ref.node + ":"), "\(name): layer name \(layer.name) vs node \(ref.node)")
                    XCTAssertEqual(try graph.layer(matching: layer.name).tensorName, ref.tensor)
                }
                var actual = trace.activation(layer)
                if let ch = ref.channels {
                    actual = Reshaping.slice(actual, starts: [ch[0]], ends: [ch[1]], axes: [1], steps: [1])
                }
                let want = try NPY.read(dir + "/" + ref.file)
                assertClose(actual, want, tolerance: 1e-4, "\(name) [\(URL(fileURLWithPath: modelPath).lastPathComponent)] \(ref.tensor) (\(ref.op))")
            }
            // The forward pass without a trace (activations fused into the convolutions that only
            // they read, tensors dropped after their last reader) computes the same values.
            let fused = Set(graph.fusions.values.map(\.intermediate))
            let keep = Set(expected.layers.map(\.tensor)).subtracting(fused)
            let evaluated = try graph.evaluate(input, keep: keep)
            XCTAssertEqual(Set(evaluated.keys), keep, name)
            for t in keep {
                XCTAssertEqual(evaluated[t]?.scalars, trace.values[t]?.scalars, "\(name): evaluate vs run, \(t)")
            }
        }
    }

    func testForwardWithoutTraceFusesActivationsAndEqualsTheTrace() throws {
        let graph = try Graph.load(onnx: try BundledResources.path(BundledResources.defaultModel))
        // MobileNetV2: every Conv except the projections (no activation) and the classifier's is
        // followed by a Clip (ReLU6) that alone reads it.
        let clips = graph.fusions.values.filter { graph.nodes[$0.activationNode].opType == "Clip" }
        XCTAssertEqual(clips.count, 35)
        XCTAssertEqual(graph.fusions.count, 35)
        for (conv, f) in graph.fusions {
            XCTAssertEqual(graph.nodes[conv].opType, "Conv")
            XCTAssertEqual(graph.nodes[f.activationNode].inputs.first, f.intermediate)
            XCTAssertEqual(f.activation, .clamp(lower: 0, upper: 6))
        }
        var rng = SplitMix64(seed: 7)
        let input = rng.normalTensor(graph.inputShape)
        let trace = try graph.run(input)
        let out = try graph.evaluate(input)
        XCTAssertEqual(Set(out.keys), Set(graph.outputNames))
        XCTAssertEqual(out[graph.outputNames[0]]?.scalars, trace.values[graph.outputNames[0]]?.scalars)
        // Keeping a fused pair's convolution output computes it (no fusion there) and still agrees.
        let f = graph.fusions.values.sorted { $0.activationNode < $1.activationNode }[3]
        let both = try graph.evaluate(input, keep: [f.intermediate, f.output])
        XCTAssertEqual(both[f.intermediate]?.scalars, trace.values[f.intermediate]?.scalars)
        XCTAssertEqual(both[f.output]?.scalars, trace.values[f.output]?.scalars)
        XCTAssertTrue(both[f.intermediate]!.scalars.contains { $0 < 0 }, "the pre-activation keeps its negative values")
        XCTAssertThrowsError(try graph.evaluate(Tensor(shape: [1, 3, 8, 8])))
    }

    func testLayerQueriesByNameTensorAndRow() throws {
        let graph = try Graph.load(onnx: try BundledResources.path(BundledResources.defaultModel))
        let byName = try graph.layer(matching: "/features/features.0/features.0.0/Conv")
        XCTAssertEqual(byName.tensorName, "/features/features.0/features.0.0/Conv_output_0")
        XCTAssertEqual(try graph.layer(matching: byName.tensorName), byName)
        XCTAssertEqual(try graph.layer(matching: "#\(byName.index)"), byName)
        XCTAssertEqual(byName.shape, [1, 32, 112, 112])
        assertThrowsConvLensError(.unknownLayer, mentioning: "'/features/features.0/features.0.0/Conv'") {
            try graph.layer(matching: "/features/features.0/features.0.0/Cnv")
        }
        assertThrowsConvLensError(.unknownLayer, mentioning: "#0 to") { try graph.layer(matching: "#100000") }
    }

    func testReceptiveFieldsOfMobileNetV2() throws {
        let graph = try Graph.load(onnx: try BundledResources.path(BundledResources.defaultModel))
        let rf = graph.receptiveFields()
        // First conv: 3×3 stride 2 pad 1 → size 3, jump 2, centre of unit 0 at pixel 0.
        let first = rf["/features/features.0/features.0.0/Conv_output_0"]!
        XCTAssertEqual([first.size, first.jump, first.offset], [[3, 3], [2, 2], [0, 0]])
        XCTAssertFalse(first.global)
        // The depthwise 3×3 that follows (stride 1, pad 1): size 3 + 2·2 = 7, jump 2.
        let dw = rf["/features/features.1/conv/conv.0/conv.0.0/Conv_output_0"]!
        XCTAssertEqual(dw.size, [7, 7])
        XCTAssertEqual(dw.jump, [2, 2])
        XCTAssertEqual(rf["/features/features.18/features.18.2/Clip_output_0"]!.jump, [32, 32])
    }

    /// Squeeze-excitation gates and channel shuffles keep the spatial field (and mark global
    /// context); global pooling sees the whole input; no field is larger than the input plus the
    /// padding on its path (the fields used to multiply after every gate).
    func testReceptiveFieldsThroughGatesShufflesAndGlobalPooling() throws {
        let graph = try Graph.load(onnx: fixture("forward/activation_zoo/model.onnx"))
        let rf = graph.receptiveFields()
        func field(_ node: String) throws -> ReceptiveField { rf[try graph.layer(matching: node).tensorName]! }
        // conv1 3×3 (size 3) → conv2 3×3 s2 (5, jump 2) → conv3 (9) → shuffle → conv4 (13) → conv5 (17).
        XCTAssertEqual(try field("/conv3/Conv").size, [9, 9])
        let shuffled = graph.layers.filter { $0.opType == "Reshape" }.last!
        XCTAssertEqual(rf[shuffled.tensorName]!.size, [9, 9])
        XCTAssertEqual(rf[shuffled.tensorName]!.jump, [2, 2])
        let conv5 = try field("/conv5/Conv")
        XCTAssertEqual([conv5.size, conv5.jump, conv5.offset], [[17, 17], [2, 2], [0, 0]])
        // GroupNorm (Reshape → InstanceNormalization → Reshape) normalizes over the map: global
        // context from there on, the local field unchanged.
        XCTAssertFalse(try field("/conv1/Conv").global)
        XCTAssertTrue(conv5.global)
        XCTAssertEqual(try field("/prelu/PRelu").size, [3, 3])
        let gated = try field("/Mul")
        XCTAssertEqual([gated.size, gated.jump, gated.offset], [conv5.size, conv5.jump, conv5.offset])
        XCTAssertTrue(gated.global)
        XCTAssertEqual(try field("/hswish/HardSwish").size, [17, 17])
        // Global pooling and the classifier see the whole input, padding included (bounded).
        let fc = try field("/fc/Gemm")
        XCTAssertTrue(fc.global)
        for (name, f) in rf {
            XCTAssertTrue(f.size.allSatisfy { $0 >= 1 && $0 <= 32 + 16 }, "\(name): \(f.size)")
            XCTAssertTrue(f.jump.allSatisfy { $0 <= 32 + 16 }, "\(name): \(f.jump)")
        }
        // Crops of every layer are bounded too.
        for layer in graph.layers where layer.shape.rank == 4 {
            let box = try graph.fieldBox(layer, y: 0, x: 0)
            XCTAssertLessThanOrEqual(box.height * box.width, 48 * 48, layer.name)
        }
    }

    /// ConvNeXt's channels-last blocks (Transpose → LayerNorm → MatMul → Transpose) keep the map.
    func testReceptiveFieldsOfConvNeXt() throws {
        let graph = try Graph.load(onnx: fixture("forward/convnext/model.onnx"))
        let rf = graph.receptiveFields()
        // Stem 4×4 stride 4 (size 4, jump 4), depthwise 7×7 pad 3: 4 + 6·4 = 28.
        let block = rf[try graph.layer(matching: "/features/features.1/features.1.0/Add").tensorName]!
        XCTAssertEqual([block.size, block.jump], [[28, 28], [4, 4]])
        XCTAssertFalse(block.global)
        // Inside the block the map sits in axes 1 and 2: same field, and crops refuse it cleanly.
        let norm = try graph.layer(matching: "/features/features.1/features.1.0/block/block.2/LayerNormalization")
        XCTAssertEqual(rf[norm.tensorName]!.mapAxes, [1, 2])
        XCTAssertEqual(rf[norm.tensorName]!.size, [28, 28])
        XCTAssertEqual(block.mapAxes, [2, 3])
        XCTAssertThrowsError(try graph.fieldBox(norm, y: 0, x: 0)) { error in
            XCTAssertTrue("\(error)".contains("channels-last"), "\(error)")
        }
    }

    /// Every operator the model lacks is named at once, with its first node.
    func testUnsupportedOperatorsAreListedTogether() throws {
        // Same-length replacements keep the protobuf's length prefixes valid.
        var data = try AtomicFile.read(fixture("forward/groupnorm_opset21/model.onnx"))
        data = data.replacing(Data("GroupNormalization".utf8), with: Data("GroupNormalizatiox".utf8))
        data = data.replacing(Data("Relu".utf8), with: Data("Relx".utf8))
        XCTAssertThrowsError(try Graph(onnx: data, source: "m.onnx")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("2 operators not supported: 'GroupNormalizatiox' (node 'gn'), 'Relx' (node 'relu')"), text)
        }
    }
}
