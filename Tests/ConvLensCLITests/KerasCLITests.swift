import Foundation
import TestSupport
import XCTest

/// Keras files on the command line, and bad Keras input (exit 2, one line).
final class KerasCLITests: XCTestCase {
    func testCommandsAcceptKerasFiles() throws {
        let out = try temporaryDirectory(self)
        for m in ["seq.keras", "func.h5"] {
            let model = fixture("keras/\(m)")
            let input = fixture("keras/\(m.hasPrefix("seq") ? "seq" : "func")_input.npy")
            let inspect = try runCLI(["inspect", "--model", model])
            XCTAssertEqual(inspect.status, 0, inspect.stderr)
            let acts = try runCLI(["activations", "--model", model, "--image", input, "--layer", m.hasPrefix("seq") ? "conv1" : "add", "--out", out + "/a"])
            XCTAssertEqual(acts.status, 0, acts.stderr)
            let proj = try runCLI(["project", "--model", model, "--image", input, "--layer", m.hasPrefix("seq") ? "conv2" : "lrelu",
                                   "--channel", "0", "--rule", "all", "--out", out + "/p"])
            XCTAssertEqual(proj.status, 0, proj.stderr)
        }
    }

    func testBadKerasFilesExitTwoWithOneLine() throws {
        for (file, cause) in [("bad_truncated.h5", "truncated"), ("bad_noconfig.keras", "no config.json"),
                              ("bad_unsupported.keras", "'UpSampling2D' is not supported"),
                              ("bad_weightshape.h5", "weight 'kernel' has shape [3, 3, 3, 7]")] {
            let r = try runCLI(["inspect", "--model", fixture("keras/\(file)")])
            assertBadInput(r, mentioning: cause)
            XCTAssertTrue(r.stderr.contains(file), r.stderr)
        }
    }
}
