import Foundation

/// How many threads ConvLens's own kernels and the C libraries may use.
public enum Parallelism {
    /// The number of worker threads: `CONVLENS_THREADS` if set to a positive integer, otherwise the
    /// number of active processors. OpenBLAS and FFTW are configured with the same number so they
    /// never oversubscribe the cores.
    public static let threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["CONVLENS_THREADS"], let n = Int(s), n > 0 {
            return n
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()
}

/// A raw pointer that may cross into concurrent work items that write disjoint parts of it.
package struct SendablePointer<T>: @unchecked Sendable {
    package let pointer: UnsafeMutablePointer<T>
    package init(_ p: UnsafeMutablePointer<T>) { pointer = p }
}

/// A read-only raw pointer for concurrent work items.
package struct SendableConstPointer<T>: @unchecked Sendable {
    package let pointer: UnsafePointer<T>
    package init(_ p: UnsafePointer<T>) { pointer = p }
}

extension Parallelism {
    /// Runs `body(i)` for `i` in `0..<count`, spread over ``threadCount`` threads (inline when
    /// there is one thread or one item). Items must write disjoint memory.
    package static func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        if threadCount == 1 || count <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }

    /// Floating-point operations below which a convolution runs on the calling thread: waking the
    /// other threads costs tens of microseconds, as long as a few million operations take on one
    /// core. MobileNetV2's forward pass at batch 1 is mostly such small convolutions; spreading
    /// each over 2 threads made it slower than on one (17.7 ms against 12.9).
    package static let serialFlops = 4_000_000

    /// ``forEach(_:_:)`` for a kernel of `flops` floating-point operations in all: inline below
    /// ``serialFlops``.
    package static func forEach(_ count: Int, flops: Int, _ body: @Sendable (Int) -> Void) {
        if flops < serialFlops {
            for i in 0..<count { body(i) }
            return
        }
        forEach(count, body)
    }

    /// Splits `0..<total` into about `threadCount` contiguous chunks.
    package static func chunks(_ total: Int, minimum: Int = 1) -> [Range<Int>] {
        let parts = max(1, min(threadCount, total / max(1, minimum)))
        let size = (total + parts - 1) / parts
        return stride(from: 0, to: total, by: max(1, size)).map { $0..<min(total, $0 + size) }
    }
}
