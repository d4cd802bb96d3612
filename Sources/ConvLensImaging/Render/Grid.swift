/// Tiles images into one picture (DESIGN.md §1 "Grids").
///
/// Layout: `columns` (default `ceil(sqrt(n))`, near-square) by `ceil(n / columns)` rows, filled
/// row-major. Every tile is magnified by an integer nearest-neighbour ``zoom`` (default: the
/// smallest factor that makes the tile's longer side at least ``minimumTileSize`` pixels) and
/// surrounded by ``padding`` pixels of ``background`` (so `2 × padding` between tiles). With labels,
/// each tile's cell grows by a text line under the tile (bitmap font, ``labelScale``), and a cell
/// is as wide as its widest label if that is wider than the tile. The result is always RGB.
///
/// ```
/// let grid = Grid(zoom: 4)
/// let picture = grid.render(tiles, labels: tiles.indices.map(String.init))   // an RGB Image
/// try picture.writePNG(to: "grid.png")
/// try NPY.write(picture.unitTensor(), to: "grid.npy")                       // [H, W, 3] in [0, 1]
/// ```
public struct Grid: Sendable {
    /// Columns; `nil` means `ceil(sqrt(n))`.
    public var columns: Int?
    /// Pixels of background around each tile (≥ 0).
    public var padding: Int
    /// The magnification; `nil` means the smallest factor reaching ``minimumTileSize``.
    public var zoom: Int?
    /// The smallest tile side (pixels) the automatic zoom aims for.
    public var minimumTileSize: Int
    /// The colour between tiles.
    public var background: RGB
    /// The colour of label text.
    public var labelColor: RGB
    /// Font magnification of labels.
    public var labelScale: Int

    /// - Precondition: `padding >= 0`, `zoom >= 1` when given, `columns >= 1` when given.
    public init(columns: Int? = nil, padding: Int = 1, zoom: Int? = nil, minimumTileSize: Int = 32,
                background: RGB = .white, labelColor: RGB = .black, labelScale: Int = 1) {
        precondition(padding >= 0, "padding must not be negative")
        precondition(zoom.map { $0 >= 1 } ?? true, "zoom must be at least 1")
        precondition(columns.map { $0 >= 1 } ?? true, "columns must be at least 1")
        self.columns = columns
        self.padding = padding
        self.zoom = zoom
        self.minimumTileSize = minimumTileSize
        self.background = background
        self.labelColor = labelColor
        self.labelScale = labelScale
    }

    /// `ceil(sqrt(n))`, computed exactly in integers.
    public static func nearSquareColumns(_ n: Int) -> Int {
        guard n > 1 else { return 1 }
        var c = Int(Double(n).squareRoot())
        while c * c < n { c += 1 }
        while c > 1 && (c - 1) * (c - 1) >= n { c -= 1 }
        return c
    }

    /// The zoom used for tiles of `width × height`: ``zoom`` if set, else
    /// `max(1, ceil(minimumTileSize / max(width, height)))`.
    public func zoomFactor(tileWidth width: Int, tileHeight height: Int) -> Int {
        if let zoom { return zoom }
        let side = max(1, max(width, height))
        return max(1, (minimumTileSize + side - 1) / side)
    }

    /// The geometry of a grid of `count` tiles of `width × height`.
    public struct Layout: Sendable, Equatable {
        public var columns: Int
        public var rows: Int
        public var zoom: Int
        /// One cell: the zoomed tile, its padding and its label line.
        public var cellWidth: Int
        public var cellHeight: Int
        /// The whole picture.
        public var width: Int
        public var height: Int
        /// Height of the label line (0 without labels).
        public var labelHeight: Int
    }

    /// The layout of a grid of `count` tiles of `tileWidth × tileHeight` with the given labels.
    /// - Precondition: `count >= 1`.
    public func layout(count: Int, tileWidth: Int, tileHeight: Int, labels: [String]? = nil) -> Layout {
        precondition(count >= 1, "a grid needs at least one tile")
        let z = zoomFactor(tileWidth: tileWidth, tileHeight: tileHeight)
        let cols = min(columns ?? Grid.nearSquareColumns(count), count)
        let rows = (count + cols - 1) / cols
        let font = BitmapFont.standard
        let labelWidth = labels?.map { font.size(of: $0, scale: labelScale).width }.max() ?? 0
        let labelHeight = labels == nil ? 0 : font.glyphHeight * labelScale + 2
        let cellW = max(tileWidth * z, labelWidth) + 2 * padding
        let cellH = tileHeight * z + 2 * padding + labelHeight
        return Layout(columns: cols, rows: rows, zoom: z, cellWidth: cellW, cellHeight: cellH,
                      width: cols * cellW, height: rows * cellH, labelHeight: labelHeight)
    }

    /// Renders the tiles into one RGB image.
    /// - Parameters:
    ///   - tiles: `n ≥ 1` images (gray or RGB, mixed allowed), all the same size `h × w`.
    ///   - labels: `nil`, or one string per tile drawn centred under it.
    /// - Returns: an RGB image of ``layout(count:tileWidth:tileHeight:labels:)``'s size.
    /// - Precondition: tiles are non-empty and the same size; `labels` has one entry per tile.
    public func render(_ tiles: [Image], labels: [String]? = nil) -> Image {
        precondition(!tiles.isEmpty, "a grid needs at least one tile")
        let w = tiles[0].width, h = tiles[0].height
        precondition(tiles.allSatisfy { $0.width == w && $0.height == h }, "grid tiles must be the same size")
        precondition(labels.map { $0.count == tiles.count } ?? true, "one label per tile")
        let L = layout(count: tiles.count, tileWidth: w, tileHeight: h, labels: labels)
        var canvas = Canvas(width: L.width, height: L.height, background: background)
        for (i, tile) in tiles.enumerated() {
            let r = i / L.columns, c = i % L.columns
            let cellX = c * L.cellWidth, cellY = r * L.cellHeight
            let inner = L.cellWidth - 2 * padding
            let x = cellX + padding + (inner - w * L.zoom) / 2
            let y = cellY + padding
            canvas.paste(tile.zoomed(by: L.zoom), x: x, y: y)
            if let labels {
                canvas.draw(text: labels[i], centeredIn: cellX + padding, width: inner,
                            y: y + h * L.zoom + 1, scale: labelScale, color: labelColor)
            }
        }
        return canvas.image
    }
}
