import ConvLens
import Foundation
import TestSupport
import XCTest

/// Projections against PyTorch float64 autograd with the rule table as custom functions,
/// cross-checked with Captum (Tests/ReferenceGenerators/make_projection_fixtures.py).
final class ProjectionReferenceTests: XCTestCase {
    struct Expected: Decodable {
        struct Ref: Decodable {
            var layer: String
            var tensor: String
            var seed: String
            var channel: Int
            var y: Int?
            var x: Int?
            var position: String?
            var activation: Float?
            var rule: String
            var file: String
        }
        var model: String
        var input: String
        var projections: [Ref]
        var lrn: String?
    }

    static func cases() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: fixture("projection")).sorted()
    }

    func testEveryFixtureMatches() throws {
        let cases = try Self.cases()
        XCTAssertFalse(cases.isEmpty)
        for name in cases {
            for algorithm in [ConvolutionAlgorithm.auto, .fft, .gemm] { try check(name, algorithm: algorithm) }
        }
    }

    /// The same projection twice (FFT and auto) gives bit-identical tensors.
    func testProjectionIsDeterministic() throws {
        let graph = try Graph.load(onnx: try BundledResources.path(BundledResources.defaultModel))
        let input = try Model(path: graph.source, graph: graph).input(from: nil)
        let trace = try graph.run(input.tensor)
        let layer = try graph.layer(matching: "/features/features.6/Add")
        let seeds = (0..<4).map { Seed.unit(channel: $0) }
        for algorithm in [ConvolutionAlgorithm.fft, .auto] {
            var projector = Projector(trace: trace)
            projector.algorithm = algorithm
            let a = try projector.project(layer: layer, seeds: seeds, rule: .guided)
            let b = try projector.project(layer: layer, seeds: seeds, rule: .guided)
            XCTAssertEqual(a.count, seeds.count)
            XCTAssertEqual(b.count, seeds.count)
            for (x, y) in zip(a, b) { XCTAssertEqual(x.tensor.scalars, y.tensor.scalars, "\(algorithm)") }
            XCTAssertEqual(a[0].algorithm, algorithm == .fft ? "fft" : "auto:direct+gemm")
        }
    }

    private func check(_ name: String, algorithm: ConvolutionAlgorithm) throws {
        let dir = fixture("projection/\(name)")
        let e = try JSONDecoder().decode(Expected.self, from: try AtomicFile.read(dir + "/expected.json"))
        let modelPath = e.model == "bundled:mobilenetv2" ? try BundledResources.path(BundledResources.defaultModel) : fixture(e.model)
        let graph = try Graph.load(onnx: modelPath)
        let trace = try graph.run(try NPY.read(dir + "/" + e.input))
        var projector = Projector(trace: trace)
        projector.lrn = e.lrn == "passthrough" ? .passthrough : .gradient
        projector.algorithm = algorithm
        // Group references by (layer, rule) so each group runs as one batch.
        var groups: [String: [Expected.Ref]] = [:]
        for r in e.projections { groups["\(r.tensor)|\(r.rule)", default: []].append(r) }
        for (_, refs) in groups.sorted(by: { $0.key < $1.key }) {
            let layer = try graph.layer(matching: refs[0].tensor)
            XCTAssertEqual(layer.name, refs[0].layer, "\(name): canonical name")
            let seeds: [Seed] = refs.map { r in
                if r.seed == "map" { return .map(channel: r.channel) }
                // Argmax seeds use the default position, so ConvLens's own argmax is tested too.
                if r.position == "argmax" { return .unit(channel: r.channel) }
                return .unit(channel: r.channel, y: r.y, x: r.x)
            }
            let rule = ProjectionRule(rawValue: refs[0].rule)!
            let got = try projector.project(layer: layer, seeds: seeds, rule: rule)
            XCTAssertEqual(got.count, refs.count, "\(name): one projection per seed")
            for (p, r) in zip(got, refs) {
                if r.seed == "unit", let y = r.y, let x = r.x {
                    XCTAssertEqual(p.seed.y, y, "\(name) \(r.file): argmax row")
                    XCTAssertEqual(p.seed.x, x, "\(name) \(r.file): argmax column")
                }
                if let a = r.activation, r.seed == "unit" {
                    XCTAssertEqual(p.seed.activation, a, accuracy: 1e-4 * max(1, abs(a)), "\(name) \(r.file)")
                }
                assertClose(p.tensor, try NPY.read(dir + "/" + r.file), tolerance: 1e-4, "\(algorithm) \(name) \(r.file) \(r.layer) \(r.seed) c\(r.channel) \(r.rule)")
            }
        }
    }

    func testBatchEqualsLoop() throws {
        let graph = try Graph.load(onnx: try BundledResources.path(BundledResources.defaultModel))
        let input = try Model(path: graph.source, graph: graph).input(from: nil)
        let trace = try graph.run(input.tensor)
        let layer = try graph.layer(matching: "/features/features.6/Add")
        let seeds = (0..<16).map { Seed.unit(channel: $0) }
        for rule in ProjectionRule.allCases {
            let batch = try Projector(trace: trace).project(layer: layer, seeds: seeds, rule: rule)
            for (i, s) in seeds.enumerated() {
                let single = try Projector(trace: trace).project(layer: layer, seeds: [s], rule: rule)[0]
                assertClose(batch[i].tensor, single.tensor, tolerance: 1e-6, "\(rule) seed \(i)")
            }
            // A small memory budget forces chunks; results must not change.
            var chunked = Projector(trace: trace)
            chunked.memoryBudget = 1
            let c = try chunked.project(layer: layer, seeds: seeds, rule: rule)
            for i in 0..<seeds.count { assertClose(c[i].tensor, batch[i].tensor, tolerance: 1e-6) }
        }
    }

    /// Receptive-field windows change nothing but the work: on models with strided convolutions,
    /// max-pool switches, LRN and batch normalization, windowed projections equal whole-map ones
    /// (1e-6 relative), a batch of 16 equals 16 single projections, and the windows remove work.
    func testWindowsEqualWholeMapsAndBatchEqualsSingles() throws {
        let cases: [(model: String, input: String, layer: String)] = [
            ("forward/alexnet/model.onnx", "projection/alexnet", "/features/features.4/Relu_output_0"),
            ("forward/vgg_lrn_bn/model.onnx", "projection/vgg_lrn_bn", "/relu2/Relu_output_0"),
        ]
        for c in cases {
            let graph = try Graph.load(onnx: fixture(c.model))
            let e = try JSONDecoder().decode(Expected.self, from: try AtomicFile.read(fixture(c.input) + "/expected.json"))
            let trace = try graph.run(try NPY.read(fixture(c.input) + "/" + e.input))
            let layer = try graph.layer(matching: c.layer)
            let (channels, h, w) = (layer.shape[1], layer.shape[2], layer.shape[3])
            // Corners, edges and the interior, so windows are clipped differently per seed.
            let positions = [(0, 0), (h - 1, w - 1), (0, w / 2), (h / 2, 0), (h / 2, w / 2), (h - 1, 1), (1, w - 2), (h / 3, 2 * w / 3)]
            let seeds = (0..<16).map { i -> Seed in
                let (y, x) = positions[i % positions.count]
                return .unit(channel: (i * 7) % channels, y: y, x: x)
            }
            for rule in ProjectionRule.allCases {
                let log = AlgorithmLog()
                let windowed = try Projector(trace: trace).project(layer: layer, seeds: seeds, rule: rule, log: log)
                var whole = Projector(trace: trace)
                whole.windows = false
                let dense = try whole.project(layer: layer, seeds: seeds, rule: rule)
                XCTAssertLessThan(log.convolutionFlops, 0.9 * log.denseConvolutionFlops, "\(c.layer): windows remove work")
                for i in seeds.indices {
                    assertClose(windowed[i].tensor, dense[i].tensor, tolerance: 1e-6, "\(c.layer) \(rule) seed \(i): windows vs whole maps")
                    let single = try Projector(trace: trace).project(layer: layer, seeds: [seeds[i]], rule: rule)[0]
                    assertClose(windowed[i].tensor, single.tensor, tolerance: 1e-6, "\(c.layer) \(rule) seed \(i): batch vs single")
                }
            }
        }
    }
}
