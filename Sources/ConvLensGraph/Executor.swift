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
            let (outs, sw) = Graph.evaluate(node.op, args)
            for (name, t) in zip(node.outputs, outs) where !name.isEmpty { values[name] = t }
            if let sw { switches[node.outputs[0]] = sw }
        }
        return Trace(graph: self, input: input, values: values, switches: switches)
    }

    /// Evaluates one operation. Optional inputs absent from the node are `nil`.
    /// - Precondition: the input shapes were validated at import.
    static func evaluate(_ op: Op, _ x: [Tensor?]) -> ([Tensor], [Int32]?) {
        switch op {
        case .conv(let g):
            return ([Convolution.conv2D(x[0]!, weight: x[1]!, bias: x.count > 2 ? x[2] : nil, geometry: g)], nil)
        case .convTranspose(let g, let oh, let ow):
            return ([Convolution.transposedConv2D(x[0]!, weight: x[1]!, bias: x.count > 2 ? x[2] : nil, geometry: g, outputSize: (oh, ow))], nil)
        case .activation(let a):
            return ([a.apply(x[0]!)], nil)
        case .binary(let b):
            return ([b.apply(x[0]!, x[1]!)], nil)
        case .maxPool(let g):
            let (y, s) = Pooling.maxPool2D(x[0]!, geometry: g)
            return ([y], s)
        case .averagePool(let g, let include):
            return ([Pooling.averagePool2D(x[0]!, geometry: g, countIncludePad: include)], nil)
        case .globalAveragePool:
            return ([Pooling.globalAveragePool(x[0]!)], nil)
        case .globalMaxPool:
            return ([Pooling.globalMaxPool(x[0]!)], nil)
        case .batchNormalization(let eps):
            return ([Normalization.batchNorm(x[0]!, scale: x[1]!, bias: x[2]!, mean: x[3]!, variance: x[4]!, epsilon: eps)], nil)
        case .lrn(let size, let alpha, let beta, let bias):
            return ([Normalization.lrn(x[0]!, size: size, alpha: alpha, beta: beta, bias: bias)], nil)
        case .gemm(let alpha, let beta, let ta, let tb):
            return ([LinearAlgebra.gemm(x[0]!, x[1]!, x.count > 2 ? x[2] : nil, alpha: alpha, beta: beta, transA: ta, transB: tb)], nil)
        case .matMul:
            return ([LinearAlgebra.matMul(x[0]!, x[1]!)], nil)
        case .reshape(let shape):
            return ([x[0]!.reshaped(shape)], nil)
        case .transpose(let perm):
            return ([Reshaping.transpose(x[0]!, perm: perm)], nil)
        case .concat(let axis):
            return ([Reshaping.concat(x.compactMap { $0 }, axis: axis)], nil)
        case .split(let axis, let sizes):
            return (Reshaping.split(x[0]!, axis: axis, sizes: sizes), nil)
        case .slice(let s, let e, let a, let st):
            return ([Reshaping.slice(x[0]!, starts: s, ends: e, axes: a, steps: st)], nil)
        case .pad(let pads, let mode, let value):
            return ([Reshaping.pad(x[0]!, pads: pads, mode: mode, value: value)], nil)
        case .reduceMean(let axes, let keep):
            return ([Reshaping.reduceMean(x[0]!, axes: axes, keepDims: keep)], nil)
        case .resize(let h, let w, let sy, let sx, let linear, let t, let nearest):
            return ([Reshaping.resize2D(x[0]!, outSize: (h, w), scales: (sy, sx), linear: linear, transform: t, nearest: nearest)], nil)
        case .softmax(let axis, let legacy):
            let t = x[0]!
            if legacy {
                let dims = t.shape.dimensions
                let flat = t.reshaped([dims[..<axis].reduce(1, *), dims[axis...].reduce(1, *)])
                return ([Normalization.softmax(flat, axis: 1).reshaped(t.shape)], nil)
            }
            return ([Normalization.softmax(t, axis: axis)], nil)
        case .identity:
            return ([x[0]!], nil)
        }
    }
}
