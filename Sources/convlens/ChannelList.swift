import ConvLens

/// Parses `--channel` lists: `3`, `3,7,12`, `0-15` (inclusive ranges), validated against a layer.
enum ChannelList {
    static func parse(_ text: String, channelCount: Int, layer: String) throws -> [Int] {
        var out: [Int] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard (bounds.count == 1 || bounds.count == 2), bounds.allSatisfy({ $0 != nil }), bounds[0]! <= bounds.last!! else {
                throw ConvLensError(.invalidArgument, file: "--channel", "'\(text)' is not a channel list (use 3, 3,7,12 or 0-15)")
            }
            for c in bounds[0]!...bounds.last!! {
                guard c < channelCount else {
                    throw ConvLensError(.outOfRange, file: "--channel", "channel \(c) is out of range: layer '\(layer)' has channels 0-\(channelCount - 1)")
                }
                out.append(c)
            }
        }
        return out
    }
}
