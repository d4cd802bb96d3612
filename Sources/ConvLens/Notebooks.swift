import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import ConvLensProjection
import Foundation

/// What `convlens notebook` puts in a notebook: the units of one or more layers and the views of
/// them, each written with its arrays beside the notebook.
public struct NotebookRequest: Sendable {
    /// The sections a notebook can hold, in the order they appear.
    public enum Section: String, Sendable, CaseIterable {
        /// Filter grids and weights (`[C_out, C_in/groups, kH, kW]`) of the convolution layers.
        case filters
        /// Activation tensors (`[1, C, H, W]`) and grids.
        case activations
        /// Projections (`[1, C, H, W]` at the input) of the selected units with the chosen rules.
        case projections
        /// Comparison panels: field, activation, deconvnet, guided, backprop side by side.
        case compare
        /// Activation maximization: for each selected channel (at most 64 per layer), an image
        /// optimized from noise to maximize its mean (``NotebookRequest/optimizeSteps`` steps).
        case optimize
        /// Grad-CAM of the top class at each layer (a `[1, C, H, W]` layer), with guided Grad-CAM.
        case gradcam
        /// Occlusion of the top class: probability per window position and per pixel.
        case occlusion

        /// The sections a notebook holds unless told otherwise.
        public static let defaults: [Section] = [.filters, .activations, .projections, .compare]
    }

    /// The layer queries, in order (each one's units get projections and panels).
    public var layers: [String]
    /// The channels (checked against each layer); `nil` means every channel (unless
    /// ``strongest`` is set).
    public var channels: ChannelSelection?
    /// When set: the `n` channels of each layer with the largest maximum activation.
    public var strongest: Int?
    /// The unit position in layer-map coordinates; `nil` means each channel's argmax.
    public var at: (y: Int, x: Int)?
    /// The sections, in ``Section`` order (``Section/defaults`` unless set).
    public var sections: [Section] = Section.defaults
    /// Projection rules of the `projections` section.
    public var rules: [ProjectionRule] = ProjectionRule.allCases
    /// `unit` or `map` seeds for the `projections` section.
    public var seedKind: ProjectionRequest.SeedKind = .unit
    /// How projections and panels render.
    public var display = Display(mode: .norm)
    /// How LRN layers pass the signal.
    public var lrn: LRNMode = .gradient
    /// The convolution algorithm of the backward pass.
    public var algorithm: ConvolutionAlgorithm = .auto
    /// The most bytes of backward signals held at once (``Projector/memoryBudget``).
    public var memoryBudget: Int = Projector.defaultMemoryBudget
    /// Comparison panel tile height in pixels.
    public var tileSize = 128
    /// Filter and activation grids: at most this many tiles (the first channels); `nil` for all.
    public var maxTiles: Int?
    /// `.npy` files larger than this many bytes are deleted after writing (their PNGs stay); `nil`
    /// keeps every array. Keeps exported example notebooks small.
    public var maxArrayBytes: Int?
    /// Steps of the `optimize` section (Fourier image, standard transforms, Adam at 0.05).
    public var optimizeSteps = 128
    /// The notebook's title.
    public var title: String?
    /// The exact command line that made the notebook (shown in it); `nil` for library callers.
    public var commandLine: String?

    public init(layers: [String]) { self.layers = layers }
}

extension Model {
    /// The `optimize` section's request for one layer's selected channels (the first 64).
    fileprivate func optimizeRequest(_ layer: Layer, _ channels: [Int], _ request: NotebookRequest) -> OptimizeRequest {
        var o = OptimizeRequest(objective: .channelMean(layer: layer.name), channels: Array(channels.prefix(OptimizeRequest.maximumImages)))
        o.steps = request.optimizeSteps
        return o
    }
}

extension Model {
    /// Writes `directory/notebook.ipynb` (nbformat 4.5) with the requested views, their PNGs and
    /// `.npy` arrays in sub-folders beside it (`filters/`, `activations/`, `projections/<layer>/`,
    /// `compare/<layer>/`, each with its own `manifest.json`), `input.png`, and a top-level
    /// `manifest.json` (`command: "notebook"`) listing every file with its shape.
    ///
    /// The notebook holds markdown explaining the model, the image and each view; the PNGs
    /// embedded as `display_data` outputs; a table of the units (layer, channel, position,
    /// activation); code cells that reload the arrays with NumPy (paths relative to the
    /// notebook), check their shapes and replot them with matplotlib; and the command lines.
    /// - Parameters:
    ///   - request: layers, units, sections and rendering.
    ///   - trace: a forward run of this model on `input`.
    ///   - input: the input (its tensor is `[1, C, H, W]`, or NHWC for NHWC models).
    ///   - directory: the output folder (created if missing).
    ///   - parameters: the options to record in the manifests.
    ///   - progress: called with (done, total) backward passes.
    /// - Returns: the top-level manifest.
    /// - Throws: `ConvLensError` for an unknown layer, a channel or position out of range, or
    ///   unwritable output; layers and channels are checked before anything is written.
    @discardableResult
    public func writeNotebook(_ request: NotebookRequest, trace: Trace, input: ModelInput, to directory: String,
                              parameters: [String: JSONValue], progress: ((Int, Int) -> Void)? = nil) throws -> Manifest {
        let layers = try request.layers.map { try graph.layer(matching: $0) }
        // Resolve every unit first, so nothing is written for a bad channel or position.
        var units: [(query: String, layer: Layer, channels: [Int], seeds: [ResolvedSeed])] = []
        for (query, layer) in zip(request.layers, layers) {
            let act = trace.activation(layer)
            let count = layer.shape.rank >= 2 ? layer.shape[1] : 0
            var channels = try request.channels.map { try $0.channels(count: count, layer: layer.name) } ?? Array(0..<count)
            if let n = request.strongest { channels = Demo.strongestChannels(act, count: n) }
            let seeds = try channels.map { try Seed.unit(channel: $0, y: request.at?.y, x: request.at?.x).resolve(in: act, layer: layer.name) }
            units.append((query, layer, channels, seeds))
        }
        let sections = NotebookRequest.Section.allCases.filter { request.sections.contains($0) }
        // The attribution sections need a class output and layers Grad-CAM can weigh: check them
        // (by computing them once) before anything is written.
        if sections.contains(.gradcam) {
            for layer in layers where layer.shape.rank == 4 { _ = try gradCAM(GradCAMRequest(layer: layer.name), trace: trace) }
        }
        if sections.contains(.occlusion) { _ = try scoreLayer() }
        if sections.contains(.optimize) {
            // The notebook fixes the parameterization: its errors belong to the options it has.
            for u in units {
                _ = try renaming(["param": "sections", "steps": "optimize-steps"]) {
                    try OptimizationProblem(model: self, request: optimizeRequest(u.layer, u.channels, request))
                }
            }
        }
        var top = try manifest(command: "notebook", input: input, parameters: parameters)
        try AtomicFile.makeDirectory(directory)
        var nb = Notebook(title: request.title ?? "ConvLens: \(layers.map(\.name).joined(separator: ", "))")
        let total = units.reduce(0) { $0 + $1.channels.count } *
            ((sections.contains(.projections) ? request.rules.count : 0) + (sections.contains(.compare) ? ProjectionRule.allCases.count : 0))
            + (sections.contains(.optimize) ? units.reduce(0) { $0 + min($1.channels.count, OptimizeRequest.maximumImages) } : 0)
        var done = 0

        // Title, model, image.
        let inputPicture = try displayImage(of: input)
        try inputPicture.writePNG(to: directory + "/input.png")
        let modelRecord = try record()
        var intro = "# \(nb.title)\n\n"
        // Name the bundled files by their resource path, not by where this machine keeps them.
        let modelName = parameters["model"] == nil ? "the bundled `\(Self.resourceName(modelRecord.path))`" : "`\(modelRecord.path)`"
        let imageName = parameters["image"] == nil ? "the bundled `\(Self.resourceName(input.path))`" : "`\(input.path)`"
        intro += "Made by ConvLens \(convLensVersion). **Model**: \(modelName) (SHA-256 `\(modelRecord.sha256.prefix(16))…`), "
        intro += "\(graph.layers.count) layers, input `\(input.tensor.shape.dimensions)`.\n\n"
        intro += "**Image**: \(imageName)"
        if let p = input.preprocessing {
            intro += ", preprocessed: pixels ÷ \(p.scale), mean \(p.mean), std \(p.std), \(p.channelOrder.rawValue) order"
            if let r = p.resize { intro += ", shorter side resized to \(r)" }
            if let c = p.crop { intro += ", centre crop \(c.height)×\(c.width)" }
        } else {
            intro += " (a `.npy` tensor used as it is)"
        }
        intro += ". Every picture below is embedded; the arrays behind them sit beside this notebook and the code cells reload them."
        nb.markdown(intro)
        var commands = "## How this notebook was made\n\n"
        if let line = request.commandLine { commands += "```sh\n\(line)\n```\n\n" }
        commands += "Each section below also says the `convlens` command that writes the same files on its own."
        nb.markdown(commands)
        nb.code("""
            # Reload helpers: every path is relative to this notebook.
            import json
            from pathlib import Path
            import numpy as np
            import matplotlib
            import matplotlib.pyplot as plt

            def show_maps(a, title, n=16):
                \"\"\"Plots up to n channel maps of a [1, C, H, W] or [C, I, kH, kW] array.\"\"\"
                maps = a[0] if a.shape[0] == 1 else a[:, 0]
                n = min(n, maps.shape[0])
                cols = min(n, 8)
                rows = (n + cols - 1) // cols
                fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows + 0.4), squeeze=False)
                for i, ax in enumerate(axes.flat):
                    ax.axis("off")
                    if i < n:
                        ax.imshow(maps[i], cmap="viridis")
                        ax.set_title(str(i), fontsize=7)
                fig.suptitle(title, fontsize=9)
                plt.show()

            def show_image(a, title):
                \"\"\"Plots a [1, C, H, W] projection (min-max scaled) or an [H, W, 3] picture in [0, 1].\"\"\"
                if a.ndim == 4:
                    a = np.transpose(a[0], (1, 2, 0))
                    a = (a - a.min()) / max(float(a.max() - a.min()), 1e-12)
                plt.figure(figsize=(4, 4))
                plt.imshow(np.clip(a, 0, 1).squeeze())
                plt.axis("off")
                plt.title(title, fontsize=9)
                plt.show()
            """)
        nb.markdown("## The input\n\nThe image as the model sees it (preprocessing undone for display): `input.png`.")
        nb.code("from IPython.display import Image\nImage(\"input.png\")",
                outputs: [.png(try AtomicFile.read(directory + "/input.png"), text: "input.png")])

        // The units.
        if sections.contains(.projections) || sections.contains(.compare) {
            var table = "## The units\n\nA unit is (layer, channel, y, x); y and x are 0-based positions in the layer's activation map"
            table += request.at == nil ? " (each channel's argmax)" : ""
            table += request.strongest.map { $0 == 1 ? ", the channel with the largest activation per layer" : ", the \($0) channels with the largest activation per layer" } ?? ""
            table += ".\n\n| layer | channel | position (y, x) | activation |\n|---|---:|---|---:|\n"
            for u in units {
                for s in u.seeds {
                    let pos = s.y.map { y in "(\(y), \(s.x ?? 0))" } ?? "—"
                    table += "| `\(u.layer.name)` | \(s.channel) | \(pos) | \(String(format: "%.4g", s.activation)) |\n"
                }
            }
            nb.markdown(table)
        }

        let params = parameters
        func embed(_ subdir: String, _ m: Manifest, kinds: Set<Manifest.Kind>, only: (Manifest.Output) -> Bool = { _ in true },
                   caption: (Manifest.Output) -> String) throws {
            for o in m.outputs where kinds.contains(o.kind) && only(o) {
                guard let png = o.png else { continue }
                let rel = "\(subdir)/\(png)"
                nb.code("Image(\"\(rel)\")", outputs: [.png(try AtomicFile.read("\(directory)/\(rel)"), text: caption(o))])
            }
        }
        /// Adds the sub-manifest's files to the top manifest (paths made relative to the notebook),
        /// dropping arrays over the size limit, and returns the kept `.npy` outputs.
        func collect(_ subdir: String, _ m: Manifest) throws -> [Manifest.Output] {
            var kept: [Manifest.Output] = []
            var rewritten = m
            for (i, o) in m.outputs.enumerated() {
                var t = o
                if let npy = o.npy {
                    let path = "\(directory)/\(subdir)/\(npy)"
                    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                    if let limit = request.maxArrayBytes, size > limit {
                        try? FileManager.default.removeItem(atPath: path)
                        rewritten.outputs[i].npy = nil
                        t.npy = nil
                    } else {
                        t.npy = "\(subdir)/\(npy)"
                        kept.append(t)
                    }
                }
                t.png = o.png.map { "\(subdir)/\($0)" }
                top.outputs.append(t)
            }
            if request.maxArrayBytes != nil { try rewritten.write(to: "\(directory)/\(subdir)") }
            return kept
        }
        var arrayIndex = 0
        func reload(_ arrays: [Manifest.Output], plot: (Manifest.Output) -> String?) {
            guard !arrays.isEmpty else {
                nb.markdown("_The arrays of this section were not kept (over the size limit of this export); rerun the command above to get them._")
                return
            }
            var code = "# Reload the arrays and check their shapes (as documented in manifest.json).\n"
            for o in arrays {
                arrayIndex += 1
                let v = "a\(arrayIndex)"
                code += "\(v) = np.load(\"\(o.npy!)\")\n"
                code += "assert \(v).shape == \(pythonTuple(o.shape ?? [])), \(v).shape\n"
                if let p = plot(o) { code += p.replacingOccurrences(of: "ARRAY", with: v) + "\n" }
            }
            nb.code(code)
        }
        let modelFlag = parameters["model"].flatMap { if case .string(let s) = $0 { " --model \(shellQuote(s))" } else { nil } } ?? ""
        let imageFlag = parameters["image"].flatMap { if case .string(let s) = $0 { " --image \(shellQuote(s))" } else { nil } } ?? ""

        let maxTilesFlag = request.maxTiles.map { " --max-tiles \($0)" } ?? ""
        if sections.contains(.filters) {
            let convs = layers.filter { (try? filterWeights(of: $0)) != nil }
            if !convs.isEmpty {
                nb.markdown("## Filters\n\nThe learned weights of each convolution, one tile per output channel: RGB for the first layer, depthwise kernels as they are, and elsewhere the L2 norm of each filter over its input channels. The arrays are the weights exactly as stored: `[C_out, C_in/groups, kH, kW]`.")
            }
            for layer in convs {
                let stem = fileStem(forLayer: layer.name)
                let sub = "filters/\(stem)"
                // One tile per filter: RGB for 3 channels per filter, the kernel for depthwise, and
                // the norm over input channels otherwise (the pairs view of a 1×1 layer with
                // hundreds of inputs would be a picture of ~10⁵ tiles).
                let b = (try filterWeights(of: layer)).weights.shape[1]
                let view: FilterView? = b == 3 || b == 1 ? nil : .norm
                // Notebook grids have no zoom: a grid too large to draw is cut with --max-tiles.
                let m = try renaming(["zoom": "max-tiles"]) {
                    try writeFilters(layer.name, request: FilterGridRequest(tiles: FilterTiles(view: view, maxTiles: request.maxTiles), labels: true),
                                     to: "\(directory)/\(sub)", parameters: params)
                }
                let viewFlag = (view == nil ? "" : " --view norm") + maxTilesFlag
                nb.markdown("### `\(layer.name)`\n\n```sh\nconvlens filters\(modelFlag) --layer \(shellQuote(layer.name))\(viewFlag) --labels --out \(sub)\n```")
                try embed(sub, m, kinds: [.filterGrid]) { "filters of \($0.layer ?? "")" }
                let kept = try collect(sub, m)
                reload(kept.filter { $0.kind == .filters }) { _ in "show_maps(ARRAY, \"\(layer.name) weights, input channel 0\")" }
            }
        }
        if sections.contains(.activations) {
            let sub = "activations"
            let m = try renaming(["zoom": "max-tiles"]) {
                try writeActivations(layers.map(\.name), trace: trace, input: input, to: "\(directory)/\(sub)", parameters: params,
                                     grid: ActivationGridRequest(tiles: ActivationTiles(maxTiles: request.maxTiles), labels: true))
            }
            nb.markdown("## Activations\n\nWhat each layer computed on this image: one tile per channel, all tiles of a layer on one scale (viridis). The arrays are the layer tensors exactly as the forward pass produced them, `[1, C, H, W]`.\n\n```sh\nconvlens activations\(modelFlag)\(imageFlag) \(layers.map { "--layer \(shellQuote($0.name))" }.joined(separator: " ")) --grid --labels\(maxTilesFlag) --out \(sub)\n```")
            try embed(sub, m, kinds: [.activationGrid]) { "activations of \($0.layer ?? "")" }
            let kept = try collect(sub, m)
            reload(kept.filter { $0.kind == .activation }) { "show_maps(ARRAY, \"\($0.layer ?? "") activations\")" }
        }
        for u in units {
            let stem = fileStem(forLayer: u.layer.name)
            let channelList = u.channels.map(String.init).joined(separator: ",")
            let atFlag = request.at.map { " --at \($0.y),\($0.x)" } ?? ""
            if sections.contains(.projections) {
                let sub = "projections/\(stem)"
                var pr = ProjectionRequest(layer: u.layer.name)
                pr.channels = u.channels
                pr.seedKind = request.seedKind
                pr.at = request.at
                pr.rules = request.rules
                pr.display = request.display
                pr.lrn = request.lrn
                pr.algorithm = request.algorithm
                pr.memoryBudget = request.memoryBudget
                let base = done
                let (m, _) = try writeProjections(pr, trace: trace, input: input, to: "\(directory)/\(sub)", parameters: params) { d, _ in
                    progress?(base + d, total)
                }
                done += u.channels.count * request.rules.count
                let ruleFlag = request.rules.count == 3 ? "all" : request.rules.map(\.rawValue).joined(separator: ",")
                nb.markdown("## Projections of `\(u.layer.name)`\n\nEach selected unit's activation sent back to the input through the network under the \(request.rules.map(\.rawValue).joined(separator: ", ")) rule\(request.rules.count > 1 ? "s" : ""): deconvnet passes only positive reconstructions through ReLUs, backprop is the plain gradient (saliency), guided backpropagation does both. Arrays: `[1, C, H, W]` in the model's normalized input space.\n\n```sh\nconvlens project\(modelFlag)\(imageFlag) --layer \(shellQuote(u.layer.name)) --channel \(channelList)\(atFlag) --rule \(ruleFlag) --seed \(request.seedKind.rawValue) --display \(request.display.mode.rawValue) --out \(sub)\n```")
                let grids = m.outputs.contains { $0.kind == .projectionGrid }
                try embed(sub, m, kinds: [grids ? .projectionGrid : .projection]) { "\($0.rule ?? "") projections of \($0.layer ?? "")" }
                let kept = try collect(sub, m)
                reload(Array(kept.filter { $0.kind == .projection }.prefix(6))) { "show_image(ARRAY, \"\($0.layer ?? "") c\($0.channel ?? 0) \($0.rule ?? "")\")" }
            }
            if sections.contains(.compare) {
                let sub = "compare/\(stem)"
                var cr = ComparisonRequest(layer: u.layer.name)
                cr.channels = u.channels
                cr.at = request.at
                cr.display = request.display
                cr.lrn = request.lrn
                cr.algorithm = request.algorithm
                cr.memoryBudget = request.memoryBudget
                cr.tileSize = request.tileSize
                let base = done
                let m = try writeComparisons(cr, trace: trace, input: input, to: "\(directory)/\(sub)", parameters: params) { d, _ in
                    progress?(base + d, total)
                }
                done += u.channels.count * ProjectionRule.allCases.count   // a panel projects under every rule
                nb.markdown("## Direct view and projections of `\(u.layer.name)`, side by side\n\nOne panel per unit: the input with the unit's receptive field boxed, the field itself, the channel's activation blended on the input (the direct view), and the deconvnet, guided and backprop projections cropped to the field. Arrays: the panels as `[H, W, 3]` in `[0, 1]`.\n\n```sh\nconvlens compare\(modelFlag)\(imageFlag) --layer \(shellQuote(u.layer.name)) --channel \(channelList)\(atFlag) --display \(request.display.mode.rawValue) --tile-size \(request.tileSize) --out \(sub)\n```")
                // The unit panels (the page only stacks them).
                try embed(sub, m, kinds: [.panel], only: { $0.channel != nil }) { o in "panel of channel \(o.channel ?? 0)" }
                let kept = try collect(sub, m)
                reload(Array(kept.filter { $0.kind == .panel && $0.channel != nil }.prefix(2))) { "show_image(ARRAY, \"\($0.layer ?? "") c\($0.channel ?? 0) panel\")" }
            }
        }
        if sections.contains(.optimize) {
            for u in units {
                let sub = "optimize/\(fileStem(forLayer: u.layer.name))"
                let o = optimizeRequest(u.layer, u.channels, request)
                let base = done
                let (m, _) = try writeOptimization(o, to: "\(directory)/\(sub)", parameters: params) { d, n in
                    progress?(base + d * o.channels.count / max(1, n), total)
                }
                done += o.channels.count
                let channelList = o.channels.map(String.init).joined(separator: ",")
                nb.markdown("## What the channels of `\(u.layer.name)` respond to\n\nFor each channel, an image optimized from noise to maximize the channel's mean activation (\(o.steps) steps of Adam on Lucid's Fourier image with decorrelated colour, under random pad, jitter, scale and rotation), next to the objective per step. Arrays: each image `[1, 3, H, W]` RGB in (0, 1), each curve `[steps]`.\n\n```sh\nconvlens optimize\(modelFlag) --layer \(shellQuote(u.layer.name)) --channel \(channelList) --steps \(o.steps) --out \(sub)\n```")
                try embed(sub, m, kinds: [.optimized, .objectiveCurve]) { "\($0.kind == .optimized ? "optimized image" : "objective per step") of channel \($0.channel ?? 0)" }
                let kept = try collect(sub, m)
                reload(Array(kept.filter { $0.kind == .optimized }.prefix(4))) { "show_image(ARRAY[0].transpose(1, 2, 0), \"\(u.layer.name) c\($0.channel ?? 0) optimized\")" }
            }
        }
        if sections.contains(.gradcam) {
            for layer in layers where layer.shape.rank == 4 {
                let stem = fileStem(forLayer: layer.name)
                let sub = "gradcam/\(stem)"
                let (m, results) = try writeGradCAM(GradCAMRequest(layer: layer.name), trace: trace, input: input,
                                                    to: "\(directory)/\(sub)", parameters: params)
                let label = results.first?.target.label ?? "the top class"
                nb.markdown("## Grad-CAM at `\(layer.name)`\n\nWhere the top class (\(label)) finds its evidence in this layer's maps: each channel weighted by the mean gradient of the class score, summed, ReLU'd and upsampled to the input; guided Grad-CAM multiplies that map with the guided-backprop projection. Arrays: the map `[h, w]`, the upsampled map `[H, W]`, guided Grad-CAM `[1, C, H, W]`.\n\n```sh\nconvlens gradcam\(modelFlag)\(imageFlag) --layer \(shellQuote(layer.name)) --out \(sub)\n```")
                try embed(sub, m, kinds: [.gradcam, .guidedGradcam]) { "\($0.kind) of \($0.label ?? "")" }
                let kept = try collect(sub, m)
                reload(kept.filter { $0.kind == .gradcam }) { _ in "show_maps(ARRAY[None, None], \"Grad-CAM at \(layer.name)\")" }
            }
        }
        if sections.contains(.occlusion), graph.inputShape.rank == 4 {
            let sub = "occlusion"
            let side = min(nchw(trace.input).shape[2], nchw(trace.input).shape[3])
            var or = OcclusionRequest()
            or.window = max(1, side / 7)
            or.stride = max(1, or.window / 2)
            let (m, maps) = try writeOcclusion(or, trace: trace, input: input, to: "\(directory)/\(sub)", parameters: params)
            let label = maps.targets.first?.label ?? "the top class"
            nb.markdown("## Occlusion\n\nA gray square (\(or.window) pixels, stride \(or.stride)) slid over the image: the probability of the top class (\(label)) with the square at each position, the drop it causes at each pixel, and the top class at each position (Zeiler & Fergus, figure 7). Arrays: the maps `[rows, columns]`, the attribution `[1, C, H, W]`.\n\n```sh\nconvlens occlusion\(modelFlag)\(imageFlag) --window \(or.window) --stride \(or.stride) --out \(sub)\n```")
            try embed(sub, m, kinds: [.occlusion, .occlusionMap, .occlusionTop]) { "\($0.kind) of \($0.label ?? "")" }
            let kept = try collect(sub, m)
            reload(kept.filter { $0.kind == .occlusionMap }) { _ in "show_maps(ARRAY[None, None], \"top-class probability per window position\")" }
        }
        nb.markdown("## Every array\n\n`manifest.json` lists every file this notebook came with and the shape of each array; the cell below reloads them all and checks the shapes.")
        nb.code("""
            manifest = json.loads(Path("manifest.json").read_text())
            checked = 0
            for o in manifest["outputs"]:
                if "npy" in o:
                    a = np.load(o["npy"])
                    assert list(a.shape) == o["shape"], (o["npy"], a.shape, o["shape"])
                    assert a.dtype == np.float32
                    checked += 1
            print(f"{checked} arrays reload with the documented shapes")
            """)
        try nb.write(to: directory + "/notebook.ipynb")
        var o = Manifest.Output(kind: .notebook)
        o.file = "notebook.ipynb"
        o.layer = layers.first?.name
        top.outputs.append(o)
        try top.write(to: directory)
        return top
    }
}

extension Model {
    /// `models/mobilenetv2.onnx` for a path inside the bundled resources; the path otherwise.
    static func resourceName(_ path: String) -> String {
        guard let r = path.range(of: "/Resources/", options: .backwards) else { return path }
        return String(path[r.upperBound...])
    }
}

/// `(1, 32, 112, 112)` for `[1, 32, 112, 112]`; `(5,)` for one dimension.
func pythonTuple(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}

/// A word as a POSIX shell reads it back: unchanged when it is plain, else single-quoted.
public func shellQuote(_ s: String) -> String {
    let plain = !s.isEmpty && s.unicodeScalars.allSatisfy {
        ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || "-_./=,:@%+".unicodeScalars.contains($0)
    }
    return plain ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
