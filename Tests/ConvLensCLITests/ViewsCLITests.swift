import ConvLens
import Foundation
import TestSupport
import XCTest

/// `filters`, activation grids and overlays, `tensorboard`, run through the built binary.
final class ViewsCLITests: XCTestCase {
    private let bgr = fixture("views/bgr_conv.onnx")
    private let conv0 = "/features/features.0/features.0.0/Conv"

    private func manifest(_ dir: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: try AtomicFile.read(dir + "/manifest.json")) as! [String: Any]
    }

    private func outputs(_ dir: String, kind: String) throws -> [[String: Any]] {
        (try manifest(dir)["outputs"] as! [[String: Any]]).filter { $0["kind"] as? String == kind }
    }

    func testMobileNetFirstLayerFiltersAreTheONNXInitializer() throws {
        let out = try temporaryDirectory(self)
        let r = try runCLI(["filters", "--layer", conv0, "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let f = try outputs(out, kind: "filters")
        XCTAssertEqual(f.count, 1)
        let weights = try NPY.read(out + "/" + (f[0]["npy"] as! String))
        // Read from the ONNX file by onnx.numpy_helper (Tests/ReferenceGenerators/make_views_fixtures.py).
        let reference = try NPY.read(fixture("views/mobilenetv2_conv0_weight.npy"))
        XCTAssertEqual(weights.shape, [32, 3, 3, 3])
        XCTAssertEqual(weights.scalars, reference.scalars, "bit-exact weights")

        let g = try outputs(out, kind: "filter-grid")[0]
        XCTAssertEqual(g["layer"] as? String, conv0)
        XCTAssertEqual(g["view"] as? String, "rgb")
        XCTAssertEqual(g["scale"] as? String, "global")
        XCTAssertEqual(g["channels"] as? [Int], Array(0..<32))
        XCTAssertEqual(g["grid"] as? [Int], [6, 6])
        XCTAssertEqual(g["zoom"] as? Int, 11)
        XCTAssertEqual(g["min"] as? Double ?? 0, Double(reference.range.min), accuracy: 1e-6)
        let png = try Image.read(out + "/" + (g["png"] as! String))
        XCTAssertEqual([png.width, png.height, png.channels], [210, 210, 3])
        let grid = try NPY.read(out + "/" + (g["npy"] as! String))
        XCTAssertEqual(grid.shape, [210, 210, 3])
        XCTAssertEqual(grid.range.min, 0)
        XCTAssertEqual(grid.range.max, 1, accuracy: 1e-6)
        for i in stride(from: 0, to: grid.count, by: 97) {
            XCTAssertEqual(grid.scalars[i] * 255, png.pixels[i], accuracy: 0.5, "the PNG is the quantized float grid")
        }
    }

    func testViewsOnTransposedGroupedAndDeeperLayers() throws {
        let model = fixture("forward/convtranspose_opset13/model.onnx")
        for (layer, args, view) in [("deconv", [String](), "pairs"), ("gconv", ["--view", "norm", "--scale", "tile"], "norm"),
                                    ("gconv", ["--view", "input:1", "--labels", "--max-tiles", "2", "--zoom", "3", "--pad", "2"], "input:1")] {
            let out = try temporaryDirectory(self)
            let r = try runCLI(["filters", "--model", model, "--layer", layer, "--out", out] + args)
            XCTAssertEqual(r.status, 0, r.stderr)
            let g = try outputs(out, kind: "filter-grid")[0]
            XCTAssertEqual(g["view"] as? String, view, layer)
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + (g["png"] as! String)))
        }
        let out = try temporaryDirectory(self)
        XCTAssertEqual(try runCLI(["filters", "--layer", "#2", "--out", out]).status, 0, "depthwise")
        XCTAssertEqual(try outputs(out, kind: "filter-grid")[0]["view"] as? String, "depthwise")
    }

    func testBGRMetadataGivesRGBTiles() throws {
        let out = try temporaryDirectory(self)
        let r = try runCLI(["filters", "--model", bgr, "--layer", "conv", "--zoom", "2", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let png = try Image.read(out + "/conv-filter-grid.png")
        // Two 1×1 filters, zoom 2, 1 px padding: tile 0 at x 1–2, tile 1 at x 5–6.
        XCTAssertEqual([png[1, 1, 0], png[1, 1, 1], png[1, 1, 2]], [0, 0, 255], "filter 0 weighs BGR channel 0: blue")
        XCTAssertEqual([png[1, 5, 0], png[1, 5, 1], png[1, 5, 2]], [255, 0, 0], "filter 1 weighs BGR channel 2: red")
    }

    func testActivationGridsAndOverlayInTheManifest() throws {
        let out = try temporaryDirectory(self)
        let r = try runCLI(["activations", "--model", bgr, "--layer", "relu", "--layer", "conv", "--overlay", "1", "--colormap", "diverging",
                            "--scale", "tile", "--scale", "255", "--channel", "1", "--labels", "--boost", "0.5", "--gamma", "2", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let grids = try outputs(out, kind: "activation-grid")
        XCTAssertEqual(grids.map { $0["layer"] as? String }, ["relu", "conv"])
        let g = grids[0]
        XCTAssertEqual(g["channels"] as? [Int], [1])
        XCTAssertEqual(g["scale"] as? String, "tile")
        XCTAssertEqual(g["colormap"] as? String, "diverging")
        XCTAssertEqual(g["boost"] as? Double, 0.5)
        XCTAssertEqual(g["gamma"] as? Double, 2)
        // The range is that of the drawn tile (channel 1 of relu), and the activation entry's that of the layer.
        let activation = try XCTUnwrap(try outputs(out, kind: "activation").first { $0["layer"] as? String == "relu" })
        let a = try NPY.read(out + "/" + (activation["npy"] as! String))
        let plane = a.shape[2] * a.shape[3]
        let channel1 = a.scalars[plane..<(2 * plane)]
        XCTAssertEqual((g["min"] as? Double).map(Float.init), channel1.min())
        XCTAssertEqual((g["max"] as? Double).map(Float.init), channel1.max())
        XCTAssertEqual((activation["min"] as? Double).map(Float.init), a.scalars.min())
        XCTAssertEqual((activation["max"] as? Double).map(Float.init), a.scalars.max())
        XCTAssertLessThan(channel1.min()!, channel1.max()!, "a constant tile would not test the range")
        let grid = try NPY.read(out + "/" + (g["npy"] as! String))
        XCTAssertEqual(grid.rank, 3)
        XCTAssertEqual(grid.shape[2], 3)
        XCTAssertTrue(grid.range.min >= 0 && grid.range.max <= 1)
        let overlays = try outputs(out, kind: "overlay")
        XCTAssertEqual(overlays.count, 2)
        XCTAssertEqual(overlays[0]["channel"] as? Int, 1)
        XCTAssertEqual(overlays[0]["colormap"] as? String, "diverging")
        let overlay = try Image.read(out + "/" + (overlays[0]["png"] as! String))
        XCTAssertGreaterThanOrEqual(overlay.width, 4, "the 4×4 input, or the colour bar's labels if wider")
        XCTAssertGreaterThan(overlay.height, 4, "image + colour bar")
        let params = try manifest(out)["parameters"] as! [String: Any]
        XCTAssertEqual(params["channel"] as? String, "1")
        XCTAssertEqual(params["overlay"] as? Int, 1)
    }

    func testTensorboardEventFileDecodesWithValidCRCs() throws {
        let logdir = try temporaryDirectory(self) + "/logs"
        let r = try runCLI(["tensorboard", "--model", bgr, "--layer", "conv", "--layer", "relu", "--step", "5", "--max-outputs", "1", "--logdir", logdir])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\n  tensorboard --logdir \(logdir)\n"), r.stdout)
        var files = try FileManager.default.contentsOfDirectory(atPath: logdir).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(files.count, 1)
        XCTAssertNotNil(files[0].range(of: #"^events\.out\.tfevents\.\d{10}\.[A-Za-z0-9._-]+$"#, options: .regularExpression), files[0])
        let events = try EventFile.read(try AtomicFile.read(logdir + "/" + files[0]), file: files[0])
        XCTAssertEqual(events.first?.fileVersion, "brain.Event:2")
        let images = events.flatMap(\.images)
        XCTAssertEqual(images.map(\.tag), ["conv/filters/image/0", "conv/activations/image/0", "conv/grid",
                                           "relu/activations/image/0", "relu/grid"])
        XCTAssertTrue(events.dropFirst().allSatisfy { $0.step == 5 })
        for im in images {
            let decoded = try Image.decode(im.png)
            XCTAssertEqual([decoded.width, decoded.height, decoded.channels], [im.width, im.height, im.colorspace], im.tag)
        }
        XCTAssertEqual(images[0].colorspace, 3, "RGB filter")
        XCTAssertEqual(images[1].colorspace, 1, "gray activation")
        let entries = try outputs(logdir, kind: "tensorboard")
        XCTAssertEqual(entries.map { $0["file"] as? String }, [files[0], files[0]])
        XCTAssertEqual(entries[0]["tags"] as? [String], Array(images.map(\.tag).prefix(3)))

        // A second checkpoint appends a new event file.
        let r2 = try runCLI(["tensorboard", "--model", bgr, "--layer", "conv", "--step", "6", "--logdir", logdir])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        files = try FileManager.default.contentsOfDirectory(atPath: logdir).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(files.count, 2)
    }

    func testBadInputs() throws {
        let dir = try temporaryDirectory(self)
        let out = dir + "/out"
        assertBadInput(try runCLI(["filters", "--model", bgr, "--layer", "relu", "--out", out]), mentioning: "'relu' is a Relu layer, not a convolution")
        assertBadInput(try runCLI(["filters", "--layer", conv0, "--view", "input:3", "--out", out]), mentioning: "input:3 is out of range")
        assertBadInput(try runCLI(["filters", "--layer", "#2", "--view", "rgb", "--out", out]), mentioning: "rgb needs 3 channels")
        assertBadInput(try runCLI(["activations", "--model", bgr, "--layer", "conv", "--channel", "0,40", "--out", out]),
                       mentioning: "channel 40 is out of range: layer 'conv' has 2 channels")
        assertBadInput(try runCLI(["activations", "--model", bgr, "--layer", "conv", "--overlay", "2", "--out", out]), mentioning: "channel 2")
        assertBadInput(try runCLI(["tensorboard", "--model", bgr, "--layer", "conv", "--channel", "7", "--logdir", out]), mentioning: "channel 7")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written on bad input")

        let file = dir + "/a-file"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data([1])))
        assertBadInput(try runCLI(["tensorboard", "--model", bgr, "--layer", "conv", "--logdir", file]), mentioning: "a-file: exists and is not a folder")

        for args in [["filters", "--layer", conv0, "--zoom", "0", "--out", out],
                     ["filters", "--layer", conv0, "--view", "diagonal", "--out", out],
                     ["activations", "--layer", "#0", "--channel", "5-2", "--out", out],
                     ["activations", "--layer", "#0", "--boost", "2", "--out", out],
                     ["activations", "--layer", "#0", "--scale", "sideways", "--out", out],
                     ["classify", "--scale", "tile"],
                     ["tensorboard", "--layer", "#0", "--max-outputs", "0", "--logdir", out]] {
            let r = try runCLI(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
        }
    }

    func testDemoWritesFiltersGridsOverlayAndTensorBoard() throws {
        let out = try temporaryDirectory(self) + "/demo"
        let r = try runCLI(["demo", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("tensorboard --logdir \(out)/tensorboard"), r.stdout)
        XCTAssertEqual(try outputs(out + "/filters", kind: "filter-grid").first?["layer"] as? String, conv0)
        XCTAssertEqual(try outputs(out + "/activations", kind: "activation-grid").count, 3)
        XCTAssertEqual(try outputs(out + "/activations", kind: "overlay").count, 1)
        let tb = try outputs(out + "/tensorboard", kind: "tensorboard")
        XCTAssertEqual(tb.count, 4)
        XCTAssertTrue((tb[0]["tags"] as! [String]).contains("\(conv0)/filters/image/0"))
    }
}
