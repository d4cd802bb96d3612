import ConvLensCore
import ConvLensGraph
import Foundation

/// One back-projection: the gradient-like signal at the model input for one seed under one rule.
public struct Projection: Sendable {
    /// The seeded layer.
    public let layer: Layer
    /// The seed, resolved (channel, position, activation).
    public let seed: ResolvedSeed
    /// The rule set used.
    public let rule: ProjectionRule
    /// The projection, shaped as the model input (`[1, C, H, W]`, the model's normalized input space).
    public let tensor: Tensor
    /// The convolution algorithms that ran (see ``AlgorithmLog/label(requested:)``).
    public var algorithm: String = "gemm"
}

/// Collects the convolution choices of a backward pass (thread-safe).
public final class AlgorithmLog: @unchecked Sendable {
    private let lock = NSLock()
    private var used = Set<ConvolutionAlgorithm>()

    public init() {}

    func record(_ choice: ConvolutionChoice) {
        lock.lock()
        used.insert(choice.algorithm)
        lock.unlock()
    }

    /// The algorithms that ran, sorted.
    public var algorithms: [ConvolutionAlgorithm] {
        lock.lock()
        defer { lock.unlock() }
        return used.sorted { $0.rawValue < $1.rawValue }
    }

    /// What a manifest records: the forced algorithm (`fft`, `gemm`, `direct`), or for `auto`
    /// `auto:` and the algorithms the planner picked joined by `+` (`auto:direct+fft+gemm`);
    /// `auto:none` when no convolution ran.
    public func label(requested: ConvolutionAlgorithm) -> String {
        guard requested == .auto else { return requested.rawValue }
        let a = algorithms
        return "auto:" + (a.isEmpty ? "none" : a.map(\.rawValue).joined(separator: "+"))
    }
}

/// How LRN layers pass the backward signal.
public enum LRNMode: String, Sendable, Hashable, CaseIterable {
    /// The true gradient (default).
    case gradient
    /// The identity (deep-visualization-toolbox's and Zeiler & Fergus's simplification).
    case passthrough
}

/// Projects seeds at a layer back to the model input (DESIGN.md §1 "Projection").
///
/// A `Projector` reads a ``Trace`` (activations and max-pool switches) and never mutates the
/// graph. Many seeds run as one batch through every backward step (the transposed convolutions
/// become batched products), in chunks bounded by ``memoryBudget``.
public struct Projector: Sendable {
    /// The forward run the projections explain.
    public let trace: Trace
    /// How LRN passes the signal.
    public var lrn: LRNMode = .gradient
    /// The most bytes of backward signals held at once; seeds are processed in chunks that fit.
    public var memoryBudget: Int = 1 << 30
    /// The convolution algorithm of every backward convolution (`.auto`: the planner's choice per layer).
    public var algorithm: ConvolutionAlgorithm = .auto

    public init(trace: Trace) { self.trace = trace }

    /// Projects seeds at `layer` with `rule`.
    /// - Parameters:
    ///   - layer: a layer of `trace.graph` (`[1, C, H, W]` or `[1, N]`).
    ///   - seeds: the seeds, in order.
    ///   - rule: the rule set.
    ///   - progress: called with (seeds done, total) after each chunk.
    /// - Returns: one ``Projection`` per seed, in order; each tensor has the input's shape.
    /// - Throws: ``ConvLensError`` for a channel or position out of range, a layer the input does not
    ///   influence, or an operator whose backward ConvLens cannot compute on this path.
    public func project(layer: Layer, seeds: [Seed], rule: ProjectionRule,
                        progress: ((Int, Int) -> Void)? = nil) throws -> [Projection] {
        let act = trace.activation(layer)
        let resolved = try seeds.map { try $0.resolve(in: act, layer: layer.name) }
        // Chunk size from the largest tensor on the backward path (a few of them live at once).
        let largest = trace.graph.nodes[...layer.nodeIndex].flatMap(\.outputs).compactMap { trace.graph.shapes[$0]?.count }.max() ?? act.count
        let perSeed = max(1, 4 * 4 * max(largest, trace.graph.inputShape.count))
        let chunk = max(1, min(resolved.count, memoryBudget / perSeed))
        var results: [Projection] = []
        results.reserveCapacity(resolved.count)
        let log = AlgorithmLog()
        var start = 0
        while start < resolved.count {
            let part = Array(resolved[start..<min(resolved.count, start + chunk)])
            let seedTensor = makeSeeds(part, activation: act)
            let grads = try backward(from: layer, seeds: seedTensor, count: part.count, rule: rule, log: log)
            let n = trace.graph.inputShape.count
            for (i, r) in part.enumerated() {
                let t = Tensor(shape: trace.graph.inputShape, scalars: Array(grads.scalars[(i * n)..<((i + 1) * n)]))
                results.append(Projection(layer: layer, seed: r, rule: rule, tensor: t))
            }
            start += part.count
            progress?(start, resolved.count)
        }
        let label = log.label(requested: algorithm)
        for i in results.indices { results[i].algorithm = label }
        return results
    }

    /// `[S] + activation.shape` seed values.
    private func makeSeeds(_ seeds: [ResolvedSeed], activation: Tensor) -> Tensor {
        let n = activation.count
        var s = [Float](repeating: 0, count: seeds.count * n)
        let d = activation.shape.dimensions
        for (i, r) in seeds.enumerated() {
            if d.count == 2 {
                // A unit seed is 1; a map seed is the unit's own value (d(½a²)/dx).
                s[i * n + r.channel] = r.seed.kind == "map" ? activation.scalars[r.channel] : 1
            } else if let y = r.y, let x = r.x {
                s[i * n + (r.channel * d[2] + y) * d[3] + x] = 1
            } else {
                let plane = d[2] * d[3]
                for k in 0..<plane { s[i * n + r.channel * plane + k] = activation.scalars[r.channel * plane + k] }
            }
        }
        return Tensor(shape: Shape([seeds.count] + d), scalars: s)
    }

    /// Runs the backward pass for `count` stacked seeds (`[S] + layer shape`) and returns
    /// `[S] + input shape`.
    func backward(from layer: Layer, seeds: Tensor, count: Int, rule: ProjectionRule, log: AlgorithmLog? = nil) throws -> Tensor {
        let graph = trace.graph
        var grads: [String: Tensor] = [layer.tensorName: seeds]
        for index in stride(from: layer.nodeIndex, through: 0, by: -1) {
            let node = graph.nodes[index]
            let outGrads = node.outputs.map { grads.removeValue(forKey: $0) }
            guard outGrads.contains(where: { $0 != nil }) else { continue }
            let step = BackwardStep(node: node, trace: trace, seeds: count, rule: rule, lrn: lrn, algorithm: algorithm, log: log)
            let inGrads = try step.inputGradients(outGrads)
            for (name, g) in zip(node.inputs, inGrads) {
                guard let g, !name.isEmpty else { continue }
                if let existing = grads[name] {
                    grads[name] = BinaryOperator.add.apply(existing, g)
                } else {
                    grads[name] = g
                }
            }
        }
        guard let g = grads[graph.inputName] else {
            throw ConvLensError(.invalidArgument, file: "--layer", "the input has no influence on layer '\(layer.name)'")
        }
        return g
    }
}
