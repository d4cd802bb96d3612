// A small study with the ConvLens library: for one layer, project every channel with all three
// rule sets, rank the channels by activation, measure how much the rules agree on each unit, and
// write a short report (Markdown and a Jupyter notebook) with the strongest units' comparison
// panels.
//
//   swift run -c release LayerStudy --layer '#20' --top 3 --out study
//
// Options: --model PATH, --image PATH, --layer Q (default #20), --top N (default 3),
// --max-array-bytes N (drop larger arrays after writing), --out DIR (default ./layer-study).
import ConvLens
import Foundation

struct StudyError: Error, CustomStringConvertible { var description: String }

func option(_ name: String, _ args: [String]) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

/// Cosine similarity of two equally shaped tensors (0 when either is zero).
func cosine(_ a: Tensor, _ b: Tensor) -> Float {
    var dot: Double = 0, na: Double = 0, nb: Double = 0
    for (x, y) in zip(a.scalars, b.scalars) {
        dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y)
    }
    return na > 0 && nb > 0 ? Float(dot / (na.squareRoot() * nb.squareRoot())) : 0
}

func study() throws {
    let args = Array(CommandLine.arguments.dropFirst())
    let out = option("--out", args) ?? "layer-study"
    let query = option("--layer", args) ?? "#20"
    let top = Int(option("--top", args) ?? "3") ?? 3
    let maxArrayBytes = option("--max-array-bytes", args).flatMap { Int($0) }

    // 1. Load, preprocess, run forward once.
    let model = try Model.load(option("--model", args))
    let input = try model.input(from: option("--image", args))
    let trace = try model.run(input)
    let layer = try model.graph.layer(matching: query)
    let activation = trace.activation(layer)                       // [1, C, H, W]
    let channels = layer.shape[1]

    // 2. Project every channel's strongest unit with each rule (one batched backward pass per rule).
    let seeds = (0..<channels).map { Seed.unit(channel: $0) }
    let projector = Projector(trace: trace)
    var byRule: [ProjectionRule: [Projection]] = [:]
    for rule in ProjectionRule.allCases { byRule[rule] = try projector.project(layer: layer, seeds: seeds, rule: rule) }

    // 3. Rank channels by activation (largest maximum, ties by mean) and measure rule agreement.
    let ranking = Demo.strongestChannels(activation, count: channels)
    let d = byRule[.deconvnet]!, g = byRule[.guided]!, b = byRule[.backprop]!
    var similarity = [Float]()                                      // [C, 3]
    for c in 0..<channels {
        similarity += [cosine(d[c].tensor, g[c].tensor), cosine(g[c].tensor, b[c].tensor), cosine(d[c].tensor, b[c].tensor)]
    }
    try AtomicFile.makeDirectory(out)
    let simTensor = Tensor(shape: Shape([channels, 3]), scalars: similarity)
    let maxima = Tensor(shape: Shape([channels]), scalars: (0..<channels).map { d[$0].seed.activation })
    try NPY.write(simTensor, to: out + "/rule-similarity.npy")
    try NPY.write(maxima, to: out + "/max-activation.npy")

    // 4. Comparison panels of the strongest units.
    var compare = ComparisonRequest(layer: query)
    compare.channels = Array(ranking.prefix(top))
    let panels = try model.writeComparisons(compare, trace: trace, input: input, to: out + "/compare", parameters: ["layer": .string(query)])
    if let limit = maxArrayBytes {
        for o in panels.outputs { if let n = o.npy, let s = try? FileManager.default.attributesOfItem(atPath: "\(out)/compare/\(n)")[.size] as? Int, s > limit {
            try? FileManager.default.removeItem(atPath: "\(out)/compare/\(n)") } }
        var m = panels
        for i in m.outputs.indices where m.outputs[i].npy.map({ !FileManager.default.fileExists(atPath: "\(out)/compare/\($0)") }) ?? false { m.outputs[i].npy = nil }
        try m.write(to: out + "/compare")
    }

    // 5. The report, as Markdown and as a notebook.
    var table = "| rank | channel | position (y, x) | activation | deconvnet·guided | guided·backprop | deconvnet·backprop |\n|---:|---:|---|---:|---:|---:|---:|\n"
    for (rank, c) in ranking.enumerated() {
        let s = d[c].seed
        let pos = s.y.map { "(\($0), \(s.x ?? 0))" } ?? "—"
        table += "| \(rank + 1) | \(c) | \(pos) | \(String(format: "%.4g", s.activation)) | "
        let sims: [String] = (0..<3).map { k in String(format: "%.3f", similarity[3 * c + k]) }
        table += sims.joined(separator: " | ") + " |\n"
    }
    var mean: [Float] = []
    for k in 0..<3 {
        var sum: Float = 0
        for c in 0..<channels { sum += similarity[3 * c + k] }
        mean.append(sum / Float(max(1, channels)))
    }
    let meanText = mean.map { String(format: "%.3f", $0) }
    let summary = """
        Layer `\(layer.name)` (\(layer.shape.dimensions)), \(channels) channels, each projected from its strongest unit with all three rules \
        (\(3 * channels) projections). Mean cosine similarity between the rules' projections: deconvnet·guided \(meanText[0]), \
        guided·backprop \(meanText[1]), deconvnet·backprop \(meanText[2]). \
        Guided backpropagation shares the forward ReLU mask with backprop and the backward ReLU with deconvnet, so it usually sits between them.
        """
    let command = (["LayerStudy"] + args).map(shellQuote).joined(separator: " ")
    var report = "# Layer study: \(layer.name)\n\n\(summary)\n\nMade with `\(command)`.\n\n## Channels ranked by activation\n\n\(table)\n## Strongest units\n\n"
    var nb = Notebook(title: "Layer study: \(layer.name)")
    nb.markdown("# Layer study: `\(layer.name)`\n\nA study written with the ConvLens library (`Examples/LayerStudy/main.swift`).\n\n\(summary)\n\n```sh\n\(command)\n```")
    nb.markdown("## Channels ranked by activation\n\nPosition is each channel's argmax in the layer's activation map; the last three columns are cosine similarities between the rules' projections of that unit.\n\n" + table)
    nb.code("""
        import numpy as np
        import matplotlib.pyplot as plt
        sim = np.load("rule-similarity.npy")     # [C, 3]: deconvnet·guided, guided·backprop, deconvnet·backprop
        act = np.load("max-activation.npy")      # [C]: each channel's maximum activation
        assert sim.shape == (\(channels), 3) and act.shape == (\(channels),)
        plt.figure(figsize=(6, 3))
        for k, name in enumerate(["deconvnet·guided", "guided·backprop", "deconvnet·backprop"]):
            plt.scatter(act, sim[:, k], s=10, label=name)
        plt.xlabel("max activation"); plt.ylabel("cosine similarity"); plt.legend(fontsize=7)
        plt.show()
        print("arrays reload with the documented shapes")
        """)
    let compareLine = "convlens compare --layer \(shellQuote(query)) --channel \(ranking.prefix(top).map(String.init).joined(separator: ",")) --out compare"
    nb.markdown("## The strongest units\n\nInput with the receptive field, the field, the activation overlay, then deconvnet, guided and backprop cropped to the field. The same panels from the command line:\n\n```sh\n\(compareLine)\n```")
    report += "Panels as written by `\(compareLine)`:\n\n"
    for o in panels.outputs where o.channel != nil {
        let png = "compare/\(o.png!)"
        report += "![channel \(o.channel!)](\(png))\n\n"
        nb.code("from IPython.display import Image\nImage(\"\(png)\")", outputs: [.png(try AtomicFile.read("\(out)/\(png)"), text: "channel \(o.channel!)")])
    }
    try AtomicFile.write(Data(report.utf8), to: out + "/report.md")
    try nb.write(to: out + "/notebook.ipynb")
    print("study of \(layer.name): \(channels) channels × 3 rules; strongest \(ranking.prefix(top).map(String.init).joined(separator: ",")) → \(out)/report.md, \(out)/notebook.ipynb")
}

do {
    try study()
} catch {
    FileHandle.standardError.write(Data("LayerStudy: \(error)\n".utf8))
    exit(2)
}
