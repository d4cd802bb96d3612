import ConvLens
import Foundation
import TestSupport
import XCTest

/// Grad-CAM, guided Grad-CAM and occlusion against Captum in float64
/// (Tests/ReferenceGenerators/make_attribution_fixtures.py).
final class AttributionReferenceTests: XCTestCase {
    struct Expected: Decodable {
        struct Unit: Decodable {
            var layer: String
            var channel: Int
            var y: Int
            var x: Int
        }
        struct CAM: Decodable {
            var file: String
            var relu: Bool
            var layer: String
            var `class`: Int?
            var guided: [String: String]?
            var unit: Unit?
        }
        struct Occlusion: Decodable {
            var file: String
            var window: Int
            var stride: Int
            var target: String
            var probability: String
            var top: String
            var unit_map: String
            var `class`: Int
            var unit: Unit
        }
        var model: String
        var input: String
        var gradcam: [CAM]
        var occlusion: [Occlusion]
    }

    static let cases = ["cnn", "resnet"]

    func load(_ name: String) throws -> (Expected, Model, Trace, String) {
        let dir = fixture("attribution/\(name)")
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json")))
        let model = try Model.load(dir + "/" + expected.model)
        let trace = try model.run(try model.input(from: dir + "/" + expected.input))
        return (expected, model, trace, dir)
    }

    func testGradCAMMatchesCaptum() throws {
        var checked = 0
        for name in Self.cases {
            let (expected, model, trace, dir) = try load(name)
            XCTAssertEqual(expected.gradcam.count, 3)
            for ref in expected.gradcam {
                var request = GradCAMRequest(layer: ref.layer)
                request.relu = ref.relu
                if let c = ref.class {
                    request.targets = [.classIndex(c)]
                } else if let u = ref.unit {
                    request.targets = [.unit(layer: u.layer, channel: u.channel, y: u.y, x: u.x)]
                    request.guided = false
                }
                for mode in GradCAMRequest.Interpolation.allCases {
                    request.interpolation = mode
                    let results = try model.gradCAM(request, trace: trace)
                    XCTAssertEqual(results.count, 1)
                    let r = results[0]
                    assertClose(r.map, try NPY.read(dir + "/" + ref.file), tolerance: 1e-5, "\(name) \(ref.file)")
                    if ref.relu { XCTAssertGreaterThanOrEqual(r.map.scalars.min()!, 0) }
                    if let file = ref.guided?[mode.rawValue] {
                        let g = try XCTUnwrap(r.guided)
                        assertClose(g, try NPY.read(dir + "/" + file), tolerance: 1e-5, "\(name) \(file)")
                        checked += 1
                    }
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 2 * 3 * 2 + 2 * 2 * 2)
    }

    /// Several targets in one request give what each gives alone (one batched backward pass).
    func testGradCAMBatchesTargets() throws {
        let (expected, model, trace, _) = try load("cnn")
        var request = GradCAMRequest(layer: expected.gradcam[0].layer)
        request.targets = [.classIndex(0), .topClass, .classIndex(3)]
        let together = try model.gradCAM(request, trace: trace)
        XCTAssertEqual(together.count, 3)
        for (k, target) in request.targets.enumerated() {
            var one = request
            one.targets = [target]
            let alone = try model.gradCAM(one, trace: trace)[0]
            XCTAssertEqual(alone.target, together[k].target)
            assertClose(together[k].map, alone.map, tolerance: 1e-6)
            assertClose(together[k].guided!, alone.guided!, tolerance: 1e-6)
        }
        XCTAssertEqual(together[1].target.channel, expected.gradcam[0].class)
    }

    func testGradCAMRejectsBadLayersAndTargets() throws {
        let (expected, model, trace, _) = try load("cnn")
        var request = GradCAMRequest(layer: "/fc/Gemm")
        assertThrowsConvLensError(.unsupportedFeature, mentioning: "[1, C, H, W]") { try model.gradCAM(request, trace: trace) }
        request.layer = expected.gradcam[0].layer
        request.targets = [.classIndex(10)]
        assertThrowsConvLensError(.outOfRange, mentioning: "class 10") { try model.gradCAM(request, trace: trace) }
        // A unit computed before the weighted layer: its signal cannot reach it.
        request.targets = [.unit(layer: "/features/features.2/Relu", channel: 0)]
        assertThrowsConvLensError(.invalidArgument, mentioning: "comes after") { try model.gradCAM(request, trace: trace) }
    }

    func testOcclusionMatchesCaptum() throws {
        var checked = 0
        for name in Self.cases {
            let (expected, model, trace, dir) = try load(name)
            for ref in expected.occlusion {
                for incremental in [true, false] {
                    var request = OcclusionRequest()
                    request.window = ref.window
                    request.stride = ref.stride
                    request.incremental = incremental
                    // The class, the unit, and (for unit cases) the channel's map sum Captum explains.
                    request.targets = [.classIndex(ref.class), .unit(layer: ref.unit.layer, channel: ref.unit.channel, y: ref.unit.y, x: ref.unit.x)]
                    if ref.target == "unit" { request.targets.append(.unit(layer: ref.unit.layer, channel: ref.unit.channel)) }
                    let maps = try model.occlusion(request, trace: trace)
                    let what = "\(name) \(ref.file) incremental \(incremental)"
                    assertClose(maps.values[0], try NPY.read(dir + "/" + ref.probability), tolerance: 1e-5, what)
                    assertClose(maps.values[1], try NPY.read(dir + "/" + ref.unit_map), tolerance: 1e-5, what)
                    XCTAssertEqual(maps.topClass?.scalars, try NPY.read(dir + "/" + ref.top).scalars, what)
                    let attribution = ref.target == "unit" ? maps.attributions[2] : maps.attributions[0]
                    assertClose(attribution, try NPY.read(dir + "/" + ref.file), tolerance: 1e-5, what)
                    if incremental { XCTAssertLessThan(maps.work.computed, maps.work.whole, what) }
                    else { XCTAssertEqual(maps.work.computed, maps.work.whole, what) }
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 2 * 5)
    }

    /// On the bundled MobileNetV2 (Conv, Clip, residual Add, global pooling, Gemm), the incremental
    /// forward pass gives the whole one's values.
    func testIncrementalForwardEqualsWholeOnMobileNetV2() throws {
        let model = try Model.load(nil)
        let trace = try model.run(try model.input(from: nil))
        var request = OcclusionRequest()
        request.window = 48
        request.stride = 88
        request.targets = [.topClass, .unit(layer: "/features/features.6/Add", channel: 3)]
        let fast = try model.occlusion(request, trace: trace)
        request.incremental = false
        let slow = try model.occlusion(request, trace: trace)
        XCTAssertEqual(fast.rows, [0, 88, 176])
        for k in 0..<2 { assertClose(fast.values[k], slow.values[k], tolerance: 1e-5) }
        XCTAssertEqual(fast.topClass?.scalars, slow.topClass?.scalars)
        XCTAssertLessThan(Double(fast.work.computed), 0.8 * Double(fast.work.whole))
    }

    /// Several occluded inputs run together (``Graph/runPatched(_:inputs:keep:promote:)``): each
    /// equals a whole forward pass on it, whether regions are computed whole at once (promote 0),
    /// at half the map, or only from the first node that mixes the map, with stacks formed and
    /// re-formed as inputs reach whole maps at different nodes (corner, edge and centre windows).
    func testBatchedIncrementalForwardEqualsWholePasses() throws {
        let model = try Model.load(nil)
        let graph = model.graph
        let x = try model.input(from: nil).tensor
        let trace = try graph.run(x)
        let keep: Set<String> = ["/features/features.6/Add_output_0", "/features/features.14/conv/conv.0/conv.0.2/Clip_output_0",
                                 graph.nodes.last!.outputs[0]]
        let regions = [MapRegion(top: 0, left: 0, bottom: 32, right: 32), MapRegion(top: 96, left: 96, bottom: 128, right: 128),
                       MapRegion(top: 200, left: 50, bottom: 224, right: 70), MapRegion(top: 10, left: 180, bottom: 60, right: 224)]
        let inputs = regions.map { r -> PatchedInput in
            var t = x
            for ch in 0..<3 { for y in r.top..<r.bottom { for xx in r.left..<r.right { t.scalars[(ch * 224 + y) * 224 + xx] = 0 } } }
            return PatchedInput(t, region: r)
        }
        let wholes = try inputs.map { try graph.run($0.input) }
        for promote in [0, 0.5, 1.1] {
            let got = graph.runPatched(trace, inputs: inputs, keep: keep, promote: promote)
            XCTAssertEqual(got.count, inputs.count)
            for (k, (values, work)) in got.enumerated() {
                for name in keep { assertClose(values[name]!, wholes[k].values[name]!, tolerance: 1e-5, "\(name) input \(k) promote \(promote)") }
                if promote > 1 { XCTAssertLessThan(work.computed, work.whole) }
                // Inputs did run stacked (the 7×7 tail at least), more of them the earlier regions go whole.
                XCTAssertGreaterThan(work.stacked, 0, "input \(k) promote \(promote)")
                if promote == 0 { XCTAssertGreaterThan(work.stacked, work.computed / 2, "input \(k)") }
            }
        }
    }

    /// Inputs that must not stack naively: a Concat with a constant map, a Mul whose first input is
    /// a computed `[C, 1, 1]` scale, an Add of a `[1, H, W]` tensor to a `[1, C, H, W]` one
    /// (`make_patched_run_fixtures.py`). Stacked or not, every input equals its whole pass.
    func testStackedInputsThroughConcatConstantsAndLowerRanks() throws {
        let dir = fixture("attribution/stack_shapes")
        let model = try Model.load(dir + "/model.onnx")
        let graph = model.graph
        let x = try model.input(from: fixture("attribution/gate_avgpool/input.npy")).tensor
        let trace = try graph.run(x)
        let regions = [MapRegion(top: 0, left: 0, bottom: 5, right: 5), MapRegion(top: 6, left: 6, bottom: 11, right: 11),
                       MapRegion(top: 11, left: 3, bottom: 16, right: 8)]
        let inputs = regions.map { r -> PatchedInput in
            var t = x
            for ch in 0..<3 { for y in r.top..<r.bottom { for xx in r.left..<r.right { t.scalars[(ch * 16 + y) * 16 + xx] = 0.5 } } }
            return PatchedInput(t, region: r)
        }
        let keep: Set<String> = ["cat", "m", "a", "logits"]
        for promote in [0, 0.5, 1.1] {
            for (k, (values, work)) in graph.runPatched(trace, inputs: inputs, keep: keep, promote: promote).enumerated() {
                let whole = try graph.run(inputs[k].input)
                for name in keep { assertClose(values[name]!, whole.values[name]!, tolerance: 1e-5, "\(name) input \(k) promote \(promote)") }
                if promote == 0 { XCTAssertGreaterThan(work.stacked, 0) }
            }
        }
    }

    /// A gate computed by a window operator (AveragePool over the whole map) changes with every
    /// window: the incremental pass must recompute the whole gated tensor.
    func testIncrementalForwardThroughAWindowedGate() throws {
        let dir = fixture("attribution/gate_avgpool")
        let model = try Model.load(dir + "/model.onnx")
        let trace = try model.run(try model.input(from: dir + "/input.npy"))
        var request = OcclusionRequest()
        (request.window, request.stride) = (5, 3)
        request.targets = [.classIndex(0), .unit(layer: "scaled", channel: 1, y: 2, x: 12)]
        let fast = try model.occlusion(request, trace: trace)
        request.incremental = false
        let slow = try model.occlusion(request, trace: trace)
        for k in 0..<2 { assertClose(fast.values[k], slow.values[k], tolerance: 1e-6) }
    }

    /// A Softmax followed by a Flatten: the scores are the Softmax's input, and neither classify
    /// nor occlusion applies a second softmax.
    func testScoresBehindShapeOnlyNodes() throws {
        let model = try Model.load(fixture("attribution/softmax_flatten/model.onnx"))
        XCTAssertEqual(try model.scoreLayer().name, "scores")
        let trace = try model.run(try model.input(from: fixture("attribution/gate_avgpool/input.npy")))
        let probabilities = trace.values["out"]!.scalars
        let top = try model.classify(trace, top: 3)
        for p in top { XCTAssertEqual(p.probability, probabilities[p.index], accuracy: 1e-6) }
        var request = OcclusionRequest()
        (request.window, request.stride) = (16, 16)
        let maps = try model.occlusion(request, trace: trace)
        XCTAssertEqual(maps.clean[0], probabilities[top[0].index], accuracy: 1e-6)
    }

    /// Starts follow Captum (the last window cut at the border); a stride larger than the window
    /// drops starts past the border and leaves the pixels between windows at 0.
    func testWindowPositions() throws {
        var r = OcclusionRequest()
        (r.window, r.stride) = (12, 6)
        XCTAssertEqual(r.positions(40), [0, 6, 12, 18, 24, 30])
        (r.window, r.stride) = (11, 6)
        XCTAssertEqual(r.positions(40), [0, 6, 12, 18, 24, 30])
        (r.window, r.stride) = (16, 250)
        XCTAssertEqual(r.positions(224), [0])
        (r.window, r.stride) = (16, 32)
        XCTAssertEqual(r.positions(224), Array(stride(from: 0, through: 192, by: 32)))
        let (_, model, trace, _) = try load("cnn")
        (r.window, r.stride) = (4, 30)
        let maps = try model.occlusion(r, trace: trace)
        XCTAssertEqual(maps.rows, [0, 30])
        let a = maps.attributions[0]
        XCTAssertEqual(a.scalars[10 * 40 + 10], 0)  // no window covers (10, 10)
    }

    func testOcclusionRejectsAWindowLargerThanTheInput() throws {
        let (_, model, trace, _) = try load("cnn")
        var request = OcclusionRequest()
        request.window = 41
        assertThrowsConvLensError(.outOfRange, mentioning: "40×40") { try model.occlusion(request, trace: trace) }
    }
}
