import Foundation
import ConvLens
import TestSupport
import XCTest

/// `convlens notebook`: the nbformat 4.5 structure (checked here without Python; `make
/// notebook-check` runs nbformat.validate, nbconvert and an execution), the files beside it and
/// the manifest.
final class NotebookCLITests: XCTestCase {
    func temporaryFolder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("convlens-nb-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func json(_ path: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// The sources of every cell of a notebook, one after another.
    func cellText(_ path: String) throws -> String {
        try XCTUnwrap(try json(path)["cells"] as? [[String: Any]]).map { cell -> String in
            (cell["source"] as? [String])?.joined() ?? (cell["source"] as? String ?? "")
        }.joined(separator: "\n")
    }

    func testNotebookStructureFilesAndManifest() throws {
        let out = try temporaryFolder()
        let r = try runCLI(["notebook", "--layer", "#4", "--channel", "0,3", "--max-tiles", "4", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let nb = try json(out + "/notebook.ipynb")
        XCTAssertEqual(nb["nbformat"] as? Int, 4)
        XCTAssertEqual(nb["nbformat_minor"] as? Int, 5)
        let kernelspec = try XCTUnwrap((nb["metadata"] as? [String: Any])?["kernelspec"] as? [String: Any])
        XCTAssertEqual(kernelspec["name"] as? String, "python3")
        let cells = try XCTUnwrap(nb["cells"] as? [[String: Any]])
        let ids = cells.compactMap { $0["id"] as? String }
        XCTAssertEqual(ids.count, cells.count)
        XCTAssertEqual(Set(ids).count, ids.count, "cell ids must be unique")
        for id in ids { XCTAssertNotNil(id.range(of: "^[a-zA-Z0-9-_]{1,64}$", options: .regularExpression), id) }
        var images = 0
        for cell in cells {
            XCTAssertNotNil(cell["metadata"] as? [String: Any])
            if cell["cell_type"] as? String == "code" {
                // Present and null (not missing).
                XCTAssertTrue(cell.keys.contains("execution_count"))
                XCTAssertTrue(cell["execution_count"] is NSNull)
                for o in try XCTUnwrap(cell["outputs"] as? [[String: Any]]) {
                    XCTAssertEqual(o["output_type"] as? String, "display_data")
                    XCTAssertNotNil(o["metadata"] as? [String: Any])
                    let png = try XCTUnwrap((o["data"] as? [String: Any])?["image/png"] as? String)
                    XCTAssertEqual(Data(base64Encoded: png)?.prefix(4), Data([0x89, 0x50, 0x4E, 0x47]))
                    images += 1
                }
            } else {
                XCTAssertEqual(cell["cell_type"] as? String, "markdown")
                XCTAssertNil(cell["outputs"])
                XCTAssertNil(cell["execution_count"])
            }
        }
        // input, filter grid, activation grid, three projection grids, two panels.
        XCTAssertEqual(images, 8)
        let text = cells.map { ($0["source"] as? [String] ?? []).joined() }.joined(separator: "\n")
        XCTAssertTrue(text.contains("convlens notebook --layer '#4' --channel 0,3 --max-tiles 4 --out "), "the exact command line")
        XCTAssertTrue(text.contains("convlens compare --layer /features/features.1/conv/conv.1/Conv --channel 0,3"))
        XCTAssertTrue(text.contains("| `/features/features.1/conv/conv.1/Conv` | 3 |"), "the unit table")
        XCTAssertTrue(text.contains("np.load(\"activations/features_features.1_conv_conv.1_Conv.npy\")"))
        XCTAssertTrue(text.contains("assert a1.shape == (16, 32, 1, 1)"), "filter weights reload with their shape")

        let manifest = try json(out + "/manifest.json")
        XCTAssertEqual(manifest["command"] as? String, "notebook")
        let outputs = try XCTUnwrap(manifest["outputs"] as? [[String: Any]])
        XCTAssertTrue(outputs.contains { $0["kind"] as? String == "notebook" && $0["file"] as? String == "notebook.ipynb" })
        for o in outputs {
            for key in ["npy", "png"] {
                if let rel = o[key] as? String { XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(rel)"), rel) }
            }
        }
        let activation = try XCTUnwrap(outputs.first { $0["kind"] as? String == "activation" })
        XCTAssertEqual(activation["shape"] as? [Int], [1, 16, 112, 112])
        XCTAssertEqual(try NPY.read(out + "/" + (activation["npy"] as! String)).shape.dimensions, [1, 16, 112, 112])
    }

    /// The opt-in gradcam and occlusion sections: their commands, pictures and arrays.
    func testGradCAMAndOcclusionSections() throws {
        let out = try temporaryFolder()
        let model = fixture("attribution/cnn/model.onnx"), image = fixture("attribution/cnn/input.npy")
        let r = try runCLI(["notebook", "--model", model, "--image", image, "--layer", "/features/features.9/Relu",
                            "--sections", "gradcam,occlusion", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try cellText(out + "/notebook.ipynb")
        XCTAssertTrue(text.contains("## Grad-CAM at `/features/features.9/Relu`"), text)
        XCTAssertTrue(text.contains("convlens gradcam"), text)
        XCTAssertTrue(text.contains("convlens occlusion"), text)
        XCTAssertFalse(text.contains("## Filters"))
        let outputs = try XCTUnwrap(try json(out + "/manifest.json")["outputs"] as? [[String: Any]])
        let kinds = Set(outputs.compactMap { $0["kind"] as? String })
        XCTAssertTrue(kinds.isSuperset(of: ["gradcam", "gradcam-input", "guided-gradcam", "occlusion", "occlusion-map", "occlusion-top"]), "\(kinds)")
        let cam = try XCTUnwrap(outputs.first { $0["kind"] as? String == "gradcam" }?["npy"] as? String)
        assertClose(try NPY.read(out + "/" + cam), try NPY.read(fixture("attribution/cnn/gradcam_0.npy")), tolerance: 1e-5)
    }

    /// The opt-in optimize section: one image and curve per channel, and the command it prints
    /// writes the same image.
    func testOptimizeSection() throws {
        let out = try temporaryFolder()
        let model = fixture("optimize/model.onnx")
        let r = try runCLI(["notebook", "--model", model, "--layer", "/relu2/Relu", "--channel", "3,7", "--sections", "optimize",
                            "--optimize-steps", "5", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try cellText(out + "/notebook.ipynb")
        let command = "convlens optimize --model \(model) --layer /relu2/Relu --channel 3,7 --steps 5 --out optimize/relu2_Relu"
        XCTAssertTrue(text.contains(command), text)
        let outputs = try XCTUnwrap(try json(out + "/manifest.json")["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs.filter { $0["kind"] as? String == "optimized" }.count, 2)
        XCTAssertEqual(outputs.filter { $0["kind"] as? String == "objective-curve" }.count, 2)
        let alone = try temporaryFolder()
        let again = try runCLI(["optimize", "--model", model, "--layer", "/relu2/Relu", "--channel", "3,7", "--steps", "5", "--out", alone])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try NPY.read(out + "/optimize/relu2_Relu/relu2_Relu_c7_optimized.npy").scalars,
                       try NPY.read(alone + "/relu2_Relu_c7_optimized.npy").scalars)
        // Without a channel selection the section is refused (64), before anything is written.
        let refused = try runCLI(["notebook", "--model", model, "--layer", "/relu2/Relu", "--sections", "optimize", "--out", out + "-x"])
        XCTAssertEqual(refused.status, 64, refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "-x"))
        // A model the section's Fourier image cannot serve (input 99 pixels wide): the error names
        // the notebook's own option, not optimize's --param, which notebook does not have.
        let odd = try runCLI(["notebook", "--model", fixture("forward/alexnet/model.onnx"), "--layer", "#0", "--channel", "0",
                              "--sections", "optimize", "--out", out + "-odd"])
        assertBadInput(odd, mentioning: "--sections: the Fourier parameterization needs an even input width")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "-odd"))
    }

    func testMaxArrayBytesDropsLargeArraysButKeepsPictures() throws {
        let out = try temporaryFolder()
        let r = try runCLI(["notebook", "--layer", "#4", "--sections", "activations", "--max-array-bytes", "1000", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let outputs = try XCTUnwrap(try json(out + "/manifest.json")["outputs"] as? [[String: Any]])
        XCTAssertFalse(outputs.contains { $0["npy"] != nil })
        XCTAssertTrue(outputs.contains { ($0["png"] as? String)?.hasSuffix("-grid.png") ?? false })
        let sub = try XCTUnwrap(try json(out + "/activations/manifest.json")["outputs"] as? [[String: Any]])
        XCTAssertFalse(sub.contains { $0["npy"] != nil }, "the sub-manifest no longer names deleted arrays")
    }

    func testBadInput() throws {
        let out = try temporaryFolder()
        assertBadInput(try runCLI(["notebook", "--layer", "#4", "--channel", "99", "--out", out]), mentioning: "99")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/notebook.ipynb"))
        assertBadInput(try runCLI(["notebook", "--layer", "nope", "--strongest", "2", "--out", out]), mentioning: "nope")
        XCTAssertEqual(try runCLI(["notebook", "--layer", "#4", "--out", out]).status, 64, "projections need units")
        XCTAssertEqual(try runCLI(["notebook", "--layer", "#4", "--channel", "1", "--strongest", "2", "--out", out]).status, 64)
        XCTAssertEqual(try runCLI(["notebook", "--layer", "#4", "--sections", "filters,bogus", "--out", out]).status, 64)
    }
}
