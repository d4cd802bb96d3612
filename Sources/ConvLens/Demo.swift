import ConvLensCore
import ConvLensExport
import ConvLensGraph
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

    /// Runs inspect, classify and activations, writing one sub-folder per step under `out`, and
    /// returns the printable report.
    /// - Throws: ``ConvLensError`` for unreadable input or unwritable output.
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
        let layers = demoLayers(model.graph)
        let m = try model.writeActivations(layers.map(\.name), trace: trace, input: input, to: out + "/activations", parameters: params)
        report.append("activations → \(out)/activations/")
        for o in m.outputs { report.append("  \(o.npy ?? "")  \(o.shape ?? [])  [\(o.min ?? 0), \(o.max ?? 0)]") }
        return report.joined(separator: "\n")
    }
}
