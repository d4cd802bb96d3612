import ConvLens
import Foundation

/// The explorer's state and computations: the model, the input images by id, and one forward trace
/// per input (the most recently used ``ExplorerConfiguration/traceCacheSize`` are kept), shared by
/// every request. An actor: views of one model run one at a time, each using every core the
/// library's kernels use (a second view waiting its turn costs no extra memory).
///
/// Nothing here reads a path that came with a request: images are addressed by id, uploads are
/// written under a private scratch folder by their id, and saves go under the configured output
/// folder, named by the server.
public actor ExplorerEngine {
    /// The model (immutable).
    public nonisolated let model: Model
    /// The model's description served as `GET /api/model`.
    public nonisolated let document: ModelDocument
    nonisolated let configuration: ExplorerConfiguration
    /// Whether the model is the bundled one (commands then omit `--model`).
    nonisolated let bundledModel: Bool
    /// The `--scan` result, if any.
    nonisolated let scan: ScanResult?
    private var topkCache: [String: Data] = [:]
    private var topkCacheBytes = 0

    struct Entry {
        var document: ImageDocument
        /// The file the input is read from (a scratch copy for uploads and camera frames).
        var path: String
    }

    private var entries: [Entry] = []
    private var runs: [String: (input: ModelInput, trace: Trace)] = [:]
    private var recent: [String] = []
    private var counters: [String: Int] = ["u": 0, "c": 0]
    private nonisolated let scratch: String

    /// Loads the model and lists the inputs: the bundled photographs, `imageFiles`, and the PNG and
    /// JPEG files of `imageFolder` (by name, at most ``ExplorerConfiguration/folderLimit``).
    /// - Throws: `ConvLensError` for an unreadable or malformed model, a missing image file or folder.
    public init(configuration: ExplorerConfiguration) throws {
        var model = try Model.load(configuration.model)
        if let labels = configuration.labels { model = try model.withLabels(from: labels) }
        self.model = model
        self.configuration = configuration
        bundledModel = configuration.model == nil
        if let folder = configuration.scanFolder {
            let scan = try ScanResult.read(directory: folder)
            guard try model.record().sha256 == scan.model.sha256 else {
                throw ConvLensError(.invalidArgument, file: folder, "is a scan of another model (\(scan.model.path)); scan this model first")
            }
            self.scan = scan
        } else {
            scan = nil
        }
        var document = ExplorerEngine.describe(model, bundled: bundledModel)
        document.scannedLayers = scan?.layers.map(\.name) ?? []
        self.document = document

        var list: [Entry] = []
        for (i, p) in BundledResources.sampleImages.enumerated() {
            if let path = try? BundledResources.path(p) {
                list.append(Entry(document: ImageDocument(id: "b\(i)", name: (p as NSString).lastPathComponent, source: "bundled"), path: path))
            }
        }
        for (i, p) in configuration.imageFiles.enumerated() {
            guard FileManager.default.isReadableFile(atPath: p) else {
                throw ConvLensError(.unreadableFile, file: p, "no such readable file")
            }
            list.append(Entry(document: ImageDocument(id: "i\(i)", name: (p as NSString).lastPathComponent, source: "file"), path: p))
        }
        if let folder = configuration.imageFolder {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue,
                  let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
                throw ConvLensError(.unreadableFile, file: folder, "not a readable folder")
            }
            let images = names.filter { n in ["png", "jpg", "jpeg"].contains((n as NSString).pathExtension.lowercased()) }.sorted()
            for (i, n) in images.prefix(configuration.folderLimit).enumerated() {
                list.append(Entry(document: ImageDocument(id: "f\(i)", name: n, source: "folder"), path: folder + "/" + n))
            }
        }
        entries = list
        // Private to this user (mkdtemp: mode 0700): uploads and camera frames are written there.
        var template = Array((FileManager.default.temporaryDirectory.path + "/convlens-explore-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ConvLensError(.unwritableOutput, file: FileManager.default.temporaryDirectory.path, "cannot create a private temporary folder")
        }
        scratch = String(cString: made)
    }

    /// Removes the scratch folder of uploads and camera frames (the engine accepts no upload after).
    public nonisolated func close() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    // MARK: Images

    /// The inputs, in order (bundled, files, folder, uploads, camera frames).
    public func images() -> [ImageDocument] { entries.map(\.document) }

    /// Adds an uploaded image or camera frame: checks its type, decodes it with the CLI's checks
    /// and runs the forward pass, so a bad file is refused here, with nothing kept.
    /// - Parameters:
    ///   - data: the file's bytes (PNG or JPEG).
    ///   - name: the name shown (sanitized; never used as a path).
    ///   - camera: a camera frame (kept among the last ``ExplorerConfiguration/cameraFrameCount``).
    /// - Throws: `ConvLensError` naming the upload and the cause.
    public func add(_ data: Data, name: String, camera: Bool) throws -> ImageDocument {
        let shown = ExplorerEngine.displayName(name, fallback: camera ? "camera frame" : "upload")
        let ext: String
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47]) { ext = "png" }
        else if data.starts(with: [0xFF, 0xD8, 0xFF]) { ext = "jpg" }
        else { throw ConvLensError(.malformedFile, file: shown, "not a PNG or JPEG file") }
        let prefix = camera ? "c" : "u"
        counters[prefix, default: 0] += 1
        let id = "\(prefix)\(counters[prefix]!)"
        let path = "\(scratch)/\(id).\(ext)"
        try AtomicFile.write(data, to: path)
        do {
            let input = try model.input(from: path)
            let trace = try model.run(input)
            remember(id, (input, trace))
        } catch let e as ConvLensError {
            try? FileManager.default.removeItem(atPath: path)
            throw ConvLensError(e.code, file: shown, e.detail)
        }
        let doc = ImageDocument(id: id, name: shown, source: camera ? "camera" : "upload")
        entries.append(Entry(document: doc, path: path))
        let keep = camera ? configuration.cameraFrameCount : configuration.uploadCount
        let same = entries.filter { $0.document.source == doc.source }
        for old in same.dropLast(keep) { forget(old.document.id) }
        return doc
    }

    private func forget(_ id: String) {
        guard let i = entries.firstIndex(where: { $0.document.id == id }) else { return }
        try? FileManager.default.removeItem(atPath: entries[i].path)
        entries.remove(at: i)
        runs[id] = nil
        recent.removeAll { $0 == id }
    }

    /// A name safe to show and to put in a manifest: printable, at most 80 characters, no folders.
    static func displayName(_ name: String, fallback: String) -> String {
        let base = (name as NSString).lastPathComponent
        let clean = String(base.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init).prefix(80))
        return clean.isEmpty || clean == "." || clean == ".." ? fallback : clean
    }

    func entry(_ id: String) throws -> Entry {
        guard let e = entries.first(where: { $0.document.id == id }) else {
            throw NotFound(what: "image '\(id.prefix(32))'")
        }
        return e
    }

    /// The input and forward trace of an image (computed once, then shared).
    func run(_ id: String) throws -> (input: ModelInput, trace: Trace) {
        if let r = runs[id] {
            recent.removeAll { $0 == id }
            recent.append(id)
            return r
        }
        let e = try entry(id)
        let input = try model.input(from: e.path)
        let r = (input, try model.run(input))
        remember(id, r)
        return r
    }

    private func remember(_ id: String, _ r: (input: ModelInput, trace: Trace)) {
        runs[id] = r
        recent.removeAll { $0 == id }
        recent.append(id)
        while recent.count > max(1, configuration.traceCacheSize) { runs[recent.removeFirst()] = nil }
    }

    // MARK: Views

    /// The input as the model sees it (after resizing and cropping), as PNG.
    public func inputPNG(_ p: ViewParameters) throws -> Data {
        let (input, _) = try run(try p.required(p.image, "image"))
        return try model.displayImage(of: input).pngData()
    }

    /// The top classes of an image.
    public func predictions(_ p: ViewParameters) throws -> [Prediction] {
        let (_, trace) = try run(try p.required(p.image, "image"))
        return try model.classify(trace, top: p.top)
    }

    /// A layer's activation tensor.
    public func activation(_ p: ViewParameters) throws -> Tensor {
        let (_, trace) = try run(try p.required(p.image, "image"))
        return trace.activation(try layer(p))
    }

    /// The activation grid of a layer (as `convlens activations --grid`), as PNG.
    public func activationGrid(_ p: ViewParameters) throws -> Data {
        let t = try activation(p)
        return try ExplorerEngine.grid(t, tiles: ActivationTiles(scale: p.scale, boost: p.boost, gamma: p.gamma, colormap: p.colormap))
    }

    /// The backward signal of the seed (`from`, `unit`, `rule`, `seed`, `y`/`x`) at the shown layer
    /// (`layer`), as a grid of the same layout as the activations, in diverging colours.
    public func signalGrid(_ p: ViewParameters) throws -> Data {
        let (_, trace) = try run(try p.required(p.image, "image"))
        let shown = try layer(p)
        let source = try model.graph.layer(matching: try p.required(p.from, "from"))
        let unit = try p.required(p.unit, "unit")
        // The seed lives on the `from` layer: its errors name that parameter, not the shown `layer`.
        do { _ = try seed(p, unit).resolve(in: trace.activation(source), layer: source.name) } catch let e as ConvLensError {
            throw e.naming { $0 == "layer" ? "from" : $0 }
        }
        var t = try Projector(trace: trace).signal(of: source, seeds: [seed(p, unit)], at: shown, rule: p.rule)
        t = t.reshaped(shown.shape)
        return try ExplorerEngine.grid(t, tiles: ActivationTiles(scale: p.scale, boost: p.boost, gamma: p.gamma, colormap: .diverging))
    }

    static func grid(_ t: Tensor, tiles: ActivationTiles) throws -> Data {
        let set = try tiles.tiles(for: t)
        let grid = ActivationGridRequest().grid(for: ActivationTiles.geometry(of: t.shape))
        return try set.render(grid).pngData()
    }

    /// One unit's map, min–max scaled in the colormap and magnified to at least 192 pixels.
    public func unitPNG(_ p: ViewParameters) throws -> Data {
        let t = try activation(p)
        let g = ActivationTiles.geometry(of: t.shape)
        let unit = try p.required(p.unit, "unit")
        guard unit < g.channels else { throw ConvLensError(.outOfRange, parameter: "channel", "layer has \(g.channels) units; \(unit) is out of range") }
        let tile = try ActivationTiles(scale: .tile, colormap: p.colormap == .gray ? .viridis : p.colormap, channels: ChannelSelection([unit]))
            .tiles(for: t).tiles[0]
        let zoom = Grid(minimumTileSize: 192).zoomFactor(tileWidth: g.width, tileHeight: g.height)
        return try tile.zoomed(by: zoom).pngData()
    }

    /// The projection of one unit (or map) to the input under a rule: the tensor in the model's
    /// input layout, exactly as `convlens project` writes it.
    public func projection(_ p: ViewParameters) throws -> Tensor {
        let (_, trace) = try run(try p.required(p.image, "image"))
        let l = try layer(p)
        let unit = try p.required(p.unit, "unit")
        let result = try Projector(trace: trace).project(layer: l, seeds: [seed(p, unit)], rule: p.rule)
        return result[0].tensor
    }

    /// The projection rendered in a display mode, as PNG.
    public func projectionPNG(_ p: ViewParameters) throws -> Data {
        let t = try projection(p)
        return try Display(mode: p.display, bgr: model.preprocessing.channelOrder == .bgr).render(model.nchw(t)).pngData()
    }

    /// The filters of one unit of a convolution layer: its input-channel slices (one RGB tile for
    /// three input channels), as PNG.
    public func filtersPNG(_ p: ViewParameters) throws -> Data {
        let l = try layer(p)
        let fw = try model.filterWeights(of: l)
        let unit = try p.required(p.unit, "unit")
        guard !fw.isTransposed else {
            throw ConvLensError(.unsupportedFeature, parameter: "layer", "'\(fw.layer.name)' is a ConvTranspose; its per-unit filters are not shown (convlens filters draws the layer)")
        }
        let d = fw.weights.shape.dimensions
        guard unit < d[0] else { throw ConvLensError(.outOfRange, parameter: "channel", "layer '\(fw.layer.name)' has \(d[0]) filters; \(unit) is out of range") }
        let per = d[1] * d[2] * d[3]
        let one = Tensor(shape: Shape([1, d[1], d[2], d[3]]), scalars: Array(fw.weights.scalars[(unit * per)..<((unit + 1) * per)]))
        let set = try FilterTiles(bgr: model.preprocessing.channelOrder == .bgr, maxTiles: 256).tiles(for: one, groups: 1)
        var grid = Grid(minimumTileSize: 96)
        grid.columns = min(set.tiles.count, 16)
        return try set.render(grid).pngData()
    }

    /// With `--scan`: the unit's top-K crops beside their projections under the rule (the
    /// montage `convlens topk` writes, computed by it and kept in memory).
    public func topkPNG(_ p: ViewParameters) throws -> Data {
        guard let scan else { throw NotFound(what: "scan: start the explorer with --scan DIR") }
        let l = try layer(p)
        let unit = try p.required(p.unit, "unit")
        let key = "\(l.name)|\(unit)|\(p.rule.rawValue)|\(p.display.rawValue)"
        if let png = topkCache[key] { return png }
        var request = TopKRequest(layer: l.name)
        request.channels = [unit]
        request.rules = [p.rule]
        request.display = Display(mode: p.display)
        let folder = "\(scratch)/topk-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (manifest, _) = try model.writeTopK(request, scan: scan, to: folder, parameters: [:])
        guard let name = manifest.outputs.first(where: { $0.view == "montage" })?.png else {
            throw NotFound(what: "top images for unit \(unit) of \(l.name) in the scan")
        }
        let png = try AtomicFile.read(folder + "/" + name)
        if topkCacheBytes + png.count > 64 << 20 { topkCache.removeAll(); topkCacheBytes = 0 }   // 64 MiB of montages
        topkCache[key] = png
        topkCacheBytes += png.count
        return png
    }

    func layer(_ p: ViewParameters) throws -> Layer {
        try model.graph.layer(matching: try p.required(p.layer, "layer"))
    }

    func seed(_ p: ViewParameters, _ unit: Int) -> Seed {
        p.seed == .map ? .map(channel: unit) : .unit(channel: unit, y: p.y, x: p.x)
    }

    // MARK: Model description

    static func describe(_ model: Model, bundled: Bool) -> ModelDocument {
        let summaries = model.layerSummaries()
        let layers = model.graph.layers.map { l -> LayerDocument in
            let g = ActivationTiles.geometry(of: l.shape)
            let grid = ActivationGridRequest().grid(for: g)
            let layout = grid.layout(count: max(1, g.channels), tileWidth: g.width, tileHeight: g.height)
            let s = summaries.first { $0.index == l.index }
            return LayerDocument(
                index: l.index, name: l.name, op: l.opType, shape: l.shape.dimensions,
                channels: g.channels, height: g.height, width: g.width, receptiveField: s?.receptiveField,
                hasFilters: (try? model.filterWeights(of: l)).map { !$0.isTransposed } ?? false,
                grid: GridDocument(columns: layout.columns, rows: layout.rows, zoom: layout.zoom, padding: grid.padding,
                                   cellWidth: layout.cellWidth, cellHeight: layout.cellHeight, width: layout.width, height: layout.height))
        }
        return ModelDocument(
            name: (model.path as NSString).lastPathComponent, bundled: bundled, input: model.graph.inputShape.dimensions,
            layers: layers, rules: ProjectionRule.allCases.map(\.rawValue), displays: DisplayMode.allCases.map(\.rawValue),
            colormaps: Colormap.allCases.map(\.rawValue), seeds: ProjectionRequest.SeedKind.allCases.map(\.rawValue),
            scannedLayers: [])
    }
}

/// An image id or other name the explorer does not know (HTTP 404).
public struct NotFound: Error, Sendable {
    public var what: String
    public var line: String { "no \(what)" }
}
