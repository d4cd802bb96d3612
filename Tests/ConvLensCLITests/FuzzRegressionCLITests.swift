import ConvLensCore
import Foundation
import TestSupport
import XCTest

/// The regression corpus of the fuzz targets (Tests/Fixtures/fuzz, Docs/Reliability.md): every
/// file there once crashed, hung or misled, or is a hostile file made on purpose
/// (Tests/ReferenceGenerators/make_hostile_files.py). Each must now fail the way the CLI promises:
/// exit 2 and one line on stderr naming the file and the cause given in `expected.json` (or, for
/// an expectation of "ok", exit 0: a hostile file that must still import).
final class FuzzRegressionCLITests: XCTestCase {
    /// The command a user would run on a file of each fuzz target, and the path its error must
    /// name. A `scan.json` is read from a folder: it is copied into `scratch` for `scan-merge`.
    static func command(target: String, file: String, scratch: String) throws -> (arguments: [String], names: String) {
        switch target {
        case "onnx", "keras-h5", "keras-zip": return (["inspect", "--model", file], file)
        case "image", "npy": return (["classify", "--image", file], file)
        case "scan":
            let folder = scratch + "/" + URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: file, toPath: folder + "/scan.json")
            return (["scan-merge", folder, "--out", scratch + "/merged"], folder + "/scan.json")
        default: return (["inspect", "--model", file], file)
        }
    }

    func testEveryRegressionFileFailsWithOneLineNamingItsCause() throws {
        let dir = fixture("fuzz")
        let expected = try JSONDecoder().decode([String: String].self, from: try AtomicFile.read(dir + "/expected.json"))
        XCTAssertGreaterThanOrEqual(expected.count, 4)
        // Every file of the corpus is listed (a finding without an expectation is not a regression test).
        let files = try FileManager.default.subpathsOfDirectory(atPath: dir).filter { $0.contains("/") }
        XCTAssertEqual(Set(files), Set(expected.keys))
        let scratch = try temporaryDirectory(self)
        for (name, cause) in expected.sorted(by: { $0.key < $1.key }) {
            let target = String(name.prefix(while: { $0 != "/" }))
            let (arguments, path) = try FuzzRegressionCLITests.command(target: target, file: dir + "/" + name, scratch: scratch)
            let start = Date()
            let r = try runCLI(arguments, environment: ["CONVLENS_HDF5_TIMEOUT": "3"])
            if cause == "ok" {
                // Hostile but harmless (a hard-link cycle): it must import.
                XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            } else {
                assertBadInput(r, mentioning: cause)
                XCTAssertTrue(r.stderr.contains(path), "\(name): '\(r.stderr)' does not name the file")
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), 30, "\(name) took too long")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch + "/merged"), "a refused scan wrote no output")
    }
}
