import ArgumentParser
import ConvLens

/// `--layer`, `--channel`/`--all-channels` and `--at`: which units `project` and `compare` seed.
struct UnitOptions: ParsableArguments {
    @Option(help: "Layer: canonical name, output tensor name, or #N.")
    var layer: String

    @Option(help: "Channels: 3, 3,7,12 or 0-15.")
    var channel: String?

    @Flag(help: "Every channel of the layer.")
    var allChannels = false

    @Option(help: "Unit position Y,X in the layer's activation map (default: each channel's argmax).")
    var at: String?

    func validate() throws {
        if channel == nil && !allChannels { throw ValidationError("give --channel LIST or --all-channels") }
        if channel != nil && allChannels { throw ValidationError("--channel and --all-channels exclude each other") }
        if let channel, (try? ChannelSelection(parsing: channel)) == nil {
            throw ValidationError("--channel must be a list such as 3, 3,7,12 or 0-15, got '\(channel.prefix(80))'")
        }
        if let at, Self.position(at) == nil { throw ValidationError("--at must be Y,X with non-negative integers, got '\(at.prefix(80))'") }
    }

    static func position(_ s: String) -> (y: Int, x: Int)? {
        let p = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard p.count == 2, let y = p[0], let x = p[1], y >= 0, x >= 0 else { return nil }
        return (y, x)
    }

    /// The parsed `--at`.
    var position: (y: Int, x: Int)? { at.flatMap(Self.position) }

    /// The selected channels of `layer` (`nil` for `--all-channels`).
    /// - Throws: ``ConvLensError`` (`outOfRange`) naming the first channel the layer lacks.
    func channels(of layer: Layer) throws -> [Int]? {
        guard let channel else { return nil }
        return try ChannelSelection(parsing: channel).channels(count: layer.shape.rank >= 2 ? layer.shape[1] : 0, layer: layer.name)
    }

    /// The options as manifest parameters.
    var parameters: [String: JSONValue] {
        var p: [String: JSONValue] = ["layer": .string(layer)]
        if let channel { p["channel"] = .string(channel) }
        if allChannels { p["all-channels"] = .bool(true) }
        if let at { p["at"] = .string(at) }
        return p
    }
}
