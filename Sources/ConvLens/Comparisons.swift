import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import ConvLensProjection
import Foundation

/// What `convlens compare` draws: one panel per unit with its direct view and its three
/// projections side by side.
public struct ComparisonRequest: Sendable {
    /// The layer query.
    public var layer: String
    /// The channels; `nil` means every channel.
    public var channels: [Int]?
    /// The unit position; `nil` means each channel's argmax.
    public var at: (y: Int, x: Int)?
    /// How the projections are rendered (`norm` by default: the clearest single-scale view).
    public var display = Display(mode: .norm)
    /// How LRN layers pass the signal.
    public var lrn: LRNMode = .gradient
    /// The height of every tile in pixels.
    public var tileSize = 128
    /// The convolution algorithm of the backward pass (`auto`: the planner's per-layer choice).
    public var algorithm: ConvolutionAlgorithm = .auto
    /// The most bytes of backward signals held at once (``Projector/memoryBudget``).
    public var memoryBudget: Int = Projector.defaultMemoryBudget
    /// Adds a `GRAD-CAM` column: the unit's Grad-CAM at this layer (computed before the unit's
    /// layer), over the input; `nil`: no column.
    public var gradCAMLayer: String?
    /// Adds an `OCCLUSION` column: how much the unit's activation drops when the window covers each
    /// pixel (Zeiler & Fergus's figure 7 for one unit), over the input; `nil`: no column. Its
    /// targets are replaced by the panel's units.
    public var occlusion: OcclusionRequest?
    /// Adds an `OPTIMIZED` column: an image optimized from noise to maximize the unit's channel
    /// (``Model/optimize(_:progress:)``, objective `.channelMean`), cropped to the unit's field like
    /// the projections: the pattern the channel responds to, at the scale of one unit's field;
    /// `nil`: no column. Its objective and channels are replaced by the panel's (one batch per 64
    /// channels). Docs/Optimize.md says why the channel and not the single unit.
    public var optimize: OptimizeRequest?

    public init(layer: String) { self.layer = layer }
}

extension Model {
    /// Writes one comparison panel per unit and a page of all panels (`kind: "panel"`).
    ///
    /// A panel holds, left to right: the input with the unit's receptive-field box, the input cropped
    /// to that field, the channel's activation map blended on the input, and the deconvnet, guided
    /// and backprop projections cropped to the field (fully connected units: whole images, no box);
    /// then, when requested, an image optimized to excite the unit's channel (cropped to the field),
    /// and the unit's Grad-CAM and occlusion maps over the whole input.
    /// - Throws: `ConvLensError` for an unknown layer, channel or position before anything is
    ///   written.
    @discardableResult
    public func writeComparisons(_ request: ComparisonRequest, trace: Trace, input: ModelInput, to directory: String,
                                 parameters: [String: JSONValue], progress: ((Int, Int) -> Void)? = nil) throws -> Manifest {
        let layer = try graph.layer(matching: request.layer)
        let act = trace.activation(layer)
        let count = layer.shape.rank >= 2 ? layer.shape[1] : 0
        let channels = request.channels ?? Array(0..<count)
        let seeds = channels.map { Seed.unit(channel: $0, y: request.at?.y, x: request.at?.x) }
        let resolved = try seeds.map { try $0.resolve(in: act, layer: layer.name) }
        var projector = Projector(trace: trace)
        projector.lrn = request.lrn
        projector.algorithm = request.algorithm
        projector.memoryBudget = request.memoryBudget
        var byRule: [[Projection]] = []
        for (k, rule) in ProjectionRule.allCases.enumerated() {
            byRule.append(try projector.project(layer: layer, seeds: seeds, rule: rule) { done, _ in
                progress?(k * seeds.count + done, 3 * seeds.count)
            })
        }
        let inputImage = try displayImage(of: input).rgb()
        var optimized = [Tensor?](repeating: nil, count: resolved.count)
        if let base = request.optimize {
            for start in stride(from: 0, to: resolved.count, by: OptimizeRequest.maximumImages) {
                let part = Array(start..<min(resolved.count, start + OptimizeRequest.maximumImages))
                var o = base
                o.objective = .channelMean(layer: request.layer)
                o.channels = part.map { resolved[$0].channel }
                let result = try renaming(["param": "optimize-steps"]) { try optimize(o) }
                for (k, i) in part.enumerated() { optimized[i] = result.images.item(k) }
            }
        }
        let units = resolved.map { AttributionTarget.unit(layer: request.layer, channel: $0.channel, y: $0.y, x: $0.x) }
        var extra = [[(String, Image)]](repeating: [], count: resolved.count)
        if let camLayer = request.gradCAMLayer {
            var cam = GradCAMRequest(layer: camLayer)
            cam.targets = units
            cam.guided = false
            // Its errors concern compare's --gradcam-layer, not the unit's --layer.
            let maps = try renaming(["layer": "gradcam-layer"]) { try gradCAM(cam, trace: trace) }
            for (i, r) in maps.enumerated() {
                let overlay = Overlay(colormap: .viridis, opacity: 0.5, legend: false)
                    .render(image: inputImage, map: r.upsampled.scalars, mapWidth: r.upsampled.shape[1], mapHeight: r.upsampled.shape[0],
                            range: ValueRange(min: 0, max: r.upsampled.range.max))
                extra[i].append(("GRAD-CAM", overlay))
            }
        }
        if var occlusionRequest = request.occlusion {
            occlusionRequest.targets = units
            let maps = try renaming(["window": "occlusion-window"]) { try occlusion(occlusionRequest, trace: trace) }
            for (i, a) in maps.attributions.enumerated() {
                let plane = Array(a.scalars[0..<(a.shape[2] * a.shape[3])])
                let overlay = Overlay(colormap: .diverging, opacity: 0.6, legend: false)
                    .render(image: inputImage, map: plane, mapWidth: a.shape[3], mapHeight: a.shape[2])
                extra[i].append(("OCCLUSION", overlay))
            }
        }
        try AtomicFile.makeDirectory(directory)
        var manifest = try self.manifest(command: "compare", input: input, parameters: parameters)
        var display = request.display
        display.bgr = (input.preprocessing ?? preprocessing).channelOrder == .bgr
        let stem = fileStem(forLayer: layer.name)
        var panels: [Image] = []
        for (i, seed) in resolved.enumerated() {
            let panel = try comparisonPanel(layer: layer, seed: seed, activation: act, inputImage: inputImage, input: input,
                                            projections: byRule.map { $0[i].tensor }, optimized: optimized[i], extra: extra[i],
                                            display: display, tile: request.tileSize)
            panels.append(panel)
            let name = "\(stem)_c\(seed.channel)_panel"
            try NPY.write(panel.unitTensor(), to: "\(directory)/\(name).npy")
            try panel.writePNG(to: "\(directory)/\(name).png")
            var o = Manifest.Output(kind: .panel)
            o.layer = layer.name
            o.layerQuery = request.layer
            o.channel = seed.channel
            o.y = seed.y
            o.x = seed.x
            o.activation = seed.activation
            o.seed = "unit"
            o.display = display.mode.rawValue
            o.algorithm = combinedAlgorithm(byRule.map { $0[i].algorithm })
            o.npy = "\(name).npy"
            o.png = "\(name).png"
            o.shape = [panel.height, panel.width, 3]
            manifest.outputs.append(o)
        }
        if panels.count > 1 {
            let page = Canvas.vertical(panels, spacing: 6, background: .white)
            let name = "\(stem)_page"
            try NPY.write(page.unitTensor(), to: "\(directory)/\(name).npy")
            try page.writePNG(to: "\(directory)/\(name).png")
            var o = Manifest.Output(kind: .panel)
            o.layer = layer.name
            o.layerQuery = request.layer
            o.channels = resolved.map(\.channel)
            o.display = display.mode.rawValue
            o.algorithm = combinedAlgorithm(byRule.flatMap { $0.map(\.algorithm) })
            o.npy = "\(name).npy"
            o.png = "\(name).png"
            o.shape = [page.height, page.width, 3]
            manifest.outputs.append(o)
        }
        try manifest.write(to: directory)
        return manifest
    }

    /// One labelled panel.
    private func comparisonPanel(layer: Layer, seed: ResolvedSeed, activation: Tensor, inputImage: Image, input: ModelInput,
                                 projections: [Tensor], optimized: Tensor?, extra: [(String, Image)], display: Display, tile: Int) throws -> Image {
        func fit(_ image: Image) -> Image {
            let w = max(1, Int((Double(tile) * Double(image.width) / Double(image.height)).rounded()))
            if image.height <= tile / 2, tile % image.height == 0, w == image.width * (tile / image.height) {
                return image.zoomed(by: tile / image.height)
            }
            return image.resized(width: w, height: tile)
        }
        var tiles: [(String, Image)] = []
        let crops: (Tensor) -> Tensor
        if let y = seed.y, let x = seed.x, layer.shape.rank == 4 {
            let box = try graph.fieldBox(layer, y: y, x: x)
            crops = { cropped($0, top: box.top, left: box.left, height: box.height, width: box.width) }
            var context = Canvas(inputImage)
            let scale = Double(tile) / Double(inputImage.height)
            let line = max(1, Int((1 / scale).rounded()))
            context.stroke(Rect(x: box.left, y: box.top, width: box.width, height: box.height), .red, lineWidth: line)
            tiles.append(("INPUT", fit(context.image)))
            let inputCrop = crops(nchw(input.tensor))
            let cropInput = ModelInput(path: input.path, tensor: inputIsNHWC ? Reshaping.transpose(inputCrop, perm: [0, 2, 3, 1]) : inputCrop,
                                       preprocessing: input.preprocessing)
            tiles.append(("FIELD", fit(try displayImage(of: cropInput).rgb())))
            let map = activation.plane(c: seed.channel)
            let overlay = Overlay(colormap: .viridis, opacity: 0.5, legend: false)
                .render(image: inputImage, map: map, mapWidth: layer.shape[3], mapHeight: layer.shape[2])
            tiles.append(("ACTIVATION", fit(overlay)))
        } else {
            crops = { $0 }
            tiles.append(("INPUT", fit(inputImage)))
        }
        for (rule, p) in zip(ProjectionRule.allCases, projections) {
            tiles.append((rule.rawValue.uppercased(), fit(display.render(crops(nchw(p))))))
        }
        if let optimized {
            // RGB in (0, 1) at the input size, cropped to the field like the projections.
            tiles.append(("OPTIMIZED", fit(Optimization.picture(crops(optimized)))))
        }
        tiles += extra.map { ($0.0, fit($0.1)) }
        let font = BitmapFont.standard
        let labelled: [Image] = tiles.map { label, image in
            var band = Canvas(width: image.width, height: font.glyphHeight + 4, background: .white)
            band.draw(text: label, centeredIn: 0, width: image.width, y: 2)
            return Canvas.vertical([band.image, image], spacing: 0, background: .white)
        }
        let row = Canvas.horizontal(labelled, spacing: 4, background: .white)
        var title = "\(layer.name)  C\(seed.channel)"
        if let y = seed.y, let x = seed.x { title += "  (\(y),\(x))" }
        title += "  A=" + String(format: "%.3g", seed.activation)
        var header = Canvas(width: row.width, height: font.glyphHeight + 6, background: .white)
        header.draw(text: title, x: 2, y: 3)
        return Canvas.vertical([header.image, row], spacing: 0, background: .white)
    }
}

/// Runs `body`, naming the parameters of the errors it throws as `names` says: a view that runs
/// inside another (compare's Grad-CAM column) has its parameters under the outer request's names.
func renaming<T>(_ names: [String: String], _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ConvLensError { throw e.naming { names[$0] ?? $0 } }
}
