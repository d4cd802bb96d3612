import ConvLensCore

extension Graph {
    /// Finds a layer by a query (DESIGN.md §1 "Layer"): a canonical name, else an output tensor
    /// name, else `#N` (the row in `convlens inspect`). Matching is exact.
    /// - Throws: ``ConvLensError`` with code `unknownLayer` listing the three nearest names.
    public func layer(matching query: String) throws -> Layer {
        if let l = layers.first(where: { $0.name == query }) { return l }
        if let l = layers.first(where: { $0.tensorName == query }) { return l }
        if query.hasPrefix("#"), let n = Int(query.dropFirst()) {
            guard n >= 0 && n < layers.count else {
                throw ConvLensError(.unknownLayer, parameter: "layer", "'\(query)' is out of range: the model has layers #0 to #\(layers.count - 1)")
            }
            return layers[n]
        }
        let nearest = layers.map(\.name).sorted {
            let a = Graph.editDistance($0, query), b = Graph.editDistance($1, query)
            return a != b ? a < b : $0 < $1
        }.prefix(3)
        throw ConvLensError(.unknownLayer, parameter: "layer", "no layer named '\(query)' in \(source); nearest: \(nearest.map { "'\($0)'" }.joined(separator: ", "))")
    }

    /// Levenshtein distance between two strings (by Unicode scalar).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var prev = Array(0...y.count), cur = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            cur[0] = i
            for j in 1...y.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[y.count]
    }
}
