import ConvLensCore

/// The result of a forward run: every activation and every max-pool switch.
///
/// A `Trace` is a value: projections and views read it, nothing mutates the graph.
public struct Trace: Sendable {
    /// The graph that was run.
    public let graph: Graph
    /// The input tensor, `graph.inputShape`.
    public let input: Tensor
    /// Every computed tensor by name (the input included).
    public let values: [String: Tensor]
    /// For every MaxPool output tensor, per output element, the row-major index `y·W + x` of the
    /// maximum in its input plane.
    public let switches: [String: [Int32]]

    /// The activation of a layer.
    public func activation(_ layer: Layer) -> Tensor {
        values[layer.tensorName]!
    }

    /// The graph's outputs, in order.
    public var outputs: [Tensor] { graph.outputNames.compactMap { values[$0] } }
}

extension Graph {
    /// Runs the graph forward and records every activation and max-pool switch.
    /// - Parameters:
    ///   - input: a tensor of shape ``inputShape``.
    ///   - lastNode: stop after this node (the trace then holds the nodes up to it: enough to seed
    ///     and project any layer they compute); `nil` runs the whole graph.
    /// - Returns: the ``Trace``.
    /// - Throws: ``ConvLensError`` with code `shapeMismatch` when the input has the wrong shape.
    /// - Complexity: one pass over the nodes; memory holds every activation.
    public func run(_ input: Tensor, through lastNode: Int? = nil) throws -> Trace {
        guard input.shape == inputShape else {
            throw ConvLensError(.shapeMismatch, "the input has shape \(input.shape); the model expects \(inputShape)")
        }
        var values: [String: Tensor] = [inputName: input]
        var switches: [String: [Int32]] = [:]
        for node in nodes.prefix(lastNode.map { $0 + 1 } ?? nodes.count) {
            let args = node.inputs.map { name -> Tensor? in
                name.isEmpty ? nil : (values[name] ?? initializers[name])
            }
            let result = node.op.forward(args)
            for (name, t) in zip(node.outputs, result.outputs) where !name.isEmpty { values[name] = t }
            if let sw = result.switches { switches[node.outputs[0]] = sw }
        }
        return Trace(graph: self, input: input, values: values, switches: switches)
    }
}

extension Graph {
    /// Runs the graph forward keeping only the tensors asked for: what classification, scans and
    /// benchmarks against other runtimes need, in less time and memory than a ``Trace``.
    ///
    /// Each tensor is dropped after its last reader, and a convolution whose output only a `Relu`
    /// or `Clip` reads applies that activation as it writes (``fusions``) unless its own output is
    /// in `keep`. The values equal ``run(_:through:)``'s.
    /// - Parameters:
    ///   - input: a tensor of shape ``inputShape``.
    ///   - keep: the tensor names to return (the graph's outputs when empty).
    /// - Returns: each kept tensor by name (the input too when asked for).
    /// - Throws: ``ConvLensError`` with code `shapeMismatch` when the input has the wrong shape.
    public func evaluate(_ input: Tensor, keep: Set<String> = []) throws -> [String: Tensor] {
        guard input.shape == inputShape else {
            throw ConvLensError(.shapeMismatch, "the input has shape \(input.shape); the model expects \(inputShape)")
        }
        let keep = keep.isEmpty ? Set(outputNames) : keep
        var values: [String: Tensor] = [inputName: input]
        let (last, lastUse) = schedule(keeping: keep)
        var skip = Set<Int>()
        for index in 0..<(last + 1) where !skip.contains(index) {
            let node = nodes[index]
            let args = node.inputs.map { name -> Tensor? in
                name.isEmpty ? nil : (values[name] ?? initializers[name])
            }
            if let f = fusion(at: index, through: last, keeping: keep), let conv = node.op as? Conv {
                // The activation node reads only the intermediate, which is never stored.
                values[f.output] = conv.forward(args, activation: f.activation)
                skip.insert(f.activationNode)
            } else {
                let result = node.op.forward(args)
                for (name, t) in zip(node.outputs, result.outputs) where !name.isEmpty { values[name] = t }
            }
            for name in node.inputs where lastUse[name] == index && !keep.contains(name) { values[name] = nil }
        }
        return values.filter { keep.contains($0.key) }
    }
}

extension Graph {
    /// What a forward pass that returns the tensors of `keep` runs: nodes `0...last` (`last` is
    /// -1 when no node computes them), and for each tensor the last of those nodes reading it, after
    /// which it can be dropped.
    func schedule(keeping keep: Set<String>) -> (last: Int, lastUse: [String: Int]) {
        let last = nodes.lastIndex { $0.outputs.contains(where: keep.contains) } ?? -1
        var lastUse: [String: Int] = [:]
        for index in 0..<(last + 1) { for name in nodes[index].inputs { lastUse[name] = index } }
        return (last, lastUse)
    }

    /// The fusion a pass through node `last` that returns `keep` uses at node `index`: none when
    /// the activation would not run in that pass or the convolution's own output is asked for.
    func fusion(at index: Int, through last: Int, keeping keep: Set<String>) -> Fusion? {
        guard let f = fusions[index], f.activationNode <= last, !keep.contains(f.intermediate) else { return nil }
        return f
    }
}
