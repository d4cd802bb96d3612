import Foundation
import TestSupport
import XCTest

/// Runs the built `convlens` executable (beside the test bundle) and captures its output.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

func convlensExecutable() -> String {
    // The test runner lives in .build/<config>/; the executable is beside it.
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("convlens").path
}

func runCLI(_ arguments: [String], environment: [String: String] = [:]) throws -> CLIResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: convlensExecutable())
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return CLIResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// Asserts exit status 2 with exactly one line on stderr mentioning `mentioning`.
func assertBadInput(_ r: CLIResult, mentioning: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(r.status, 2, "stderr: \(r.stderr)", file: file, line: line)
    let lines = r.stderr.split(separator: "\n")
    XCTAssertEqual(lines.count, 1, "expected one line on stderr, got: \(r.stderr)", file: file, line: line)
    XCTAssertTrue(r.stderr.contains(mentioning), "stderr '\(r.stderr)' does not mention '\(mentioning)'", file: file, line: line)
}
