import Foundation
import TestSupport
import XCTest

/// Every numeric option refuses NaN, infinities, overflowing and out-of-range values before any
/// work, with exit 64 and a message naming the option (issue 19), and writes nothing.
final class OptionValidationCLITests: XCTestCase {
    func testEveryNumericOptionRefusesBadValuesByName() throws {
        let out = try temporaryDirectory(self) + "/never"
        // (command and the options it needs, option, bad values)
        let project = ["project", "--layer", "#3", "--channel", "0"]
        let optimize = ["optimize", "--layer", "#3", "--channel", "0", "--steps", "1"]
        let cases: [([String], String, [String])] = [
            (["classify"], "--mean", ["nan,0,0", "0,inf,0", "1e400,0,0"]),
            (["classify"], "--std", ["nan,1,1", "0,1,1", "-inf,1,1"]),
            (["classify"], "--scale", ["nan", "inf"]),
            (["classify"], "--resize", ["0", "-3", "99999999999999999999", "1e9"]),
            (["classify"], "--top", ["0", "-1", "99999999999999999999"]),
            (["activations", "--layer", "#0"], "--boost", ["nan", "-0.5", "2", "inf"]),
            (["activations", "--layer", "#0"], "--gamma", ["nan", "0", "-1", "inf"]),
            (["activations", "--layer", "#0"], "--zoom", ["0", "65", "99999999999999999999"]),
            (["activations", "--layer", "#0"], "--pad", ["-1", "257"]),
            (["activations", "--layer", "#0"], "--max-tiles", ["0"]),
            (["activations", "--layer", "#0"], "--overlay", ["-1"]),
            (project, "--outlier-percent", ["nan", "100", "-1", "inf"]),
            (project, "--memory-budget", ["nan", "0", "1e400", "-5GB", "1KB"]),
            (project, "--center-crop", ["0", "99999999"]),
            (["occlusion", "--class", "1"], "--window", ["0", "99999999"]),
            (["occlusion", "--class", "1"], "--stride", ["0", "-2"]),
            (["occlusion", "--class", "1"], "--baseline", ["nan", "inf", "1e30"]),
            (["gradcam", "--layer", "#10", "--class", "1"], "--opacity", ["nan", "-0.1", "1.5"]),
            (optimize, "--steps", ["0", "99999999999"]),
            (optimize, "--lr", ["nan", "0", "inf", "1000"]),
            (optimize, "--tv", ["nan", "-1", "inf"]),
            (optimize, "--l2", ["nan", "-1"]),
            (optimize, "--decay", ["nan", "1", "-0.1"]),
            (optimize, "--blur-sigma", ["nan", "0", "1000"]),
            (optimize, "--blur-every", ["-1"]),
            (optimize, "--clip-values", ["nan", "-1"]),
            (optimize, "--clip-norm", ["inf", "-1"]),
            (["compare", "--layer", "#3", "--channel", "0"], "--tile-size", ["0", "15", "1025"]),
            (["compare", "--layer", "#3", "--channel", "0"], "--optimize-steps", ["-1", "99999999999"]),
            (["compare", "--layer", "#3", "--channel", "0"], "--occlusion-window", ["0"]),
            (["notebook", "--layer", "#3", "--channel", "0"], "--max-array-bytes", ["-1"]),
            (["notebook", "--layer", "#3"], "--strongest", ["0"]),
            (["scan", "--images", ".", "--layer", "#0"], "--top", ["0", "10001"]),
            (["scan", "--images", ".", "--layer", "#0"], "--checkpoint-every", ["0"]),
            (["tensorboard", "--layer", "#0"], "--step", ["-1"]),
            (["tensorboard", "--layer", "#0"], "--max-outputs", ["0"]),
        ]
        var checked = 0
        for (base, option, values) in cases {
            for value in values {
                let args = base + [option, value, base[0] == "tensorboard" ? "--logdir" : "--out", out]
                let r = try runCLI(args)
                XCTAssertEqual(r.status, 64, "\(args.joined(separator: " ")): \(r.stderr.prefix(300))")
                // The first line (not the usage text after it) names the option.
                let first = r.stderr.split(separator: "\n").first.map(String.init) ?? ""
                XCTAssertTrue(first.contains(option), "\(args.joined(separator: " ")): the message does not name \(option): \(r.stderr.prefix(300))")
                XCTAssertFalse(r.stderr.contains("EncodingError"), r.stderr)
                checked += 1
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a refused command wrote its output folder")
        // The parser quotes a value it cannot convert; a long one is cut.
        let long = try runCLI(["classify", "--resize", String(repeating: "9", count: 3000)])
        XCTAssertEqual(long.status, 64)
        XCTAssertTrue(long.stderr.contains("--resize") && long.stderr.contains("characters)"), String(long.stderr.prefix(300)))
        XCTAssertLessThan(long.stderr.count, 1000)
        XCTAssertGreaterThan(checked, 80)
    }
}
