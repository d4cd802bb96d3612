import ConvLensCore

/// A rectangle of map positions, half-open: rows `top..<bottom`, columns `left..<right`.
public struct MapRegion: Sendable, Hashable {
    public var top: Int, left: Int, bottom: Int, right: Int

    public init(top: Int, left: Int, bottom: Int, right: Int) {
        (self.top, self.left, self.bottom, self.right) = (top, left, bottom, right)
    }

    /// Rows × columns.
    public var area: Int { max(0, bottom - top) * max(0, right - left) }
    public var height: Int { bottom - top }
    public var width: Int { right - left }

    /// The smallest region holding both.
    func union(_ o: MapRegion) -> MapRegion {
        MapRegion(top: min(top, o.top), left: min(left, o.left), bottom: max(bottom, o.bottom), right: max(right, o.right))
    }
}

/// What an incremental forward pass computed, against a whole one.
public struct PatchedWork: Sendable {
    /// Output elements computed (summed over the nodes the change reached).
    public var computed = 0
    /// Output elements of a whole forward pass over the same nodes.
    public var whole = 0
    /// Of ``computed``, the elements computed with other inputs stacked along the batch axis
    /// (``Graph/runPatched(_:inputs:keep:promote:)``).
    public var stacked = 0

    public init() {}

    public static func += (a: inout PatchedWork, b: PatchedWork) {
        a.computed += b.computed
        a.whole += b.whole
        a.stacked += b.stacked
    }
}

/// One occluded input of a batched incremental forward pass.
public struct PatchedInput: Sendable {
    /// The patched input (the graph's input shape).
    public var input: Tensor
    /// Where it differs from the traced input (map axes 2 and 3 of an NCHW input); `nil`: anywhere.
    public var region: MapRegion?

    public init(_ input: Tensor, region: MapRegion?) {
        self.input = input
        self.region = region
    }
}

extension Graph {
    /// The forward pass on an input that differs from the traced one only inside `region` (an
    /// occluding patch), reusing the clean trace elsewhere: ``runPatched(_:inputs:keep:)`` for
    /// one input.
    /// - Precondition: the input is `[1, C, H, W]`.
    public func runPatched(_ clean: Trace, input: Tensor, region: MapRegion?, keep: Set<String>) -> (values: [String: Tensor], work: PatchedWork) {
        runPatched(clean, inputs: [PatchedInput(input, region: region)], keep: keep)[0]
    }

    /// Forward passes on inputs that each differ from the traced one only inside a region (an
    /// occluding patch), reusing the clean trace elsewhere and running the images together where
    /// their changes have spread over whole maps.
    ///
    /// A change in a region of a `[1, C, H, W]` tensor reaches only a region of each tensor computed
    /// from it through convolutions, pooling and pointwise operators (``ForwardLocality``): each
    /// such node computes just that region, from crops of its inputs (the clean values with the
    /// changed ones laid over them), and a window operator runs with the pads that make the crop
    /// give exactly the changed outputs. A region that covers at least `promote` of its map is
    /// computed whole instead. From there on — and from the first node that mixes the whole map
    /// (global pooling, a fully connected layer, a normalization over the map, a squeeze-excitation
    /// gate) — an image's tensors are whole, and the images whose inputs to a node are all whole
    /// run as one batch (``ForwardBatching``): one product with many columns instead of many small
    /// ones. Results equal a whole forward pass on each patched input up to the summation order
    /// inside the kernels.
    /// - Parameters:
    ///   - clean: the trace of the unpatched input.
    ///   - inputs: the patched inputs with the regions where they differ; a `nil` region recomputes
    ///     every node the input reaches (NHWC inputs).
    ///   - keep: the tensors to return.
    ///   - promote: the share of a map from which a changed region is computed whole (above 1:
    ///     never before a node mixes the map).
    /// - Returns: for each input, each tensor of `keep` on it, and the work done.
    /// - Precondition: the inputs are `[1, C, H, W]`.
    public func runPatched(_ clean: Trace, inputs: [PatchedInput], keep: Set<String>, promote: Double = 0.5) -> [(values: [String: Tensor], work: PatchedWork)] {
        var changed: [[String: Change]] = inputs.map { i in
            [inputName: i.region.map { .region($0, crop(i.input, $0)) } ?? .whole(i.input)]
        }
        var work = [PatchedWork](repeating: PatchedWork(), count: inputs.count)
        // The last node reading each tensor: tensors nobody reads later are dropped as the pass goes.
        let (last, lastUse) = schedule(keeping: keep)
        if last >= 0 {
            for index in 0...last {
                let node = nodes[index]
                let reached = changed.indices.filter { p in node.inputs.contains { changed[p][$0] != nil } }
                guard !reached.isEmpty else { continue }
                let together = reached.filter { batchable(node, changed[$0]) }
                // A convolution that only an activation reads applies it as it writes and stands for
                // both nodes (the activation node is then not reached: its input is never stored).
                let fusion = self.fusion(at: index, through: last, keeping: keep)
                var outputs: [Int: [Change?]] = [:]
                if !together.isEmpty, let stacked = runStacked(node, clean: clean, positions: together, changed: changed, activation: fusion?.activation) {
                    for (k, p) in together.enumerated() { outputs[p] = [.stacked(stacked, k)] }
                }
                for p in reached where outputs[p] == nil {
                    outputs[p] = evaluate(node, clean: clean, changed: changed[p], promote: promote, activation: fusion?.activation)
                }
                let names = fusion.map { [$0.output] } ?? node.outputs
                for p in reached {
                    for (name, c) in zip(names, outputs[p]!) where !name.isEmpty {
                        if let c { changed[p][name] = c }
                        for counted in fusion.map({ [$0.intermediate, $0.output] }) ?? [name] {
                            let full = shapes[counted]?.count ?? 0
                            work[p].whole += full
                            switch c {
                            case .region(let r, _)?: work[p].computed += r.area * (shapes[counted].map { $0.count / max(1, $0[2] * $0[3]) } ?? 0)
                            case .whole?: work[p].computed += full
                            case .stacked(let s, _)?:
                                work[p].computed += full
                                if s.positions.count > 1 { work[p].stacked += full }
                            case nil: break
                            }
                        }
                    }
                }
                for name in node.inputs where lastUse[name] == index && !keep.contains(name) {
                    for p in changed.indices { changed[p][name] = nil }
                }
            }
        }
        return changed.indices.map { p in
            var values: [String: Tensor] = [:]
            for name in keep {
                guard let base = clean.values[name] else { continue }
                switch changed[p][name] {
                case .whole(let t)?: values[name] = t
                case .region(let r, let patch)?: values[name] = Self.overlay(base, patch, at: r)
                case .stacked(let s, let k)?: values[name] = s.image(k)
                case nil: values[name] = base
                }
            }
            return (values, work[p])
        }
    }

    /// A changed tensor: a region of a `[1, C, H, W]` map (the values there), all of it, or image
    /// `k` of a stack shared with other inputs.
    enum Change {
        case region(MapRegion, Tensor)
        case whole(Tensor)
        case stacked(Stack, Int)
    }

    /// Several inputs' values of one tensor, stacked along axis 0.
    final class Stack {
        let tensor: Tensor
        /// The inputs whose images these are, in order.
        let positions: [Int]

        init(_ tensor: Tensor, _ positions: [Int]) {
            (self.tensor, self.positions) = (tensor, positions)
        }

        /// Image `k` as a `[1, …]` tensor.
        func image(_ k: Int) -> Tensor { tensor.item(k) }
    }

    /// Whether a change covers all of its tensor.
    private func isWhole(_ name: String, _ c: Change) -> Bool {
        switch c {
        case .whole, .stacked: return true
        case .region(let r, _):
            guard let s = shapes[name], s.rank == 4 else { return false }
            return r.top == 0 && r.left == 0 && r.bottom == s[2] && r.right == s[3]
        }
    }

    /// Whether `node` can run on this input stacked with others: the operator batches and every
    /// changed input is whole, `[1, …]`, of the output's rank (a lower-rank input would broadcast
    /// its stack axis against another axis), and input 0 for operators that are not pointwise.
    private func batchable(_ node: Node, _ changed: [String: Change]) -> Bool {
        guard node.outputs.count == 1, let out = shapes[node.outputs[0]], out.rank >= 1, out[0] == 1 else { return false }
        if case .none = node.op.batching { return false }
        let pointwise = Self.isPointwise(node)
        for (i, name) in node.inputs.enumerated() {
            guard let c = changed[name] else { continue }
            guard isWhole(name, c), i == 0 || pointwise, let s = shapes[name], s.rank >= 1, s[0] == 1 else { return false }
            if case .independent = node.op.batching, s.rank != out.rank { return false }
        }
        return true
    }

    /// Whether the node's operator is pointwise (all its map inputs align with the output).
    private static func isPointwise(_ node: Node) -> Bool {
        if case .pointwise = node.op.locality { return true }
        return false
    }

    /// Runs `node` once for `positions`, their inputs stacked along axis 0; `nil` when the operator
    /// returned an unexpected batch.
    private func runStacked(_ node: Node, clean: Trace, positions: [Int], changed: [[String: Change]],
                            activation: ConvolutionActivation?) -> Stack? {
        let outShape = shapes[node.outputs[0]]!
        let pointwise = Self.isPointwise(node)
        func stackedValue(_ name: String) -> Tensor {
            if case .stacked(let s, _)? = changed[positions[0]][name], s.positions == positions { return s.tensor }
            let unchanged = clean.values[name] ?? initializers[name]
            let one = unchanged?.shape ?? shapes[name]!
            let size = one.count
            return Tensor(shape: Shape([positions.count] + one.dimensions.dropFirst())) { out in
                for (k, p) in positions.enumerated() {
                    let dst = out.baseAddress! + k * size
                    switch changed[p][name] {
                    case .stacked(let s, let i)?:
                        s.tensor.scalars.withUnsafeBufferPointer { dst.update(from: $0.baseAddress! + i * size, count: size) }
                    case .whole(let t)?, .region(_, let t)?:  // a region here covers the map
                        t.scalars.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: size) }
                    case nil:
                        unchanged!.scalars.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: size) }
                    }
                }
            }
        }
        var args: [Tensor?] = []
        for name in node.inputs {
            guard !name.isEmpty else { args.append(nil); continue }
            let value = clean.values[name] ?? initializers[name]
            // Changed inputs are stacked; so are a pointwise operator's unchanged inputs of the
            // output's map (Concat does not broadcast), computed or constant. Everything else
            // (weights, per-channel parameters, gates) is passed once and broadcasts.
            let isChanged = positions.contains { changed[$0][name] != nil }
            let isMap = pointwise && value.map {
                $0.rank == outShape.rank && $0.shape[0] == 1 && $0.shape.dimensions.dropFirst(2) == outShape.dimensions.dropFirst(2)
            } == true
            args.append(isChanged || isMap ? stackedValue(name) : value)
        }
        let out: Tensor
        switch node.op.batching {
        case .reshape: out = args[0]!.reshaped(Shape([positions.count] + outShape.dimensions.dropFirst()))
        default: out = Self.forward(node.op, args, activation)[0]
        }
        guard out.shape.dimensions == [positions.count] + outShape.dimensions.dropFirst() else { return nil }
        return Stack(out, positions)
    }

    /// The outputs of one node that reads a changed tensor (`nil`: unchanged).
    private func evaluate(_ node: Node, clean: Trace, changed: [String: Change], promote: Double,
                          activation: ConvolutionActivation?) -> [Change?] {
        func value(_ name: String) -> Tensor? { name.isEmpty ? nil : (clean.values[name] ?? initializers[name]) }
        func whole(_ name: String) -> Tensor? {
            switch changed[name] {
            case .whole(let t)?: return t
            case .region(let r, let patch)?: return Self.overlay(value(name)!, patch, at: r)
            case .stacked(let s, let k)?: return s.image(k)
            case nil: return value(name)
            }
        }
        func recomputeWhole() -> [Change?] {
            Self.forward(node.op, node.inputs.map(whole), activation).map { .whole($0) }
        }
        guard node.outputs.count == 1, let outShape = shapes[node.outputs[0]], outShape.rank == 4, outShape[0] == 1 else {
            return recomputeWhole()
        }
        let (outH, outW) = (outShape[2], outShape[3])
        // Every changed input must be a region of a map.
        var regions: [MapRegion] = []
        for name in node.inputs {
            guard let c = changed[name] else { continue }
            guard case .region(let r, _) = c else { return recomputeWhole() }
            regions.append(r)
        }
        switch node.op.locality {
        case .global:
            return recomputeWhole()
        case .pointwise(let broadcasting):
            // A changed input of another map size (a [1, C, 1, 1] gate) changes every output.
            for name in node.inputs where changed[name] != nil {
                guard let s = shapes[name], s.rank == 4, s[2] == outH, s[3] == outW else { return recomputeWhole() }
            }
            guard let r = regions.dropFirst().reduce(regions.first, { $0?.union($1) }) else { return [nil] }
            var args: [Tensor?] = []
            for name in node.inputs {
                guard let t = value(name) else { args.append(nil); continue }
                let d = t.shape.dimensions
                if d.count == 4, d[2] == outH, d[3] == outW {
                    if case .region(let cr, let patch)? = changed[name], cr == r {
                        args.append(patch)  // the change covers the region: no copy
                    } else {
                        args.append(cropChanged(name, t, r, changed))
                    }
                } else if d.count == 4 ? (d[2] == 1 && d[3] == 1) : (!broadcasting || d.suffix(2).allSatisfy { $0 == 1 }) {
                    args.append(t)  // constant along the map
                } else {
                    return recomputeWhole()
                }
            }
            return [.region(r, node.op.forward(args).outputs[0])]
        case .window(let extent, let strides, let pads, let rebuild):
            guard regions.count == 1, changed[node.inputs[0]] != nil, let inShape = shapes[node.inputs[0]], inShape.rank == 4 else {
                return recomputeWhole()
            }
            let r = regions[0]
            let (inH, inW) = (inShape[2], inShape[3])
            // Outputs whose window [o·s − pad, o·s − pad + extent) meets the changed rows/columns.
            func outputs(_ lo: Int, _ hi: Int, _ axis: Int, _ n: Int) -> (Int, Int) {
                let s = strides[axis], p = pads[axis], e = extent[axis]
                let first = max(0, Self.ceilDiv(lo + p - e + 1, s))
                let end = min(n, Self.floorDiv(hi - 1 + p, s) + 1)
                return (first, end)
            }
            let (oy0, oy1) = outputs(r.top, r.bottom, 0, outH)
            let (ox0, ox1) = outputs(r.left, r.right, 1, outW)
            guard oy0 < oy1, ox0 < ox1 else { return [nil] }
            // A change that has spread over most of the map is computed whole (and can then run
            // stacked with other inputs).
            if Double((oy1 - oy0) * (ox1 - ox0)) >= promote * Double(outH * outW) { return recomputeWhole() }
            // The input rows/columns those outputs read, clipped to the map; the clipped part is padding.
            let y0 = oy0 * strides[0] - pads[0], y1 = (oy1 - 1) * strides[0] - pads[0] + extent[0]
            let x0 = ox0 * strides[1] - pads[1], x1 = (ox1 - 1) * strides[1] - pads[1] + extent[1]
            let need = MapRegion(top: max(0, y0), left: max(0, x0), bottom: min(inH, y1), right: min(inW, x1))
            let localPads = [need.top - y0, need.left - x0, y1 - need.bottom, x1 - need.right]
            var args = node.inputs.map(value)
            if case .region(let cr, let patch)? = changed[node.inputs[0]], cr == need {
                args[0] = patch  // a 1×1 window reads exactly the change: no copy
            } else {
                args[0] = cropChanged(node.inputs[0], args[0]!, need, changed)
            }
            let out = Self.forward(rebuild(localPads), args, activation)[0]
            return [.region(MapRegion(top: oy0, left: ox0, bottom: oy1, right: ox1), out)]
        }
    }

    /// The operator's outputs; a convolution with a fused activation applies it as it writes.
    private static func forward(_ op: any Operator, _ args: [Tensor?], _ activation: ConvolutionActivation?) -> [Tensor] {
        if let activation, let conv = op as? Conv { return [conv.forward(args, activation: activation)] }
        return op.forward(args).outputs
    }

    /// `t[:, :, region]` with a change laid over it.
    private func cropChanged(_ name: String, _ t: Tensor, _ r: MapRegion, _ changed: [String: Change]) -> Tensor {
        var out = crop(t, r)
        guard case .region(let cr, let patch)? = changed[name] else { return out }
        let c = t.shape[1]
        let top = max(r.top, cr.top), bottom = min(r.bottom, cr.bottom)
        let left = max(r.left, cr.left), right = min(r.right, cr.right)
        guard top < bottom, left < right else { return out }
        out.scalars.withUnsafeMutableBufferPointer { dst in
            patch.scalars.withUnsafeBufferPointer { src in
                for ch in 0..<c {
                    for y in top..<bottom {
                        let d = dst.baseAddress! + (ch * r.height + y - r.top) * r.width + (left - r.left)
                        let s = src.baseAddress! + (ch * cr.height + y - cr.top) * cr.width + (left - cr.left)
                        d.update(from: s, count: right - left)
                    }
                }
            }
        }
        return out
    }

    /// `t[:, :, region]` of a `[1, C, H, W]` tensor.
    private func crop(_ t: Tensor, _ r: MapRegion) -> Tensor {
        let c = t.shape[1], h = t.shape[2], w = t.shape[3]
        precondition(r.top >= 0 && r.left >= 0 && r.bottom <= h && r.right <= w)
        return Tensor(shape: [1, c, r.height, r.width]) { out in
            t.scalars.withUnsafeBufferPointer { src in
                for ch in 0..<c {
                    for y in 0..<r.height {
                        let s = src.baseAddress! + (ch * h + r.top + y) * w + r.left
                        (out.baseAddress! + (ch * r.height + y) * r.width).update(from: s, count: r.width)
                    }
                }
            }
        }
    }

    /// `base` with `patch` written at `region` (map axes 2 and 3).
    static func overlay(_ base: Tensor, _ patch: Tensor, at r: MapRegion) -> Tensor {
        var out = base
        let c = base.shape[1], h = base.shape[2], w = base.shape[3]
        out.scalars.withUnsafeMutableBufferPointer { dst in
            patch.scalars.withUnsafeBufferPointer { src in
                for ch in 0..<c {
                    for y in 0..<r.height {
                        (dst.baseAddress! + (ch * h + r.top + y) * w + r.left)
                            .update(from: src.baseAddress! + (ch * r.height + y) * r.width, count: r.width)
                    }
                }
            }
        }
        return out
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
    static func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }
}
