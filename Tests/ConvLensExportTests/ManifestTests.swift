import ConvLensCore
import ConvLensExport
import Foundation
import TestSupport
import XCTest

final class ManifestTests: XCTestCase {
    /// FIPS 180-4 example vectors, and a file record equal to coreutils' `sha256sum` of the same file.
    func testSHA256MatchesStandardVectorsAndSha256sum() throws {
        XCTAssertEqual(Manifest.sha256Hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Manifest.sha256Hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(Manifest.sha256Hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let path = fixture("forward/squeeze_excitation/model.onnx")
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        tool.arguments = [path]
        let pipe = Pipe()
        tool.standardOutput = pipe
        try tool.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        tool.waitUntilExit()
        XCTAssertEqual(try Manifest.record(path: path).sha256, String(text.prefix(64)))
    }

    /// The manifest is written whole, as the last file of a run.
    func testManifestWriteLeavesOnlyTheManifest() throws {
        let dir = try temporaryDirectory(self)
        var m = Manifest(command: "test", version: "0", model: nil, input: nil, parameters: ["x": .number(1)])
        m.outputs.append(Manifest.Output(kind: .projection))
        try m.write(to: dir)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["manifest.json"])
        let back = try JSONDecoder().decode(Manifest.self, from: try AtomicFile.read(dir + "/manifest.json"))
        XCTAssertEqual(back.outputs.map(\.kind), [.projection])
    }

    /// A kind is its name in the JSON, and a manifest with a kind this version does not name still decodes.
    func testKindsAreTheirNamesAndStayOpen() throws {
        let json = String(decoding: try JSONEncoder().encode([Manifest.Output(kind: .activationGrid), Manifest.Output(kind: .guidedGradcam)]), as: UTF8.self)
        XCTAssertEqual(json, #"[{"kind":"activation-grid"},{"kind":"guided-gradcam"}]"#)
        let future = try JSONDecoder().decode(Manifest.Output.self, from: Data(#"{"kind":"saliency-v9","layer":"c"}"#.utf8))
        XCTAssertEqual(future.kind.rawValue, "saliency-v9")
        XCTAssertEqual(future.layer, "c")
        XCTAssertThrowsError(try JSONDecoder().decode(Manifest.Output.self, from: Data(#"{"kind":7}"#.utf8)))
    }
}
