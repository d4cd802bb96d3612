import ConvLensCore
import Foundation
import XCTest

/// The repository's `Tests/Fixtures` folder.
public let fixturesDirectory: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
}()

/// The path of a fixture file.
public func fixture(_ relative: String) -> String { fixturesDirectory + "/" + relative }

/// A fresh temporary folder, removed when the test ends.
public func temporaryDirectory(_ test: XCTestCase) throws -> String {
    let dir = NSTemporaryDirectory() + "convlens-test-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

/// Asserts two tensors have the same shape and relative L2 error ≤ `tolerance`, reporting the
/// worst element.
public func assertClose(_ actual: Tensor, _ expected: Tensor, tolerance: Double = 1e-4,
                        _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    guard actual.shape == expected.shape else {
        XCTFail("shape \(actual.shape) ≠ expected \(expected.shape) \(message())", file: file, line: line)
        return
    }
    let rel = Tensor.relativeL2(actual, expected)
    if !(rel <= tolerance) {
        var worst = 0, worstDiff: Float = -1
        for i in 0..<actual.count {
            let d = abs(actual.scalars[i] - expected.scalars[i])
            if d > worstDiff || d.isNaN { worst = i; worstDiff = d }
        }
        XCTFail("relative L2 \(rel) > \(tolerance); worst element \(worst): \(actual.scalars[worst]) vs \(expected.scalars[worst]) \(message())", file: file, line: line)
    }
}

/// Asserts that `body` throws a ``ConvLensError`` with `code`, optionally mentioning `mentioning` and
/// concerning the request parameter `parameter`.
public func assertThrowsConvLensError<T>(_ code: ConvLensError.Code, mentioning: String? = nil, parameter: String? = nil,
                                         file: StaticString = #filePath, line: UInt = #line,
                                         _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected a ConvLensError \(code), nothing was thrown", file: file, line: line)
    } catch let e as ConvLensError {
        XCTAssertEqual(e.code, code, "\(e)", file: file, line: line)
        if let parameter {
            XCTAssertEqual(e.parameter, parameter, "error '\(e)' does not concern the parameter '\(parameter)'", file: file, line: line)
        }
        if let m = mentioning {
            XCTAssertTrue(e.description.contains(m), "error '\(e)' does not mention '\(m)'", file: file, line: line)
        }
        XCTAssertFalse(e.description.contains("\n"), "error is not one line: \(e)", file: file, line: line)
    } catch {
        XCTFail("expected a ConvLensError, got \(error)", file: file, line: line)
    }
}
