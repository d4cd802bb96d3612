import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import ConvLensProjection
import Foundation

/// What `convlens topk` draws from a scan: per unit, the receptive-field crops of its top images
/// beside their back-projections.
public struct TopKRequest: Sendable {
    /// The layer query (must be one of the scan's layers).
    public var layer: String
    /// The channels; `nil` means every channel.
    public var channels: [Int]?
    /// The rule sets, in order.
    public var rules: [ProjectionRule] = [.deconvnet]
    /// How projection PNGs are rendered.
    public var display = Display(mode: .raw)
    /// The convolution algorithm of the backward pass.
    public var algorithm: ConvolutionAlgorithm = .auto
    /// The most bytes of backward signals held at once (``Projector/memoryBudget``).
    public var memoryBudget: Int = Projector.defaultMemoryBudget
    /// How LRN layers pass the signal.
    public var lrn: LRNMode = .gradient

    public init(layer: String) { self.layer = layer }
}

extension Model {
    /// Writes, for every selected unit of a scanned layer, its top-K receptive-field crops (full
    /// size, zero-padded in the normalized space at borders, never shifted) and their projections:
    /// per crop a PNG and a `.npy` (`[1, C, h, w]` float32, normalized input space), per unit and
    /// rule a montage (the K crops in a near-square grid beside the K projections), and
    /// `manifest.json` (`kind: "topk"`, `view` = `input`, `projection` or `montage`).
    /// Projections are batched per image: all the selected units whose top-K holds an image are
    /// projected in one backward pass over that image's trace.
    /// - Parameters:
    ///   - scan: a scan of this model (`ScanResult.read(directory:)`).
    ///   - progress: called with (projections done, total).
    /// - Returns: the manifest and the number of projections computed.
    /// - Throws: ``ConvLensError`` (layer not in the scan, channel out of range, image unreadable
    ///   now, a different model) before anything is written where it can be checked first.
    @discardableResult
    public func writeTopK(_ request: TopKRequest, scan: ScanResult, to directory: String, parameters: [String: JSONValue],
                          progress: ((Int, Int) -> Void)? = nil) throws -> (Manifest, Int) {
        let rec = try record()
        guard rec.sha256 == scan.model.sha256 else {
            throw ConvLensError(.invalidArgument, file: path, "is not the model the scan ran (\(scan.model.path), sha256 \(scan.model.sha256.prefix(12))…)")
        }
        let layer = try graph.layer(matching: request.layer)
        guard let scanned = scan.layers.first(where: { $0.name == layer.name }) else {
            throw ConvLensError(.unknownLayer, parameter: "layer", "\(layer.name) was not scanned; the scan has \(scan.layers.map(\.name).joined(separator: ", "))")
        }
        // Same model file (checked above), so a different shape means an edited scan: name the scan,
        // not the channel or position it would otherwise fail on.
        guard let modelShape = ScanResult.scannedShape(layer), scanned.shape == modelShape else {
            throw ConvLensError(.malformedFile, parameter: "scan",
                                "the scan gives \(layer.name) the shape \(scanned.shape); the model computes \(layer.shape)")
        }
        let channelCount = scanned.shape[0]
        let channels = request.channels ?? Array(0..<channelCount)
        if let bad = channels.first(where: { $0 < 0 || $0 >= channelCount }) {
            throw ConvLensError(.outOfRange, parameter: "channel", "channel \(bad) is out of range: \(layer.name) has channels 0 to \(channelCount - 1)")
        }
        let source = ScanSource(kind: scan.sourceKind, path: scan.source, images: scan.images)
        // Group the seeds by image so each image runs forward once and projects as one batch.
        var byImage: [Int: [(channel: Int, rank: Int, entry: ScanEntry)]] = [:]
        for c in channels { for (r, e) in scanned.units[c].enumerated() { byImage[e.image, default: []].append((c, r, e)) } }
        let total = byImage.values.reduce(0) { $0 + $1.count } * request.rules.count
        let isMap = layer.shape.rank == 4
        struct Crop { var input: Tensor; var projections: [Tensor]; var activation: Float }
        var crops: [Int: [Int: Crop]] = [:]  // channel → rank → crop
        var done = 0
        for image in byImage.keys.sorted() {
            let seeds = byImage[image]!
            let input = try self.input(source: source, index: image, preprocessing: scan.preprocessing)
            let trace = try run(input)
            var projector = Projector(trace: trace)
            projector.lrn = request.lrn
            projector.algorithm = request.algorithm
            projector.memoryBudget = request.memoryBudget
            let unitSeeds = seeds.map { Seed.unit(channel: $0.channel, y: isMap ? $0.entry.y : nil, x: isMap ? $0.entry.x : nil) }
            var perRule: [[Projection]] = []
            for rule in request.rules {
                perRule.append(try projector.project(layer: layer, seeds: unitSeeds, rule: rule))
                done += seeds.count
                progress?(done, total)
            }
            let x = nchw(input.tensor)
            for (i, s) in seeds.enumerated() {
                var box = (top: 0, left: 0, height: x.shape[2], width: x.shape[3])
                if isMap { box = try graph.fieldBox(layer, y: s.entry.y, x: s.entry.x) }
                let crop = { (t: Tensor) in cropped(t, top: box.top, left: box.left, height: box.height, width: box.width) }
                crops[s.channel, default: [:]][s.rank] = Crop(input: crop(x), projections: perRule.map { crop(nchw($0[i].tensor)) },
                                                              activation: perRule[0][i].seed.activation)
            }
        }
        try AtomicFile.makeDirectory(directory)
        var manifest = try self.manifest(command: "topk", input: nil, parameters: parameters)
        let stem = fileStem(forLayer: layer.name)
        var display = request.display
        display.bgr = scan.preprocessing.channelOrder == .bgr
        func emit(_ t: Tensor, _ picture: Image, name: String, view: String, channel: Int, rank: Int?, entry: ScanEntry?, rule: ProjectionRule?) throws {
            try NPY.write(t, to: "\(directory)/\(name).npy")
            try picture.writePNG(to: "\(directory)/\(name).png")
            var o = Manifest.Output(kind: .topk)
            o.layer = layer.name
            o.layerQuery = request.layer
            o.channel = channel
            o.view = view
            o.rank = rank
            if let e = entry {
                if isMap { (o.y, o.x) = (e.y, e.x) }
                o.activation = e.value
                o.label = scan.images[e.image]
            }
            if let rule {
                o.rule = rule.rawValue
                o.seed = "unit"
                o.display = display.mode.rawValue
            }
            o.npy = "\(name).npy"
            o.png = "\(name).png"
            o.shape = t.shape.dimensions
            let r = t.range
            (o.min, o.max) = (r.min, r.max)
            manifest.outputs.append(o)
        }
        for c in channels {
            let entries = scanned.units[c]
            guard !entries.isEmpty, let unitCrops = crops[c] else { continue }
            var inputTiles: [Image] = []
            var projectionTiles: [[Image]] = Array(repeating: [], count: request.rules.count)
            for (r, e) in entries.enumerated() {
                let crop = unitCrops[r]!
                let name = "\(stem)_c\(c)_k\(r)"
                let inputPicture = try displayImage(of: ModelInput(path: scan.images[e.image],
                                                                   tensor: inputIsNHWC ? Reshaping.transpose(crop.input, perm: [0, 2, 3, 1]) : crop.input,
                                                                   preprocessing: scan.preprocessing)).rgb()
                try emit(crop.input, inputPicture, name: name + "_input", view: "input", channel: c, rank: r, entry: e, rule: nil)
                inputTiles.append(inputPicture)
                for (k, rule) in request.rules.enumerated() {
                    let picture = display.render(crop.projections[k]).rgb()
                    try emit(crop.projections[k], picture, name: "\(name)_\(rule.rawValue)", view: "projection", channel: c, rank: r, entry: e, rule: rule)
                    projectionTiles[k].append(picture)
                }
            }
            // deep-visualization-toolbox's layout: the top-K crops, then the top-K projections.
            let labels = entries.map { String(format: "%.3g", $0.value) }
            let columns = Grid.nearSquareColumns(entries.count)
            let grid = Grid(columns: columns)
            let inputGrid = grid.render(inputTiles, labels: labels)
            for (k, rule) in request.rules.enumerated() {
                let montage = Canvas.horizontal([inputGrid, grid.render(projectionTiles[k], labels: labels)], spacing: 8, background: .white)
                try emit(montage.unitTensor(), montage, name: "\(stem)_c\(c)_\(rule.rawValue)_montage", view: "montage", channel: c,
                           rank: nil, entry: nil, rule: rule)
            }
        }
        try manifest.write(to: directory)
        return (manifest, done)
    }
}
