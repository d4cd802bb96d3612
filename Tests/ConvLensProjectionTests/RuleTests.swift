import ConvLens
import XCTest

final class RuleTests: XCTestCase {
    func testRuleNamesAreTheCommandLineSpellings() {
        XCTAssertEqual(ProjectionRule.allCases.map(\.rawValue), ["deconvnet", "guided", "backprop"])
    }
}
