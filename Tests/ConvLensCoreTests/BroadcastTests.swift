import ConvLensCore
import XCTest

/// `BinaryOperator.apply` against a per-element NumPy-rule reference, over shapes whose innermost
/// axis is shared, broadcast on either side, or 1.
final class BroadcastTests: XCTestCase {
    func testBroadcastMatchesPerElementReference() {
        let cases: [([Int], [Int])] = [
            ([2, 3, 4, 5], [2, 3, 4, 5]), ([2, 3, 4, 5], [3, 1, 1]), ([2, 3, 4, 5], [5]), ([1, 3, 4, 1], [2, 1, 1, 6]),
            ([4, 1], [1, 7]), ([3], [2, 3]), ([2, 1, 4], [2, 3, 1]), ([6], []), ([1, 3, 1, 1], [2, 3, 5, 5]),
        ]
        for (sa, sb) in cases {
            let a = Tensor(shape: Shape(sa), scalars: (0..<sa.reduce(1, *)).map { Float($0 % 7) - 2.5 })
            let b = Tensor(shape: Shape(sb), scalars: (0..<sb.reduce(1, *)).map { Float($0 % 5) + 0.5 })
            let dims = BinaryOperator.broadcastShape(sa, sb)!
            let ops: [(BinaryOperator, (Float, Float) -> Float)] = [(.add, +), (.sub, -), (.mul, *), (.div, /)]
            for (op, f) in ops {
                let got = op.apply(a, b)
                XCTAssertEqual(got.shape.dimensions, dims)
                let total = dims.reduce(1, *)
                for flat in 0..<total {
                    var rest = flat
                    var index = [Int](repeating: 0, count: dims.count)
                    for axis in stride(from: dims.count - 1, through: 0, by: -1) { index[axis] = rest % dims[axis]; rest /= dims[axis] }
                    func element(_ t: Tensor, _ shape: [Int]) -> Float {
                        let offset = dims.count - shape.count
                        var k = 0
                        for (axis, n) in shape.enumerated() { k = k * n + (n == 1 ? 0 : index[axis + offset]) }
                        return t.scalars[k]
                    }
                    XCTAssertEqual(got.scalars[flat], f(element(a, sa), element(b, sb)), "\(op) \(sa) \(sb) at \(index)")
                }
            }
        }
    }

    /// `Backward.unbroadcast` (rows summed or added per merged run of axes) equals the per-element
    /// sum into the broadcast target, bit for bit (the same order of additions), for targets that
    /// drop leading axes and keep or collapse any others.
    func testUnbroadcastMatchesPerElementSum() {
        let cases: [([Int], [Int])] = [
            ([3, 4, 5, 6], [1, 4, 1, 1]), ([3, 4, 5, 6], [4, 5, 6]), ([3, 4, 5, 6], [6]), ([3, 4, 5, 6], [3, 1, 5, 1]),
            ([3, 4, 5, 6], [1, 1, 1, 1]), ([3, 4, 5, 6], []), ([2, 1, 5], [1, 1, 5]), ([7, 3], [7, 1]), ([1, 1], [1]),
            ([2, 3, 1, 4], [3, 1, 4]), ([5, 2, 3], [5, 2, 1]),
        ]
        for (sg, st) in cases {
            let g = Tensor(shape: Shape(sg), scalars: (0..<sg.reduce(1, *)).map { Float(($0 * 37) % 101) * 0.013 - 0.6 })
            let got = Backward.unbroadcast(g, to: Shape(st))
            XCTAssertEqual(got.shape.dimensions, st)
            var want = [Float](repeating: 0, count: st.reduce(1, *))
            let padded = [Int](repeating: 1, count: sg.count - st.count) + st
            for flat in 0..<g.scalars.count {
                var rest = flat, k = 0, scale = 1
                for axis in stride(from: sg.count - 1, through: 0, by: -1) {
                    let i = rest % sg[axis]
                    rest /= sg[axis]
                    if padded[axis] != 1 { k += i * scale }
                    scale *= padded[axis]
                }
                want[k] += g.scalars[flat]
            }
            XCTAssertEqual(got.scalars, want, "\(sg) → \(st)")
        }
    }

    /// Step-1 slices (copied as contiguous runs) equal a per-element reference, including boxes
    /// that cover whole trailing axes, one element, and negative or clamped bounds.
    func testStepOneSliceMatchesPerElementReference() {
        let x = Tensor(shape: [3, 4, 5, 6], scalars: (0..<360).map(Float.init))
        let cases: [([Int], [Int], [Int])] = [
            ([1], [3], [1]), ([0, 2], [4, 5], [1, 2]), ([1, 0, 0], [2, 5, 6], [0, 2, 3]), ([2, 3, 4, 5], [3, 4, 5, 6], [0, 1, 2, 3]),
            ([-2], [100], [3]), ([0], [0], [2]), ([0, 0, 0, 0], [3, 4, 5, 6], [0, 1, 2, 3]),
        ]
        for (starts, ends, axes) in cases {
            let got = Reshaping.slice(x, starts: starts, ends: ends, axes: axes, steps: axes.map { _ in 1 })
            var lo = [0, 0, 0, 0], hi = [3, 4, 5, 6]
            for (k, a) in axes.enumerated() {
                let r = Reshaping.sliceRange(start: starts[k], end: ends[k], step: 1, dim: hi[a])
                lo[a] = r.first; hi[a] = r.first + r.count
            }
            var want: [Float] = []
            for i in lo[0]..<max(lo[0], hi[0]) { for j in lo[1]..<max(lo[1], hi[1]) { for k in lo[2]..<max(lo[2], hi[2]) { for l in lo[3]..<max(lo[3], hi[3]) {
                want.append(Float(((i * 4 + j) * 5 + k) * 6 + l))
            } } } }
            XCTAssertEqual(got.shape.dimensions, zip(lo, hi).map { max(0, $1 - $0) }, "\(starts) \(ends) \(axes)")
            XCTAssertEqual(got.scalars, want, "\(starts) \(ends) \(axes)")
        }
    }
}
