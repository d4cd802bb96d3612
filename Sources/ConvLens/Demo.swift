import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import ConvLensProjection
import Foundation

/// The `convlens demo` story on the bundled model and sample image (or the given ones).
public enum Demo {
    /// The layers the demo dumps: the first convolution block's output, one in the middle and the
    /// last 4-D layer (early, middle, late).
    public static func demoLayers(_ graph: Graph) -> [Layer] {
        let maps = graph.layers.filter { $0.shape.rank == 4 }
        let rectified = maps.filter { ["Relu", "Clip", "LeakyRelu", "HardSwish", "MaxPool"].contains($0.opType) }
        let spatial = rectified.isEmpty ? maps : rectified
        guard let first = spatial.first, let last = spatial.last else { return [] }
        let middle = spatial[spatial.count / 2]
        var seen = Set<String>()
        return [first, middle, last].filter { seen.insert($0.name).inserted }
    }

    /// The first Conv layer of the graph (the demo's filter grid), if any.
    public static func firstConvolution(_ graph: Graph) -> Layer? {
        graph.layers.first { layer in
            if let (_, transposed) = graph.nodes[layer.nodeIndex].convolution, !transposed, graph.nodes[layer.nodeIndex].inputs.count > 1,
               graph.initializers[graph.nodes[layer.nodeIndex].inputs[1]]?.rank == 4 { return true }
            return false
        }
    }

    /// The `count` strongest channels of a 4-D activation: the largest maximum first, ties broken by
    /// the larger mean, then the lower index.
    public static func strongestChannels(_ activation: Tensor, count: Int) -> [Int] {
        guard activation.rank == 4 else { return Array(0..<min(count, activation.shape.dimensions.last ?? 0)) }
        let scores = (0..<activation.shape[1]).map { c -> (Float, Float) in
            let p = activation.plane(c: c)
            return (p.max() ?? 0, p.reduce(0, +) / Float(max(1, p.count)))
        }
        return scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(count).map { $0 }
    }

    /// Runs inspect, classify, filters, activations (tensors, grids and one overlay), tensorboard,
    /// projections of the strongest units of three layers with all three rules, and comparison
    /// panels, and a dataset scan of the sample images with top-K montages, writing one sub-folder
    /// per step under `out` (`classify/`, `filters/`, `activations/`, `tensorboard/`,
    /// `projections/<layer>/`, `compare/<layer>/`, `scan/`, `topk/<layer>/`), and returns the
    /// printable report.
    /// - Throws: `ConvLensError` for unreadable input or unwritable output.
    public static func run(model modelPath: String?, image: String?, out: String) throws -> String {
        let model = try Model.load(modelPath)
        let input = try model.input(from: image)
        try AtomicFile.makeDirectory(out)
        var report = [model.layerTable(), ""]

        let trace = try model.run(input)
        let params: [String: JSONValue] = ["out": .string(out)]
        if !model.labels.isEmpty {
            let top = try model.classify(trace)
            try model.writeClassification(top, input: input, to: out + "/classify", parameters: params)
            report.append("top-5 for \(input.path):")
            let width = top.map(\.label.count).max() ?? 0
            for p in top {
                report.append("  \(p.rank). \(p.label.padding(toLength: width, withPad: " ", startingAt: 0))  " + String(format: "%6.2f%%", 100 * p.probability))
            }
            report.append("")
        }
        if let conv = firstConvolution(model.graph) {
            let f = try model.writeFilters(conv.name, request: FilterGridRequest(), to: out + "/filters", parameters: params)
            report.append("filters of \(conv.name) → \(out)/filters/")
            for o in f.outputs { report.append("  \(o.png ?? o.npy ?? "")  \(o.shape ?? [])") }
            report.append("")
        }
        let layers = demoLayers(model.graph)
        // The overlay shows the middle layer's channel with the largest mean activation.
        var overlay: OverlayRequest? = nil
        if layers.count > 0 {
            let middle = layers[layers.count / 2]
            let t = trace.activation(middle)
            let geo = ActivationTiles.geometry(of: t.shape)
            if !geo.isFullyConnected {
                let means = (0..<geo.channels).map { c in ActivationTiles.map(t, channel: c).reduce(0, +) }
                let best = means.indices.max { means[$0] < means[$1] } ?? 0
                overlay = OverlayRequest(channel: best, layers: [middle.name])
            }
        }
        let m = try model.writeActivations(layers.map(\.name), trace: trace, input: input, to: out + "/activations", parameters: params,
                                           grid: ActivationGridRequest(), overlay: overlay)
        report.append("activations → \(out)/activations/")
        for o in m.outputs {
            report.append("  \(o.png ?? o.npy ?? "")  \(o.shape ?? [])  [\(o.min ?? 0), \(o.max ?? 0)]")
        }
        report.append("")
        let tbLayers = (firstConvolution(model.graph).map { [$0] } ?? []) + layers
        let (_, eventFile) = try model.writeTensorBoard(TensorBoardRequest(layers: tbLayers.map(\.name)), trace: trace, input: input,
                                                        logdir: out + "/tensorboard", parameters: params)
        report.append("TensorBoard event file → \(eventFile)")
        report.append("  view it with: tensorboard --logdir \(out)/tensorboard")
        report.append("")
        // Projections and comparison panels of the strongest units of the three layers.
        for layer in layers {
            let channels = strongestChannels(trace.activation(layer), count: 4)
            var request = ProjectionRequest(layer: layer.name)
            request.channels = channels
            request.rules = ProjectionRule.allCases
            request.display = Display(mode: .norm)
            let stem = fileStem(forLayer: layer.name)
            let (pm, _) = try model.writeProjections(request, trace: trace, input: input, to: "\(out)/projections/\(stem)", parameters: params)
            report.append("projections of \(layer.name), channels \(channels.map(String.init).joined(separator: ",")) → \(out)/projections/\(stem)/ (\(pm.outputs.count) files)")
            var compare = ComparisonRequest(layer: layer.name)
            compare.channels = Array(channels.prefix(3))
            try model.writeComparisons(compare, trace: trace, input: input, to: "\(out)/compare/\(stem)", parameters: params)
            report.append("  comparison panels → \(out)/compare/\(stem)/\(stem)_page.png")
        }
        report.append("")
        report.append(contentsOf: try scanStep(model: model, layers: layers, out: out))
        return report.joined(separator: "\n")
    }

    /// The dataset-scan step: `scan/` over the bundled sample images (the top 3 of every channel of
    /// the early and middle layers) and `topk/<layer>/`, the montages of the three units with the
    /// strongest top activations of each.
    static func scanStep(model: Model, layers: [Layer], out: String) throws -> [String] {
        let scanLayers = Array(layers.prefix(2))
        guard !scanLayers.isEmpty else { return [] }
        let images = (try BundledResources.path(BundledResources.defaultImage) as NSString).deletingLastPathComponent
        var request = ScanRequest(layers: scanLayers.map(\.name))
        request.top = 3
        let params: [String: JSONValue] = ["out": .string(out + "/scan"), "images": .string(images)]
        let result = try model.scan(request, source: try ScanSource.open(images), to: out + "/scan", parameters: params)
        var report = ["scan of \(result.scanned) sample images, top \(result.top) per channel of \(scanLayers.map(\.name).joined(separator: ", ")) → \(out)/scan/scan.json"]
        for l in result.layers {
            let strongest = l.units.indices.sorted {
                let a = l.units[$0].first?.value ?? -.infinity, b = l.units[$1].first?.value ?? -.infinity
                return a != b ? a > b : $0 < $1
            }.prefix(3)
            var topk = TopKRequest(layer: l.name)
            topk.channels = Array(strongest)
            topk.display = Display(mode: .norm)
            let stem = fileStem(forLayer: l.name)
            try model.writeTopK(topk, scan: result, to: "\(out)/topk/\(stem)", parameters: ["out": .string("\(out)/topk/\(stem)")])
            report.append("  top-\(result.top) montages of \(l.name), channels \(strongest.map(String.init).joined(separator: ",")) → \(out)/topk/\(stem)/")
        }
        return report
    }
}
