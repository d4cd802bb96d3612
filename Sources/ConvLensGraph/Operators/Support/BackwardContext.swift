import ConvLensCore
import Foundation

/// What an operator's backward pass reads: the node, the forward ``Trace``, the number of stacked
/// seeds and the rule set.
///
/// Signals are stacked per seed: a tensor of forward shape `[1, …]` carries `[S, 1, …]`, so the
/// heavy operations (transposed convolution, pooling) run on all seeds at once by treating `S` as
/// the batch, and the cheap ones loop over seeds.
package struct BackwardContext {
    package let node: Node
    package let trace: Trace
    package let seeds: Int
    package let rule: ProjectionRule
    package let lrn: LRNMode
    /// The convolution algorithm requested for this projection.
    package let algorithm: ConvolutionAlgorithm
    /// Collects the algorithms that ran.
    package let log: AlgorithmLog?

    package init(node: Node, trace: Trace, seeds: Int, rule: ProjectionRule, lrn: LRNMode,
                 algorithm: ConvolutionAlgorithm, log: AlgorithmLog?) {
        self.node = node
        self.trace = trace
        self.seeds = seeds
        self.rule = rule
        self.lrn = lrn
        self.algorithm = algorithm
        self.log = log
    }

    var graph: Graph { trace.graph }

    /// The forward value of a node input (computed tensor or initializer).
    func value(_ name: String) -> Tensor? { trace.values[name] ?? graph.initializers[name] }
    /// The forward value of input `index`.
    func input(_ index: Int) -> Tensor { value(node.inputs[index])! }
    /// The forward value of output `index`.
    func output(_ index: Int = 0) -> Tensor { trace.values[node.outputs[index]]! }
    /// Whether an input carries a backward signal (a computed tensor or the graph input).
    func isComputed(_ name: String) -> Bool { !name.isEmpty && trace.values[name] != nil }
    /// Whether input `index` carries a signal.
    func carriesSignal(_ index: Int) -> Bool { index < node.inputs.count && isComputed(node.inputs[index]) }
    func forwardShape(_ name: String) -> Shape { value(name)!.shape }
    /// The forward shape of input `index`.
    var inputShape: Shape { forwardShape(node.inputs[0]) }
    /// The forward shape of output 0.
    var outputShape: Shape { graph.shapes[node.outputs[0]] ?? inputShape }

    /// The output signal, or zeros when absent.
    func signal(_ outputs: [Tensor?], _ index: Int = 0) -> Tensor {
        outputs[index] ?? Tensor(shape: Shape([seeds] + (graph.shapes[node.outputs[index]] ?? inputShape).dimensions))
    }

    /// `[S] + shape` view of stacked per-seed tensors.
    func stacked(_ t: Tensor, _ shape: Shape) -> Tensor { t.reshaped(Shape([seeds] + shape.dimensions)) }

    /// The stacked signal viewed as a batch of `S·N` forward tensors.
    func batched(_ g: Tensor, _ shape: Shape) -> Tensor {
        var d = shape.dimensions
        d[0] *= seeds
        return g.reshaped(Shape(d))
    }

    /// `shape` with its batch axis multiplied by the number of seeds.
    func batchedShape(_ shape: Shape) -> Shape {
        Shape([seeds * shape[0]] + shape.dimensions.dropFirst())
    }

    /// Applies `f` to each seed's slice (forward-shaped) and stacks the results.
    func perSeed(_ g: Tensor, _ shape: Shape, outShape: Shape, _ f: (Tensor) throws -> Tensor) rethrows -> Tensor {
        let n = shape.count
        var out = [Float]()
        out.reserveCapacity(seeds * outShape.count)
        for s in 0..<seeds {
            let slice = Tensor(shape: shape, scalars: Array(g.scalars[(s * n)..<((s + 1) * n)]))
            out += try f(slice).scalars
        }
        return Tensor(shape: Shape([seeds] + outShape.dimensions), scalars: out)
    }

    /// Elementwise product of stacked signals with a forward-shaped factor (broadcast over seeds).
    func scaled(_ g: Tensor, by factor: [Float]) -> Tensor {
        var out = g
        let n = factor.count
        out.scalars.withUnsafeMutableBufferPointer { p in
            for s in 0..<seeds { for i in 0..<n { p[s * n + i] *= factor[i] } }
        }
        return out
    }

    /// A typed error for a backward pass ConvLens cannot compute on this path.
    func unsupported(_ what: String) -> ConvLensError {
        ConvLensError(.unsupportedFeature, file: graph.source, "node '\(node.name)' (\(node.opType)): back-projection through \(what) is not supported")
    }

    /// A one-element result list with `t` for input 0 and `nil` for the other inputs.
    func first(_ t: Tensor) -> [Tensor?] {
        var r = [Tensor?](repeating: nil, count: node.inputs.count)
        r[0] = t
        return r
    }

    /// Whether input 0 is a `[1, C, H, W]` tensor that carries the signal (the common condition
    /// of every windowed backward).
    var hasWindowableInput: Bool {
        let x0 = node.inputs[0]
        guard isComputed(x0) || x0 == graph.inputName else { return false }
        let s = forwardShape(x0)
        return s.rank == 4 && s[0] == 1
    }
}

extension Tensor {
    /// `−t`.
    package func negated() -> Tensor {
        var o = self
        o.scalars.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = -p[i] } }
        return o
    }

    /// `t · k`.
    package func scaled(by k: Float) -> Tensor {
        var o = self
        o.scalars.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= k } }
        return o
    }
}
