import ConvLens
import Foundation
import TestSupport
import XCTest

/// Projections on Keras models against Keras 3 itself running in float64 on its PyTorch backend,
/// with the rectifiers replaced by the rule table (make_keras_projection_fixtures.py).
final class KerasProjectionReferenceTests: XCTestCase {
    struct Expected: Decodable {
        struct Ref: Decodable {
            var model: String
            var model_h5: String
            var input: String
            var layer: String
            var seed: String
            var channel: Int
            var rule: String
            var file: String
            var y: Int?
            var x: Int?
            var position: String?
        }
        var projections: [Ref]
    }

    func testKerasProjectionsMatchFloat64References() throws {
        let e = try JSONDecoder().decode(Expected.self, from: try AtomicFile.read(fixture("keras_projection/expected.json")))
        XCTAssertGreaterThan(e.projections.count, 50)
        let byModel = Dictionary(grouping: e.projections, by: \.model)
        XCTAssertEqual(Set(byModel.keys), ["keras/seq.keras", "keras/func.keras"])
        for (_, refs) in byModel.sorted(by: { $0.key < $1.key }) {
            for path in [refs[0].model, refs[0].model_h5] {
                let graph = try Graph.load(keras: fixture(path))
                let trace = try graph.run(try NPY.read(fixture(refs[0].input)))
                let groups = Dictionary(grouping: refs) { "\($0.layer)|\($0.rule)" }
                for (_, group) in groups.sorted(by: { $0.key < $1.key }) {
                    let layer = try graph.layer(matching: group[0].layer)
                    let seeds: [Seed] = group.map { r in
                        if r.seed == "map" { return .map(channel: r.channel) }
                        if r.position == "argmax" || r.y == nil { return .unit(channel: r.channel) }
                        return .unit(channel: r.channel, y: r.y, x: r.x)
                    }
                    let got = try Projector(trace: trace).project(layer: layer, seeds: seeds, rule: ProjectionRule(rawValue: group[0].rule)!)
                    XCTAssertEqual(got.count, group.count)
                    for (p, r) in zip(got, group) {
                        if r.position == "argmax", let y = r.y, let x = r.x {
                            XCTAssertEqual([p.seed.y, p.seed.x], [y, x], "\(path) \(r.file): argmax")
                        }
                        assertClose(p.tensor, try NPY.read(fixture("keras_projection/" + r.file)), tolerance: 1e-4,
                                    "\(path) \(r.file) \(r.layer) \(r.seed) c\(r.channel) \(r.rule)")
                    }
                }
            }
        }
    }
}
