/// A set of channels chosen on the command line: `3`, `3,7,12`, `0-15`, mixtures such as
/// `0-3,8`, or every channel (`--all-channels`).
///
/// Parsing checks only the syntax; ``channels(count:layer:)`` checks the indices against a layer's
/// channel count, so one selection can be validated against several layers.
public struct ChannelSelection: Sendable, Hashable, CustomStringConvertible {
    /// The inclusive ranges in the order written; `nil` means every channel.
    public let ranges: [ClosedRange<Int>]?

    /// Every channel of the layer.
    public static let all = ChannelSelection(ranges: nil)

    /// A selection of the given ranges, in order.
    /// - Precondition: every range starts at 0 or later.
    public init(ranges: [ClosedRange<Int>]?) {
        precondition(ranges?.allSatisfy { $0.lowerBound >= 0 } ?? true, "channels are non-negative")
        self.ranges = ranges
    }

    /// Single channels, in order.
    public init(_ channels: [Int]) {
        self.init(ranges: channels.map { $0...$0 })
    }

    /// Parses a comma-separated list of 0-based channels and inclusive ranges (`3`, `3,7,12`,
    /// `0-15`, `0-3,8`); `all` means every channel. Spaces around items are ignored.
    /// - Throws: ``ConvLensError`` with code `invalidArgument` (parameter `channel`) for an empty
    ///   list, a non-number, a negative channel or a reversed range (`7-3`).
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "all" { self = .all; return }
        func bad(_ why: String) -> ConvLensError {
            ConvLensError(.invalidArgument, parameter: "channel", "'\(text)' \(why); expected 0-based channels and ranges such as 3, 3,7,12 or 0-15")
        }
        var ranges: [ClosedRange<Int>] = []
        for item in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let s = item.trimmingCharacters(in: .whitespaces)
            if s.isEmpty { throw bad("has an empty item") }
            if s.hasPrefix("-") { throw bad("has a negative channel") }
            let parts = s.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count <= 2, let lo = Int(parts[0].trimmingCharacters(in: .whitespaces)), lo >= 0 else {
                throw bad("has '\(s)', which is not a channel number or range")
            }
            if parts.count == 1 { ranges.append(lo...lo); continue }
            guard let hi = Int(parts[1].trimmingCharacters(in: .whitespaces)), hi >= 0 else {
                throw bad("has '\(s)', which is not a channel number or range")
            }
            guard lo <= hi else { throw bad("has the reversed range \(s)") }
            ranges.append(lo...hi)
        }
        self.ranges = ranges
    }

    /// The selected channels, in the order written and without repeats, checked against a layer
    /// of `count` channels.
    /// - Parameters:
    ///   - count: the layer's channel count `C`.
    ///   - layer: the layer's name, for the error message.
    /// - Returns: channel indices in `0..<count`.
    /// - Throws: ``ConvLensError`` with code `outOfRange` (parameter `channel`) naming the first
    ///   channel that is not below `count`.
    public func channels(count: Int, layer: String? = nil) throws -> [Int] {
        guard let ranges else { return Array(0..<count) }
        var seen = Set<Int>(), out: [Int] = []
        for r in ranges {
            if r.upperBound >= count {
                let bad = r.lowerBound >= count ? r.lowerBound : count
                let which = layer.map { "layer '\($0)'" } ?? "the layer"
                let has = count == 0 ? "has no channels" : "has \(count) channel\(count == 1 ? "" : "s") (0-\(count - 1))"
                throw ConvLensError(.outOfRange, parameter: "channel", "channel \(bad) is out of range: \(which) \(has)")
            }
            for c in r where seen.insert(c).inserted { out.append(c) }
        }
        return out
    }

    /// The selection as it would be typed: `3,7,12`, `0-15`, or `all`.
    public var description: String {
        guard let ranges else { return "all" }
        return ranges.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")
    }
}
