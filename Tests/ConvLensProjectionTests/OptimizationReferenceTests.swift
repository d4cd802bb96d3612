import ConvLens
import Foundation
import TestSupport
import XCTest

/// Activation maximization: the objective's gradient against torch float64 autograd for each
/// parameterization and transform (Tests/ReferenceGenerators/make_optimize_fixtures.py), the Fourier
/// image and its adjoint against NumPy, and the transforms' adjoints.
final class OptimizationReferenceTests: XCTestCase {
    struct Expected: Decodable {
        struct Case: Decodable {
            var parameterization: String
            var transforms: [[JSONValue]]
            var gradient: String
            var objective: [Float]
        }
        var model: String
        var layer: String
        var channels: [Int]
        var size: Int
        var tv: Float
        var l2: Float
        var cases: [Case]
    }

    func load() throws -> (Expected, Model) {
        let dir = fixture("optimize")
        let e = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json")))
        return (e, try Model.load(dir + "/" + e.model))
    }

    static func transforms(_ list: [[JSONValue]], size: Int) -> [ImageTransform] {
        func number(_ v: JSONValue) -> Double {
            switch v { case .integer(let i): return Double(i); case .number(let d): return d; default: return .nan }
        }
        var out: [ImageTransform] = list.map { item in
            guard case .string(let kind) = item[0] else { fatalError("bad fixture") }
            switch kind {
            case "pad": return .pad(pixels: Int(number(item[1])), value: 0.5)
            case "jitter":
                guard case .array(let a) = item[1] else { fatalError("bad fixture") }
                return .translate(dy: Int(number(a[0])), dx: Int(number(a[1])))
            case "scale": return .scale(Float(number(item[1])))
            default: return .rotate(degrees: Float(number(item[1])))
            }
        }
        out.append(.fit(height: size, width: size, value: 0.5))
        return out
    }

    func testGradientMatchesTorchForEveryParameterizationAndTransform() throws {
        let (e, model) = try load()
        XCTAssertEqual(e.cases.count, 14)
        for c in e.cases {
            var request = OptimizeRequest(objective: .channelMean(layer: e.layer), channels: e.channels)
            request.parameterization = OptimizeRequest.Parameterization(rawValue: c.parameterization)!
            request.totalVariation = e.tv
            request.l2 = e.l2
            let problem = try OptimizationProblem(model: model, request: request)
            let parameter = try NPY.read(fixture("optimize/param_\(c.parameterization).npy"))
            XCTAssertEqual(parameter.shape, problem.parameterShape)
            let (objective, gradient) = try problem.evaluate(parameter, transforms: Self.transforms(c.transforms, size: e.size))
            let reference = try NPY.read(fixture("optimize/" + c.gradient))
            // The fixture holds the gradient of the loss, minus the objective.
            assertClose(gradient, Tensor(shape: reference.shape, scalars: reference.scalars.map { -$0 }), tolerance: 1e-4, c.gradient)
            // The objective before penalties: the reference's value plus its penalties is not stored,
            // so compare the channel means through a run without penalties below.
            XCTAssertEqual(objective.count, 2)
        }
    }

    func testObjectivesMatchWithoutPenalties() throws {
        let (e, model) = try load()
        var request = OptimizeRequest(objective: .channelMean(layer: e.layer), channels: e.channels)
        request.parameterization = .pixels
        let problem = try OptimizationProblem(model: model, request: request)
        let parameter = try NPY.read(fixture("optimize/param_pixels.npy"))
        let (objective, _) = try problem.evaluate(parameter, transforms: [.fit(height: e.size, width: e.size, value: 0.5)])
        // The reference objective includes the penalties; recompute them here from the images.
        let rgb = problem.images(parameter)
        let plane = e.size * e.size
        for s in 0..<2 {
            var tv = 0.0, l2 = 0.0
            for c in 0..<3 {
                let base = (s * 3 + c) * plane
                for y in 0..<e.size {
                    for x in 0..<e.size {
                        let v = Double(rgb.scalars[base + y * e.size + x])
                        if y + 1 < e.size { tv += pow(Double(rgb.scalars[base + (y + 1) * e.size + x]) - v, 2) }
                        if x + 1 < e.size { tv += pow(Double(rgb.scalars[base + y * e.size + x + 1]) - v, 2) }
                        l2 += (v - 0.5) * (v - 0.5)
                    }
                }
            }
            let reference = Double(e.cases[0].objective[s])
            let ours = Double(objective[s]) - Double(e.tv) * tv / Double(3 * plane) - Double(e.l2) * l2 / Double(3 * plane)
            XCTAssertEqual(ours, reference, accuracy: 1e-5 * max(1, abs(reference)))
        }
    }

    func testFourierImageAndAdjointMatchNumPy() throws {
        let f = FourierImage(height: 32, width: 32)
        let spectrum = try NPY.read(fixture("optimize/param_fourier.npy"))
        let first = Tensor(shape: Shape([1, 3, 32, 17, 2]), scalars: Array(spectrum.scalars[0..<(3 * 32 * 17 * 2)]))
        assertClose(f.image(first, count: 1), try NPY.read(fixture("optimize/fourier_image.npy")), tolerance: 1e-5)
        let probe = try NPY.read(fixture("optimize/fourier_probe.npy"))
        assertClose(f.adjoint(probe, count: 1), try NPY.read(fixture("optimize/fourier_adjoint.npy")), tolerance: 1e-5)
    }

    /// `<T x, y> = <x, Tᵀ y>` for every transform, on random tensors.
    func testTransformAdjointsAreTransposes() throws {
        var state: UInt64 = 7
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: Shape(shape), scalars: (0..<shape.reduce(1, *)).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(bitPattern: state >> 11) % 2000) / 1000 - 1
            })
        }
        let transforms: [ImageTransform] = [.pad(pixels: 3, value: 0), .translate(dy: 2, dx: -3), .translate(dy: -1, dx: 4),
                                            .scale(1.17), .scale(0.83), .rotate(degrees: 9), .rotate(degrees: -23),
                                            .fit(height: 9, width: 13, value: 0), .fit(height: 20, width: 15, value: 0)]
        for t in transforms {
            let x = random([2, 3, 14, 11])
            let tx = t.apply(x)
            let y = random(tx.shape.dimensions)
            let tty = t.adjoint(y, inputShape: x.shape)
            XCTAssertEqual(tty.shape, x.shape, "\(t)")
            let a = zip(tx.scalars, y.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let b = zip(x.scalars, tty.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(a)), "\(t)")
        }
    }

    /// On the bundled MobileNetV2, a short run beats every bundled photograph on the channels it
    /// maximizes (the optimized image is what the channel wants more than any real image here).
    func testOptimizedImagesBeatTheBundledPhotographs() throws {
        let model = try Model.load(nil)
        let layer = try model.graph.layer(matching: "#10")
        let channels = [1, 2]
        var best = [Float](repeating: -.infinity, count: channels.count)
        for name in ["chelsea.png", "coffee.png", "rocket.jpg"] {
            let trace = try model.run(try model.input(from: try BundledResources.path("images/" + name)))
            let act = trace.activation(layer)
            let plane = act.shape[2] * act.shape[3]
            for (k, c) in channels.enumerated() {
                let mean = act.scalars[(c * plane)..<((c + 1) * plane)].reduce(0, +) / Float(plane)
                best[k] = max(best[k], mean)
            }
        }
        var request = OptimizeRequest(objective: .channelMean(layer: "#10"), channels: channels)
        request.steps = 48
        let seen = LockedCounter()
        let result = try model.optimize(request) { seen.record(WorkProgress(done: $0, total: $1)) }
        XCTAssertEqual(seen.last, WorkProgress(done: 48, total: 48))
        XCTAssertEqual(result.images.shape.dimensions, [2, 3, 224, 224])
        XCTAssertTrue(result.images.scalars.allSatisfy { $0 > 0 && $0 < 1 })
        for k in channels.indices {
            XCTAssertGreaterThan(result.final[k], best[k], "channel \(channels[k])")
            XCTAssertEqual(result.curves[k].count, 48)
        }
    }
}
