import ConvLensCore
import ConvLensImaging
import Foundation
import TestSupport
import XCTest

/// Byte-exact golden PNGs of small synthetic grids and overlays (≤ 64×64), one per option.
/// Record with `RECORD_SNAPSHOTS=1 swift test --filter RenderGoldenTests` (recording fails the test).
final class RenderGoldenTests: XCTestCase {
    /// Deterministic signed weights `[a, b, 3, 3]`.
    private func weights(_ a: Int, _ b: Int) -> Tensor {
        var t = Tensor(shape: [a, b, 3, 3])
        for o in 0..<a { for i in 0..<b { for y in 0..<3 { for x in 0..<3 {
            t[o, i, y, x] = sin(Float(1.3 * Double(o) + 2.1 * Double(i) + 0.7 * Double(y) - 0.4 * Double(x))) * Float(o + 1) / Float(a)
        } } } }
        return t
    }

    /// Activations `[1, 6, 5, 5]`: signed, channel 2 constant, channel 5 much weaker.
    private func activations() -> Tensor {
        var t = Tensor(shape: [1, 6, 5, 5])
        for c in 0..<6 { for y in 0..<5 { for x in 0..<5 {
            var v = cos(Float(0.9 * Double(c) + 0.8 * Double(y) + 0.5 * Double(x))) * 3 + Float(c) * 0.2
            if c == 2 { v = 1.5 }
            if c == 5 { v *= 0.05 }
            t[0, c, y, x] = v
        } } }
        return t
    }

    private func filterGrid(_ w: Tensor, _ tiles: FilterTiles, zoom: Int = 4, labels: Bool = false) throws -> Image {
        try tiles.tiles(for: w).render(Grid(zoom: zoom), labels: labels)
    }

    func testFilterViews() throws {
        let rgb = weights(4, 3)
        assertGolden(try filterGrid(rgb, FilterTiles(view: .rgb, scale: .global)), named: "filters-rgb-global")
        assertGolden(try filterGrid(rgb, FilterTiles(view: .rgb, scale: .tile)), named: "filters-rgb-tile")
        assertGolden(try filterGrid(rgb, FilterTiles(scale: .global, bgr: true)), named: "filters-rgb-bgr")
        assertGolden(try filterGrid(rgb, FilterTiles(view: .rgb, maxTiles: 3), labels: true), named: "filters-rgb-labels-max3")
        let deep = weights(3, 4)
        assertGolden(try filterGrid(deep, FilterTiles(view: .pairs, scale: .global), zoom: 3), named: "filters-pairs-global")
        assertGolden(try filterGrid(deep, FilterTiles(view: .pairs, scale: .tile), zoom: 3), named: "filters-pairs-tile")
        let wide = weights(5, 4)
        assertGolden(try filterGrid(wide, FilterTiles(view: .input(1), scale: .global)), named: "filters-input1-global")
        assertGolden(try filterGrid(wide, FilterTiles(view: .norm, scale: .global)), named: "filters-norm-global")
        assertGolden(try filterGrid(wide, FilterTiles(view: .norm, scale: .tile)), named: "filters-norm-tile")
        assertGolden(try filterGrid(weights(6, 1), FilterTiles()), named: "filters-depthwise")
    }

    /// The goldens are recorded by ConvLens itself; `Tests/ReferenceGenerators/make_render_references.py`
    /// draws the same grids from DESIGN.md's written rules with NumPy, Pillow and matplotlib's
    /// colormaps. Gray renderings agree within rounding (1 level); matplotlib's colormaps within 3
    /// levels (it picks the nearest of its 256 entries, ConvLens interpolates between them).
    func testGoldensAgreeWithAnIndependentRenderer() throws {
        let folder = goldenDirectory + "/independent"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".png") }.sorted()
        XCTAssertEqual(names.count, 14, "\(names)")
        for name in names {
            let independent = try Image.read(folder + "/" + name).rgb()
            let golden = try Image.read(goldenDirectory + "/" + name).rgb()
            XCTAssertEqual([golden.width, golden.height], [independent.width, independent.height], name)
            guard golden.pixels.count == independent.pixels.count else { continue }
            let tolerance: Float = name.contains("viridis") || name.contains("diverging") ? 3 : 1
            let worst = zip(golden.pixels, independent.pixels).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, tolerance, "\(name): ConvLens's golden and the independent rendering differ by \(worst) levels")
        }
    }

    func testFilterPairsLayoutIsOneRowPerOutput() throws {
        let set = try FilterTiles(view: .pairs).tiles(for: weights(3, 4))
        XCTAssertEqual(set.columns, 4)
        XCTAssertEqual(set.channels, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
        XCTAssertEqual(set.labels[5], "1,1")
        let capped = try FilterTiles(view: .pairs, maxTiles: 9).tiles(for: weights(3, 4))
        XCTAssertEqual(capped.tiles.count, 8, "whole rows only")
    }

    func testFilterViewErrors() {
        assertThrowsConvLensError(.invalidArgument, mentioning: "3 channels") { try FilterTiles(view: .rgb).tiles(for: weights(2, 4)) }
        assertThrowsConvLensError(.outOfRange, mentioning: "input:4") { try FilterTiles(view: .input(4)).tiles(for: weights(2, 4)) }
        assertThrowsConvLensError(.invalidArgument, mentioning: "depthwise") { try FilterTiles(view: .depthwise).tiles(for: weights(2, 4)) }
        assertThrowsConvLensError(.invalidArgument, parameter: "view") { try FilterView(parsing: "input:x") }
        XCTAssertEqual(try FilterView(parsing: "input:7"), .input(7))
    }

    private func activationGrid(_ tiles: ActivationTiles, labels: Bool = false) throws -> Image {
        try tiles.tiles(for: activations()).render(Grid(zoom: 2), labels: labels)
    }

    func testActivationScalesColormapsBoostGamma() throws {
        assertGolden(try activationGrid(ActivationTiles(scale: .global)), named: "activations-layer-gray")
        assertGolden(try activationGrid(ActivationTiles(scale: .tile)), named: "activations-tile-gray")
        assertGolden(try activationGrid(ActivationTiles(colormap: .viridis)), named: "activations-layer-viridis")
        assertGolden(try activationGrid(ActivationTiles(scale: .tile, colormap: .viridis)), named: "activations-tile-viridis")
        assertGolden(try activationGrid(ActivationTiles(colormap: .diverging)), named: "activations-layer-diverging")
        assertGolden(try activationGrid(ActivationTiles(scale: .tile, colormap: .diverging)), named: "activations-tile-diverging")
        assertGolden(try activationGrid(ActivationTiles(boost: 0.5)), named: "activations-boost0.5")
        assertGolden(try activationGrid(ActivationTiles(boost: 1)), named: "activations-boost1")
        assertGolden(try activationGrid(ActivationTiles(gamma: 0.5)), named: "activations-gamma0.5")
        assertGolden(try activationGrid(ActivationTiles(boost: 0.5, gamma: 2, colormap: .diverging)), named: "activations-diverging-boost-gamma")
        assertGolden(try activationGrid(ActivationTiles(channels: try ChannelSelection(parsing: "4,0-1")), labels: true),
                     named: "activations-channels-labels")
    }

    func testFullyConnectedSquares() throws {
        let fc = Tensor(shape: [1, 10], scalars: (0..<10).map { Float($0 * $0) - 20 })
        let set = try ActivationTiles(colormap: .viridis).tiles(for: fc)
        XCTAssertEqual(set.tiles.count, 10)
        XCTAssertEqual(set.tiles[0].width, 1)
        assertGolden(set.render(Grid(minimumTileSize: 8)), named: "activations-fc-squares")
    }

    /// A 24×24 RGB gradient.
    private func photo() -> Image {
        var px = [Float]()
        for y in 0..<24 { for x in 0..<24 { px += [Float(x * 10), Float(y * 10), 128] } }
        return Image(width: 24, height: 24, channels: 3, pixels: px)
    }

    func testOverlays() throws {
        let map = Array(ActivationTiles.map(activations(), channel: 0))
        assertGolden(Overlay().render(image: photo(), map: map, mapWidth: 5, mapHeight: 5), named: "overlay-viridis")
        assertGolden(Overlay(colormap: .diverging).render(image: photo(), map: map, mapWidth: 5, mapHeight: 5), named: "overlay-diverging")
        assertGolden(Overlay(colormap: .gray, opacity: 0.75, legend: false).render(image: photo().gray(), map: map, mapWidth: 5, mapHeight: 5),
                     named: "overlay-gray-nolegend")
    }

    func testBitmapFontAndCanvas() {
        var canvas = Canvas(width: 60, height: 56, background: .white)
        let lines = ["0123456789", "ABCDEFGHIJ", "KLMNOPQRST", "UVWXYZ.,-+", ":/_%()[]=#", "<>'!?* abc"]
        for (i, line) in lines.enumerated() { canvas.draw(text: line, x: 0, y: i * 8 + 1) }
        canvas.fill(Rect(x: 44, y: 49, width: 6, height: 6), .red)
        canvas.stroke(Rect(x: 52, y: 49, width: 7, height: 7), .blue)
        assertGolden(canvas.image, named: "font-and-canvas")
        var big = Canvas(width: 23, height: 14, background: .black)
        big.draw(text: "42", x: 0, y: 0, scale: 2, color: .white)
        assertGolden(Canvas.horizontal([big.image, Image(width: 3, height: 5, channels: 1, pixels: [Float](repeating: 128, count: 15))],
                                       spacing: 2, background: .blue, alignment: .center), named: "canvas-hconcat")
    }
}
