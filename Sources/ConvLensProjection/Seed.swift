import ConvLensCore
import ConvLensGraph

/// What is injected at a layer before the backward pass (DESIGN.md §1 "Seed").
public enum Seed: Sendable, Hashable {
    /// 1.0 at one unit, 0 elsewhere. `y`/`x` are 0-based positions in the layer's activation map;
    /// `nil` means the channel's argmax (first maximum in row-major order). Fully connected layers
    /// (`[1, N]`) take no position.
    case unit(channel: Int, y: Int? = nil, x: Int? = nil)
    /// The channel's own activation map as values, every other channel 0.
    case map(channel: Int)

    /// The seeded channel.
    public var channel: Int {
        switch self {
        case .unit(let c, _, _), .map(let c): return c
        }
    }

    /// `unit` or `map`, as on the command line.
    public var kind: String {
        if case .map = self { return "map" }
        return "unit"
    }
}

/// A seed resolved against a forward run: the exact position and the activation there.
public struct ResolvedSeed: Sendable, Hashable {
    /// The seed as requested.
    public let seed: Seed
    /// The channel.
    public let channel: Int
    /// The row of the unit (unit seeds on 4-D layers).
    public let y: Int?
    /// The column of the unit (unit seeds on 4-D layers).
    public let x: Int?
    /// The activation of the unit (unit seeds) or the channel's maximum (map seeds).
    public let activation: Float
}

extension Seed {
    /// Resolves the seed against a layer's activation.
    /// - Parameters:
    ///   - activation: the layer's tensor, `[1, C, H, W]` or `[1, N]`.
    ///   - layer: for messages.
    /// - Throws: ``ConvLensError`` (`outOfRange`, parameter `channel` or `at`) when the channel or
    ///   position is outside the layer, or a position is given for a fully connected layer.
    public func resolve(in activation: Tensor, layer: String) throws -> ResolvedSeed {
        let d = activation.shape.dimensions
        guard (d.count == 4 || d.count == 2), d[0] == 1 else {
            throw ConvLensError(.unsupportedFeature, parameter: "layer", "layer '\(layer)' has shape \(activation.shape); seeds need a [1, C, H, W] or [1, N] layer")
        }
        let channels = d[1]
        guard channel >= 0 && channel < channels else {
            throw ConvLensError(.outOfRange, parameter: "channel", "channel \(channel) is out of range: layer '\(layer)' has channels 0-\(channels - 1)")
        }
        if d.count == 2 {
            if case .unit(_, let y, let x) = self, y != nil || x != nil {
                throw ConvLensError(.invalidArgument, parameter: "at", "layer '\(layer)' is fully connected (\(activation.shape)); it has no positions")
            }
            return ResolvedSeed(seed: self, channel: channel, y: nil, x: nil, activation: activation.scalars[channel])
        }
        let h = d[2], w = d[3]
        let plane = activation.plane(c: channel)
        switch self {
        case .unit(_, let y?, let x?):
            guard y >= 0 && y < h && x >= 0 && x < w else {
                throw ConvLensError(.outOfRange, parameter: "at", "position \(y),\(x) is outside layer '\(layer)''s \(h)×\(w) map")
            }
            return ResolvedSeed(seed: self, channel: channel, y: y, x: x, activation: plane[plane.startIndex + y * w + x])
        case .unit:
            var best = plane.startIndex
            for i in plane.indices where plane[i] > plane[best] { best = i }
            let k = best - plane.startIndex
            return ResolvedSeed(seed: self, channel: channel, y: k / w, x: k % w, activation: plane[best])
        case .map:
            return ResolvedSeed(seed: self, channel: channel, y: nil, x: nil, activation: plane.max() ?? 0)
        }
    }
}
