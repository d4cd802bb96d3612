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
    /// Which files hold the projections (Docs/CLI.md "project").
    public var files: Files = .perSeed

    /// Which files hold the projections.
    public enum Files: String, Sendable, CaseIterable {
        /// One `.npy` + PNG per seed and rule, and a grid per rule (`.npy` + PNG).
        case perSeed = "per-seed"
        /// Per rule one `[S, C, H, W]` array and a contact-sheet PNG, and one seeds table (CSV).
        case stack
        /// Both.
        case both
        var perSeedFiles: Bool { self != .stack }
        var stackFiles: Bool { self != .perSeed }
    }

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
            throw ConvLensError(.unsupportedFeature, parameter: "layer",
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
    /// Runs a projection request and writes the projections into `directory` with `manifest.json`.
    ///
    /// With ``ProjectionRequest/Files/perSeed`` (the default): per seed and rule the projection as
    /// `.npy` (`[1, C, H, W]` float32 in the model's normalized input space, or the field crop;
    /// NHWC models' projections are transposed to NCHW) and a PNG, and one labelled grid per rule
    /// when there are several seeds. With ``ProjectionRequest/Files/stack``: per rule one
    /// `<layer>_<rule>_stack.npy` `[S, C, H, W]` holding exactly the per-seed arrays in seed order,
    /// the grid PNG as contact sheet, and `<layer>_seeds.csv` (seed index, channel, position,
    /// activation). Files are rendered, encoded and written on ``Parallelism/threadCount`` threads.
    /// - Parameters:
    ///   - request: layer, channels, seeds, rules, display, crop, files.
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
        // Crop boxes are checked before anything is written.
        let boxes: [(top: Int, left: Int, height: Int, width: Int)?] = try all.map { p in
            guard request.crop, layer.shape.rank == 4 else { return nil }
            let (y, x) = try cropCenter(p.seed, activation: act)
            return try graph.fieldBox(layer, y: y, x: x)
        }
        try AtomicFile.makeDirectory(directory)
        var manifest = try self.manifest(command: "project", input: input, parameters: parameters)
        let stem = fileStem(forLayer: layer.name)
        var display = request.display
        display.bgr = (input.preprocessing ?? preprocessing).channelOrder == .bgr

        // Per projection, on all threads: the array (NCHW, cropped), its picture and, for per-seed
        // files, both written and described.
        let outputs = ProjectionFiles(count: all.count)
        let perSeed = request.files.perSeedFiles
        Parallelism.forEach(all.count) { [self, all, display] i in
            do {
                let p = all[i]
                var t = nchw(p.tensor)
                var name = "\(stem)_c\(p.seed.channel)"
                if let y = p.seed.y, let x = p.seed.x, case .unit = p.seed.seed { name += "_y\(y)_x\(x)" }
                if case .map = p.seed.seed { name += "_map" }
                name += "_\(p.rule.rawValue)"
                if let box = boxes[i] {
                    t = cropped(t, top: box.top, left: box.left, height: box.height, width: box.width)
                    name += "_crop"
                }
                let picture = display.render(t)
                var entry: Manifest.Output?
                if perSeed {
                    try NPY.write(t, to: "\(directory)/\(name).npy")
                    try picture.writePNG(to: "\(directory)/\(name).png")
                    var o = Manifest.Output(kind: .projection)
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
                    entry = o
                }
                outputs.set(i, tensor: request.files.stackFiles ? t : nil, picture: picture, output: entry)
            } catch {
                outputs.fail(error)
            }
        }
        if let error = outputs.error { throw error }
        manifest.outputs += outputs.outputs

        for rule in request.rules {
            let indices = all.indices.filter { all[$0].rule == rule }
            let algorithm = combinedAlgorithm(indices.map { all[$0].algorithm })
            let channels = indices.map { all[$0].seed.channel }
            if request.files.stackFiles {
                let tensors = indices.map { outputs.tensors[$0]! }
                let name = "\(stem)_\(rule.rawValue)_stack"
                let shape = try NPY.writeStack(tensors, to: "\(directory)/\(name).npy")
                var o = Manifest.Output(kind: .projectionStack)
                o.layer = layer.name
                o.layerQuery = request.layer
                o.channels = channels
                o.rule = rule.rawValue
                o.seed = request.seedKind.rawValue
                o.algorithm = algorithm
                o.npy = "\(name).npy"
                o.file = "\(stem)_seeds.csv"
                o.shape = shape
                let ranges = tensors.map(\.range)
                (o.min, o.max) = (ranges.map(\.min).min() ?? 0, ranges.map(\.max).max() ?? 0)
                manifest.outputs.append(o)
            }
            // With several seeds (or a stack), one grid per rule (labelled by channel); in stack
            // mode it is the contact sheet, a PNG only (the stack holds the data).
            guard indices.count > 1 || request.files.stackFiles else { continue }
            let grid = Grid().render(indices.map { outputs.pictures[$0]! }, labels: channels.map(String.init))
            let name = "\(stem)_\(rule.rawValue)_grid"
            try grid.writePNG(to: "\(directory)/\(name).png")
            var o = Manifest.Output(kind: .projectionGrid)
            if perSeed {
                try NPY.write(grid.unitTensor(), to: "\(directory)/\(name).npy")
                o.npy = "\(name).npy"
            }
            o.layer = layer.name
            o.layerQuery = request.layer
            o.channels = channels
            o.rule = rule.rawValue
            o.seed = request.seedKind.rawValue
            o.display = display.mode.rawValue
            o.algorithm = algorithm
            o.png = "\(name).png"
            o.shape = [grid.height, grid.width, 3]
            (o.min, o.max) = (0, 1)
            manifest.outputs.append(o)
        }
        if request.files.stackFiles {
            let resolved = all.prefix(seeds.count).map(\.seed)
            try AtomicFile.write(Data(seedsTable(resolved).utf8), to: "\(directory)/\(stem)_seeds.csv")
        }
        // The peak after the outputs (pictures, stacks and encoders hold memory too).
        var performance = Manifest.Performance(peakResidentBytes: ResourceUsage.peakResidentBytes())
        performance.memoryBudgetBytes = request.memoryBudget
        performance.convolutionFlops = work.convolutionFlops
        performance.denseConvolutionFlops = work.denseConvolutionFlops
        manifest.performance = performance
        try manifest.write(to: directory)
        return (manifest, all)
    }

    /// The seeds table of a stack: one row per seed, in stack order. Empty `y`/`x` for map seeds.
    func seedsTable(_ seeds: [ResolvedSeed]) -> String {
        var text = "index,channel,seed,y,x,activation\n"
        for (i, s) in seeds.enumerated() {
            text += "\(i),\(s.channel),\(s.seed.kind),\(s.y.map(String.init) ?? ""),\(s.x.map(String.init) ?? ""),\(s.activation)\n"
        }
        return text
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

/// What the parallel writers of ``Model/writeProjections(_:trace:input:to:parameters:progress:)``
/// hand back, slot by slot, and the first error.
private final class ProjectionFiles: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var tensors: [Tensor?]
    private(set) var pictures: [Image?]
    private var slots: [Manifest.Output?]
    private(set) var error: Error?

    init(count: Int) {
        tensors = Array(repeating: nil, count: count)
        pictures = Array(repeating: nil, count: count)
        slots = Array(repeating: nil, count: count)
    }

    func set(_ i: Int, tensor: Tensor?, picture: Image, output: Manifest.Output?) {
        lock.lock(); defer { lock.unlock() }
        tensors[i] = tensor
        pictures[i] = picture
        slots[i] = output
    }

    func fail(_ e: Error) {
        lock.lock(); defer { lock.unlock() }
        if error == nil { error = e }
    }

    var outputs: [Manifest.Output] { slots.compactMap { $0 } }
}
