import ConvLens
import Foundation
import TestSupport
import XCTest

final class DemoCLITests: XCTestCase {
    func testVersion() throws {
        let r = try runCLI(["--version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), convLensVersion)
    }

    func testBadImageInputsExit2WithOneLine() throws {
        let out = try temporaryDirectory(self)
        for (name, cause) in [("empty.png", "empty"), ("truncated.png", "invalid PNG"), ("huge.png", "1000000"),
                              ("not_an_image.png", "not a PNG or JPEG")] {
            let path = fixture("imaging/\(name)")
            let r = try runCLI(["demo", "--image", path, "--out", out])
            assertBadInput(r, mentioning: cause)
            XCTAssertTrue(r.stderr.contains(name), r.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), [], "no partial output")
    }

    func testUnwritableOutputExit2() throws {
        let dir = try temporaryDirectory(self)
        let file = dir + "/a-file"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data([1])))
        let r = try runCLI(["demo", "--out", file])
        assertBadInput(r, mentioning: "a-file")
    }

    func testMissingResourcesIsAClearError() throws {
        // An empty resource folder stands for an install whose resources were deleted.
        let empty = try temporaryDirectory(self)
        let r2 = try runCLI(["demo", "--out", try temporaryDirectory(self)], environment: ["CONVLENS_RESOURCES": empty])
        assertBadInput(r2, mentioning: "bundled resource is missing")
    }
}
