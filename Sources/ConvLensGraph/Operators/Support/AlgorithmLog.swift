import ConvLensCore
import Foundation

/// Collects the convolution choices and the work of backward passes (thread-safe).
public final class AlgorithmLog: @unchecked Sendable {
    private let lock = NSLock()
    private var used = Set<ConvolutionAlgorithm>()
    private var executed = 0.0, dense = 0.0

    public init() {}

    package func record(_ choice: ConvolutionChoice) {
        lock.lock()
        used.insert(choice.algorithm)
        lock.unlock()
    }

    package func record(flops: Double, denseFlops: Double) {
        lock.lock()
        executed += flops
        dense += denseFlops
        lock.unlock()
    }

    /// Adds another log's algorithms and work to this one.
    public func merge(_ other: AlgorithmLog) {
        let (a, e, d) = (other.algorithms, other.convolutionFlops, other.denseConvolutionFlops)
        lock.lock()
        used.formUnion(a)
        executed += e
        dense += d
        lock.unlock()
    }

    /// Direct-equivalent flops (2 × multiply-adds) of the backward convolutions that ran, on the
    /// receptive-field windows (``Projector/windows``).
    public var convolutionFlops: Double {
        lock.lock()
        defer { lock.unlock() }
        return executed
    }

    /// The same convolutions on whole maps: what a projection without windows computes.
    public var denseConvolutionFlops: Double {
        lock.lock()
        defer { lock.unlock() }
        return dense
    }

    /// The algorithms that ran, sorted.
    public var algorithms: [ConvolutionAlgorithm] {
        lock.lock()
        defer { lock.unlock() }
        return used.sorted { $0.rawValue < $1.rawValue }
    }

    /// What a manifest records: the forced algorithm (`fft`, `gemm`, `direct`), or for `auto`
    /// `auto:` and the algorithms the planner picked joined by `+` (`auto:direct+fft+gemm`);
    /// `auto:none` when no convolution ran.
    public func label(requested: ConvolutionAlgorithm) -> String {
        guard requested == .auto else { return requested.rawValue }
        let a = algorithms
        return "auto:" + (a.isEmpty ? "none" : a.map(\.rawValue).joined(separator: "+"))
    }
}

/// How LRN layers pass the backward signal.
public enum LRNMode: String, Sendable, Hashable, CaseIterable {
    /// The true gradient (default).
    case gradient
    /// The identity (deep-visualization-toolbox's and Zeiler & Fergus's simplification).
    case passthrough
}

