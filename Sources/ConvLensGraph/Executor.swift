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
    /// - Parameter input: a tensor of shape ``inputShape``.
    /// - Returns: the ``Trace``.
    /// - Throws: ``ConvLensError`` with code `shapeMismatch` when the input has the wrong shape.
    /// - Complexity: one pass over the nodes; memory holds every activation.
    public func run(_ input: Tensor) throws -> Trace {
        guard input.shape == inputShape else {
            throw ConvLensError(.shapeMismatch, "the input has shape \(input.shape); the model expects \(inputShape)")
        }
        var values: [String: Tensor] = [inputName: input]
        var switches: [String: [Int32]] = [:]
        for node in nodes {
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
