import ConvLensCore

/// The receptive field of a layer's units in input pixels, per spatial axis (rows, columns).
///
/// Convention (DESIGN.md §1): `center(y) = offset + y·jump` is the input row of the centre of unit
/// `y`'s field, which spans `center ± (size − 1)/2`. Computed along the spatial path with the
/// largest field; a field never extends beyond the input plus the padding on its path, nor beyond
/// `2·image − 1` (Docs/Concepts.md "Receptive fields").
///
/// Units that also see the whole input through a branch that is broadcast over the map (a
/// squeeze-excitation gate, a normalization over the map) are marked ``global``; their `size`,
/// `jump` and `offset` describe the local path. Units of a global pooling or a fully connected
/// layer see the whole input: `size` is the image, `offset` its centre.
public struct ReceptiveField: Sendable, Hashable, Codable {
    /// Field extent in input pixels `[rows, columns]`.
    public var size: [Double]
    /// Distance in input pixels between neighbouring units `[rows, columns]`.
    public var jump: [Double]
    /// Input coordinate of the centre of unit 0 `[row, column]`.
    public var offset: [Double]
    /// Whether the unit also depends on the whole input (through global pooling, a broadcast gate
    /// or a normalization over the map).
    public var global: Bool = false
    /// The input-pixel range the field can reach, padding included: `[rowLow, rowHigh, columnLow,
    /// columnHigh]`.
    var bounds: [Double] = [0, 0, 0, 0]
    /// The tensor axes that hold rows and columns; `nil` when the tensor has no spatial axes
    /// (every unit sees the whole input); empty when the map is flattened, whole maps one after
    /// another, into the last axis (GroupNorm exported as `Reshape → InstanceNormalization →
    /// Reshape`), with ``flattenedMap`` its `[H, W]`.
    var axes: [Int]? = nil
    /// The `[H, W]` of a map flattened into the last axis (see ``axes``).
    var flattenedMap: [Int]? = nil
    /// The input image's `[H, W]` (what a whole-input field covers).
    var image: [Double] = [1, 1]

    enum CodingKeys: String, CodingKey { case size, jump, offset, global }

    /// Equality and hashing over what a field says (size, jump, offset, global), as encoded.
    public static func == (a: ReceptiveField, b: ReceptiveField) -> Bool {
        a.size == b.size && a.jump == b.jump && a.offset == b.offset && a.global == b.global
    }

    public func hash(into h: inout Hasher) {
        h.combine(size)
        h.combine(jump)
        h.combine(offset)
        h.combine(global)
    }

    public init(size: [Double], jump: [Double], offset: [Double], global: Bool = false) {
        self.size = size
        self.jump = jump
        self.offset = offset
        self.global = global
        bounds = [0, size[0] - 1, 0, size[1] - 1]
        axes = [2, 3]
        image = size
    }

    /// A single input pixel.
    public static let pixel = ReceptiveField(size: [1, 1], jump: [1, 1], offset: [0, 0])

    /// The field of a graph input's pixels: rows and columns are axes 2 and 3 of an NCHW input,
    /// axes 1 and 2 of an NHWC input (few channels last).
    static func input(_ shape: Shape) -> ReceptiveField {
        var r = ReceptiveField.pixel
        let d = shape.dimensions
        guard d.count == 4 else {
            r.axes = nil
            r.global = true
            return r
        }
        let nhwc = d[1] > 4 && d[3] <= 4
        r.axes = nhwc ? [1, 2] : [2, 3]
        let (h, w) = nhwc ? (d[1], d[2]) : (d[2], d[3])
        r.bounds = [0, Double(h - 1), 0, Double(w - 1)]
        r.image = [Double(h), Double(w)]
        return r
    }

    /// The input-pixel centre of unit `(y, x)`.
    public func center(y: Int, x: Int) -> (Double, Double) {
        (offset[0] + Double(y) * jump[0], offset[1] + Double(x) * jump[1])
    }

    /// Whether every unit sees the whole input (no spatial axes).
    var isWholeInput: Bool { axes == nil }

    /// The field after a window of `extent` pixels (dilation included), stride and padding; the
    /// size never exceeds the reachable range.
    func window(extent: [Int], stride: [Int], padBegin: [Int], padEnd: [Int]) -> ReceptiveField {
        guard let axes, !axes.isEmpty else { return wholeInput() }
        // Sliding windows run over the NCHW map axes.
        var r = moved(to: [2, 3])
        for i in 0..<2 {
            r.bounds[2 * i] = bounds[2 * i] - Double(padBegin[i]) * jump[i]
            r.bounds[2 * i + 1] = bounds[2 * i + 1] + Double(padEnd[i]) * jump[i]
            r.size[i] = min(size[i] + Double(extent[i] - 1) * jump[i], r.limit(i))
            r.offset[i] = offset[i] + (Double(extent[i] - 1) / 2 - Double(padBegin[i])) * jump[i]
            r.jump[i] = jump[i] * Double(stride[i])
        }
        return r
    }

    /// The largest useful size along axis `i`: the reachable (padded) range, and never more than
    /// `2·image − 1`, the box centred anywhere in the image that covers all of it (a larger field
    /// only adds padding).
    func limit(_ i: Int) -> Double {
        min(bounds[2 * i + 1] - bounds[2 * i] + 1, 2 * image[i] - 1)
    }

    /// The tensor axes holding the map's rows and columns (`[2, 3]` for NCHW layers, `[1, 2]` inside
    /// a channels-last block); `nil` when every unit sees the whole input or the map is flattened.
    public var mapAxes: [Int]? { axes.flatMap { $0.isEmpty ? nil : $0 } }

    /// Every unit sees the whole input image (global pooling, fully connected layers): padding
    /// adds nothing there, so the field is the image itself.
    func wholeInput() -> ReceptiveField {
        var r = self
        for i in 0..<2 {
            r.size[i] = image[i]
            r.jump[i] = image[i]
            r.offset[i] = (image[i] - 1) / 2
        }
        r.axes = nil
        r.global = true
        return r
    }

    /// The same field on a tensor whose spatial axes are `axes`.
    func moved(to axes: [Int]) -> ReceptiveField {
        guard !isWholeInput else { return self }
        var r = self
        r.axes = axes
        return r
    }

    /// Whether any of `tensorAxes` (of a tensor of rank `rank`) holds map positions.
    func mapIntersects(_ tensorAxes: [Int], rank: Int) -> Bool {
        guard let axes else { return false }
        if axes.isEmpty { return tensorAxes.contains(rank - 1) }
        return axes.contains(where: tensorAxes.contains)
    }

    /// Marks the field as also depending on the whole input.
    func withGlobalContext() -> ReceptiveField {
        var r = self
        r.global = true
        return r
    }

    /// The field of an elementwise combination of inputs (NumPy broadcasting, concatenation): the
    /// spatial grid comes from the inputs whose maps have the output's size, the largest of them;
    /// inputs broadcast over the map (a squeeze-excitation gate) add global context.
    static func merge(_ fields: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        let out = context.outputShapes.first?.dimensions ?? []
        var best: ReceptiveField?
        var global = false
        for (i, f) in fields.enumerated() {
            guard let f else { continue }
            global = global || f.global
            guard let axes = f.axes, let s = context.inputShapes[i]?.dimensions else { global = true; continue }
            let align = out.count - s.count
            let matches = align >= 0 && axes.allSatisfy { $0 + align < out.count && s[$0] == out[$0 + align] }
            if matches {
                let aligned = f.moved(to: axes.map { $0 + align })
                if best == nil || aligned.size[0] * aligned.size[1] > best!.size[0] * best!.size[1] { best = aligned }
            } else {
                global = true
            }
        }
        guard var r = best else {
            // No input keeps a map of the output's size: every unit sees everything.
            let any = fields.compactMap { $0 }.first ?? context.inputField
            return any.wholeInput()
        }
        r.global = r.global || global
        return r
    }

    /// The field after a reshape from `input` to `output` dimensions: the map survives when its two
    /// axes appear, adjacent and unchanged, after the same number of leading elements; a map in the
    /// last two axes may be flattened into the last axis (whole maps one after another) and
    /// restored by a later reshape.
    func reshaped(from input: [Int], to output: [Int]) -> ReceptiveField {
        guard let axes else { return self }
        if axes.isEmpty, let hw = flattenedMap, hw[0] * hw[1] > 0 {
            let r = output.count
            if r >= 2, output[r - 2] == hw[0], output[r - 1] == hw[1], let last = input.last, last % (hw[0] * hw[1]) == 0 {
                var f = moved(to: [r - 2, r - 1])
                f.flattenedMap = nil
                return f
            }
            if let last = output.last, last % (hw[0] * hw[1]) == 0 { return self }
            return wholeInput()
        }
        guard axes.count == 2, axes[1] == axes[0] + 1, axes[1] < input.count, input[axes[0]] * input[axes[1]] > 0 else { return wholeInput() }
        let lead = input[..<axes[0]].reduce(1, *)
        var prefix = 1
        for p in 0..<max(0, output.count - 1) {
            if prefix == lead && output[p] == input[axes[0]] && output[p + 1] == input[axes[1]] { return moved(to: [p, p + 1]) }
            prefix *= output[p]
            if prefix > lead { break }
        }
        let hw = input[axes[0]] * input[axes[1]]
        if axes[1] == input.count - 1, let last = output.last, last % hw == 0 {
            var f = self
            f.axes = []
            f.flattenedMap = [input[axes[0]], input[axes[1]]]
            return f
        }
        return wholeInput()
    }
}

/// What an operator's receptive-field rule reads.
package struct FieldContext {
    /// The shapes of the node's inputs (`nil` when unknown).
    package let inputShapes: [Shape?]
    /// The shapes of the node's outputs.
    package let outputShapes: [Shape]
    /// The field of the graph input's pixels.
    let inputField: ReceptiveField

    /// The field of input 0, or of the input's pixels when input 0 is a constant.
    func first(_ fields: [ReceptiveField?]) -> ReceptiveField { fields.first.flatMap { $0 } ?? inputField }

    /// The `[H, W]` map of input `index` along the spatial axes of `field`.
    func map(_ index: Int, _ field: ReceptiveField) -> [Int]? {
        guard let axes = field.axes, index < inputShapes.count, let s = inputShapes[index], axes.allSatisfy({ $0 < s.rank }) else { return nil }
        return axes.map { s[$0] }
    }
}

extension Graph {
    /// The receptive field of every computed tensor, by tensor name.
    public func receptiveFields() -> [String: ReceptiveField] {
        let inputField = ReceptiveField.input(inputShape)
        var rf: [String: ReceptiveField] = [inputName: inputField]
        for node in nodes {
            let fields = node.inputs.map { rf[$0] }
            let context = FieldContext(inputShapes: node.inputs.map { shapes[$0] ?? initializers[$0]?.shape },
                                       outputShapes: node.outputs.map { shapes[$0] ?? Shape([]) }, inputField: inputField)
            let out = node.op.receptiveField(fields, context)
            for o in node.outputs where !o.isEmpty { rf[o] = out }
        }
        return rf
    }
}
