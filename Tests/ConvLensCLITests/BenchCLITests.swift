import Foundation
import TestSupport
import XCTest

/// `convlens bench` end to end on its smallest workload (no timing assertions: DESIGN.md §6).
final class BenchCLITests: XCTestCase {
    func testQuickE3WritesTheSharedJSONShape() throws {
        let dir = try temporaryDirectory(self)
        let out = dir + "/sub/convlens.json"
        let r = try runCLI(["bench", "--quick", "--only", "E3", "--json", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(root["tool"] as? String, "convlens")
        XCTAssertEqual(root["quick"] as? Bool, true)
        XCTAssertGreaterThan(root["threads"] as? Int ?? 0, 0)
        XCTAssertGreaterThan((root["machine_peak_gflops"] as? NSNumber)?.doubleValue ?? 0, 0)
        XCTAssertNotNil((root["versions"] as? [String: String])?["convlens"])
        let workloads = try XCTUnwrap(root["workloads"] as? [[String: Any]])
        XCTAssertEqual(workloads.count, 1)
        let w = workloads[0]
        XCTAssertEqual(w["id"] as? String, "E3")
        XCTAssertEqual(w["runs"] as? Int, 3)
        XCTAssertEqual(w["seeds"] as? Int, 0)
        XCTAssertEqual(w["method"] as? String, "auto")
        // Quick: batch 8, 128→128, 3×3, 56×56.
        XCTAssertEqual((w["flops"] as? NSNumber)?.doubleValue, 2.0 * 8 * 128 * 128 * 9 * 56 * 56)
        let seconds = try XCTUnwrap((w["seconds"] as? NSNumber)?.doubleValue)
        XCTAssertGreaterThan(seconds, 0)
        XCTAssertNotNil((w["methods"] as? [String: Any])?["auto"])
        XCTAssertNotNil(w["gflops"] as? NSNumber)
        XCTAssertNotNil(w["peak_rss_bytes"])
        XCTAssertFalse((w["algorithms"] as? String ?? "").isEmpty)
        XCTAssertNotNil(w["note"] as? String)
        // --out holds the same document.
        let written = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        XCTAssertEqual((written["workloads"] as? [[String: Any]])?.first?["seconds"] as? Double, seconds)
    }

    func testTableWithBaselineShowsRatioAndTarget() throws {
        let dir = try temporaryDirectory(self)
        let baseline = dir + "/pytorch.json"
        try Data("""
            {"tool": "pytorch", "threads": 2, "quick": true, "machine_peak_gflops": null,
             "workloads": [{"id": "E3", "seconds": 1000.0, "method": "conv_transpose2d", "methods": {"conv_transpose2d": 1000.0}}]}
            """.utf8).write(to: URL(fileURLWithPath: baseline))
        let r = try runCLI(["bench", "--quick", "--only", "e3", "--baseline", baseline])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("machine peak"), r.stdout)
        XCTAssertTrue(r.stdout.contains("conv_transpose2d"), r.stdout)
        XCTAssertTrue(r.stdout.contains("ratio only"), r.stdout)
        XCTAssertTrue(r.stdout.contains("E3"), r.stdout)
    }

    func testUnknownWorkloadIsBadInput() throws {
        assertBadInput(try runCLI(["bench", "--only", "A,Z9"]), mentioning: "--only")
    }

    func testMissingBaselineIsBadInput() throws {
        assertBadInput(try runCLI(["bench", "--only", "E3", "--baseline", "/nonexistent/pytorch.json"]), mentioning: "pytorch.json")
    }
}
