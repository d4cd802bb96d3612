import ArgumentParser
import ConvLens
import Foundation

extension Colormap: ExpressibleByArgument {}

/// `--pad`, `--zoom`, `--max-tiles`, `--labels`: the layout of a grid.
struct GridLayoutOptions: ParsableArguments {
    @Option(help: "Pixels of background around each tile (2 × pad between tiles).")
    var pad = 1

    @Option(help: "Integer nearest-neighbour magnification of each tile (default: the smallest making a tile at least 32 px; 8 px for fully connected layers).")
    var zoom: Int?

    @Option(name: .customLong("max-tiles"), help: "At most this many tiles (the first ones).")
    var maxTiles: Int?

    @Flag(help: "Draw the channel index under each tile.")
    var labels = false

    func validate() throws {
        if !(0...256).contains(pad) { throw ValidationError("--pad must be between 0 and 256") }
        if let z = zoom, !(1...64).contains(z) { throw ValidationError("--zoom must be between 1 and 64, got \(z)") }
        if let m = maxTiles, m < 1 { throw ValidationError("--max-tiles must be at least 1") }
    }

    var grid: Grid { Grid(padding: pad, zoom: zoom) }

    var parameters: [String: JSONValue] {
        var p: [String: JSONValue] = ["pad": .integer(pad)]
        if let zoom { p["zoom"] = .integer(zoom) }
        if let maxTiles { p["max-tiles"] = .integer(maxTiles) }
        if labels { p["labels"] = .bool(true) }
        return p
    }
}

/// `--boost`, `--gamma`, `--colormap`, `--channel`, `--all-channels`: how activations are drawn.
struct ActivationDrawingOptions: ParsableArguments {
    @Option(help: "deep-visualization-toolbox boost in [0, 1]: each channel × max_c^(-b), so weak channels show.")
    var boost: Float = 0

    @Option(help: "Gamma applied after scaling and boost (> 0).")
    var gamma: Float = 1

    @Option(help: "gray, viridis or diverging (negative blue, zero white, positive red). Default: gray for grids, viridis for overlays.")
    var colormap: Colormap?

    @Option(help: "Channels to draw: 3, 3,7,12, 0-15 (default: all).")
    var channel: String?

    @Flag(name: .customLong("all-channels"), help: "Draw every channel (the default).")
    var allChannels = false

    func validate() throws {
        if !(boost >= 0 && boost <= 1) { throw ValidationError("--boost must be in [0, 1], got \(boost)") }
        if !(gamma > 0 && gamma.isFinite) { throw ValidationError("--gamma must be a positive finite number, got \(gamma)") }
        if channel != nil && allChannels { throw ValidationError("give --channel or --all-channels, not both") }
        if let c = channel {
            do { _ = try ChannelSelection(parsing: c) } catch let e as ConvLensError { throw ValidationError(e.commandLine) }
        }
    }

    var selection: ChannelSelection {
        // validate() has parsed it already.
        channel.flatMap { try? ChannelSelection(parsing: $0) } ?? .all
    }

    func request(scale: TileScale?, layout: GridLayoutOptions) -> ActivationGridRequest {
        let tiles = ActivationTiles(scale: scale ?? .global, boost: boost, gamma: gamma, colormap: colormap ?? .gray,
                                    channels: selection, maxTiles: layout.maxTiles)
        return ActivationGridRequest(tiles: tiles, grid: layout.grid, labels: layout.labels)
    }

    var parameters: [String: JSONValue] {
        var p: [String: JSONValue] = ["boost": .number(Double(boost)), "gamma": .number(Double(gamma))]
        if let colormap { p["colormap"] = .string(colormap.rawValue) }
        if let channel { p["channel"] = .string(channel) }
        if allChannels { p["all-channels"] = .bool(true) }
        return p
    }
}

/// Quotes a path for a shell command line when it needs it.
func shellQuoted(_ s: String) -> String {
    let safe = s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./=:@%+,".unicodeScalars.contains($0) }
    return safe && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
