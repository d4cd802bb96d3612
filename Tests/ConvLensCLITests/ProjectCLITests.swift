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

    /// `--stack --per-seed`: per rule one `[S, C, H, W]` array whose slice `s` is the per-seed
    /// array of seed `s` bit for bit, a contact sheet, and a seeds table naming the same units as
    /// the per-seed entries; `--stack` alone writes no per-seed files; `--per-seed` alone is a
    /// command-line error.
    func testStackEqualsPerSeedFilesBitForBit() throws {
        let both = try temporaryDirectory(self) + "/both"
        let r = try runCLI(["project", "--model", model, "--image", input, "--layer", "se/relu", "--channel", "0-2,5",
                            "--rule", "all", "--crop", "--stack", "--per-seed", "--out", both])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("12 projections"), r.stdout)
        let manifest = try JSONDecoder().decode(Manifest.self, from: try AtomicFile.read(both + "/manifest.json"))
        let stacks = manifest.outputs.filter { $0.kind == .projectionStack }
        XCTAssertEqual(stacks.map(\.rule), ["deconvnet", "guided", "backprop"])
        let csv = try String(contentsOfFile: both + "/se_relu_seeds.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(csv.count, 5)
        XCTAssertEqual(csv[0], "index,channel,seed,y,x,activation")
        for stack in stacks {
            XCTAssertEqual(stack.channels, [0, 1, 2, 5])
            XCTAssertEqual(stack.file, "se_relu_seeds.csv")
            let bytes = try AtomicFile.read(both + "/" + stack.npy!)
            let t = try NPY.read(both + "/" + stack.npy!)
            XCTAssertEqual(t.shape, [4, 8, 3, 3], "a crop of the 3×3 field")
            XCTAssertEqual(stack.shape, [4, 8, 3, 3])
            let perSeed = manifest.outputs.filter { $0.kind == .projection && $0.rule == stack.rule }
            XCTAssertEqual(perSeed.count, 4)
            let sliceBytes = 8 * 3 * 3 * 4
            let header = bytes.count - 4 * sliceBytes
            for (s, o) in perSeed.enumerated() {
                let one = try AtomicFile.read(both + "/" + o.npy!)
                XCTAssertEqual(one.suffix(sliceBytes), bytes[(bytes.startIndex + header + s * sliceBytes)..<(bytes.startIndex + header + (s + 1) * sliceBytes)],
                               "\(stack.rule!) seed \(s)")
                let row = csv[s + 1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                XCTAssertEqual(row[0], String(s))
                XCTAssertEqual(Int(row[1]), o.channel)
                XCTAssertEqual(row[2], "unit")
                XCTAssertEqual(Int(row[3]), o.y)
                XCTAssertEqual(Int(row[4]), o.x)
                XCTAssertEqual(Float(row[5]), o.activation)
            }
            let sheet = try XCTUnwrap(manifest.outputs.first { $0.kind == .projectionGrid && $0.rule == stack.rule })
            XCTAssertNotNil(try Image.read(both + "/" + sheet.png!))
            XCTAssertNotNil(sheet.npy, "with per-seed files the grid keeps its array")
        }

        let only = try temporaryDirectory(self) + "/stack"
        let s = try runCLI(["project", "--model", model, "--image", input, "--layer", "se/relu", "--channel", "0-2,5",
                            "--rule", "all", "--crop", "--stack", "--out", only])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stdout.contains("12 projections"), s.stdout)
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: only))
        XCTAssertEqual(files, Set(["manifest.json", "se_relu_seeds.csv"])
                       .union(["deconvnet", "guided", "backprop"].flatMap { ["se_relu_\($0)_stack.npy", "se_relu_\($0)_grid.png"] }))
        for rule in ["deconvnet", "guided", "backprop"] {
            XCTAssertEqual(try AtomicFile.read(only + "/se_relu_\(rule)_stack.npy"), try AtomicFile.read(both + "/se_relu_\(rule)_stack.npy"))
        }

        let bad = try runCLI(["project", "--model", model, "--image", input, "--layer", "se/relu", "--channel", "0",
                              "--per-seed", "--out", only + "-bad"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: only + "-bad"))
    }

    /// With `CONVLENS_SYNC=1` (one `syncfs`, the manifest and its folder `fsync`ed) a run writes
    /// the same files as without.
    func testDurableCommitWritesTheSameFiles() throws {
        let plain = try temporaryDirectory(self) + "/plain", durable = try temporaryDirectory(self) + "/durable"
        let args = ["project", "--model", model, "--image", input, "--layer", "se/relu", "--channel", "0-1", "--stack"]
        XCTAssertEqual(try runCLI(args + ["--out", plain]).status, 0)
        let r = try runCLI(args + ["--out", durable], environment: ["CONVLENS_SYNC": "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: plain).sorted()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: durable).sorted(), files)
        for f in files where f.hasSuffix(".npy") || f.hasSuffix(".csv") {
            XCTAssertEqual(try AtomicFile.read(durable + "/" + f), try AtomicFile.read(plain + "/" + f), f)
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
