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

/// Projects seeds at a layer back to the model input (DESIGN.md §1 "Projection").
///
/// A `Projector` reads a ``Trace`` (activations and max-pool switches) and never mutates the
/// graph. Many seeds run as one batch through every backward step (the transposed convolutions
/// become batched products), in chunks bounded by ``memoryBudget``. A unit seed's signal is zero
/// outside the unit's receptive field, so each seed carries a window per layer and the backward
/// steps compute only inside it (``windows``; Docs/Performance.md).
public struct Projector: Sendable {
    /// The forward run the projections explain.
    public let trace: Trace
    /// How LRN passes the signal.
    public var lrn: LRNMode = .gradient
    /// The most bytes of backward signals held at once; seeds are processed in chunks that fit.
    public var memoryBudget: Int = Projector.defaultMemoryBudget
    /// The convolution algorithm of every backward convolution (`.auto`: the planner's choice per layer).
    public var algorithm: ConvolutionAlgorithm = .auto
    /// Compute each unit seed's signal only inside its receptive-field window (default). `false`
    /// computes whole maps; results agree within rounding.
    public var windows = true

    /// 4 GiB: a sixth of a 24 GiB machine, in chunks of seeds (`--memory-budget`).
    public static let defaultMemoryBudget = 4 << 30

    public init(trace: Trace) { self.trace = trace }

    /// Projects seeds at `layer` with `rule`.
    /// - Parameters:
    ///   - layer: a layer of `trace.graph` (`[1, C, H, W]` or `[1, N]`).
    ///   - seeds: the seeds, in order.
    ///   - rule: the rule set.
    ///   - log: collects the algorithms and the convolution work (a fresh one when `nil`).
    ///   - progress: called with (seeds done, total) after each chunk.
    /// - Returns: one ``Projection`` per seed, in order; each tensor has the input's shape.
    /// - Throws: ``ConvLensError`` for a channel or position out of range, a layer the input does not
    ///   influence, or an operator whose backward ConvLens cannot compute on this path.
    public func project(layer: Layer, seeds: [Seed], rule: ProjectionRule, log: AlgorithmLog? = nil,
                        progress: ((Int, Int) -> Void)? = nil) throws -> [Projection] {
        let act = trace.activation(layer)
        let resolved = try seeds.map { try $0.resolve(in: act, layer: layer.name) }
        let chunk = chunkSize(layer, seeds: resolved.count)
        var results: [Projection] = []
        results.reserveCapacity(resolved.count)
        let log = log ?? AlgorithmLog()
        var start = 0
        while start < resolved.count {
            let part = Array(resolved[start..<min(resolved.count, start + chunk)])
            let grads = try backward(from: layer, seeds: makeSeeds(part, activation: act), count: part.count, rule: rule, log: log)
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

    /// The gradient-like signal of each seed at an earlier layer: the backward pass of
    /// ``project(layer:seeds:rule:log:progress:)`` stopped at `target` instead of the input
    /// (Grad-CAM's `∂y/∂A` under `.backprop`, the true gradient).
    /// - Parameters:
    ///   - layer: the seeded layer.
    ///   - seeds: the seeds, in order.
    ///   - target: a layer computed before `layer` (or `layer` itself: the seeds are returned).
    ///   - rule: the rule set (default: the true gradient).
    /// - Returns: `[S] + target.shape`, seed `i`'s signal in row `i`.
    /// - Throws: ``ConvLensError`` for a seed out of range, or when `target` does not influence `layer`.
    public func signal(of layer: Layer, seeds: [Seed], at target: Layer, rule: ProjectionRule = .backprop) throws -> Tensor {
        let act = trace.activation(layer)
        let resolved = try seeds.map { try $0.resolve(in: act, layer: layer.name) }
        let stacked = makeSeeds(resolved, activation: act)
        if target.tensorName == layer.tensorName { return stacked.dense(layer.shape) }
        guard target.nodeIndex < layer.nodeIndex else {
            throw ConvLensError(.invalidArgument, parameter: "layer", "layer '\(target.name)' comes after '\(layer.name)'; its signal needs a layer computed before the target")
        }
        return try backward(from: layer, seeds: stacked, count: resolved.count, rule: rule, to: target)
    }

    /// The gradient (under `rule`, the true gradient by default) of `Σ seed ⊙ layer` with respect
    /// to the input: one dense backward pass. Works on traces of any batch size (the seed has the
    /// layer's shape, batch included).
    /// - Returns: a tensor of the input's shape.
    /// - Throws: ``ConvLensError`` when the input does not influence the layer.
    public func gradient(of layer: Layer, seed: Tensor, rule: ProjectionRule = .backprop) throws -> Tensor {
        let shape = trace.activation(layer).shape
        precondition(seed.shape == shape, "the seed must have the layer's shape \(shape)")
        let g = try backward(from: layer, seeds: Signal(dense: seed.reshaped(Shape([1] + shape.dimensions))), count: 1, rule: rule)
        return g.reshaped(trace.graph.inputShape)
    }

    /// Seeds per chunk: as many as ``memoryBudget`` allows (a few signals of the largest tensor on
    /// the backward path per seed; a window can be a whole map), but no more than keep one signal
    /// of that tensor within ``chunkTargetBytes`` — smaller batches stay in cache and in reused
    /// heap memory, and the products stay large (whole maps give many FFT tiles or GEMM columns
    /// per seed) — and at least 4 (measured on `convlens bench` C and F, Docs/Performance.md).
    func chunkSize(_ layer: Layer, seeds: Int) -> Int {
        let act = trace.activation(layer)
        let largest = max(trace.graph.nodes[...layer.nodeIndex].flatMap(\.outputs).compactMap { trace.graph.shapes[$0]?.count }.max() ?? act.count,
                          trace.graph.inputShape.count)
        let byBudget = memoryBudget / max(1, 16 * largest)
        let target = Self.chunkTargetBytes / max(1, 4 * largest)
        return max(1, min(seeds, byBudget, max(Self.chunkMinimum, target)))
    }

    /// The fewest seeds per chunk the working-set target may leave (`CONVLENS_CHUNK_MIN` overrides it).
    static let chunkMinimum: Int = {
        if let s = ProcessInfo.processInfo.environment["CONVLENS_CHUNK_MIN"], let v = Int(s), v > 0 { return v }
        return 4
    }()

    /// The working-set size one backward signal of a chunk aims at (`CONVLENS_CHUNK_BYTES`
    /// overrides it, for experiments).
    static let chunkTargetBytes: Int = {
        if let s = ProcessInfo.processInfo.environment["CONVLENS_CHUNK_BYTES"], let v = Int(s), v > 0 { return v }
        return 32 << 20
    }()

    /// The stacked seed signal: unit seeds on a `[1, C, H, W]` layer as 1×1 windows at their units
    /// (``windows``), every other seed dense (`[S] + activation.shape`).
    private func makeSeeds(_ seeds: [ResolvedSeed], activation: Tensor) -> Signal {
        let n = activation.count
        let d = activation.shape.dimensions
        if windows, d.count == 4, seeds.allSatisfy({ $0.y != nil && $0.x != nil }) {
            var s = Tensor(shape: Shape([seeds.count, d[1], 1, 1]))
            for (i, r) in seeds.enumerated() { s.scalars[i * d[1] + r.channel] = 1 }
            return Signal(s, windows: SeedWindows(height: 1, width: 1, mapHeight: d[2], mapWidth: d[3],
                                                  top: seeds.map { $0.y! }, left: seeds.map { $0.x! }))
        }
        var s = [Float](repeating: 0, count: seeds.count * n)
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
        return Signal(dense: Tensor(shape: Shape([seeds.count] + d), scalars: s))
    }

    /// Runs the backward pass for `count` stacked seeds and returns `[S] + input shape`.
    ///
    /// Signals on `[1, C, H, W]` tensors travel in per-seed windows through the operators that have
    /// a windowed form (`Operator.windowedBackward`); the others run on dense signals.
    func backward(from layer: Layer, seeds: Signal, count: Int, rule: ProjectionRule, log: AlgorithmLog? = nil,
                  to target: Layer? = nil) throws -> Tensor {
        let graph = trace.graph
        // Nodes after the target's producer are the only ones its signal passes (topological order).
        let last = target.map { $0.nodeIndex + 1 } ?? 0
        func shape(_ name: String) -> Shape { (trace.values[name] ?? graph.initializers[name])!.shape }
        var grads: [String: Signal] = [layer.tensorName: seeds]
        for index in stride(from: layer.nodeIndex, through: last, by: -1) {
            let node = graph.nodes[index]
            var outSignals = node.outputs.map { grads.removeValue(forKey: $0) }
            guard outSignals.contains(where: { $0 != nil }) else { continue }
            let context = BackwardContext(node: node, trace: trace, seeds: count, rule: rule, lrn: lrn, algorithm: algorithm, log: log)
            var inSignals: [Signal?]? = nil
            if outSignals.count == 1, node.op.isWindowable(context), let g = outSignals[0]!.windowed(shape(node.outputs[0]), seeds: count),
               let w = g.windows {
                // The operator owns the signal (elementwise rules rewrite it in place): no other
                // reference may remain.
                outSignals[0] = nil
                let values = (consume g).values
                inSignals = try node.op.windowedBackward(consume values, w, context)
            }
            if inSignals == nil {
                let dense = zip(node.outputs, outSignals).map { name, s in s?.dense(shape(name)) }
                inSignals = try node.op.backward(dense, context).map { $0.map { Signal(dense: $0) } }
            }
            for (name, g) in zip(node.inputs, inSignals!) {
                // Constants never receive a signal.
                guard let g, !name.isEmpty, trace.values[name] != nil else { continue }
                if let existing = grads[name] {
                    grads[name] = Signal.sum(existing, g, forwardShape: shape(name))
                } else {
                    grads[name] = g
                }
            }
        }
        if let target {
            guard let g = grads[target.tensorName] else {
                throw ConvLensError(.invalidArgument, parameter: "layer", "layer '\(target.name)' has no influence on '\(layer.name)'")
            }
            return g.dense(target.shape)
        }
        guard let g = grads[graph.inputName] else {
            throw ConvLensError(.invalidArgument, parameter: "layer", "the input has no influence on layer '\(layer.name)'")
        }
        return g.dense(graph.inputShape)
    }
}
