import ConvLens
import Foundation
import TestSupport
import XCTest

final class ModelCommandsCLITests: XCTestCase {
    private let se = fixture("forward/squeeze_excitation")

    func testActivationsByNodeNameTensorNameAndRowWriteTheExactTensor() throws {
        let expected = try NPY.read(se + "/out_7.npy") // the Mul of the SE block (fixture from ONNX Runtime)
        for query in ["se/excite", "excited", "#7"] {
            let out = try temporaryDirectory(self)
            let r = try runCLI(["activations", "--model", se + "/model.onnx", "--image", se + "/input.npy", "--layer", query, "--out", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            let manifest = try JSONSerialization.jsonObject(with: try AtomicFile.read(out + "/manifest.json")) as! [String: Any]
            let outputs = manifest["outputs"] as! [[String: Any]]
            let entry = outputs.first { $0["kind"] as? String == "activation" }!
            XCTAssertEqual(entry["layer"] as? String, "se/excite")
            XCTAssertEqual(entry["layer_query"] as? String, query)
            XCTAssertEqual(manifest["command"] as? String, "activations")
            XCTAssertEqual((manifest["model"] as? [String: Any])?["sha256"] as? String,
                           Manifest.sha256Hex(try AtomicFile.read(se + "/model.onnx")))
            let t = try NPY.read(out + "/" + (entry["npy"] as! String))
            assertClose(t, expected, tolerance: 1e-4, query)
        }
    }

    func testInspectAndClassifyOnTheBundledModel() throws {
        let inspect = try runCLI(["inspect", "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as! [String: Any]
        let layers = json["layers"] as! [[String: Any]]
        XCTAssertEqual(layers.count, 100)
        XCTAssertEqual(layers[0]["name"] as? String, "/features/features.0/features.0.0/Conv")
        let rf = layers[0]["receptive_field"] as! [String: Any]
        XCTAssertEqual(rf["size"] as? [Double], [3, 3])

        let classify = try runCLI(["classify", "--json"])
        XCTAssertEqual(classify.status, 0, classify.stderr)
        let top = try JSONSerialization.jsonObject(with: Data(classify.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(top.count, 5)
        // The bundled photograph is a cat: torchvision's pipeline with ONNX Runtime gives
        // "Egyptian cat" (285).
        XCTAssertEqual(top[0]["index"] as? Int, 285, "\(top[0])")
        XCTAssertEqual(top[0]["label"] as? String, "Egyptian cat")
    }

    /// A 1,000-way model without labels gets the bundled ImageNet names; `--labels FILE` overrides
    /// them and must match the class count.
    func testLabelsFallBackToImageNetAndComeFromAFile() throws {
        var model = try Model.load(nil)
        let trace = try model.run(try model.input(from: nil))
        let named = try model.classify(trace, top: 1)[0]
        model.labels = []
        let fallback = try model.classify(trace, top: 1)[0]
        XCTAssertEqual(fallback.label, named.label)
        XCTAssertEqual(fallback.label, "Egyptian cat")

        let dir = NSTemporaryDirectory() + "convlens-labels-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = dir + "/labels.txt", short = dir + "/short.txt"
        try (0..<1000).map { "c\($0)" }.joined(separator: "\n").write(toFile: good, atomically: true, encoding: .utf8)
        try "a\nb\n".write(toFile: short, atomically: true, encoding: .utf8)
        let r = try runCLI(["classify", "--labels", good, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let top = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(top[0]["label"] as? String, "c\(fallback.index)")
        assertBadInput(try runCLI(["classify", "--labels", short]), mentioning: "the labels file has 2 names; the model has 1000 classes")
        assertBadInput(try runCLI(["classify", "--labels", dir + "/missing.txt"]), mentioning: "missing.txt")
    }

    func testBadModelsExit2WithOneLineAndNoOutput() throws {
        let bad = fixture("forward/bad")
        let cases: [(String, String)] = [
            ("truncated.onnx", "not a valid ONNX model"), ("random.onnx", "not a valid ONNX model"),
            ("unsupported_op.onnx", "weird_node"), ("initializer_size_mismatch.onnx", "needs"),
            ("overflow_shape.onnx", "shape"), ("external_escape.onnx", "leaves the model's folder"),
        ]
        for (file, cause) in cases {
            let out = try temporaryDirectory(self) + "/out"
            let r = try runCLI(["activations", "--model", bad + "/" + file, "--image", se + "/input.npy", "--layer", "#0", "--out", out])
            assertBadInput(r, mentioning: cause)
            XCTAssertTrue(r.stderr.contains(file), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(file): no output folder")
        }
        // A device has no end to read to: refused at once instead of reading forever.
        let out = try temporaryDirectory(self) + "/out"
        for args in [["--model", "/dev/zero", "--image", se + "/input.npy"], ["--model", se + "/model.onnx", "--image", "/dev/zero"]] {
            let r = try runCLI(["activations"] + args + ["--layer", "#0", "--out", out])
            assertBadInput(r, mentioning: "/dev/zero: is a character device, not a regular file")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
    }

    func testWrongInputShapeUnknownLayerAndBadArguments() throws {
        let out = try temporaryDirectory(self) + "/out"
        let wrong = try runCLI(["activations", "--model", se + "/model.onnx", "--image", fixture("forward/bad/wrong_input.npy"), "--layer", "#0", "--out", out])
        assertBadInput(wrong, mentioning: "wrong_input.npy")
        let unknown = try runCLI(["activations", "--model", se + "/model.onnx", "--image", se + "/input.npy", "--layer", "se/excit", "--out", out])
        assertBadInput(unknown, mentioning: "nearest: 'se/excite'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let usage = try runCLI(["activations", "--out", out])
        XCTAssertEqual(usage.status, 64, usage.stderr)
        let badMean = try runCLI(["classify", "--mean", "a,b"])
        XCTAssertEqual(badMean.status, 64, badMean.stderr)
        // Non-finite numbers are refused by the option that carries them (not by the manifest's
        // JSON encoder after the work), and long arguments are not echoed in full.
        let cases: [([String], String)] = [
            (["classify", "--mean", "nan,0,0"], "--mean"), (["classify", "--mean", "1e400,0,0"], "--mean"),
            (["classify", "--std", "1,0,1"], "--std"), (["classify", "--scale", "inf"], "--scale"),
            (["activations", "--layer", "#0", "--grid", "--gamma", "inf", "--out", out], "--gamma"),
            (["project", "--layer", "#3", "--channel", String(repeating: "9,", count: 3000) + "x", "--out", out], "--channel"),
        ]
        for (args, option) in cases {
            let r = try runCLI(args)
            XCTAssertEqual(r.status, 64, "\(args.prefix(4)): \(r.stderr.prefix(300))")
            XCTAssertTrue(r.stderr.contains(option), "\(args.prefix(4)): \(r.stderr.prefix(300))")
            XCTAssertLessThan(r.stderr.count, 600, "\(args.prefix(4)): \(r.stderr.prefix(300))")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
        // A long layer name reaches the library's error (exit 2), which cuts it too.
        let longLayer = try runCLI(["activations", "--layer", String(repeating: "x", count: 5000), "--out", out])
        assertBadInput(longLayer, mentioning: "(5000 characters)")
        XCTAssertLessThan(longLayer.stderr.count, 600, String(longLayer.stderr.prefix(300)))
    }

    func testDemoPrintsTableTop5AndWritesManifests() throws {
        let out = try temporaryDirectory(self) + "/demo"
        let r = try runCLI(["demo", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("#0   /features/features.0/features.0.0/Conv"), r.stdout)
        XCTAssertTrue(r.stdout.contains("cat"), r.stdout)
        for step in ["classify", "activations"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(step)/manifest.json"), step)
        }
    }
}
