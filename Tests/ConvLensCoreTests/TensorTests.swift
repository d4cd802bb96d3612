import ConvLensCore
import Foundation
import TestSupport
import XCTest

final class TensorTests: XCTestCase {
    func testShapeCountsAndStrides() throws {
        let s: Shape = [2, 3, 4, 5]
        XCTAssertEqual(s.count, 120)
        XCTAssertEqual(s.strides, [60, 20, 5, 1])
        XCTAssertEqual(Shape([]).count, 1)
    }

    func testShapeValidationRejectsOverflowAndNegative() {
        assertThrowsConvLensError(.absurdSize) { try Shape(validating: [1 << 40, 1 << 40]) }
        assertThrowsConvLensError(.absurdSize) { try Shape(validating: [Int.max, 2]) }
        assertThrowsConvLensError(.absurdSize) { try Shape(validating: [3, -1]) }
        assertThrowsConvLensError(.absurdSize) { try Shape(validating: [1 << 16, 1 << 16]) }
        XCTAssertNoThrow(try Shape(validating: [1, 3, 224, 224]))
    }

    func testCopyOnWriteKeepsCopiesIndependent() {
        var a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        let b = a
        a[0, 1] = 9
        XCTAssertEqual(b[0, 1], 2)
        XCTAssertEqual(a[0, 1], 9)
        XCTAssertEqual(a.range.max, 9)
    }

    func testRelativeL2() {
        let a = Tensor(shape: [2], scalars: [3, 4])
        let b = Tensor(shape: [2], scalars: [3, 4.5])
        XCTAssertEqual(Tensor.relativeL2(b, a), 0.1, accuracy: 1e-12)
        XCTAssertEqual(Tensor.relativeL2(a, a), 0)
    }
}
