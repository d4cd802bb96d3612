import ConvLens
import Foundation
import TestSupport
import XCTest

/// `scan`, `scan-merge` and `topk` on a model whose answers are known by construction:
/// Tests/Fixtures/scan/blobconv.onnx sums the red (channel 0) and green (channel 1) samples of each
/// 3×3 box of a 16×16 input (pixels / 255), so a 3×3 blob of value v centred at (y, x) peaks at
/// 9·v/255 exactly there.
final class ScanCLITests: XCTestCase {
    private let model = fixture("scan/blobconv.onnx")

    /// A 16×16 RGB image with 3×3 blobs: (channel, value, y, x).
    private func blobImage(_ blobs: [(Int, Float, Int, Int)]) -> Image {
        var px = [Float](repeating: 0, count: 16 * 16 * 3)
        for (c, v, y, x) in blobs { for dy in -1...1 { for dx in -1...1 { px[((y + dy) * 16 + x + dx) * 3 + c] = v } } }
        return Image(width: 16, height: 16, channels: 3, pixels: px)
    }

    /// The dataset, in scan order (sorted by path):
    /// 0 a0.png red 200 @ (4,5) · 1 a1.png red 100 @ (10,3), green 250 @ (6,6) · 2 a2.png red 200 @ (8,8)
    /// 3 a3.png corrupt · 4 b/a4.png red 50 @ (3,3) and (12,12), green 120 @ (12,2) · 5 d.png black.
    private func makeDataset() throws -> String {
        let dir = try temporaryDirectory(self) + "/images"
        try FileManager.default.createDirectory(atPath: dir + "/b", withIntermediateDirectories: true)
        try blobImage([(0, 200, 4, 5)]).writePNG(to: dir + "/a0.png")
        try blobImage([(0, 100, 10, 3), (1, 250, 6, 6)]).writePNG(to: dir + "/a1.png")
        try blobImage([(0, 200, 8, 8)]).writePNG(to: dir + "/a2.png")
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: dir + "/a3.png"))
        try blobImage([(0, 50, 3, 3), (0, 50, 12, 12), (1, 120, 12, 2)]).writePNG(to: dir + "/b/a4.png")
        try blobImage([]).writePNG(to: dir + "/d.png")
        try Data("ignored".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
        return dir
    }

    private func scan(_ images: String, _ out: String, _ extra: [String] = [], environment: [String: String] = [:]) throws -> CLIResult {
        try runCLI(["scan", "--model", model, "--images", images, "--layer", "/blob/Relu", "--top", "3", "--out", out] + extra,
                   environment: environment)
    }

    private func entries(_ r: ScanResult, channel: Int) -> [[Float]] {
        r.layers[0].units[channel].map { [$0.value, Float($0.image), Float($0.y), Float($0.x)] }
    }

    private func assertEntries(_ actual: [ScanEntry], _ expected: [(Float, Int, Int, Int)], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, "\(actual)", file: file, line: line)
        for (a, e) in zip(actual, expected) {
            XCTAssertEqual(a.value, e.0, accuracy: 1e-5, "\(actual)", file: file, line: line)
            XCTAssertEqual([a.image, a.y, a.x], [e.1, e.2, e.3], "\(actual)", file: file, line: line)
        }
    }

    func testScanFindsTheKnownTopK() throws {
        let images = try makeDataset()
        let out = try temporaryDirectory(self) + "/scan"
        let r = try scan(images, out)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("skipped") && r.stderr.contains("a3.png"), r.stderr)
        let s = try ScanResult.read(directory: out)
        XCTAssertEqual(s.images.map { ($0 as NSString).lastPathComponent }, ["a0.png", "a1.png", "a2.png", "a3.png", "a4.png", "d.png"])
        XCTAssertEqual(s.scanned, 5)
        XCTAssertEqual(s.skipped.map(\.image), [3])
        XCTAssertEqual(s.layers.map(\.name), ["/blob/Relu"])
        XCTAssertEqual(s.layers[0].shape, [2, 16, 16])
        // Red: two equal 200-blobs (the lower image first), then the 100-blob.
        assertEntries(s.layers[0].units[0], [(9 * 200 / 255, 0, 4, 5), (9 * 200 / 255, 2, 8, 8), (9 * 100 / 255, 1, 10, 3)])
        // Green: 250, 120, then a zero map whose first position wins, from the lowest image.
        assertEntries(s.layers[0].units[1], [(9 * 250 / 255, 1, 6, 6), (9 * 120 / 255, 4, 12, 2), (0, 0, 0, 0)])
        let values = try NPY.read(out + "/blob_Relu_values.npy")
        XCTAssertEqual(values.shape, [2, 3])
        XCTAssertEqual(values[0, 1], s.layers[0].units[0][1].value)
        let positions = try NPY.read(out + "/blob_Relu_positions.npy")
        XCTAssertEqual(positions.shape, [2, 3, 3])
        XCTAssertEqual([positions[0, 2, 0], positions[0, 2, 1], positions[0, 2, 2]], [1, 10, 3])
        let manifest = try JSONSerialization.jsonObject(with: try AtomicFile.read(out + "/manifest.json")) as! [String: Any]
        XCTAssertEqual((manifest["outputs"] as! [[String: Any]]).first?["kind"] as? String, "scan")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/scan.checkpoint.json"))
    }

    func testPerPositionKeepsSeveralPositionsOfOneImage() throws {
        let images = try makeDataset()
        let out = try temporaryDirectory(self) + "/scan"
        let r = try scan(images, out, ["--per-position"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let s = try ScanResult.read(directory: out)
        // After the two centres: a 6-pixel overlap of image 0 beats image 1's 100-blob; the first in row order is (3, 5).
        assertEntries(s.layers[0].units[0], [(9 * 200 / 255, 0, 4, 5), (9 * 200 / 255, 2, 8, 8), (6 * 200 / 255, 0, 3, 5)])
        XCTAssertEqual(s.perPosition, true)
    }

    func testInterruptedScanResumesToTheSameResult() throws {
        let images = try makeDataset()
        let tmp = try temporaryDirectory(self)
        XCTAssertEqual(try scan(images, tmp + "/full").status, 0)
        let out = tmp + "/resumed"
        // The test hook exits abruptly after 5 images; the last checkpoint holds 4 of them.
        let stopped = try scan(images, out, ["--checkpoint-every", "2"], environment: ["CONVLENS_SCAN_STOP_AFTER": "5"])
        XCTAssertEqual(stopped.status, 75, stopped.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/scan.checkpoint.json"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/scan.json"))
        let resumed = try scan(images, out, ["--checkpoint-every", "2", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try AtomicFile.read(out + "/scan.json"), try AtomicFile.read(tmp + "/full/scan.json"))
        XCTAssertEqual(try AtomicFile.read(out + "/blob_Relu_positions.npy"), try AtomicFile.read(tmp + "/full/blob_Relu_positions.npy"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/scan.checkpoint.json"))
        // Resuming a finished scan changes nothing.
        XCTAssertEqual(try scan(images, out, ["--resume"]).status, 0)
        XCTAssertEqual(try AtomicFile.read(out + "/scan.json"), try AtomicFile.read(tmp + "/full/scan.json"))
        // A checkpoint of another scan is refused.
        let other = try scan(images, tmp + "/other", ["--checkpoint-every", "1"], environment: ["CONVLENS_SCAN_STOP_AFTER": "2"])
        XCTAssertEqual(other.status, 75)
        assertBadInput(try scan(images, tmp + "/other", ["--top", "2", "--resume"]), mentioning: "different scan")
    }

    func testKilledScanResumesToTheSameResult() throws {
        // A real SIGKILL after the first checkpoint appears, on a list of 3,000 entries (the dataset
        // repeated) so that the scan is still running then.
        let images = try makeDataset()
        let names = ["a0.png", "a1.png", "a2.png", "b/a4.png", "d.png"]  // no corrupt one: 3,000 stderr lines would fill runCLI's pipe
        try (0..<3000).map { names[$0 % names.count] }.joined(separator: "\n").write(toFile: images + "/many.txt", atomically: true, encoding: .utf8)
        let tmp = try temporaryDirectory(self)
        let args = ["--per-position", "--checkpoint-every", "50"]
        XCTAssertEqual(try scan(images + "/many.txt", tmp + "/full", args).status, 0)
        let out = tmp + "/killed"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: convlensExecutable())
        p.arguments = ["scan", "--model", model, "--images", images + "/many.txt", "--layer", "/blob/Relu", "--top", "3", "--out", out] + args
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: out + "/scan.checkpoint.json") && p.isRunning && Date() < deadline { usleep(500) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the scan finished before it could be killed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/scan.json"))
        let resumed = try scan(images + "/many.txt", out, args + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try AtomicFile.read(out + "/scan.json"), try AtomicFile.read(tmp + "/full/scan.json"))
    }

    func testMergedShardsEqualOneScan() throws {
        let images = try makeDataset()
        let tmp = try temporaryDirectory(self)
        XCTAssertEqual(try scan(images, tmp + "/full").status, 0)
        var shards: [String] = []
        for i in 0..<3 {
            let r = try scan(images, tmp + "/shard\(i)", ["--shard", "\(i)/3"])
            XCTAssertEqual(r.status, 0, r.stderr)
            shards.append(tmp + "/shard\(i)")
        }
        XCTAssertEqual(try ScanResult.read(directory: shards[1]).scanned, 2)  // images 1 and 4
        let merged = try runCLI(["scan-merge"] + shards.reversed() + ["--out", tmp + "/merged"])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertEqual(try AtomicFile.read(tmp + "/merged/scan.json"), try AtomicFile.read(tmp + "/full/scan.json"))
        XCTAssertEqual(try AtomicFile.read(tmp + "/merged/blob_Relu_values.npy"), try AtomicFile.read(tmp + "/full/blob_Relu_values.npy"))
        assertBadInput(try runCLI(["scan-merge", shards[0], shards[2], "--out", tmp + "/m2"]), mentioning: "shard 1/3 is missing")
        assertBadInput(try runCLI(["scan-merge", tmp + "/full", "--out", tmp + "/m3"]), mentioning: "is not a shard")
    }

    func testListAndCIFARSources() throws {
        let images = try makeDataset()
        let tmp = try temporaryDirectory(self)
        try "# two images\nb/a4.png\n\n\(images)/a1.png\n".write(toFile: images + "/list.txt", atomically: true, encoding: .utf8)
        let r = try scan(images + "/list.txt", tmp + "/list")
        XCTAssertEqual(r.status, 0, r.stderr)
        let s = try ScanResult.read(directory: tmp + "/list")
        XCTAssertEqual(s.sourceKind, "list")
        XCTAssertEqual(s.images, [images + "/b/a4.png", images + "/a1.png"])
        assertEntries(s.layers[0].units[1], [(9 * 250 / 255, 1, 6, 6), (9 * 120 / 255, 0, 12, 2)])
        // CIFAR-10: 32×32 records (label, R plane, G plane, B plane), resized to 16×16 by the
        // model's preprocessing. Record 1 is all red (255): red sums reach 9 in the interior.
        let cifar = tmp + "/cifar"
        try FileManager.default.createDirectory(atPath: cifar, withIntermediateDirectories: true)
        var bytes = [UInt8](repeating: 0, count: 2 * 3073)
        for p in 0..<1024 { bytes[3073 + 1 + p] = 255 }
        try Data(bytes).write(to: URL(fileURLWithPath: cifar + "/data_batch_1.bin"))
        let c = try scan(cifar, tmp + "/cifar-scan")
        XCTAssertEqual(c.status, 0, c.stderr)
        let cs = try ScanResult.read(directory: tmp + "/cifar-scan")
        XCTAssertEqual(cs.sourceKind, "cifar10")
        XCTAssertEqual(cs.images, [cifar + "/data_batch_1.bin#0", cifar + "/data_batch_1.bin#1"])
        // (The resampling may leave last-bit differences between interior positions: check the value, not where.)
        XCTAssertEqual(cs.layers[0].units[0].map(\.image), [1, 0])
        XCTAssertEqual(cs.layers[0].units[0][0].value, 9, accuracy: 1e-3)
        XCTAssertEqual(cs.layers[0].units[0][1].value, 0)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: cifar + "/test_batch.bin"))
        assertBadInput(try scan(cifar, tmp + "/bad"), mentioning: "3,073-byte")
    }

    func testTopKCropsAndProjections() throws {
        let images = try makeDataset()
        let tmp = try temporaryDirectory(self)
        XCTAssertEqual(try scan(images, tmp + "/scan").status, 0)
        let out = tmp + "/topk"
        let r = try runCLI(["topk", "--scan", tmp + "/scan", "--layer", "/blob/Relu", "--channel", "0-1", "--rule", "all", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let manifest = try JSONSerialization.jsonObject(with: try AtomicFile.read(out + "/manifest.json")) as! [String: Any]
        XCTAssertEqual(manifest["command"] as? String, "topk")
        let outputs = manifest["outputs"] as! [[String: Any]]
        XCTAssertTrue(outputs.allSatisfy { $0["kind"] as? String == "topk" })
        XCTAssertEqual(outputs.filter { $0["view"] as? String == "montage" }.count, 6)
        XCTAssertEqual(outputs.filter { $0["view"] as? String == "input" }.count, 6)
        XCTAssertEqual(outputs.filter { $0["view"] as? String == "projection" }.count, 18)
        // Unit (0; 4, 5) of image 0: its 3×3 field is exactly the red blob.
        let crop = try NPY.read(out + "/blob_Relu_c0_k0_input.npy")
        XCTAssertEqual(crop.shape, [1, 3, 3, 3])
        for y in 0..<3 { for x in 0..<3 { XCTAssertEqual(crop[0, 0, y, x], 200 / 255, accuracy: 1e-6); XCTAssertEqual(crop[0, 1, y, x], 0) } }
        // Its deconvnet projection is the conv kernel: ones on red.
        let proj = try NPY.read(out + "/blob_Relu_c0_k0_deconvnet.npy")
        XCTAssertEqual(proj.shape, [1, 3, 3, 3])
        for y in 0..<3 { for x in 0..<3 { XCTAssertEqual(proj[0, 0, y, x], 1, accuracy: 1e-6); XCTAssertEqual(proj[0, 2, y, x], 0) } }
        // Channel 1's third entry is position (0, 0) of a black image: the crop is padded, not shifted.
        // Its field spans pixels -1...1: the deconvnet projection (the green kernel) fills the
        // lower-right 2×2 of the crop, and the outside row and column are zero padding.
        XCTAssertEqual(try NPY.read(out + "/blob_Relu_c1_k2_input.npy").shape, [1, 3, 3, 3])
        let corner = try NPY.read(out + "/blob_Relu_c1_k2_deconvnet.npy")
        XCTAssertEqual(corner.shape, [1, 3, 3, 3])
        for k in 0..<3 { XCTAssertEqual(corner[0, 1, 0, k], 0); XCTAssertEqual(corner[0, 1, k, 0], 0) }
        for y in 1..<3 { for x in 1..<3 { XCTAssertEqual(corner[0, 1, y, x], 1, accuracy: 1e-6) } }
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/blob_Relu_c0_deconvnet_montage.png"))
        assertBadInput(try runCLI(["topk", "--scan", tmp + "/scan", "--layer", "/blob/Conv", "--channel", "0", "--out", out]),
                       mentioning: "was not scanned")
        // An edited scan whose layer shape is not the model's (every entry still inside it) is
        // blamed on the scan, not on a channel or a position.
        var json = try JSONSerialization.jsonObject(with: try AtomicFile.read(tmp + "/scan/scan.json")) as! [String: Any]
        var layers = json["layers"] as! [[String: Any]]
        var shape = layers[0]["shape"] as! [Int]
        shape[1] += 1
        layers[0]["shape"] = shape
        json["layers"] = layers
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: json), to: tmp + "/scan/scan.json")
        let edited = try runCLI(["topk", "--scan", tmp + "/scan", "--layer", "/blob/Relu", "--channel", "0", "--out", tmp + "/edited"])
        assertBadInput(edited, mentioning: "--scan: the scan gives /blob/Relu the shape")
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/edited"))
    }

    func testBadCommandLines() throws {
        let images = try makeDataset()
        let out = try temporaryDirectory(self) + "/s"
        XCTAssertEqual(try scan(images, out, ["--shard", "3/3"]).status, 64)
        XCTAssertEqual(try runCLI(["scan", "--model", model, "--images", images, "--out", out]).status, 64)
        assertBadInput(try runCLI(["scan", "--model", model, "--images", images + "/none", "--layer", "/blob/Relu", "--out", out]),
                       mentioning: "none")
        assertBadInput(try runCLI(["scan", "--model", model, "--images", images, "--layer", "nope", "--out", out]),
                       mentioning: "no layer named 'nope'")
    }
}
