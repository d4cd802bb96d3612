import ConvLensCore
import ConvLensGraph
import Foundation

/// One row of `convlens inspect`.
public struct LayerSummary: Sendable, Codable, Equatable {
    /// `#N`.
    public var index: Int
    /// Canonical name.
    public var name: String
    /// ONNX op type.
    public var op: String
    /// Output tensor name.
    public var tensor: String
    /// Output shape.
    public var shape: [Int]
    /// Parameters read by the node (weights, biases, BN statistics).
    public var parameters: Int
    /// Kernel `[kH, kW]` for convolution and pooling layers.
    public var kernel: [Int]?
    /// Stride `[sH, sW]` for convolution and pooling layers.
    public var stride: [Int]?
    /// The receptive field of one unit in input pixels.
    public var receptiveField: ReceptiveField?
    /// With `inspect --plan`: the planner's choice for the layer's backward (projection) convolution
    /// at batch 1 (`fft16`, `gemm`, `direct`), for `Conv` and `ConvTranspose` layers.
    public var backwardAlgorithm: String?
    /// With `inspect --plan`: the cost model's estimate for that choice, in seconds.
    public var backwardSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case index, name, op, tensor, shape, parameters, kernel, stride, receptiveField = "receptive_field"
        case backwardAlgorithm = "backward_algorithm", backwardSeconds = "backward_seconds"
    }
}

extension Model {
    /// The planner's estimate for the backward convolution of a `Conv` or `ConvTranspose` node
    /// (a transposed convolution for `Conv`, a convolution for `ConvTranspose`) at `batch` seeds.
    public func backwardPlan(of node: Node, batch: Int = 1) -> ConvolutionChoice? {
        guard node.inputs.count >= 2, let w = graph.initializers[node.inputs[1]],
              let x = graph.shapes[node.inputs[0]], let y = graph.shapes[node.outputs[0]], x.rank == 4, y.rank == 4 else { return nil }
        let problem: ConvolutionProblem
        guard let (g, transposed) = node.convolution else { return nil }
        if transposed {
            problem = ConvolutionProblem(direction: .forward, input: Shape([batch] + y.dimensions.dropFirst()), weight: w.shape,
                                         geometry: g, outputSize: (g.convOutput(y[2], axis: 0), g.convOutput(y[3], axis: 1)))
        } else {
            problem = ConvolutionProblem(direction: .transposed, input: Shape([batch] + y.dimensions.dropFirst()), weight: w.shape,
                                         geometry: g, outputSize: (x[2], x[3]))
        }
        return ConvolutionPlanner.shared.estimate(problem)
    }

    /// The layer table of `convlens inspect`.
    /// - Parameter plan: add the backward convolution's planned algorithm and estimated cost.
    public func layerSummaries(plan: Bool = false) -> [LayerSummary] {
        let rf = graph.receptiveFields()
        return graph.layers.map { layer in
            let node = graph.nodes[layer.nodeIndex]
            var kernel: [Int]? = nil, stride: [Int]? = nil
            if let (g, _) = node.convolution {
                (kernel, stride) = (g.kernel, g.strides)
            } else if let g = node.pooling {
                (kernel, stride) = (g.kernel, g.strides)
            }
            var summary = LayerSummary(index: layer.index, name: layer.name, op: layer.opType, tensor: layer.tensorName,
                                       shape: layer.shape.dimensions, parameters: layer.outputIndex == 0 ? graph.parameterCount(of: node) : 0,
                                       kernel: kernel, stride: stride, receptiveField: rf[layer.tensorName])
            if plan, let choice = backwardPlan(of: node) {
                summary.backwardAlgorithm = choice.description
                summary.backwardSeconds = choice.estimatedSeconds
            }
            return summary
        }
    }

    /// The layer table as aligned text.
    public func layerTable(plan: Bool = false) -> String {
        func fmt(_ v: [Double]) -> String {
            let s = v.map { abs($0) < 1e15 && $0 == $0.rounded() ? String(Int($0)) : String(format: "%.6g", $0) }
            return s.count == 2 && s[0] == s[1] ? s[0] : s.joined(separator: "×")
        }
        var rows = [["#", "layer", "op", "output", "params", "kernel/stride", "rf size", "rf jump", "rf offset"]
                    + (plan ? ["backward", "est. ms"] : [])]
        for s in layerSummaries(plan: plan) {
            let ks = s.kernel.map { k in "\(k.map(String.init).joined(separator: "×"))/\(s.stride!.map(String.init).joined(separator: "×"))" } ?? ""
            var row: [String] = [
                "#\(s.index)", s.name, s.op, s.shape.map(String.init).joined(separator: "×"), s.parameters > 0 ? String(s.parameters) : "",
                ks, s.receptiveField.map { fmt($0.size) + ($0.global ? "*" : "") } ?? "", s.receptiveField.map { fmt($0.jump) } ?? "",
                s.receptiveField.map { fmt($0.offset) } ?? "",
            ]
            if plan {
                let ms: String = s.backwardSeconds.map { String(format: "%.3f", $0 * 1000) } ?? ""
                row += [s.backwardAlgorithm ?? "", ms]
            }
            rows.append(row)
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max()! }
        let lines = rows.map { r in
            r.enumerated().map { c, v in v.padding(toLength: widths[c], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        let total = graph.initializers.values.reduce(0) { $0 + $1.count }
        return "\(path)\ninput \(graph.inputName) \(graph.inputShape), opset \(graph.opsetVersion), \(graph.layers.count) layers, \(total) parameters\n\n"
            + lines.joined(separator: "\n")
    }
}

/// One class prediction.
public struct Prediction: Sendable, Codable, Equatable {
    /// 1-based rank.
    public var rank: Int
    /// Class index.
    public var index: Int
    /// Class name (`class N` when the model has no labels; a 1,000-way model without labels gets
    /// the bundled ImageNet-1k names).
    public var label: String
    /// Probability (softmax of the logits unless the model ends in Softmax).
    public var probability: Float
}

extension Model {
    /// The top-`k` classes of a forward run, from the first graph output.
    /// - Throws: `ConvLensError` when the output is not a vector of class scores.
    public func classify(_ trace: Trace, top k: Int = 5) throws -> [Prediction] {
        guard let name = graph.outputNames.first, let out = trace.values[name] else {
            throw ConvLensError(.unsupportedFeature, file: path, "the model has no output")
        }
        let classes = out.count
        guard classes > 1, out.shape.dimensions.filter({ $0 > 1 }).count == 1 else {
            throw ConvLensError(.unsupportedFeature, file: path, "the output \(out.shape) is not a vector of class scores")
        }
        // The output is already probabilities when the class scores are a Softmax's input.
        let endsInSoftmax = (try? scoreLayer()).map { $0.tensorName != name } ?? false
        let probs = endsInSoftmax ? out.scalars : Normalization.softmax(out.reshaped([1, classes]), axis: 1).scalars
        let order = probs.indices.sorted { probs[$0] != probs[$1] ? probs[$0] > probs[$1] : $0 < $1 }
        let names = classNames(count: classes)
        return order.prefix(k).enumerated().map { r, i in
            Prediction(rank: r + 1, index: i, label: i < names.count ? names[i] : "class \(i)", probability: probs[i])
        }
    }
}
