import ConvLensCore
import ConvLensExport
import ConvLensGraph
import Foundation

/// File-name-safe form of a layer name: `/features/features.3/Conv` → `features_features.3_Conv`.
public func fileStem(forLayer name: String) -> String {
    var s = String(name.unicodeScalars.map { c -> Character in
        let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "-" || c == "_"
        return ok ? Character(c) : "_"
    })
    while s.hasPrefix("_") { s.removeFirst() }
    return s.isEmpty ? "layer" : s
}

extension Model {
    /// Starts a manifest for a command run on this model and input.
    public func manifest(command: String, input: ModelInput?, parameters: [String: JSONValue]) throws -> Manifest {
        Manifest(command: command, version: convLensVersion, model: try record(), input: try input?.record(), parameters: parameters)
    }

    /// Writes the activation tensors of the queried layers as `.npy` (NCHW float32, exactly the
    /// forward values) into `directory`, with `manifest.json`.
    /// - Parameters:
    ///   - queries: layer queries (name, tensor name or `#N`), in order.
    ///   - trace: a forward run of this model.
    ///   - directory: the output folder (created if missing).
    /// - Returns: the manifest written.
    /// - Throws: ``ConvLensError`` for unknown layers or unwritable output; nothing is written when
    ///   a query is unknown.
    @discardableResult
    public func writeActivations(_ queries: [String], trace: Trace, input: ModelInput, to directory: String,
                                 parameters: [String: JSONValue]) throws -> Manifest {
        let layers = try queries.map { try graph.layer(matching: $0) }
        try AtomicFile.makeDirectory(directory)
        var manifest = try self.manifest(command: "activations", input: input, parameters: parameters)
        var used: Set<String> = []
        for (layer, query) in zip(layers, queries) {
            var stem = fileStem(forLayer: layer.name)
            if used.contains(stem) { stem += "-\(layer.index)" }
            used.insert(stem)
            let t = trace.activation(layer)
            try NPY.write(t, to: directory + "/\(stem).npy")
            var o = Manifest.Output(kind: "activation")
            o.layer = layer.name
            o.layerQuery = query
            o.npy = "\(stem).npy"
            o.shape = t.shape.dimensions
            let r = t.range
            (o.min, o.max) = (r.min, r.max)
            manifest.outputs.append(o)
        }
        try manifest.write(to: directory)
        return manifest
    }

    /// Writes the top-`k` classes as `manifest.json` outputs of kind `classification`.
    @discardableResult
    public func writeClassification(_ predictions: [Prediction], input: ModelInput, to directory: String,
                                    parameters: [String: JSONValue]) throws -> Manifest {
        try AtomicFile.makeDirectory(directory)
        var manifest = try self.manifest(command: "classify", input: input, parameters: parameters)
        for p in predictions {
            var o = Manifest.Output(kind: "classification")
            o.rank = p.rank
            o.channel = p.index
            o.label = p.label
            o.probability = p.probability
            manifest.outputs.append(o)
        }
        try manifest.write(to: directory)
        return manifest
    }
}
