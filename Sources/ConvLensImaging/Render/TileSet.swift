/// Tiles ready for a ``Grid``, with what they show.
public struct TileSet: Sendable {
    /// The tiles, all the same size (gray or RGB, samples in `0...255`).
    public var tiles: [Image]
    /// One label per tile (the channel index, or `out,in` for filter pairs).
    public var labels: [String]
    /// Columns the layout needs (the filter `pairs` view: one row per output channel); `nil` for
    /// near-square.
    public var columns: Int?
    /// The channel each tile shows (output channel for filters).
    public var channels: [Int]
    /// For the filter `pairs` view: the input channels of each row.
    public var inputChannels: [Int]?
    /// The values mapped to the ends of the scale (`global`: the shared range; `tile`: the range
    /// of all tiles shown).
    public var range: ValueRange

    public init(tiles: [Image], labels: [String], columns: Int? = nil, channels: [Int], inputChannels: [Int]? = nil, range: ValueRange) {
        self.tiles = tiles
        self.labels = labels
        self.columns = columns
        self.channels = channels
        self.inputChannels = inputChannels
        self.range = range
    }

    /// The tiles as one grid picture (``Grid/render(_:labels:)``), with the set's column count
    /// unless `grid` fixes its own.
    public func render(_ grid: Grid, labels drawLabels: Bool = false) -> Image {
        var g = grid
        if g.columns == nil { g.columns = columns }
        return g.render(tiles, labels: drawLabels ? labels : nil)
    }
}
