import ConvLensCore
import ConvLensImaging
import Foundation
import TestSupport
import XCTest

final class RenderTests: XCTestCase {
    func testMinMaxScalingNeverNaN() {
        XCTAssertEqual(ValueRange(min: 2, max: 2).unit(2), 0.5, "constant → mid-gray")
        XCTAssertEqual(ValueRange(min: -1, max: 3).unit(1), 0.5)
        XCTAssertEqual(ValueRange(min: -1, max: 3).unit(.nan), 0)
        XCTAssertEqual(ValueRange(min: 0, max: 0).signedUnit(0), 0)
        XCTAssertEqual(ValueRange(min: -4, max: 2).signedUnit(-2), -0.5)
        XCTAssertEqual(ValueRange(of: [3, .nan, -1, .infinity]), ValueRange(min: -1, max: 3))
        let scaled = Scaling.normalize([[1, 1], [0, 4]], mode: .tile)
        XCTAssertEqual(scaled, [[0.5, 0.5], [0, 1]])
        XCTAssertEqual(Scaling.normalize([[1, 1], [0, 4]], mode: .global), [[0.25, 0.25], [0, 1]])
        XCTAssertEqual(Scaling.normalize([[2, 2]], mode: .global, range: ValueRange(min: 0, max: 8)), [[0.25, 0.25]])
    }

    func testBoostAndGammaFollowDeepVisualizationToolbox() {
        // x · (max_c + 1e-10)^(−b): a channel peaking at 0.25 with b = 0.5 is multiplied by 2.
        let boosted = Scaling.boost([[0.25, 0.125], [1, 0.5]], exponent: 0.5)
        XCTAssertEqual(boosted[0][0], 0.5, accuracy: 1e-6)
        XCTAssertEqual(boosted[0][1], 0.25, accuracy: 1e-6)
        XCTAssertEqual(boosted[1], [1, 0.5])
        XCTAssertEqual(Scaling.gamma([[0.25, -0.25]], 0.5)[0], [0.5, -0.5])
    }

    func testColormaps() {
        XCTAssertEqual(Colormap.gray.color(0.25), RGB(gray: 0.25))
        XCTAssertEqual(Colormap.diverging.color(signed: 0), .white)
        XCTAssertEqual(Colormap.diverging.color(signed: -1), .blue)
        XCTAssertEqual(Colormap.diverging.color(signed: 1), .red)
        XCTAssertEqual(Colormap.diverging.color(signed: 0.5), RGB(red: 1, green: 0.5, blue: 0.5))
        // matplotlib's viridis ends.
        let v0 = Colormap.viridis.color(0), v1 = Colormap.viridis.color(1)
        XCTAssertEqual(v0.red, 0.267004, accuracy: 1e-6)
        XCTAssertEqual(v0.blue, 0.329415, accuracy: 1e-6)
        XCTAssertEqual(v1.green, 0.906157, accuracy: 1e-6)
        XCTAssertEqual(Colormap.viridis.color(2), v1, "clamped")
        XCTAssertEqual(Colormap.viridis.color(.nan), v0)
    }

    func testGridLayoutFollowsDesign() {
        XCTAssertEqual((1...10).map(Grid.nearSquareColumns), [1, 2, 2, 2, 3, 3, 3, 3, 3, 4])
        XCTAssertEqual(Grid.nearSquareColumns(1280), 36)
        // 32 filters of 3×3: zoom 11 (33 px ≥ 32), 6 columns, 6 rows, cells of 33 + 2.
        let l = Grid().layout(count: 32, tileWidth: 3, tileHeight: 3)
        XCTAssertEqual([l.columns, l.rows, l.zoom, l.cellWidth, l.cellHeight, l.width, l.height, l.labelHeight], [6, 6, 11, 35, 35, 210, 210, 0])
        XCTAssertEqual(Grid().zoomFactor(tileWidth: 112, tileHeight: 112), 1)
        XCTAssertEqual(Grid().zoomFactor(tileWidth: 7, tileHeight: 7), 5)
        XCTAssertEqual(Grid(zoom: 2).zoomFactor(tileWidth: 7, tileHeight: 7), 2)
        // Labels add a text line and widen narrow cells.
        let labelled = Grid(zoom: 1).layout(count: 2, tileWidth: 2, tileHeight: 2, labels: ["10", "11"])
        XCTAssertEqual(labelled.cellWidth, 11 + 2)
        XCTAssertEqual(labelled.cellHeight, 2 + 2 + 9)
        // Padding: 1 px around each tile, 2 px between tiles, background outside.
        let tile = Image(width: 1, height: 1, channels: 1, pixels: [0])
        let g = Grid(zoom: 1, background: .white).render([tile, tile])
        XCTAssertEqual(g.width, 6)
        XCTAssertEqual(g.height, 3)
        XCTAssertEqual((0..<6).map { g[1, $0, 0] }, [255, 0, 255, 255, 0, 255])
    }

    func testBilinearMatchesPyTorchAlignCornersFalse() {
        // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode="bilinear", align_corners=False)
        let up = Resampling.bilinear([0, 1, 2, 3], width: 2, height: 2, newWidth: 4, newHeight: 4)
        XCTAssertEqual(up, [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3])
    }

    func testUnitTensorIsTheFloatGridBehindThePNG() {
        let im = Image(unit: [0, 0.5, 1, 0.25], width: 2, height: 2, channels: 1)
        let t = im.unitTensor()
        XCTAssertEqual(t.shape, [2, 2, 3])
        XCTAssertEqual(Array(t.scalars.prefix(6)), [0, 0, 0, 0.5, 0.5, 0.5])
        XCTAssertEqual(im.zoomed(by: 2).pixels, [0, 0, 127.5, 127.5, 0, 0, 127.5, 127.5, 255, 255, 63.75, 63.75, 255, 255, 63.75, 63.75])
    }
}
