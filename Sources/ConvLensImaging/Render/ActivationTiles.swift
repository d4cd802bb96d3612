import ConvLensCore

/// Turns a layer's activations into grid tiles (DESIGN.md §1 "Grids", activations), the
/// deep-visualization-toolbox way.
///
/// The pipeline, for the selected channels of batch item 0:
/// 1. scale: `global` (the CLI's `--scale layer`) maps one min–max over the **whole layer** (all
///    channels) to `[0, 1]`; `tile` uses each channel's own min–max. With the `diverging`
///    colormap the scaling is symmetric instead (`v / max|v|` into `[-1, 1]`, zero stays zero).
///    Constant data is mid-gray (0.5; 0 = white for `diverging`).
/// 2. boost `b` in `[0, 1]`: each channel × `(max_c + 1e-10)^(−b)` (``Scaling/boost(_:exponent:)``);
/// 3. gamma `g > 0`: `v^g` (``Scaling/gamma(_:_:)``);
/// 4. colormap: gray tiles for `gray`, RGB otherwise.
///
/// Shapes: a rank-4 layer `[N, C, H, W]` gives `H × W` tiles; rank 3 `[N, C, L]` gives `1 × L`;
/// rank 2 `[N, C]` (fully connected) and rank ≤ 1 give one `1 × 1` square per unit, which a
/// ``Grid`` with ``Grid/minimumTileSize`` 8 draws as small squares.
public struct ActivationTiles: Sendable {
    public var scale: TileScale
    public var boost: Float
    public var gamma: Float
    public var colormap: Colormap
    /// The channels drawn (validated against the layer's channel count).
    public var channels: ChannelSelection
    /// At most this many tiles (the first of the selection).
    public var maxTiles: Int?

    /// - Precondition: `0 <= boost <= 1`, `gamma > 0`.
    public init(scale: TileScale = .global, boost: Float = 0, gamma: Float = 1, colormap: Colormap = .gray,
                channels: ChannelSelection = .all, maxTiles: Int? = nil) {
        precondition(boost >= 0 && boost <= 1 && gamma > 0)
        self.scale = scale
        self.boost = boost
        self.gamma = gamma
        self.colormap = colormap
        self.channels = channels
        self.maxTiles = maxTiles
    }

    /// How a layer tensor splits into channels and maps.
    public struct Geometry: Sendable, Equatable {
        public var channels: Int
        public var height: Int
        public var width: Int
        /// Whether the layer has no spatial extent (fully connected, or `1 × 1` maps).
        public var isFullyConnected: Bool { height == 1 && width == 1 }
    }

    /// The channel count and map size of batch item 0 of a layer tensor (see the type's shapes).
    public static func geometry(of shape: Shape) -> Geometry {
        let d = shape.dimensions
        switch d.count {
        case 4: return Geometry(channels: d[1], height: d[2], width: d[3])
        case 3: return Geometry(channels: d[1], height: 1, width: d[2])
        case 2: return Geometry(channels: d[1], height: 1, width: 1)
        default: return Geometry(channels: max(1, shape.count), height: 1, width: 1)
        }
    }

    /// The values of channel `c` of batch item 0 (`height × width`).
    public static func map(_ activation: Tensor, channel c: Int) -> ArraySlice<Float> {
        let g = geometry(of: activation.shape)
        let hw = g.height * g.width
        return activation.scalars[(c * hw)..<((c + 1) * hw)]
    }

    /// The channels this selection draws of a layer with `count` channels (``channels`` then
    /// ``maxTiles``).
    /// - Throws: ``ConvLensError`` `outOfRange` for a channel not below `count`.
    public func selectedChannels(count: Int, layer: String? = nil) throws -> [Int] {
        let all = try channels.channels(count: count, layer: layer)
        return Array(all.prefix(maxTiles ?? Int.max))
    }

    /// The tiles of a layer tensor.
    /// - Parameters:
    ///   - activation: the layer tensor (batch item 0 is drawn).
    ///   - layer: the layer's name, for errors.
    /// - Returns: one tile per selected channel, labelled with its index; ``TileSet/range`` is the
    ///   whole layer's range for `global`, the selected channels' for `tile`.
    /// - Throws: ``ConvLensError`` `outOfRange` when a selected channel does not exist.
    public func tiles(for activation: Tensor, layer: String? = nil) throws -> TileSet {
        let g = ActivationTiles.geometry(of: activation.shape)
        let chosen = try selectedChannels(count: g.channels, layer: layer)
        guard !chosen.isEmpty else {
            throw ConvLensError(.outOfRange, parameter: "channel", "no channels selected")
        }
        let data = chosen.map { Array(ActivationTiles.map(activation, channel: $0)) }
        let hw = g.height * g.width
        let layerRange = ValueRange(of: activation.scalars.prefix(g.channels * hw))
        var scaled = Scaling.normalize(data, mode: scale, range: layerRange, symmetric: colormap.isDiverging)
        scaled = Scaling.boost(scaled, exponent: boost)
        scaled = Scaling.gamma(scaled, gamma)
        let tiles: [Image] = scaled.map { values in
            if colormap == .gray { return Image(unit: values, width: g.width, height: g.height, channels: 1) }
            var px = [Float](repeating: 0, count: values.count * 3)
            for (i, v) in values.enumerated() {
                let c = colormap.isDiverging ? colormap.color(signed: v) : colormap.color(v)
                px[3 * i] = c.red; px[3 * i + 1] = c.green; px[3 * i + 2] = c.blue
            }
            return Image(unit: px, width: g.width, height: g.height, channels: 3)
        }
        let range = scale == .global ? layerRange : ValueRange(union: data.map { ValueRange(of: $0) })
        return TileSet(tiles: tiles, labels: chosen.map(String.init), channels: chosen, range: range)
    }
}
