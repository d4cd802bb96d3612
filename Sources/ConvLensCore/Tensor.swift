/// A dense fp32 tensor in row-major order.
///
/// Activations are NCHW (`[N, C, H, W]`), convolution weights OIHW (`[C_out, C_in/groups, kH, kW]`),
/// as in ONNX. Storage is a Swift array, so copies are cheap until one side is mutated
/// (copy-on-write).
public struct Tensor: Sendable, Equatable {
    /// The dimensions of the tensor.
    public private(set) var shape: Shape
    /// The elements in row-major order; `scalars.count == shape.count` (callers that replace the
    /// array keep the count). A plain stored property: an observer here would make every
    /// `t.scalars[i] = v` copy the whole array.
    public var scalars: [Float]

    /// Creates a tensor from a shape and its elements.
    /// - Precondition: `scalars.count == shape.count`.
    public init(shape: Shape, scalars: [Float]) {
        precondition(scalars.count == shape.count, "\(scalars.count) scalars for shape \(shape)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of `shape` filled with `value`.
    public init(shape: Shape, repeating value: Float = 0) {
        self.shape = shape
        self.scalars = [Float](repeating: value, count: shape.count)
    }

    /// A tensor of `shape` whose elements are written by `body` into uninitialized storage.
    public init(shape: Shape, unsafeUninitialized body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        self.shape = shape
        self.scalars = try [Float](unsafeUninitializedCapacity: shape.count) { buf, n in
            try body(buf)
            n = buf.count
        }
    }

    /// A scalar (rank-0) tensor.
    public init(scalar: Float) { self.init(shape: Shape([]), scalars: [scalar]) }

    /// The number of elements.
    public var count: Int { scalars.count }
    /// The number of dimensions.
    public var rank: Int { shape.rank }

    /// Item `k` along axis 0, as a tensor with that axis of size 1.
    public func item(_ k: Int) -> Tensor {
        let size = count / max(1, shape[0])
        return Tensor(shape: Shape([1] + shape.dimensions.dropFirst()), scalars: Array(scalars[(k * size)..<((k + 1) * size)]))
    }

    /// The same elements viewed with another shape.
    /// - Precondition: `newShape.count == shape.count`.
    public func reshaped(_ newShape: Shape) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// Replaces the shape without touching the elements.
    /// - Precondition: `newShape.count == shape.count`.
    public mutating func reshape(_ newShape: Shape) {
        precondition(newShape.count == shape.count, "cannot reshape \(shape) to \(newShape)")
        shape = newShape
    }

    /// The element at a multi-dimensional index.
    public subscript(index: Int...) -> Float {
        get { scalars[offset(index)] }
        set { scalars[offset(index)] = newValue }
    }

    private func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.rank, "index rank \(index.count) for shape \(shape)")
        var o = 0
        for (i, d) in zip(index, shape.dimensions) {
            precondition(i >= 0 && i < d, "index \(index) out of bounds for shape \(shape)")
            o = o * d + i
        }
        return o
    }

    /// The smallest and largest elements; `(0, 0)` for an empty tensor.
    public var range: (min: Float, max: Float) {
        guard var lo = scalars.first else { return (0, 0) }
        var hi = lo
        for v in scalars {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        return (lo, hi)
    }

    /// The slice `[n, c]` of an NCHW tensor as a `[1, 1, H, W]`-sized array of `H·W` scalars.
    /// - Precondition: rank 4, `n` and `c` in range.
    public func plane(n: Int = 0, c: Int) -> ArraySlice<Float> {
        precondition(rank == 4)
        let hw = shape[2] * shape[3]
        let start = (n * shape[1] + c) * hw
        return scalars[start..<(start + hw)]
    }
}

extension Tensor {
    /// Relative L2 error `‖a − b‖ / max(‖b‖, tiny)` between two tensors of the same shape.
    public static func relativeL2(_ a: Tensor, _ reference: Tensor) -> Double {
        precondition(a.shape == reference.shape, "shape \(a.shape) vs \(reference.shape)")
        var num = 0.0, den = 0.0
        for (x, y) in zip(a.scalars, reference.scalars) {
            let d = Double(x) - Double(y)
            num += d * d
            den += Double(y) * Double(y)
        }
        return (num.squareRoot()) / max(den.squareRoot(), 1e-30)
    }
}
