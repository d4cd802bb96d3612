internal import COpenBLAS
internal import CConvLensKernels

/// The one place ConvLens calls OpenBLAS (DESIGN.md §2 "Rules of the house").
enum BLAS {
    /// OpenBLAS runs single-threaded: ConvLens splits work across ``Parallelism/threadCount`` threads
    /// itself (output columns of a convolution, channels, seeds), so the two never oversubscribe the
    /// cores, and small products avoid OpenBLAS's spin-waiting threads.
    ///
    /// OpenBLAS has the widest kernels the CPU runs by then, even where its own detection fell back
    /// to narrower ones (`convlens_openblas_choose_core`; ``MatrixMultiply/kernels``).
    static let configured: Bool = {
        _ = coreChoice
        openblas_set_num_threads(1)
        return true
    }()

    /// OpenBLAS's own core choice and whether ConvLens replaced it (decided when the program was
    /// loaded, by a constructor in `CConvLensKernels`; read here).
    static let coreChoice: (detected: String, changed: Bool) = {
        var name = [CChar](repeating: 0, count: 32)
        let result = convlens_openblas_choose_core(&name, Int32(name.count))
        let detected = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return (detected, result == 1)
    }()

    /// `C = A·B + beta·C` (row-major, no transposes) with the columns of B and C split across threads.
    static func sgemmParallelColumns(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                     b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let parts = Parallelism.chunks(n, minimum: 64)
        if parts.count <= 1 || 2 * m * n * k < Parallelism.serialFlops {
            sgemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let pa = SendableConstPointer(a), pb = SendableConstPointer(b), pc = SendablePointer(c)
        Parallelism.forEach(parts.count) { i in
            let r = parts[i]
            sgemm(m: m, n: r.count, k: k, a: pa.pointer, lda: lda, b: pb.pointer + r.lowerBound, ldb: ldb,
                  beta: beta, c: pc.pointer + r.lowerBound, ldc: ldc)
        }
    }

    /// `C[M×N] = alpha · op(A) · op(B) + beta · C`, all row-major.
    /// - Parameters:
    ///   - transA: use Aᵀ; A is stored `K×M` (lda ≥ M) when true, `M×K` (lda ≥ K) otherwise.
    ///   - transB: use Bᵀ; B is stored `N×K` when true, `K×N` otherwise.
    static func sgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = configured
        guard m > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The number of threads OpenBLAS will use.
    static var threadCount: Int {
        _ = configured
        return Int(openblas_get_num_threads())
    }
}

/// Matrix products on OpenBLAS, exposed for the library's other modules and tests.
public enum MatrixMultiply {
    /// Row-major `C[M×N] = A[M×K] · B[K×N]` (with optional transposes as stored), returned as a new array.
    /// - Complexity: O(M·N·K) on OpenBLAS's `sgemm`.
    public static func multiply(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int,
                                transA: Bool = false, transB: Bool = false) -> [Float] {
        precondition(a.count == m * k && b.count == k * n)
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k,
                               a: pa.baseAddress!, lda: transA ? m : k,
                               b: pb.baseAddress!, ldb: transB ? k : n,
                               c: pc.baseAddress!, ldc: n)
                }
            }
        }
        return c
    }

    /// The number of threads OpenBLAS uses (1: ConvLens parallelizes above it).
    public static var blasThreadCount: Int { BLAS.threadCount }

    /// The name of the OpenBLAS kernel set in use (`SkylakeX`, `Haswell`, `Prescott`, …).
    public static var kernelCore: String {
        _ = BLAS.configured
        return String(cString: openblas_get_corename())
    }

    /// Which OpenBLAS kernels run, e.g. `OpenBLAS 0.3.21 SkylakeX kernels (its detection: Prescott)`.
    ///
    /// OpenBLAS picks its kernels from the CPU model; a release older than the CPU falls back to
    /// SSE3 kernels several times slower than the CPU's AVX-512 or AVX2 ones. ConvLens then
    /// re-initializes it with the widest kernel set the CPU supports, unless `OPENBLAS_CORETYPE`
    /// is set (OpenBLAS's own variable, which always wins). `Docs/Performance.md` has the numbers.
    public static var kernels: String {
        let used = kernelCore
        let version = String(cString: openblas_get_config()).split(separator: " ").prefix(2).joined(separator: " ")
        let choice = BLAS.coreChoice
        return choice.changed ? "\(version) \(used) kernels (its detection: \(choice.detected))" : "\(version) \(used) kernels"
    }
}

extension BLAS {
    /// Complex `C[M×N] = A[M×K] · B[K×N]` (row-major, interleaved `(re, im)` floats, no transposes).
    ///
    /// The FFT convolution's channel mixing: one call per frequency bin.
    static func cgemm(m: Int, n: Int, k: Int, a: UnsafeRawPointer, lda: Int, b: UnsafeRawPointer, ldb: Int,
                      c: UnsafeMutableRawPointer, ldc: Int) {
        _ = configured
        guard m > 0, n > 0 else { return }
        var alpha: (Float, Float) = (1, 0), beta: (Float, Float) = (0, 0)
        withUnsafePointer(to: &alpha) { pa in
            withUnsafePointer(to: &beta) { pb in
                cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                            UnsafeRawPointer(pa), a, Int32(lda), b, Int32(ldb), UnsafeRawPointer(pb), c, Int32(ldc))
            }
        }
    }
}
