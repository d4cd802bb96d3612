public enum LinearAlgebra {
    /// ONNX `Gemm`: `Y = α·op(A)·op(B) + β·C`, with `C` broadcast to `[M, N]`.
    /// - Parameters:
    ///   - a: `[M, K]` (or `[K, M]` with `transA`).
    ///   - b: `[K, N]` (or `[N, K]` with `transB`).
    ///   - c: broadcastable to `[M, N]`, or `nil`.
    /// - Returns: `[M, N]`.
    public static func gemm(_ a: Tensor, _ b: Tensor, _ c: Tensor?, alpha: Float, beta: Float, transA: Bool, transB: Bool) -> Tensor {
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let n = transB ? b.shape[0] : b.shape[1]
        var y = Tensor(shape: [m, n])
        if let c, beta != 0 {
            y = BinaryOperator.add.apply(y, c)
            if beta != 1 { for i in 0..<y.count { y.scalars[i] *= beta } }
        }
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                y.scalars.withUnsafeMutableBufferPointer { py in
                    BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                               a: pa.baseAddress!, lda: transA ? m : k, b: pb.baseAddress!, ldb: transB ? k : n,
                               beta: 1, c: py.baseAddress!, ldc: n)
                }
            }
        }
        return y
    }

    /// The output shape of NumPy `matmul`, or `nil` if the shapes do not multiply.
    public static func matMulShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        guard !a.isEmpty, !b.isEmpty else { return nil }
        let a2 = a.count == 1 ? [1] + a : a, b2 = b.count == 1 ? b + [1] : b
        guard a2[a2.count - 1] == b2[b2.count - 2] else { return nil }
        guard var batch = BinaryOperator.broadcastShape(Array(a2.dropLast(2)), Array(b2.dropLast(2))) else { return nil }
        if a.count > 1 { batch.append(a2[a2.count - 2]) }
        if b.count > 1 { batch.append(b2[b2.count - 1]) }
        return batch
    }

    /// NumPy `matmul` (ONNX `MatMul`) with batch broadcasting.
    /// - Precondition: ``matMulShape(_:_:)`` is not `nil`.
    public static func matMul(_ a: Tensor, _ b: Tensor) -> Tensor {
        let ad = a.shape.dimensions, bd = b.shape.dimensions
        guard let outDims = matMulShape(ad, bd) else { preconditionFailure("matmul \(ad) × \(bd)") }
        let a2 = ad.count == 1 ? [1] + ad : ad, b2 = bd.count == 1 ? bd + [1] : bd
        let m = a2[a2.count - 2], k = a2[a2.count - 1], n = b2[b2.count - 1]
        let batchDims = BinaryOperator.broadcastShape(Array(a2.dropLast(2)), Array(b2.dropLast(2)))!
        let batch = batchDims.reduce(1, *)
        let sa = BinaryOperator.broadcastStrides(Array(a2.dropLast(2)), to: batchDims)
        let sb = BinaryOperator.broadcastStrides(Array(b2.dropLast(2)), to: batchDims)
        var out = Tensor(shape: Shape(outDims))
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                out.scalars.withUnsafeMutableBufferPointer { po in
                    for bi in 0..<batch {
                        var rem = bi, oa = 0, ob = 0
                        for axis in stride(from: batchDims.count - 1, through: 0, by: -1) {
                            let idx = rem % batchDims[axis]
                            rem /= batchDims[axis]
                            oa += idx * sa[axis]; ob += idx * sb[axis]
                        }
                        BLAS.sgemm(m: m, n: n, k: k, a: pa.baseAddress! + oa * m * k, lda: k,
                                   b: pb.baseAddress! + ob * k * n, ldb: n, c: po.baseAddress! + bi * m * n, ldc: n)
                    }
                }
            }
        }
        return out
    }
}
