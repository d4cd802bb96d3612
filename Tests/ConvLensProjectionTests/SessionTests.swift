import ConvLens
import Foundation
import TestSupport
import XCTest

/// The `Session` entry point: one forward run shared by every view, async projections with progress.
final class SessionTests: XCTestCase {
    func testSessionViewsAndProgress() async throws {
        let session = try await Session()
        let act = try await session.activation("#4")
        XCTAssertEqual(act.shape.dimensions, [1, 16, 112, 112])
        let weights = try await session.filters("#0")
        XCTAssertEqual(weights.weights.shape.dimensions, [32, 3, 3, 3])
        let top = try await session.classify(top: 1)
        XCTAssertEqual(top.first?.index, 285)

        var request = ProjectionRequest(layer: "#4")
        request.channels = [0, 3]
        request.rules = [.deconvnet, .backprop]
        let seen = LockedCounter()
        let projections = try await session.project(request) { seen.record($0) }
        XCTAssertEqual(projections.count, 4)
        XCTAssertEqual(projections.map(\.rule), [.deconvnet, .deconvnet, .backprop, .backprop])
        XCTAssertEqual(projections[0].tensor.shape.dimensions, [1, 3, 224, 224])
        XCTAssertEqual(seen.last, WorkProgress(done: 4, total: 4))

        // Same numbers as the projector used directly on the same trace.
        let trace = await session.trace
        let layer = try await session.layer("#4")
        let direct = try Projector(trace: trace).project(layer: layer, seeds: [.unit(channel: 3)], rule: .backprop)
        XCTAssertEqual(direct[0].tensor.scalars, projections[3].tensor.scalars)

        do {
            _ = try await session.activation("no-such-layer")
            XCTFail("expected an unknown-layer error")
        } catch let e as ConvLensError {
            XCTAssertEqual(e.code, .unknownLayer)
        }
    }

    /// Grad-CAM and occlusion through the session: the bundled photograph's top class is the
    /// Egyptian cat, and the views agree with the model-level calls on the same trace.
    func testSessionAttributions() async throws {
        let session = try await Session()
        var cam = GradCAMRequest(layer: "#93")
        cam.targets = [.topClass, .unit(layer: "#96", channel: 7)]
        let maps = try await session.gradCAM(cam)
        XCTAssertEqual(maps.map(\.target.channel), [285, 7])
        XCTAssertEqual(maps[0].target.label, "Egyptian cat")
        XCTAssertEqual(maps[0].map.shape.dimensions, [7, 7])
        XCTAssertEqual(maps[0].upsampled.shape.dimensions, [224, 224])
        XCTAssertGreaterThan(maps[0].map.scalars.max()!, 0)

        var occlusion = OcclusionRequest()
        occlusion.window = 56
        occlusion.stride = 56
        let seen = LockedCounter()
        let result = try await session.occlusion(occlusion) { seen.record($0) }
        XCTAssertEqual(result.rows, [0, 56, 112, 168])
        XCTAssertEqual(seen.last, WorkProgress(done: 16, total: 16))
        XCTAssertEqual(result.targets.map(\.channel), [285])
        // Some patch lowers the cat's probability; none leaves it undefined.
        XCTAssertLessThan(result.values[0].scalars.min()!, result.clean[0])
        XCTAssertTrue(result.values[0].scalars.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
        let direct = try Model.load(nil).occlusion(occlusion, trace: await session.trace)
        XCTAssertEqual(direct.values[0].scalars, result.values[0].scalars)
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: WorkProgress?
    func record(_ p: WorkProgress) { lock.lock(); value = p; lock.unlock() }
    var last: WorkProgress? { lock.lock(); defer { lock.unlock() }; return value }
}
