import ConvLensCore

/// What a filter grid shows of a weight tensor `[A, B, kH, kW]` (ONNX's layout: for Conv
/// `A = C_out`, `B = C_in / groups`; for ConvTranspose `A = C_in`, `B = C_out / groups`).
public enum FilterView: Sendable, Hashable, CustomStringConvertible {
    /// One RGB tile per filter (`B == 3`): the first layer of an image model.
    case rgb
    /// One gray tile per `(a, b)` pair; one row per filter `a`, one column per channel `b`.
    case pairs
    /// One gray tile per filter for channel `K` of its `B`.
    case input(Int)
    /// One gray tile per filter: the L2 norm over its `B` channels at each kernel position.
    case norm
    /// One gray tile per filter (`B == 1`): depthwise layers, single-channel inputs.
    case depthwise

    /// The view chosen when none is asked for: `rgb` for `B == 3` with one group, `depthwise`
    /// for `B == 1`, otherwise `pairs`.
    public static func automatic(channelsPerFilter b: Int, groups: Int) -> FilterView {
        if b == 3 && groups == 1 { return .rgb }
        if b == 1 { return .depthwise }
        return .pairs
    }

    /// Parses `rgb`, `pairs`, `input:K`, `norm` or `depthwise`.
    /// - Throws: ``ConvLensError`` with code `invalidArgument` (parameter `view`).
    public init(parsing text: String) throws {
        switch text {
        case "rgb": self = .rgb
        case "pairs": self = .pairs
        case "norm": self = .norm
        case "depthwise": self = .depthwise
        default:
            if text.hasPrefix("input:"), let k = Int(text.dropFirst(6)), k >= 0 {
                self = .input(k)
            } else {
                throw ConvLensError(.invalidArgument, parameter: "view", "'\(text)' is not a filter view; expected rgb, pairs, input:K, norm or depthwise")
            }
        }
    }

    public var description: String {
        switch self {
        case .rgb: "rgb"
        case .pairs: "pairs"
        case .input(let k): "input:\(k)"
        case .norm: "norm"
        case .depthwise: "depthwise"
        }
    }
}

/// Turns convolution weights into grid tiles (DESIGN.md §1 "Grids", filters).
///
/// Scaling: `global` maps one min–max over the whole weight tensor (over all the norms for the
/// `norm` view) to black…white, the TensorFlow recipe's and `put_kernels_on_grid`'s convention;
/// `tile` uses each tile's own min–max (over its three colours for `rgb`). Constant data is
/// mid-gray.
public struct FilterTiles: Sendable {
    /// The view; `nil` means ``FilterView/automatic(channelsPerFilter:groups:)``.
    public var view: FilterView?
    public var scale: TileScale
    /// The model takes BGR input: the `rgb` view reverses the channels so tiles show RGB.
    public var bgr: Bool
    /// At most this many tiles (the first filters; for `pairs`, whole rows of the first filters).
    public var maxTiles: Int?

    public init(view: FilterView? = nil, scale: TileScale = .global, bgr: Bool = false, maxTiles: Int? = nil) {
        self.view = view
        self.scale = scale
        self.bgr = bgr
        self.maxTiles = maxTiles
    }

    /// The view used for weights with `b` channels per filter in `groups` groups.
    public func resolvedView(channelsPerFilter b: Int, groups: Int) -> FilterView {
        view ?? FilterView.automatic(channelsPerFilter: b, groups: groups)
    }

    /// The tiles of a weight tensor.
    /// - Parameters:
    ///   - weights: `[A, B, kH, kW]`.
    ///   - groups: the layer's group count (only for choosing the automatic view).
    /// - Returns: tiles of `kH × kW` pixels (RGB for `rgb`, gray otherwise), labelled with the
    ///   filter index (`a,b` for `pairs`).
    /// - Throws: ``ConvLensError`` `invalidArgument` when the view does not fit the weights (`rgb`
    ///   needs `B == 3`, `depthwise` needs `B == 1`), `outOfRange` for `input:K` with `K ≥ B`.
    /// - Precondition: `weights` has rank 4 and `maxTiles >= 1` when set.
    public func tiles(for weights: Tensor, groups: Int = 1) throws -> TileSet {
        precondition(weights.rank == 4, "weights must be [A, B, kH, kW]")
        let (a, b, kh, kw) = (weights.shape[0], weights.shape[1], weights.shape[2], weights.shape[3])
        let plane = kh * kw
        let v = resolvedView(channelsPerFilter: b, groups: groups)
        let limit = maxTiles ?? Int.max
        precondition(limit >= 1)
        let w = weights.scalars
        func slice(_ o: Int, _ i: Int) -> ArraySlice<Float> {
            let s = (o * b + i) * plane
            return w[s..<(s + plane)]
        }
        let whole = ValueRange(of: w)
        switch v {
        case .rgb:
            guard b == 3 else {
                throw ConvLensError(.invalidArgument, parameter: "view", "rgb needs 3 channels per filter; these weights \(weights.shape) have \(b)")
            }
            let outs = Array(0..<min(a, limit))
            var tiles: [Image] = [], shown: [ValueRange] = []
            for o in outs {
                let values = Array(w[(o * 3 * plane)..<((o + 1) * 3 * plane)])
                let r = scale == .global ? whole : ValueRange(of: values)
                shown.append(ValueRange(of: values))
                var px = [Float](repeating: 0, count: plane * 3)
                for c in 0..<3 {
                    let src = bgr ? 2 - c : c
                    for p in 0..<plane { px[p * 3 + c] = r.unit(values[src * plane + p]) }
                }
                tiles.append(Image(unit: px, width: kw, height: kh, channels: 3))
            }
            return TileSet(tiles: tiles, labels: outs.map(String.init), channels: outs,
                           range: scale == .global ? whole : ValueRange(union: shown))
        case .pairs, .depthwise:
            if case .depthwise = v, b != 1 {
                throw ConvLensError(.invalidArgument, parameter: "view", "depthwise needs 1 channel per filter; these weights \(weights.shape) have \(b) (use pairs, input:K or norm)")
            }
            if b == 1 {
                let outs = Array(0..<min(a, limit))
                return gray(outs.map { Array(slice($0, 0)) }, channels: outs, whole: whole)
            }
            let ins = Array(0..<min(b, limit))
            let outs = Array(0..<min(a, max(1, limit / ins.count)))
            var data: [[Float]] = [], channels: [Int] = [], labels: [String] = []
            for o in outs {
                for i in ins {
                    data.append(Array(slice(o, i)))
                    channels.append(o)
                    labels.append("\(o),\(i)")
                }
            }
            return gray(data, channels: channels, labels: labels, columns: ins.count, inputs: ins, whole: whole)
        case .input(let k):
            guard k < b else {
                throw ConvLensError(.outOfRange, parameter: "view", "input:\(k) is out of range: the filters have \(b) input channel\(b == 1 ? "" : "s") (0-\(b - 1))")
            }
            let outs = Array(0..<min(a, limit))
            return gray(outs.map { Array(slice($0, k)) }, channels: outs, inputs: [k], whole: whole)
        case .norm:
            let norms: [[Float]] = (0..<a).map { o in
                (0..<plane).map { p in
                    var s: Float = 0
                    for i in 0..<b {
                        let x = w[(o * b + i) * plane + p]
                        s += x * x
                    }
                    return s.squareRoot()
                }
            }
            let outs = Array(0..<min(a, limit))
            return gray(outs.map { norms[$0] }, channels: outs, whole: ValueRange(of: norms.joined()))
        }

        func gray(_ data: [[Float]], channels: [Int], labels: [String]? = nil, columns: Int? = nil, inputs: [Int]? = nil,
                  whole: ValueRange) -> TileSet {
            let scaled = Scaling.normalize(data, mode: scale, range: whole)
            let tiles = scaled.map { Image(unit: $0, width: kw, height: kh, channels: 1) }
            let range = scale == .global ? whole : ValueRange(union: data.map { ValueRange(of: $0) })
            return TileSet(tiles: tiles, labels: labels ?? channels.map(String.init), columns: columns, channels: channels,
                           inputChannels: inputs, range: range)
        }
    }
}
