import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import ConvLensProjection
import Foundation

/// What `convlens project` computes: seeds at one layer, rules, and how to show the results.
public struct ProjectionRequest: Sendable {
    /// The layer query (name, tensor name or `#N`).
    public var layer: String
    /// The channels to seed; `nil` means every channel of the layer.
    public var channels: [Int]?
    /// `unit` (default) or `map` seeds.
    public var seedKind: SeedKind = .unit
    /// The unit position in layer-map coordinates; `nil` means each channel's argmax.
    public var at: (y: Int, x: Int)?
    /// The rule sets to run, in order.
    public var rules: [ProjectionRule] = [.deconvnet]
    /// How PNGs are rendered.
    public var display = Display(mode: .raw)
    /// Crop each projection to the unit's receptive field (zero-padded outside the image).
    public var crop = false
    /// How LRN layers pass the signal.
    public var lrn: LRNMode = .gradient
    /// The convolution algorithm of the backward pass (`auto`: the planner's per-layer choice).
    public var algorithm: ConvolutionAlgorithm = .auto
    /// The most bytes of backward signals held at once (``Projector/memoryBudget``).
    public var memoryBudget: Int = Projector.defaultMemoryBudget

    /// The kind of seed.
    public enum SeedKind: String, Sendable, CaseIterable {
        case unit, map
    }

    public init(layer: String) { self.layer = layer }

    /// The seeds for a layer with `channelCount` channels.
    public func seeds(channelCount: Int) -> [Seed] {
        (channels ?? Array(0..<channelCount)).map { c in
            switch seedKind {
            case .unit: return .unit(channel: c, y: at?.y, x: at?.x)
            case .map: return .map(channel: c)
            }
        }
    }
}

extension Graph {
    /// The receptive-field box of unit `(y, x)` of a layer in input pixels: `(top, left, height,
    /// width)`; it may extend past the image (DESIGN.md §1 "crop"), by at most the padding on the
    /// field's path and never to more than `2·image − 1` pixels (`ReceptiveField`).
    /// - Throws: ``ConvLensError`` `absurdSize` when the box would not be a sane image size (a field
    ///   is bounded by construction; this guards the allocation of crops anyway).
    public func fieldBox(_ layer: Layer, y: Int, x: Int) throws -> (top: Int, left: Int, height: Int, width: Int) {
        let rf = receptiveFields()[layer.tensorName] ?? .pixel
        if layer.shape.rank == 4, let axes = rf.mapAxes, axes != [2, 3] {
            throw ConvLensError(.unsupportedFeature, file: "--layer",
                                "'\(layer.name)' holds its map in axes \(axes) (a channels-last tensor \(layer.shape)); crops and panels need an NCHW layer: choose the layer after the block's Transpose back")
        }
        let (cy, cx) = rf.center(y: y, x: x)
        let limit = Double(Graph.maximumCropSide)
        guard rf.size.allSatisfy({ $0.isFinite && $0 >= 1 && $0 <= limit }), cy.isFinite, cx.isFinite, abs(cy) <= limit, abs(cx) <= limit else {
            throw ConvLensError(.absurdSize, file: source,
                                "the receptive field of '\(layer.name)' (size \(rf.size), centre \(cy), \(cx)) is not a sane crop; crops need a field of at most \(Graph.maximumCropSide) pixels")
        }
        let h = Int(rf.size[0].rounded(.up)), w = Int(rf.size[1].rounded(.up))
        return (Int((cy - Double(h - 1) / 2).rounded(.down)), Int((cx - Double(w - 1) / 2).rounded(.down)), h, w)
    }

    /// The largest crop side ConvLens allocates (pixels).
    public static let maximumCropSide = 16384
}

/// The `[1, C, H, W]` tensor cropped to a box that may extend past it (zeros outside).
public func cropped(_ t: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
    let h = t.shape[2], w = t.shape[3]
    let pads = [0, 0, max(0, -top), max(0, -left), 0, 0, max(0, top + height - h), max(0, left + width - w)]
    let padded = Reshaping.pad(t, pads: pads, mode: .constant, value: 0)
    let y0 = top + pads[2], x0 = left + pads[3]
    return Reshaping.slice(padded, starts: [y0, x0], ends: [y0 + height, x0 + width], axes: [2, 3], steps: [1, 1])
}

extension Model {
    /// Runs a projection request and writes, per seed and rule, the projection as `.npy`
    /// (`[1, C, H, W]` float32 in the model's normalized input space, or the field crop; NHWC models'
    /// projections are transposed to NCHW) and a PNG, one labelled grid per rule when there are
    /// several seeds, and `manifest.json`.
    /// - Parameters:
    ///   - request: layer, channels, seeds, rules, display, crop.
    ///   - trace: a forward run of this model on `input`.
    ///   - input: the input the trace ran on (`[1, C, H, W]`, or NHWC for NHWC models).
    ///   - directory: the output folder (created if missing).
    ///   - parameters: the options to record.
    ///   - progress: called with (done, total) seeds×rules.
    /// - Returns: the manifest written and the projections.
    /// - Throws: `ConvLensError` (unknown layer, channel or position out of range, …) before
    ///   anything is written.
    @discardableResult
    public func writeProjections(_ request: ProjectionRequest, trace: Trace, input: ModelInput, to directory: String,
                                 parameters: [String: JSONValue], progress: ((Int, Int) -> Void)? = nil) throws -> (Manifest, [Projection]) {
        let layer = try graph.layer(matching: request.layer)
        let channelCount = layer.shape.rank >= 2 ? layer.shape[1] : 0
        let seeds = request.seeds(channelCount: channelCount)
        // Validate every seed before any work or output.
        let act = trace.activation(layer)
        for s in seeds { _ = try s.resolve(in: act, layer: layer.name) }
        var projector = Projector(trace: trace)
        projector.lrn = request.lrn
        projector.algorithm = request.algorithm
        projector.memoryBudget = request.memoryBudget
        var all: [Projection] = []
        let total = seeds.count * request.rules.count
        let work = AlgorithmLog()
        for (k, rule) in request.rules.enumerated() {
            let ruleLog = AlgorithmLog()
            let part = try projector.project(layer: layer, seeds: seeds, rule: rule, log: ruleLog) { done, _ in
                progress?(k * seeds.count + done, total)
            }
            work.merge(ruleLog)
            all += part
        }
        try AtomicFile.makeDirectory(directory)
        var manifest = try self.manifest(command: "project", input: input, parameters: parameters)
        var performance = Manifest.Performance(peakResidentBytes: ResourceUsage.peakResidentBytes())
        performance.memoryBudgetBytes = request.memoryBudget
        performance.convolutionFlops = work.convolutionFlops
        performance.denseConvolutionFlops = work.denseConvolutionFlops
        manifest.performance = performance
        let stem = fileStem(forLayer: layer.name)
        var display = request.display
        display.bgr = (input.preprocessing ?? preprocessing).channelOrder == .bgr
        var tiles: [ProjectionRule: [(Int, Image)]] = [:]
        for p in all {
            var t = nchw(p.tensor)
            var name = "\(stem)_c\(p.seed.channel)"
            if let y = p.seed.y, let x = p.seed.x, case .unit = p.seed.seed { name += "_y\(y)_x\(x)" }
            if case .map = p.seed.seed { name += "_map" }
            name += "_\(p.rule.rawValue)"
            if request.crop, layer.shape.rank == 4 {
                let (y, x) = try cropCenter(p.seed, activation: act)
                let box = try graph.fieldBox(layer, y: y, x: x)
                t = cropped(t, top: box.top, left: box.left, height: box.height, width: box.width)
                name += "_crop"
            }
            try NPY.write(t, to: "\(directory)/\(name).npy")
            let picture = display.render(t)
            try picture.writePNG(to: "\(directory)/\(name).png")
            tiles[p.rule, default: []].append((p.seed.channel, picture))
            var o = Manifest.Output(kind: "projection")
            o.layer = layer.name
            o.layerQuery = request.layer
            o.channel = p.seed.channel
            o.y = p.seed.y
            o.x = p.seed.x
            o.activation = p.seed.activation
            o.rule = p.rule.rawValue
            o.seed = p.seed.seed.kind
            o.display = display.mode.rawValue
            o.algorithm = p.algorithm
            o.npy = "\(name).npy"
            o.png = "\(name).png"
            o.shape = t.shape.dimensions
            let r = t.range
            (o.min, o.max) = (r.min, r.max)
            manifest.outputs.append(o)
        }
        // With several seeds, one grid per rule (labelled by channel).
        for rule in request.rules where (tiles[rule]?.count ?? 0) > 1 {
            let items = tiles[rule]!
            let grid = Grid().render(items.map(\.1), labels: items.map { String($0.0) })
            let name = "\(stem)_\(rule.rawValue)_grid"
            try NPY.write(grid.unitTensor(), to: "\(directory)/\(name).npy")
            try grid.writePNG(to: "\(directory)/\(name).png")
            var o = Manifest.Output(kind: "projection-grid")
            o.layer = layer.name
            o.layerQuery = request.layer
            o.channels = items.map(\.0)
            o.rule = rule.rawValue
            o.seed = request.seedKind.rawValue
            o.display = display.mode.rawValue
            o.algorithm = combinedAlgorithm(all.filter { $0.rule == rule }.map(\.algorithm))
            o.npy = "\(name).npy"
            o.png = "\(name).png"
            o.shape = [grid.height, grid.width, 3]
            (o.min, o.max) = (0, 1)
            manifest.outputs.append(o)
        }
        try manifest.write(to: directory)
        return (manifest, all)
    }

    /// A projection in NCHW layout (models with an NHWC input, as tf2onnx exports, are transposed).
    public func nchw(_ t: Tensor) -> Tensor {
        inputIsNHWC ? Reshaping.transpose(t, perm: [0, 3, 1, 2]) : t
    }

    /// The unit a crop centres on: the seed's position, or the channel's argmax for map seeds.
    private func cropCenter(_ seed: ResolvedSeed, activation: Tensor) throws -> (Int, Int) {
        if let y = seed.y, let x = seed.x { return (y, x) }
        let r = try Seed.unit(channel: seed.channel).resolve(in: activation, layer: "")
        return (r.y ?? 0, r.x ?? 0)
    }
}

/// One manifest label for outputs built from several projections: the shared label, or the
/// distinct labels sorted and joined by `,`.
func combinedAlgorithm(_ labels: [String]) -> String {
    let unique = Set(labels).sorted()
    return unique.isEmpty ? "none" : unique.joined(separator: ",")
}
