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
        XCTAssertLessThanOrEqual(try XCTUnwrap((w["min_seconds"] as? NSNumber)?.doubleValue), seconds)
        // The one method is the median itself, and GFLOP/s are the flops over it.
        XCTAssertEqual(((w["methods"] as? [String: Any])?["auto"] as? NSNumber)?.doubleValue, seconds)
        let gflops = try XCTUnwrap((w["gflops"] as? NSNumber)?.doubleValue)
        XCTAssertEqual(gflops, 2.0 * 8 * 128 * 128 * 9 * 56 * 56 / seconds / 1e9, accuracy: 1e-9 * gflops)
        XCTAssertGreaterThan((w["peak_rss_bytes"] as? NSNumber)?.intValue ?? 0, 8 * 128 * 56 * 56 * 4, "at least the input")
        // A transposed 3×3 convolution runs by one of the planner's algorithms.
        let algorithm = try XCTUnwrap(w["algorithms"] as? String)
        XCTAssertTrue(["direct", "gemm"].contains(algorithm) || algorithm.hasPrefix("fft"), algorithm)
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

    /// A whole-job row runs `convlens project --stack` as a child process on the zoo's model: here
    /// a zoo of one small fixture model, with a "PyTorch" stack that is a separate run of the same
    /// command (so the comparison must report 0), and the child's algorithms in the row; without a
    /// zoo the row is `n/a` and names the script that exports it.
    func testWholeJobRowRunsTheCLIAndComparesItsStack() throws {
        let zoo = try temporaryDirectory(self) + "/zoo"
        try FileManager.default.createDirectory(atPath: zoo, withIntermediateDirectories: true)
        for f in ["model.onnx", "input.npy"] {
            try FileManager.default.copyItem(atPath: fixture("forward/squeeze_excitation/" + f), toPath: zoo + "/" + f)
        }
        try Data("""
            {"JEB0": {"model": "model.onnx", "weights": "none", "input": "input.npy", "architecture": "se",
                      "module": "relu", "layer": "se/relu", "channels": 8, "map": [9, 9]}}
            """.utf8).write(to: URL(fileURLWithPath: zoo + "/jobs.json"))
        let reference = try temporaryDirectory(self) + "/ref"
        let p = try runCLI(["project", "--model", zoo + "/model.onnx", "--image", zoo + "/input.npy", "--layer", "se/relu",
                            "--all-channels", "--rule", "deconvnet", "--stack", "--out", reference])
        XCTAssertEqual(p.status, 0, p.stderr)
        try FileManager.default.copyItem(atPath: reference + "/se_relu_deconvnet_stack.npy", toPath: zoo + "/JEB0.torch.npy")
        let r = try runCLI(["bench", "--quick", "--only", "JEB0", "--zoo", zoo, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let w = try XCTUnwrap((root["workloads"] as? [[String: Any]])?.first)
        XCTAssertEqual(w["seeds"] as? Int, 8)
        XCTAssertGreaterThan((w["seconds"] as? NSNumber)?.doubleValue ?? 0, 0)
        XCTAssertTrue((w["note"] as? String ?? "").contains("rel L2 0.0e+00"), w["note"] as? String ?? "")
        XCTAssertEqual(w["algorithms"] as? String, try manifestAlgorithm(reference))

        let none = try runCLI(["bench", "--quick", "--only", "JR50", "--zoo", zoo + "/missing", "--json"])
        XCTAssertEqual(none.status, 0, none.stderr)
        let row = try XCTUnwrap(((try JSONSerialization.jsonObject(with: Data(none.stdout.utf8)) as? [String: Any])?["workloads"] as? [[String: Any]])?.first)
        XCTAssertTrue(row["seconds"] is NSNull, "\(row)")
        XCTAssertTrue((row["note"] as? String ?? "").contains("export_job_models.py"), "\(row)")
    }

    private func manifestAlgorithm(_ dir: String) throws -> String? {
        let m = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json"))) as? [String: Any]
        let stack = (m?["outputs"] as? [[String: Any]])?.first { $0["kind"] as? String == "projection-stack" }
        return (stack?["algorithm"] as? String).map { $0.hasPrefix("auto:") ? String($0.dropFirst(5)) : $0 }
    }

    func testUnknownWorkloadIsBadInput() throws {
        assertBadInput(try runCLI(["bench", "--only", "A,Z9"]), mentioning: "--only")
    }

    func testMissingBaselineIsBadInput() throws {
        assertBadInput(try runCLI(["bench", "--only", "E3", "--baseline", "/nonexistent/pytorch.json"]), mentioning: "pytorch.json")
    }
}
