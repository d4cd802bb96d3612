import Foundation

/// The smallest and largest finite values of some data.
public struct ValueRange: Sendable, Hashable {
    public var min: Float
    public var max: Float

    public init(min: Float, max: Float) {
        self.min = min
        self.max = max
    }

    /// The range of the finite values of `values`; `[0, 0]` when there are none.
    public init<S: Sequence>(of values: S) where S.Element == Float {
        var lo = Float.infinity, hi = -Float.infinity
        for v in values where v.isFinite {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        if lo > hi { (lo, hi) = (0, 0) }
        self.init(min: lo, max: hi)
    }

    /// The union of several ranges.
    public init(union ranges: [ValueRange]) {
        guard let first = ranges.first else { self.init(min: 0, max: 0); return }
        self = ranges.dropFirst().reduce(first) { ValueRange(min: Swift.min($0.min, $1.min), max: Swift.max($0.max, $1.max)) }
    }

    /// `max(|min|, |max|)`, the half-width of the symmetric range around zero.
    public var magnitude: Float { Swift.max(Swift.abs(min), Swift.abs(max)) }

    /// Min–max maps `v` into `[0, 1]`: `(v − min) / (max − min)`, clamped. A constant range
    /// (`min == max`) maps everything to 0.5 (mid-gray), never NaN; NaN maps to 0.
    public func unit(_ v: Float) -> Float {
        guard max > min else { return v.isNaN ? 0 : 0.5 }
        let t = (v - min) / (max - min)
        return t.isNaN ? 0 : Swift.min(Swift.max(t, 0), 1)
    }

    /// Symmetric scaling into `[-1, 1]`: `v / max(|min|, |max|)`, clamped, so that zero stays
    /// zero. An all-zero range maps everything to 0; NaN maps to 0.
    public func signedUnit(_ v: Float) -> Float {
        let m = magnitude
        guard m > 0 else { return 0 }
        let s = v / m
        return s.isNaN ? 0 : Swift.min(Swift.max(s, -1), 1)
    }
}

/// Whether tiles share one min–max (`global`: filters' `--scale global`, activations'
/// `--scale layer`) or each tile has its own (`tile`).
public enum TileScale: String, Sendable, CaseIterable {
    case global, tile
}

/// The value pipeline of grids and overlays (DESIGN.md §1 "Grids"): min–max scaling, then
/// deep-visualization-toolbox's per-tile boost and gamma.
public enum Scaling {
    /// Scales tiles into `[0, 1]` (or `[-1, 1]` when `symmetric`).
    ///
    /// - Parameters:
    ///   - tiles: the values of each tile (any lengths).
    ///   - mode: `global` uses `range` (default: the range of all tiles) for every tile; `tile`
    ///     uses each tile's own range.
    ///   - range: the shared range for `global` (e.g. the whole layer's, when `tiles` hold only the
    ///     selected channels).
    ///   - symmetric: divide by `max|v|` instead of min–max, keeping zero at zero (for the
    ///     diverging colormap).
    /// - Returns: the scaled tiles, the same lengths as `tiles`. A constant tile (or range) gives
    ///   0.5 (or 0 when `symmetric`), never NaN.
    /// - Complexity: O(total number of values).
    public static func normalize(_ tiles: [[Float]], mode: TileScale, range: ValueRange? = nil, symmetric: Bool = false) -> [[Float]] {
        let shared = range ?? ValueRange(union: tiles.map { ValueRange(of: $0) })
        return tiles.map { tile in
            let r = mode == .global ? shared : ValueRange(of: tile)
            return symmetric ? tile.map(r.signedUnit) : tile.map(r.unit)
        }
    }

    /// deep-visualization-toolbox's `boost_indiv`: multiplies each tile by
    /// `(max_c + 1e-10)^(−b)`, where `max_c` is the tile's largest value (largest magnitude for
    /// symmetric data), so weak channels become visible. `b = 0` changes nothing, `b = 1` stretches
    /// every tile to a maximum of 1.
    /// - Precondition: `0 <= exponent <= 1` and the tiles are already scaled (values in `[0, 1]`,
    ///   or `[-1, 1]` when symmetric).
    public static func boost(_ tiles: [[Float]], exponent b: Float) -> [[Float]] {
        precondition(b >= 0 && b <= 1, "boost exponent must be in [0, 1]")
        guard b > 0 else { return tiles }
        return tiles.map { tile in
            let m = tile.reduce(Float(0)) { Swift.max($0, Swift.abs($1)) }
            let factor = Float(Foundation.pow(Double(m) + 1e-10, Double(-b)))
            return tile.map { $0 * factor }
        }
    }

    /// deep-visualization-toolbox's `boost_gamma`: `v^g` (for symmetric data `sign(v)·|v|^g`).
    /// - Precondition: `g > 0`.
    public static func gamma(_ tiles: [[Float]], _ g: Float) -> [[Float]] {
        precondition(g > 0, "gamma must be positive")
        guard g != 1 else { return tiles }
        return tiles.map { tile in
            tile.map { v in
                let p = Float(Foundation.pow(Double(Swift.abs(v)), Double(g)))
                return v < 0 ? -p : p
            }
        }
    }
}
