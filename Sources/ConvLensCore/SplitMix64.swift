import Foundation

/// A small deterministic random number generator (SplitMix64, Steele, Lea & Flood 2014), with
/// normal samples by the Box–Muller transform.
///
/// The same seed gives the same sequence on every platform and in every process: `convlens
/// optimize --seed` draws its noise and transforms from it, and the benchmarks their weights and
/// inputs, without shipping files.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    private var spare: Double?

    /// Starts the sequence at `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform sample in (0, 1] (never 0, so its logarithm is finite).
    mutating func unitInterval() -> Double {
        (Double(next() >> 11) + 1) * 0x1p-53
    }

    /// A standard normal sample (Box–Muller; the second value of each pair is kept for the next call).
    public mutating func normal() -> Double {
        if let s = spare {
            spare = nil
            return s
        }
        let u1 = unitInterval(), u2 = unitInterval()
        let r = (-2 * log(u1)).squareRoot()
        spare = r * sin(2 * .pi * u2)
        return r * cos(2 * .pi * u2)
    }

    /// A tensor of `shape` with independent N(0, `std`²) elements.
    public mutating func normalTensor(_ shape: Shape, std: Double = 1) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.count).map { _ in Float(normal() * std) })
    }
}
