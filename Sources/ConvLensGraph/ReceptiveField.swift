import ConvLensCore

/// The receptive field of a layer's units in input pixels, per spatial axis (rows, columns).
///
/// Convention (DESIGN.md §1): `center(y) = offset + y·jump` is the input row of the centre of unit
/// `y`'s field, which spans `center ± (size − 1)/2`. Computed along the path with the largest field.
public struct ReceptiveField: Sendable, Hashable, Codable {
    /// Field extent in input pixels `[rows, columns]`.
    public var size: [Double]
    /// Distance in input pixels between neighbouring units `[rows, columns]`.
    public var jump: [Double]
    /// Input coordinate of the centre of unit 0 `[row, column]`.
    public var offset: [Double]

    public init(size: [Double], jump: [Double], offset: [Double]) {
        self.size = size
        self.jump = jump
        self.offset = offset
    }

    /// A single input pixel.
    public static let pixel = ReceptiveField(size: [1, 1], jump: [1, 1], offset: [0, 0])

    /// The input-pixel centre of unit `(y, x)`.
    public func center(y: Int, x: Int) -> (Double, Double) {
        (offset[0] + Double(y) * jump[0], offset[1] + Double(x) * jump[1])
    }

    /// The field after a window of `extent` pixels (dilation included), stride and leading padding.
    func window(extent: [Int], stride: [Int], padBegin: [Int]) -> ReceptiveField {
        var r = self
        for i in 0..<2 {
            r.size[i] = size[i] + Double(extent[i] - 1) * jump[i]
            r.offset[i] = offset[i] + (Double(extent[i] - 1) / 2 - Double(padBegin[i])) * jump[i]
            r.jump[i] = jump[i] * Double(stride[i])
        }
        return r
    }

    /// The field after a window covering the whole `[H, W]` map.
    func global(_ hw: [Int]) -> ReceptiveField {
        window(extent: hw, stride: hw, padBegin: [0, 0])
    }
}

extension Graph {
    /// The receptive field of every computed tensor, by tensor name.
    public func receptiveFields() -> [String: ReceptiveField] {
        var rf: [String: ReceptiveField] = [inputName: .pixel]
        func spatial(_ name: String) -> [Int]? {
            guard let s = shapes[name], s.rank == 4 else { return nil }
            return [s[2], s[3]]
        }
        for node in nodes {
            let ins = node.inputs.filter { rf[$0] != nil }
            // The widest input field (the path with the largest field).
            let base = ins.map { rf[$0]! }.max { $0.size[0] * $0.size[1] < $1.size[0] * $1.size[1] } ?? .pixel
            let first = node.inputs.first ?? ""
            var out = base
            switch node.op {
            case .conv(let g):
                out = base.window(extent: [g.extent(0), g.extent(1)], stride: g.strides, padBegin: [g.pads[0], g.pads[1]])
            case .maxPool(let g), .averagePool(let g, _):
                let ext = (0..<2).map { g.dilations[$0] * (g.kernel[$0] - 1) + 1 }
                out = base.window(extent: ext, stride: g.strides, padBegin: [g.pads[0], g.pads[1]])
            case .convTranspose(let g, _, _):
                for i in 0..<2 {
                    let s = Double(g.strides[i]), ext = Double(g.extent(i))
                    out.size[i] = base.size[i] + ((ext - 1) / s).rounded(.up) * base.jump[i]
                    out.offset[i] = base.offset[i] + (Double(g.pads[i]) - (ext - 1) / 2) / s * base.jump[i]
                    out.jump[i] = base.jump[i] / s
                }
            case .globalAveragePool, .globalMaxPool, .gemm, .matMul, .reduceMean, .softmax, .reshape:
                // Rank-changing or global: every unit sees the whole map of its input.
                if let hw = spatial(first), shapes[node.outputs[0]]?.rank != 4 || node.op == .globalAveragePool || node.op == .globalMaxPool {
                    out = base.global(hw)
                }
            case .resize(let h, let w, _, _, let linear, _, _):
                if let hw = spatial(first) {
                    let scale = [Double(h) / Double(hw[0]), Double(w) / Double(hw[1])]
                    for i in 0..<2 {
                        out.jump[i] = base.jump[i] / scale[i]
                        out.offset[i] = base.offset[i] + (0.5 / scale[i] - 0.5) * base.jump[i]
                        out.size[i] = base.size[i] + (linear ? base.jump[i] : 0)
                    }
                }
            case .slice(let starts, _, let axes, let steps):
                if let hw = spatial(first) {
                    for (k, ax) in axes.enumerated() where ax >= 2 {
                        let i = ax - 2
                        let r = Reshaping.sliceRange(start: starts[k], end: Int.max, step: steps[k], dim: hw[i])
                        out.offset[i] = base.offset[i] + Double(r.first) * base.jump[i]
                        out.jump[i] = base.jump[i] * Double(steps[k])
                    }
                }
            case .pad(let pads, _, _):
                if spatial(first) != nil, pads.count == 8 {
                    for i in 0..<2 { out.offset[i] = base.offset[i] - Double(pads[2 + i]) * base.jump[i] }
                }
            default:
                break
            }
            for o in node.outputs where !o.isEmpty { rf[o] = out }
        }
        return rf
    }
}
