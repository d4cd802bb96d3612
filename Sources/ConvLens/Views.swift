import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import Foundation

// Direct views (DESIGN.md §1 "Grids", §3): filter grids, activation grids, overlays and TensorBoard
// image summaries, written with their arrays and manifest. The rendering itself lives in
// ConvLensImaging (Grid, FilterTiles, ActivationTiles, Overlay); this file finds the tensors in a
// model and writes files.

/// The weights of one convolution layer.
public struct FilterWeights: Sendable {
    /// The layer (a Conv or ConvTranspose node's output).
    public let layer: Layer
    /// The weight tensor exactly as stored in the model: `[C_out, C_in/groups, kH, kW]` for Conv,
    /// `[C_in, C_out/groups, kH, kW]` for ConvTranspose (ONNX's layouts).
    public let weights: Tensor
    /// The layer's group count (`C_in` for depthwise).
    public let groups: Int
    /// Whether the layer is a ConvTranspose.
    public let isTransposed: Bool
    /// The ONNX initializer the weights come from.
    public let initializer: String
}

/// Options of a filter grid (`convlens filters`).
public struct FilterGridRequest: Sendable {
    /// View, scale, BGR and tile limit.
    public var tiles: FilterTiles
    /// Layout: zoom, padding, columns.
    public var grid: Grid
    /// Draw the channel index under each tile.
    public var labels: Bool

    public init(tiles: FilterTiles = FilterTiles(), grid: Grid = Grid(), labels: Bool = false) {
        self.tiles = tiles
        self.grid = grid
        self.labels = labels
    }
}

/// Options of activation grids (`convlens activations`, `convlens tensorboard`).
public struct ActivationGridRequest: Sendable {
    /// Scale, boost, gamma, colormap, channels and tile limit.
    public var tiles: ActivationTiles
    /// Layout: zoom, padding. A layer without spatial extent (fully connected, or `1 × 1` maps)
    /// is drawn as small squares: its tiles aim for 8 pixels instead of `Grid.minimumTileSize`
    /// unless `Grid.zoom` is set.
    public var grid: Grid
    /// Draw the channel index under each tile.
    public var labels: Bool

    public init(tiles: ActivationTiles = ActivationTiles(), grid: Grid = Grid(), labels: Bool = false) {
        self.tiles = tiles
        self.grid = grid
        self.labels = labels
    }

    /// The grid used for a layer of the given geometry.
    public func grid(for geometry: ActivationTiles.Geometry) -> Grid {
        var g = grid
        if geometry.isFullyConnected && g.zoom == nil { g.minimumTileSize = 8 }
        return g
    }
}

/// An activation overlay (`convlens activations --overlay C`).
public struct OverlayRequest: Sendable {
    /// The channel whose map is blended onto the input image.
    public var channel: Int
    /// The layer queries that get an overlay; `nil` means every layer written.
    public var layers: [String]?
    /// Colormap, opacity and legend.
    public var overlay: Overlay

    public init(channel: Int, layers: [String]? = nil, overlay: Overlay = Overlay()) {
        self.channel = channel
        self.layers = layers
        self.overlay = overlay
    }
}

/// What `convlens tensorboard` logs.
public struct TensorBoardRequest: Sendable {
    /// Layer queries, in order.
    public var layers: [String]
    /// The training step the summaries belong to.
    public var step: Int
    /// At most this many images per `filters` and `activations` tag set.
    public var maxOutputs: Int
    /// How the `<layer>/grid` image is drawn (its channel selection also picks the activation
    /// images).
    public var grid: ActivationGridRequest

    public init(layers: [String], step: Int = 0, maxOutputs: Int = 16, grid: ActivationGridRequest = ActivationGridRequest()) {
        self.layers = layers
        self.step = step
        self.maxOutputs = maxOutputs
        self.grid = grid
    }
}

extension Model {
    /// The convolution layer whose weights `layer` stands for: the layer itself when it is a Conv
    /// or ConvTranspose, else the last convolution imported from the same source-framework layer
    /// (a Keras `Conv2D(activation='relu')` named `conv2d` is the `Relu` node `conv2d` after the
    /// `Conv` node `conv2d/preactivation`).
    public func convolutionLayer(for layer: Layer) -> Layer? {
        let node = graph.nodes[layer.nodeIndex]
        if node.convolution != nil { return layer }
        guard let origin = node.origin else { return nil }
        return graph.layers.last { graph.nodes[$0.nodeIndex].origin == origin && graph.nodes[$0.nodeIndex].convolution != nil }
    }

    /// The weights of a Conv or ConvTranspose layer (or of the layer a Keras layer name stands
    /// for, ``convolutionLayer(for:)``).
    /// - Throws: `ConvLensError` `invalidArgument` (parameter `layer`) when the layer is not a
    ///   convolution, `unsupportedFeature` when its weights are computed or not 2-D.
    public func filterWeights(of query: Layer) throws -> FilterWeights {
        guard let layer = convolutionLayer(for: query), let (geometry, transposed) = graph.nodes[layer.nodeIndex].convolution else {
            let producer = graph.nodes[query.nodeIndex].inputs.first.flatMap { name in graph.layers.first { $0.tensorName == name } }
            let hint = producer.flatMap { convolutionLayer(for: $0) }.map { "; its input comes from the convolution '\($0.name)'" } ?? ""
            throw ConvLensError(.invalidArgument, parameter: "layer",
                                "'\(query.name)' is a \(query.opType) layer, not a convolution; filters need a Conv or ConvTranspose layer\(hint)")
        }
        let node = graph.nodes[layer.nodeIndex]
        let groups = geometry.groups
        guard node.inputs.count > 1, let w = graph.initializers[node.inputs[1]] else {
            throw ConvLensError(.unsupportedFeature, parameter: "layer", "'\(layer.name)': its weights are computed, not stored in the model")
        }
        guard w.rank == 4 else {
            throw ConvLensError(.unsupportedFeature, parameter: "layer", "'\(layer.name)': weights of shape \(w.shape) are not 2-D convolution kernels")
        }
        return FilterWeights(layer: layer, weights: w, groups: groups, isTransposed: transposed, initializer: node.inputs[1])
    }

    /// Writes a convolution layer's weights as `.npy` (exactly the model's values, `kind:
    /// "filters"`) and its filter grid as PNG + `.npy` (`[H, W, 3]` in `[0, 1]`, `kind:
    /// "filter-grid"`), with `manifest.json`.
    /// - Parameters:
    ///   - query: a layer query naming a Conv or ConvTranspose layer.
    ///   - request: view, scale, layout. A model whose metadata says BGR gets RGB tiles.
    ///   - directory: the output folder (created if missing).
    ///   - parameters: the options to record in the manifest.
    /// - Returns: the manifest written.
    /// - Throws: `ConvLensError` for an unknown or non-convolution layer, a view that does not fit,
    ///   unwritable output; nothing is written then.
    @discardableResult
    public func writeFilters(_ query: String, request: FilterGridRequest, to directory: String,
                             parameters: [String: JSONValue]) throws -> Manifest {
        let layer = try graph.layer(matching: query)
        let fw = try filterWeights(of: layer)
        var tiles = request.tiles
        if preprocessing.channelOrder == .bgr { tiles.bgr = true }
        let set = try tiles.tiles(for: fw.weights, groups: fw.groups)
        let layout = try checkedGridLayout(set, request.grid, labels: request.labels, layer: layer.name)
        let picture = set.render(request.grid, labels: request.labels)
        let b = fw.weights.shape[1]

        try AtomicFile.makeDirectory(directory)
        var manifest = try self.manifest(command: "filters", input: nil, parameters: parameters)
        let stem = fileStem(forLayer: layer.name)
        try NPY.write(fw.weights, to: directory + "/\(stem)-filters.npy")
        var o = Manifest.Output(kind: .filters)
        o.layer = layer.name
        o.layerQuery = query
        o.npy = "\(stem)-filters.npy"
        o.shape = fw.weights.shape.dimensions
        (o.min, o.max) = (fw.weights.range.min, fw.weights.range.max)
        manifest.outputs.append(o)

        try write(picture, stem: "\(stem)-filter-grid", in: directory)
        var g = Manifest.Output(kind: .filterGrid)
        g.layer = layer.name
        g.layerQuery = query
        g.png = "\(stem)-filter-grid.png"
        g.npy = "\(stem)-filter-grid.npy"
        g.shape = [picture.height, picture.width, 3]
        g.view = tiles.resolvedView(channelsPerFilter: b, groups: fw.groups).description
        g.scale = tiles.scale.rawValue
        g.channels = uniqued(set.channels)
        g.inputChannels = set.inputChannels
        (g.min, g.max) = (set.range.min, set.range.max)
        g.zoom = layout.zoom
        g.grid = [layout.rows, layout.columns]
        manifest.outputs.append(g)
        try manifest.write(to: directory)
        return manifest
    }

    /// The input as a picture: a preprocessed image is mapped back to pixels (`(x·std + mean)·scale`,
    /// RGB order); a `.npy` input is min–max scaled to `0...255`. Three channels give RGB, one
    /// gray, others their mean as gray.
    /// - Returns: an image of the model's input size.
    /// - Throws: `ConvLensError` `unsupportedFeature` when the input is not an image batch.
    public func displayImage(of input: ModelInput) throws -> Image {
        var t = input.tensor
        if inputIsNHWC { t = Reshaping.transpose(t, perm: [0, 3, 1, 2]) }
        guard t.rank == 4 else {
            throw ConvLensError(.unsupportedFeature, file: input.path, "the model input \(t.shape) is not an image batch")
        }
        let (c, h, w) = (t.shape[1], t.shape[2], t.shape[3])
        let plane = h * w
        if let p = input.preprocessing, c == 1 || c == 3 {
            var px = [Float](repeating: 0, count: plane * c)
            for k in 0..<c {
                let src = p.channelOrder == .bgr && c == 3 ? 2 - k : k
                let m = p.mean.count == 1 ? p.mean[0] : p.mean[src]
                let s = p.std.count == 1 ? p.std[0] : p.std[src]
                for i in 0..<plane {
                    px[i * c + k] = min(255, max(0, (t.scalars[src * plane + i] * s + m) * p.scale))
                }
            }
            return Image(width: w, height: h, channels: c, pixels: px)
        }
        let r = ValueRange(of: t.scalars.prefix(c * plane))
        if c == 3 {
            var px = [Float](repeating: 0, count: plane * 3)
            for k in 0..<3 { for i in 0..<plane { px[i * 3 + k] = r.unit(t.scalars[k * plane + i]) * 255 } }
            return Image(width: w, height: h, channels: 3, pixels: px)
        }
        let gray = (0..<plane).map { i in (0..<c).reduce(Float(0)) { $0 + r.unit(t.scalars[$1 * plane + i]) } / Float(c) * 255 }
        return Image(width: w, height: h, channels: 1, pixels: gray)
    }

    /// Writes one TensorBoard event file into `logdir` with, per layer, the tags
    /// `<layer>/filters/image/<i>` (one image per filter, Conv and ConvTranspose layers only),
    /// `<layer>/activations/image/<i>` (one gray image per channel, each min–max scaled) and
    /// `<layer>/grid` (the activation grid), all at `request.step`; `<layer>` is the canonical name.
    /// Images are magnified like grid tiles (nearest neighbour, at least 32 px). Filters use the
    /// automatic view with `norm` in place of `pairs` (one image per filter) and a global scale.
    /// `manifest.json` (one `kind: "tensorboard"` entry per layer) goes beside the event file.
    /// - Parameters:
    ///   - request: the layers, the step, the image limit and the grid drawing.
    ///   - trace: a forward run of this model on `input`.
    ///   - input: the input the trace ran on (`[1, C, H, W]`).
    ///   - logdir: the TensorBoard log folder (created if missing).
    ///   - parameters: the options to record in the manifest.
    ///   - wallTime: seconds since 1970, for the events and the file name.
    ///   - host: the host part of the file name.
    /// - Returns: the manifest and the event file's path.
    /// - Throws: `ConvLensError` for unknown layers, channels out of range, an unwritable logdir
    ///   (e.g. a file); nothing is written then.
    @discardableResult
    public func writeTensorBoard(_ request: TensorBoardRequest, trace: Trace, input: ModelInput, logdir: String,
                                 parameters: [String: JSONValue], wallTime: Double = Date().timeIntervalSince1970,
                                 host: String = ProcessInfo.processInfo.hostName) throws -> (manifest: Manifest, eventFile: String) {
        precondition(request.maxOutputs >= 1)
        let layers = try request.layers.map { try graph.layer(matching: $0) }
        var file = EventFile(wallTime: wallTime)
        var entries: [Manifest.Output] = []
        for (layer, query) in zip(layers, request.layers) {
            var images: [SummaryImage] = []
            func add(_ image: Image, tag: String) throws {
                images.append(SummaryImage(tag: tag, width: image.width, height: image.height, colorspace: image.channels,
                                           png: try image.pngData()))
            }
            let node = graph.nodes[layer.nodeIndex]
            if node.convolution != nil && layer.outputIndex == 0 {
                let fw = try filterWeights(of: layer)
                var view = FilterView.automatic(channelsPerFilter: fw.weights.shape[1], groups: fw.groups)
                if view == .pairs { view = .norm }
                let ft = FilterTiles(view: view, scale: .global, bgr: preprocessing.channelOrder == .bgr, maxTiles: request.maxOutputs)
                let set = try ft.tiles(for: fw.weights, groups: fw.groups)
                for (i, tile) in set.tiles.enumerated() {
                    try add(tile.zoomed(by: request.grid.grid.zoomFactor(tileWidth: tile.width, tileHeight: tile.height)),
                            tag: "\(layer.name)/filters/image/\(i)")
                }
            }
            let t = trace.activation(layer)
            let geo = ActivationTiles.geometry(of: t.shape)
            let chosen = try request.grid.tiles.channels.channels(count: geo.channels, layer: layer.name)
            let single = ActivationTiles(scale: .tile, channels: ChannelSelection(Array(chosen.prefix(request.maxOutputs))))
            let singles = try single.tiles(for: t, layer: layer.name)
            let g = request.grid.grid(for: geo)
            for (i, tile) in singles.tiles.enumerated() {
                try add(tile.zoomed(by: g.zoomFactor(tileWidth: tile.width, tileHeight: tile.height)),
                        tag: "\(layer.name)/activations/image/\(i)")
            }
            let set = try request.grid.tiles.tiles(for: t, layer: layer.name)
            _ = try checkedGridLayout(set, g, labels: request.grid.labels, layer: layer.name)
            try add(set.render(g, labels: request.grid.labels), tag: "\(layer.name)/grid")
            file.add(images: images, step: Int64(request.step), wallTime: wallTime)
            var e = Manifest.Output(kind: .tensorboard)
            e.layer = layer.name
            e.layerQuery = query
            e.tags = images.map(\.tag)
            e.step = request.step
            e.channels = singles.channels
            e.shape = t.shape.dimensions
            e.scale = request.grid.tiles.scale == .global ? "layer" : "tile"
            e.colormap = request.grid.tiles.colormap.rawValue
            (e.min, e.max) = (set.range.min, set.range.max)
            entries.append(e)
        }
        let path = try file.write(toLogdir: logdir, host: host)
        var manifest = try self.manifest(command: "tensorboard", input: input, parameters: parameters)
        let name = URL(fileURLWithPath: path).lastPathComponent
        manifest.outputs = entries.map { var e = $0; e.file = name; return e }
        try manifest.write(to: logdir)
        return (manifest, path)
    }

    func write(_ picture: Image, stem: String, in directory: String) throws {
        try picture.writePNG(to: directory + "/\(stem).png")
        try NPY.write(picture.unitTensor(), to: directory + "/\(stem).npy")
    }

    /// The grid's layout, refusing pictures larger than ``Image/maximumPixelCount`` before any
    /// pixel is allocated (many channels × a large `--zoom`).
    func checkedGridLayout(_ set: TileSet, _ grid: Grid, labels: Bool, layer: String) throws -> Grid.Layout {
        let layout = gridLayout(set, grid, labels: labels)
        let (pixels, overflow) = layout.width.multipliedReportingOverflow(by: layout.height)
        guard !overflow, pixels <= Image.maximumPixelCount else {
            throw ConvLensError(.absurdSize, parameter: "zoom", "the grid of layer '\(layer)' would be \(layout.width)×\(layout.height) pixels; use a smaller zoom, fewer tiles or fewer channels")
        }
        return layout
    }

    func gridLayout(_ set: TileSet, _ grid: Grid, labels: Bool) -> Grid.Layout {
        var g = grid
        if g.columns == nil { g.columns = set.columns }
        return g.layout(count: set.tiles.count, tileWidth: set.tiles[0].width, tileHeight: set.tiles[0].height,
                        labels: labels ? set.labels : nil)
    }

    private func uniqued(_ xs: [Int]) -> [Int] {
        var seen = Set<Int>()
        return xs.filter { seen.insert($0).inserted }
    }
}
