import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import Foundation

/// File-name-safe form of a layer name: `/features/features.3/Conv` → `features_features.3_Conv`.
public func fileStem(forLayer name: String) -> String {
    var s = String(name.unicodeScalars.map { c -> Character in
        let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "-" || c == "_"
        return ok ? Character(c) : "_"
    })
    while s.hasPrefix("_") { s.removeFirst() }
    return s.isEmpty ? "layer" : s
}

extension Model {
    /// Starts a manifest for a command run on this model and input.
    public func manifest(command: String, input: ModelInput?, parameters: [String: JSONValue]) throws -> Manifest {
        Manifest(command: command, version: convLensVersion, model: try record(), input: try input?.record(), parameters: parameters)
    }

    /// Writes the activation tensors of the queried layers as `.npy` (NCHW float32, exactly the
    /// forward values, `kind: "activation"`), optionally their grids (`kind: "activation-grid"`)
    /// and overlays (`kind: "overlay"`), into `directory` with `manifest.json`.
    /// - Parameters:
    ///   - queries: layer queries (name, tensor name or `#N`), in order.
    ///   - trace: a forward run of this model on `input`.
    ///   - input: the input the trace ran on (recorded in the manifest; the overlay's background).
    ///   - parameters: the options to record in the manifest.
    ///   - grid: draw a grid per layer (PNG + `[H, W, 3]` `.npy` in `[0, 1]`); `nil` for none.
    ///   - overlay: blend one channel's map onto the input image (with a colour bar).
    ///   - directory: the output folder (created if missing).
    /// - Returns: the manifest written.
    /// - Throws: `ConvLensError` for unknown layers, channels out of range, an overlay of a layer
    ///   without spatial maps, or unwritable output; nothing is written when a query or channel
    ///   is bad.
    @discardableResult
    public func writeActivations(_ queries: [String], trace: Trace, input: ModelInput, to directory: String,
                                 parameters: [String: JSONValue], grid: ActivationGridRequest? = nil,
                                 overlay: OverlayRequest? = nil) throws -> Manifest {
        let layers = try queries.map { try graph.layer(matching: $0) }
        // Check every channel before writing anything.
        for (layer, query) in zip(layers, queries) {
            let geo = ActivationTiles.geometry(of: trace.activation(layer).shape)
            if let grid { _ = try grid.tiles.selectedChannels(count: geo.channels, layer: layer.name) }
            if let overlay, overlay.layers?.contains(query) ?? true {
                _ = try ChannelSelection([overlay.channel]).channels(count: geo.channels, layer: layer.name)
                guard !geo.isFullyConnected else {
                    throw ConvLensError(.invalidArgument, parameter: "overlay", "layer '\(layer.name)' \(trace.activation(layer).shape) has no spatial map to overlay")
                }
            }
        }
        let background = try overlay.map { _ in try displayImage(of: input) }
        try AtomicFile.makeDirectory(directory)
        var manifest = try self.manifest(command: "activations", input: input, parameters: parameters)
        var used: Set<String> = []
        for (layer, query) in zip(layers, queries) {
            var stem = fileStem(forLayer: layer.name)
            if used.contains(stem) { stem += "-\(layer.index)" }
            used.insert(stem)
            let t = trace.activation(layer)
            try NPY.write(t, to: directory + "/\(stem).npy")
            var o = Manifest.Output(kind: .activation)
            o.layer = layer.name
            o.layerQuery = query
            o.npy = "\(stem).npy"
            o.shape = t.shape.dimensions
            let r = t.range
            (o.min, o.max) = (r.min, r.max)
            manifest.outputs.append(o)

            let geo = ActivationTiles.geometry(of: t.shape)
            if let grid {
                let set = try grid.tiles.tiles(for: t, layer: layer.name)
                let g = grid.grid(for: geo)
                let layout = try checkedGridLayout(set, g, labels: grid.labels, layer: layer.name)
                let picture = set.render(g, labels: grid.labels)
                try write(picture, stem: "\(stem)-grid", in: directory)
                var e = Manifest.Output(kind: .activationGrid)
                e.layer = layer.name
                e.layerQuery = query
                e.png = "\(stem)-grid.png"
                e.npy = "\(stem)-grid.npy"
                e.shape = [picture.height, picture.width, 3]
                e.channels = set.channels
                e.scale = grid.tiles.scale == .global ? "layer" : "tile"
                e.colormap = grid.tiles.colormap.rawValue
                e.boost = grid.tiles.boost
                e.gamma = grid.tiles.gamma
                (e.min, e.max) = (set.range.min, set.range.max)
                e.zoom = layout.zoom
                e.grid = [layout.rows, layout.columns]
                manifest.outputs.append(e)
            }
            if let overlay, let background, overlay.layers?.contains(query) ?? true {
                let c = overlay.channel
                let map = ActivationTiles.map(t, channel: c)
                let range = ValueRange(of: map)
                let picture = overlay.overlay.render(image: background, map: map, mapWidth: geo.width, mapHeight: geo.height, range: range)
                try write(picture, stem: "\(stem)-overlay-\(c)", in: directory)
                var e = Manifest.Output(kind: .overlay)
                e.layer = layer.name
                e.layerQuery = query
                e.channel = c
                e.png = "\(stem)-overlay-\(c).png"
                e.npy = "\(stem)-overlay-\(c).npy"
                e.shape = [picture.height, picture.width, 3]
                e.scale = "channel"
                e.colormap = overlay.overlay.colormap.rawValue
                (e.min, e.max) = (range.min, range.max)
                manifest.outputs.append(e)
            }
        }
        try manifest.write(to: directory)
        return manifest
    }

    /// Writes the top-`k` classes as `manifest.json` outputs of kind `classification`.
    @discardableResult
    public func writeClassification(_ predictions: [Prediction], input: ModelInput, to directory: String,
                                    parameters: [String: JSONValue]) throws -> Manifest {
        try AtomicFile.makeDirectory(directory)
        var manifest = try self.manifest(command: "classify", input: input, parameters: parameters)
        for p in predictions {
            var o = Manifest.Output(kind: .classification)
            o.rank = p.rank
            o.channel = p.index
            o.label = p.label
            o.probability = p.probability
            manifest.outputs.append(o)
        }
        try manifest.write(to: directory)
        return manifest
    }
}
