/// Maps a scalar to a colour.
///
/// Every colormap takes a position `t` in `[0, 1]` (values outside are clamped, NaN is 0):
/// - `gray`: black (0) to white (1);
/// - `viridis`: matplotlib's perceptually uniform dark blue (0) → green → yellow (1), linearly
///   interpolated between its 256 entries;
/// - `diverging`: matplotlib's `bwr`, blue (0) → white (0.5) → red (1). Signed data is placed with
///   ``color(signed:)`` so that zero is white, negative blue and positive red.
public enum Colormap: String, Sendable, CaseIterable {
    case gray, viridis, diverging

    /// Whether the colormap is meant for signed data centred on zero (``ValueRange`` scaling is
    /// then symmetric: `v / max|v|`).
    public var isDiverging: Bool { self == .diverging }

    /// The colour at position `t` in `[0, 1]`.
    public func color(_ t: Float) -> RGB {
        let t = t.isNaN ? 0 : min(max(t, 0), 1)
        switch self {
        case .gray:
            return RGB(gray: t)
        case .viridis:
            let table = Colormap.viridisTable
            let x = t * Float(table.count - 1)
            let i = min(Int(x), table.count - 2)
            let f = x - Float(i)
            let a = table[i], b = table[i + 1]
            return RGB(red: a.0 + (b.0 - a.0) * f, green: a.1 + (b.1 - a.1) * f, blue: a.2 + (b.2 - a.2) * f)
        case .diverging:
            // bwr: (0,0,1) → (1,1,1) → (1,0,0), linear in each half.
            if t <= 0.5 {
                let u = 2 * t
                return RGB(red: u, green: u, blue: 1)
            }
            let u = 2 * (1 - t)
            return RGB(red: 1, green: u, blue: u)
        }
    }

    /// The colour of a signed value `s` in `[-1, 1]`: the colour at `(s + 1) / 2`, so that 0 is
    /// the middle of the map (white for `diverging`).
    public func color(signed s: Float) -> RGB { color((s + 1) / 2) }
}
