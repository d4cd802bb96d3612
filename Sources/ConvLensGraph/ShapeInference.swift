import ConvLensCore

/// Output shapes of resolved operations, validating the input shapes so that kernels never see
/// inconsistent tensors.
enum ShapeInference {
    static func outputShapes(_ op: Op, _ inputs: [Shape?], context ctx: String, file: String) throws -> [Shape] {
        func fail(_ s: String) -> ConvLensError { ConvLensError(.malformedFile, file: file, "\(ctx): \(s)") }
        func make(_ dims: [Int]) throws -> Shape {
            guard dims.allSatisfy({ $0 > 0 }) else { throw fail("the output shape \(dims) would be empty") }
            return try Shape(validating: dims, file: file)
        }
        let x = inputs.first??.dimensions ?? []
        switch op {
        case .conv(let g):
            let w = inputs[1]!.dimensions
            guard x[1] == w[1] * g.groups, w[0] % g.groups == 0 else {
                throw fail("input has \(x[1]) channels; weight \(w) with group \(g.groups) expects \(w[1] * g.groups)")
            }
            if inputs.count > 2, let b = inputs[2], b.dimensions != [w[0]] { throw fail("bias shape \(b) should be [\(w[0])]") }
            return [try make([x[0], w[0], g.convOutput(x[2], axis: 0), g.convOutput(x[3], axis: 1)])]
        case .convTranspose(let g, let oh, let ow):
            let w = inputs[1]!.dimensions
            guard x[1] == w[0], w[0] % g.groups == 0 else {
                throw fail("input has \(x[1]) channels; weight \(w) expects \(w[0])")
            }
            if inputs.count > 2, let b = inputs[2], b.dimensions != [w[1] * g.groups] { throw fail("bias shape \(b) should be [\(w[1] * g.groups)]") }
            return [try make([x[0], w[1] * g.groups, oh, ow])]
        case .activation, .identity:
            return [inputs[0]!]
        case .binary:
            guard let d = BinaryOperator.broadcastShape(x, inputs[1]!.dimensions) else {
                throw fail("shapes \(inputs[0]!) and \(inputs[1]!) do not broadcast")
            }
            return [try Shape(validating: d, file: file)]
        case .maxPool(let g), .averagePool(let g, _):
            for i in 0..<2 where g.pads[i] >= g.kernel[i] || g.pads[i + 2] >= g.kernel[i] {
                throw fail("padding \(g.pads) must be smaller than the window \(g.kernel)")
            }
            return [try make([x[0], x[1], g.output(x[2], axis: 0), g.output(x[3], axis: 1)])]
        case .globalAveragePool, .globalMaxPool:
            guard x.count >= 3 else { throw fail("needs an [N, C, …] input, got \(x)") }
            return [try make([x[0], x[1]] + [Int](repeating: 1, count: x.count - 2))]
        case .batchNormalization:
            guard x.count >= 2 else { throw fail("needs an [N, C, …] input") }
            for i in 1..<5 where inputs[i]!.dimensions != [x[1]] {
                throw fail("parameter \(i) has shape \(inputs[i]!); expected [\(x[1])]")
            }
            return [inputs[0]!]
        case .lrn:
            guard x.count >= 3 else { throw fail("needs an [N, C, …] input") }
            return [inputs[0]!]
        case .gemm(_, _, let ta, let tb):
            let b = inputs[1]!.dimensions
            guard x.count == 2, b.count == 2 else { throw fail("Gemm needs 2-D inputs, got \(x) and \(b)") }
            let m = ta ? x[1] : x[0], k = ta ? x[0] : x[1], kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1]
            guard k == kb else { throw fail("cannot multiply \(x) by \(b) (transA \(ta), transB \(tb))") }
            if inputs.count > 2, let c = inputs[2], BinaryOperator.broadcastShape(c.dimensions, [m, n]) != [m, n] {
                throw fail("C of shape \(c) does not broadcast to [\(m), \(n)]")
            }
            return [try make([m, n])]
        case .matMul:
            guard let d = LinearAlgebra.matMulShape(x, inputs[1]!.dimensions) else {
                throw fail("cannot multiply \(x) by \(inputs[1]!)")
            }
            return [try Shape(validating: d, file: file)]
        case .reshape(let to):
            guard to.count == inputs[0]!.count else { throw fail("cannot reshape \(x) to \(to)") }
            return [to]
        case .transpose(let perm):
            return [Shape(perm.map { x[$0] })]
        case .concat(let axis):
            var d = x
            d[axis] = 0
            for s in inputs {
                guard let s, s.rank == x.count else { throw fail("Concat inputs have different ranks") }
                for i in 0..<x.count where i != axis && s[i] != x[i] {
                    throw fail("Concat inputs \(inputs[0]!) and \(s) differ outside axis \(axis)")
                }
                d[axis] += s[axis]
            }
            return [try Shape(validating: d, file: file)]
        case .split(let axis, let sizes):
            return sizes.map { var d = x; d[axis] = $0; return Shape(d) }
        case .slice(let s, let e, let axes, let st):
            var d = x
            for (i, ax) in axes.enumerated() {
                d[ax] = Reshaping.sliceRange(start: s[i], end: e[i], step: st[i], dim: x[ax]).count
            }
            return [try Shape(validating: d, file: file)]
        case .pad(let pads, let mode, _):
            let d = (0..<x.count).map { x[$0] + pads[$0] + pads[$0 + x.count] }
            if mode == .reflect {
                for i in 0..<x.count where pads[i] >= x[i] || pads[i + x.count] >= x[i] {
                    if x[i] > 1 { throw fail("reflect padding \(pads) is not smaller than the input \(x)") }
                }
            }
            return [try make(d)]
        case .reduceMean(let axes, let keep):
            let set = Set(axes)
            return [Shape(keep ? x.indices.map { set.contains($0) ? 1 : x[$0] } : x.indices.filter { !set.contains($0) }.map { x[$0] })]
        case .resize(let h, let w, _, _, _, _, _):
            return [try make([x[0], x[1], h, w])]
        case .softmax:
            return [inputs[0]!]
        }
    }
}
