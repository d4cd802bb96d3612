import ConvLens
import Foundation
import TestSupport
import XCTest

/// A one-conv-one-pool model whose projections are written out by hand.
///
/// input x (4×4):  1  0  2  1      conv 2×2, w = [[1, 2], [3, 4]], bias 0.5 → 3×3:
///                 0  1  0  3        5.5   7.5  16.5
///                 2 -5  1  0      −11.5  −9.5   9.5
///                 1  0  2  1       −4.5   5.5  11.5
/// ReLU, then max-pool 2×2 stride 2 → one unit: max(5.5, 7.5, 0, 0) = 7.5 at (0, 1).
final class HandComputedProjectionTests: XCTestCase {
    private func setUpTrace() throws -> (Graph, Trace) {
        let graph = try Graph.load(onnx: fixture("projection/handmade/model.onnx"))
        let trace = try graph.run(try NPY.read(fixture("projection/handmade/input.npy")))
        return (graph, trace)
    }

    func testForwardValues() throws {
        let (graph, trace) = try setUpTrace()
        XCTAssertEqual(trace.activation(try graph.layer(matching: "pool")).scalars, [7.5])
        XCTAssertEqual(trace.activation(try graph.layer(matching: "#0")).scalars, [5.5, 7.5, 16.5, -11.5, -9.5, 9.5, -4.5, 5.5, 11.5])
    }

    func testPoolUnitProjectsTheKernelAtTheSwitch() throws {
        let (graph, trace) = try setUpTrace()
        // The switch picks conv output (0, 1), whose ReLU input 7.5 is positive: every rule passes 1,
        // and the transposed convolution places the kernel at (0, 1).
        let expected: [Float] = [0, 1, 2, 0,
                                 0, 3, 4, 0,
                                 0, 0, 0, 0,
                                 0, 0, 0, 0]
        for rule in ProjectionRule.allCases {
            let p = try Projector(trace: trace).project(layer: try graph.layer(matching: "pool"), seeds: [.unit(channel: 0)], rule: rule)
            XCTAssertEqual(p[0].seed.y, 0)
            XCTAssertEqual(p[0].seed.activation, 7.5)
            XCTAssertEqual(p[0].tensor.scalars, expected, "\(rule)")
        }
    }

    func testRulesDifferAtANegativeReLUInput() throws {
        let (graph, trace) = try setUpTrace()
        let relu = graph.layers.first { $0.opType == "Relu" }!
        // Unit (1, 0) of the ReLU: its input is −11.5. Deconvnet ignores the forward mask and passes
        // max(1, 0) = 1 (kernel placed at (1, 0)); guided and backprop are masked to zero.
        let kernelAt10: [Float] = [0, 0, 0, 0,
                                   1, 2, 0, 0,
                                   3, 4, 0, 0,
                                   0, 0, 0, 0]
        let projector = Projector(trace: trace)
        let seed = Seed.unit(channel: 0, y: 1, x: 0)
        XCTAssertEqual(try projector.project(layer: relu, seeds: [seed], rule: .deconvnet)[0].tensor.scalars, kernelAt10)
        XCTAssertEqual(try projector.project(layer: relu, seeds: [seed], rule: .guided)[0].tensor.scalars, [Float](repeating: 0, count: 16))
        XCTAssertEqual(try projector.project(layer: relu, seeds: [seed], rule: .backprop)[0].tensor.scalars, [Float](repeating: 0, count: 16))
        // A map seed on the ReLU: the seed is the ReLU output itself; backprop gives Σ a_ij · kernel at (i, j).
        let map = try projector.project(layer: relu, seeds: [.map(channel: 0)], rule: .backprop)[0].tensor
        XCTAssertEqual(map[0, 0, 0, 0], 5.5)              // only a_00 · w_00
        XCTAssertEqual(map[0, 0, 0, 1], 7.5 + 5.5 * 2)    // a_01 · w_00 + a_00 · w_01
    }

    func testOutOfRangeSeedsAreErrors() throws {
        let (graph, trace) = try setUpTrace()
        let pool = try graph.layer(matching: "pool")
        assertThrowsConvLensError(.outOfRange, parameter: "channel") {
            try Projector(trace: trace).project(layer: pool, seeds: [.unit(channel: 1)], rule: .guided)
        }
        assertThrowsConvLensError(.outOfRange, parameter: "at") {
            try Projector(trace: trace).project(layer: pool, seeds: [.unit(channel: 0, y: 1, x: 0)], rule: .guided)
        }
    }
}
