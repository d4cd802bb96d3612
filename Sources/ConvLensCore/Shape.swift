/// The dimensions of a dense tensor, outermost first (row-major).
///
/// Element counts are computed with overflow checks: a shape whose element count does not fit in
/// ``Shape/maximumElementCount`` is rejected with ``ConvLensError/Code/absurdSize`` instead of
/// trapping or allocating.
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The dimensions, outermost first.
    public var dimensions: [Int]

    /// The largest number of elements ConvLens accepts in one tensor (2^31, 8 GiB of fp32).
    public static let maximumElementCount = 1 << 31

    /// Creates a shape without validation.
    /// - Precondition: every dimension is ≥ 0 and the element count does not overflow.
    public init(_ dimensions: [Int]) {
        precondition(Shape.checkedCount(dimensions) != nil, "invalid shape \(dimensions)")
        self.dimensions = dimensions
    }

    public init(arrayLiteral elements: Int...) { self.init(elements) }

    /// Creates a shape from untrusted dimensions (a file header, a model).
    /// - Throws: ``ConvLensError`` with code `absurdSize` when a dimension is negative or the element
    ///   count exceeds ``maximumElementCount``.
    public init(validating dimensions: [Int], file: String? = nil) throws {
        guard let count = Shape.checkedCount(dimensions) else {
            throw ConvLensError(.absurdSize, file: file, "shape \(dimensions) has a negative dimension or an element count that overflows")
        }
        guard count <= Shape.maximumElementCount else {
            throw ConvLensError(.absurdSize, file: file, "shape \(dimensions) has \(count) elements, more than the limit of \(Shape.maximumElementCount)")
        }
        self.dimensions = dimensions
    }

    /// The product of the dimensions, or `nil` if a dimension is negative or the product overflows.
    public static func checkedCount(_ dims: [Int]) -> Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    /// The number of elements.
    public var count: Int { dimensions.reduce(1, *) }
    /// The number of dimensions.
    public var rank: Int { dimensions.count }
    public subscript(i: Int) -> Int { dimensions[i] }

    /// Row-major strides in elements.
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: dimensions.count)
        var acc = 1
        for i in stride(from: dimensions.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= dimensions[i]
        }
        return s
    }

    public var description: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }
}
