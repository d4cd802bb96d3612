import ConvLensCore
import TestSupport
import XCTest

final class ChannelSelectionTests: XCTestCase {
    func testParsesSinglesListsAndRanges() throws {
        XCTAssertEqual(try ChannelSelection(parsing: "3").channels(count: 10), [3])
        XCTAssertEqual(try ChannelSelection(parsing: "3,7,2").channels(count: 10), [3, 7, 2])
        XCTAssertEqual(try ChannelSelection(parsing: "0-3").channels(count: 10), [0, 1, 2, 3])
        XCTAssertEqual(try ChannelSelection(parsing: " 8, 1-2 ,2").channels(count: 10), [8, 1, 2], "order kept, repeats dropped")
        XCTAssertEqual(try ChannelSelection(parsing: "all").channels(count: 3), [0, 1, 2])
        XCTAssertEqual(try ChannelSelection.all.channels(count: 2), [0, 1])
        XCTAssertEqual(try ChannelSelection(parsing: "0-15,20").description, "0-15,20")
    }

    func testRejectsMalformedLists() {
        for bad in ["", "a", "3,", "-1", "5-2", "1-2-3", "1..3", "2-"] {
            assertThrowsConvLensError(.invalidArgument, parameter: "channel") { try ChannelSelection(parsing: bad) }
        }
    }

    func testValidatesAgainstTheChannelCount() throws {
        let s = try ChannelSelection(parsing: "2,30-40")
        assertThrowsConvLensError(.outOfRange, mentioning: "channel 32 is out of range: layer 'conv1' has 32 channels (0-31)") {
            try s.channels(count: 32, layer: "conv1")
        }
        assertThrowsConvLensError(.outOfRange, mentioning: "channel 30") { try s.channels(count: 30) }
        XCTAssertEqual(try s.channels(count: 41).count, 12)
    }
}
