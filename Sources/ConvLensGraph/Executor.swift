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
