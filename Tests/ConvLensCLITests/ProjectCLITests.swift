import ConvLens
import Foundation
import TestSupport
import XCTest

final class ProjectCLITests: XCTestCase {
    private let model = fixture("forward/squeeze_excitation/model.onnx")
    private let input = fixture("forward/squeeze_excitation/input.npy")

    func testProjectWritesEveryRuleWithManifest() throws {
        let out = try temporaryDirectory(self) + "/p"
        let r = try runCLI(["project", "--model", model, "--image", input, "--layer", "se/excite", "--channel", "1,3-4",
                            "--rule", "all", "--display", "norm", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let manifest = try JSONSerialization.jsonObject(with: try AtomicFile.read(out + "/manifest.json")) as! [String: Any]
        let outputs = (manifest["outputs"] as! [[String: Any]]).filter { $0["kind"] as? String == "projection" }
        XCTAssertEqual(outputs.count, 9)
        XCTAssertEqual(Set(outputs.compactMap { $0["rule"] as? String }), ["deconvnet", "guided", "backprop"])
        XCTAssertEqual(Set(outputs.compactMap { $0["channel"] as? Int }), [1, 3, 4])
        for o in outputs {
            let t = try NPY.read(out + "/" + (o["npy"] as! String))
            XCTAssertEqual(t.shape, [1, 8, 9, 9])
            let png = try Image.read(out + "/" + (o["png"] as! String))
            XCTAssertEqual([png.width, png.height], [9, 9])
            XCTAssertEqual(o["seed"] as? String, "unit")
            XCTAssertNotNil(o["y"])
        }
    }

    /// `--memory-budget` reaches the manifest with the peak memory and the convolution work; unit
    /// seeds on a layer whose units see part of the map do less work than whole maps; a budget
    /// under 16 MiB or in unknown units is a command-line error.
    func testMemoryBudgetAndPerformanceInManifest() throws {
        let out = try temporaryDirectory(self) + "/p"
        let r = try runCLI(["project", "--model", model, "--image", input, "--layer", "se/relu", "--all-channels",
                            "--memory-budget", "64M", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let manifest = try JSONSerialization.jsonObject(with: try AtomicFile.read(out + "/manifest.json")) as! [String: Any]
        let perf = try XCTUnwrap(manifest["performance"] as? [String: Any])
        XCTAssertEqual(perf["memory_budget_bytes"] as? Int, 64 << 20)
        XCTAssertGreaterThan(perf["peak_resident_bytes"] as? Int ?? 0, 1 << 20)
        let executed = try XCTUnwrap(perf["convolution_flops"] as? Double), dense = try XCTUnwrap(perf["dense_convolution_flops"] as? Double)
        XCTAssertGreaterThan(executed, 0)
        XCTAssertLessThan(executed, dense, "se/relu's 3×3 units see part of the 9×9 input")
        XCTAssertEqual((manifest["parameters"] as? [String: Any])?["memory_budget"] as? String, "64M")
        for bad in ["1K", "12X", "-5G"] {
            let e = try runCLI(["project", "--model", model, "--image", input, "--layer", "se/relu", "--channel", "0",
                                "--memory-budget", bad, "--out", out + bad])
            XCTAssertEqual(e.status, 64, "--memory-budget \(bad): \(e.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + bad))
        }
    }

    func testCropGivesTheReceptiveFieldSize() throws {
        let out = try temporaryDirectory(self) + "/p"
        // se/relu follows one 3×3 conv: a 3×3 field.
        let r = try runCLI(["project", "--model", model, "--image", input, "--layer", "se/relu", "--channel", "0",
                            "--at", "0,0", "--crop", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let manifest = try JSONSerialization.jsonObject(with: try AtomicFile.read(out + "/manifest.json")) as! [String: Any]
        let o = (manifest["outputs"] as! [[String: Any]])[0]
        XCTAssertEqual(o["shape"] as? [Int], [1, 8, 3, 3])
        let t = try NPY.read(out + "/" + (o["npy"] as! String))
        // Unit (0, 0) centres at pixel (0, 0): the first row and column of the crop lie outside the image.
        for c in 0..<8 { for k in 0..<3 { XCTAssertEqual(t[0, c, 0, k], 0); XCTAssertEqual(t[0, c, k, 0], 0) } }
    }

    func testBadSeedsExit2AndWriteNothing() throws {
        let out = try temporaryDirectory(self) + "/p"
        let cases: [([String], String)] = [
            (["--layer", "se/excite", "--channel", "8"], "channel 8 is out of range"),
            (["--layer", "se/excite", "--channel", "0", "--at", "9,0"], "--at"),
            (["--layer", "nope", "--channel", "0"], "no layer named 'nope'"),
        ]
        for (args, cause) in cases {
            let r = try runCLI(["project", "--model", model, "--image", input, "--out", out] + args)
            assertBadInput(r, mentioning: cause)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(args)")
        }
        // --at on a fully connected layer.
        let vgg = fixture("forward/vgg_lrn_bn")
        let fc = try runCLI(["project", "--model", vgg + "/model.onnx", "--image", vgg + "/input.npy", "--layer", "/fc/Gemm",
                             "--channel", "0", "--at", "0,0", "--out", out])
        assertBadInput(fc, mentioning: "fully connected")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        // A class logit projects fine without --at.
        let logit = try runCLI(["project", "--model", vgg + "/model.onnx", "--image", vgg + "/input.npy", "--layer", "/fc/Gemm",
                                "--channel", "0", "--rule", "guided", "--out", out])
        XCTAssertEqual(logit.status, 0, logit.stderr)
        let usage = try runCLI(["project", "--layer", "se/excite", "--out", out])
        XCTAssertEqual(usage.status, 64)
        let badAt = try runCLI(["project", "--layer", "x", "--channel", "0", "--at", "1", "--out", out])
        XCTAssertEqual(badAt.status, 64)
    }
}

final class CompareCLITests: XCTestCase {
    func testPanelsAndPageWithManifest() throws {
        let out = try temporaryDirectory(self) + "/c"
        let r = try runCLI(["compare", "--layer", "/features/features.6/Add", "--channel", "0,2", "--tile-size", "64", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let manifest = try JSONSerialization.jsonObject(with: try AtomicFile.read(out + "/manifest.json")) as! [String: Any]
        let panels = (manifest["outputs"] as! [[String: Any]]).filter { $0["kind"] as? String == "panel" }
        XCTAssertEqual(panels.count, 3) // two units and the page
        let unit = panels.first { $0["channel"] as? Int == 0 }!
        // The argmax of channel 0 on the bundled photograph (the cat's eye), as in the projection fixtures.
        XCTAssertEqual(unit["y"] as? Int, 11)
        XCTAssertEqual(unit["x"] as? Int, 7)
        let png = try Image.read(out + "/" + (unit["png"] as! String))
        let npy = try NPY.read(out + "/" + (unit["npy"] as! String))
        XCTAssertEqual(npy.shape, [png.height, png.width, 3])
        // Six tiles of 64 px with 4 px between them.
        XCTAssertEqual(png.width, 6 * 64 + 5 * 4)
        let page = panels.first { $0["channel"] == nil }!
        XCTAssertEqual(page["channels"] as? [Int], [0, 2])
    }

    func testBadChannelExit2() throws {
        let out = try temporaryDirectory(self) + "/c"
        let r = try runCLI(["compare", "--layer", "/features/features.6/Add", "--channel", "32", "--out", out])
        assertBadInput(r, mentioning: "channel 32")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}

final class GridLimitCLITests: XCTestCase {
    func testHugeGridIsRefusedBeforeAllocation() throws {
        let out = try temporaryDirectory(self) + "/g"
        // 1,280 tiles of 7×7 at zoom 64 would be about 16,000 × 16,000 pixels.
        let r = try runCLI(["activations", "--layer", "/features/features.18/features.18.2/Clip", "--zoom", "64", "--out", out])
        assertBadInput(r, mentioning: "would be")
    }
}
