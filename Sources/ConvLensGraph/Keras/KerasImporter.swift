import ConvLensCore
import Foundation

extension Graph {
    /// The Keras layer classes ConvLens imports.
    public static let supportedKerasLayers: [String] = [
        "Activation", "Add", "AveragePooling2D", "BatchNormalization", "Concatenate", "Conv2D", "Dense",
        "DepthwiseConv2D", "Dropout", "Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "InputLayer",
        "LeakyReLU", "MaxPooling2D", "Multiply", "Normalization", "ReLU", "Rescaling", "Reshape",
        "SeparableConv2D", "Softmax", "Subtract", "ZeroPadding2D",
    ]

    /// Whether a path names a Keras model file (`.h5`, `.hdf5`, `.keras`), by extension.
    public static func isKerasFile(_ path: String) -> Bool {
        let l = path.lowercased()
        return l.hasSuffix(".h5") || l.hasSuffix(".hdf5") || l.hasSuffix(".keras")
    }

    /// Imports a Keras model: a Keras 2 or Keras 3 (legacy) `.h5` file, or a Keras 3 `.keras` zip.
    ///
    /// The graph is NCHW like an ONNX model's: an input of Keras shape `[None, H, W, C]` becomes
    /// `[1, C, H, W]`, kernels are converted from HWIO to OIHW, and every 4-D layer output is NCHW.
    /// Layers are named by their Keras names; a layer with a fused activation yields
    /// `<name>/preactivation` and `<name>`. Leading Rescaling / Normalization layers become the
    /// model's preprocessing (`convlens.scale`, `convlens.mean`, `convlens.std` metadata).
    /// - Throws: ``ConvLensError`` naming the file: unreadable or truncated file, missing
    ///   `config.json` or weights, an unsupported layer (named), a weight whose shape disagrees
    ///   with the layer's configuration.
    public static func load(keras path: String) throws -> Graph {
        let source = try KerasSource(path: path)
        var builder = KerasGraphBuilder(source: source)
        return try builder.build()
    }
}

/// The configuration and weights of a Keras file, whatever its container.
struct KerasSource {
    let file: String
    let config: [String: Any]
    /// 2 or 3.
    let kerasMajor: Int
    /// Weights by layer name, then by weight name (`kernel`, `bias`, `gamma`, …).
    let weights: [String: [String: Tensor]]

    init(path: String) throws {
        file = path
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConvLensError(.unreadableFile, file: path, "cannot open the file for reading")
        }
        if path.lowercased().hasSuffix(".keras") {
            let zip: ZipArchive
            do { zip = try ZipArchive(path: path) } catch let e as ConvLensError {
                throw ConvLensError(e.code, file: path, "not a Keras 3 .keras archive: \(e.detail)")
            }
            guard zip.contains("config.json") else {
                throw ConvLensError(.malformedFile, file: path, "not a Keras 3 .keras archive: it has no config.json")
            }
            config = try KerasSource.parse(try zip.read("config.json"), path, "config.json")
            kerasMajor = 3
            guard zip.contains("model.weights.h5") else {
                throw ConvLensError(.malformedFile, file: path, "the .keras archive has no model.weights.h5")
            }
            let h5 = try HDF5File(image: try zip.read("model.weights.h5"), source: path + "!model.weights.h5", roots: HDF5File.kerasRoots)
            weights = try KerasSource.kerasV3Weights(h5, config: config)
        } else {
            let h5 = try HDF5File(path: path, roots: HDF5File.kerasRoots)
            guard let text = try h5.stringAttribute("model_config") else {
                throw ConvLensError(.malformedFile, file: path, "the HDF5 file has no 'model_config' attribute (a weights-only file?); save the whole model")
            }
            config = try KerasSource.parse(Data(text.utf8), path, "model_config")
            let version = try h5.stringAttribute("keras_version") ?? "2"
            kerasMajor = version.hasPrefix("3") ? 3 : 2
            guard h5.kind("/model_weights") == .group else {
                throw ConvLensError(.malformedFile, file: path, "the HDF5 file has no 'model_weights' group")
            }
            weights = try KerasSource.legacyWeights(h5)
        }
    }

    static func parse(_ data: Data, _ file: String, _ what: String) throws -> [String: Any] {
        guard let o = try? JSONSerialization.jsonObject(with: data), let d = o as? [String: Any] else {
            throw ConvLensError(.malformedFile, file: file, "\(what) is not a JSON object")
        }
        return d
    }

    /// `model_weights/<layer>/…/<weight>[:0]` (Keras 2, and Keras 3's legacy writer one level deeper).
    static func legacyWeights(_ h5: HDF5File) throws -> [String: [String: Tensor]] {
        var out: [String: [String: Tensor]] = [:]
        for layer in try h5.members("/model_weights") {
            var w: [String: Tensor] = [:]
            func walk(_ path: String, depth: Int) throws {
                guard depth < 6 else { return }
                for m in try h5.members(path) {
                    let p = path + "/" + m
                    switch h5.kind(p) {
                    case .group?: try walk(p, depth: depth + 1)
                    case .dataset?:
                        var name = m
                        if let colon = name.lastIndex(of: ":") { name = String(name[..<colon]) }
                        w[name] = try h5.floatDataset(p)
                    case .unreadable?: try h5.check(p)
                    default: break
                    }
                }
            }
            try h5.check("/model_weights/" + layer)
            if h5.kind("/model_weights/" + layer) == .group { try walk("/model_weights/" + layer, depth: 0) }
            out[layer] = w
        }
        return out
    }

    /// `layers/<path>/vars/0..n` in a `.keras` archive's `model.weights.h5`, named by class.
    static func kerasV3Weights(_ h5: HDF5File, config: [String: Any]) throws -> [String: [String: Tensor]] {
        // Layer configs by name, to know each layer's class and options.
        var classes: [String: (String, [String: Any])] = [:]
        if let c = config["config"] as? [String: Any], let layers = c["layers"] as? [[String: Any]] {
            for l in layers {
                let cfg = l["config"] as? [String: Any] ?? [:]
                if let name = (l["name"] as? String) ?? (cfg["name"] as? String) {
                    classes[name] = (l["class_name"] as? String ?? "", cfg)
                }
            }
        }
        var out: [String: [String: Tensor]] = [:]
        guard h5.kind("/layers") == .group else { return out }
        for member in try h5.members("/layers") {
            let vars = "/layers/\(member)/vars"
            try h5.check("/layers/\(member)")
            try h5.check(vars)
            guard h5.kind(vars) == .group else { continue }
            let layerName = try h5.stringAttribute("name", of: vars) ?? member
            let indices = try h5.members(vars).compactMap { Int($0) }.sorted()
            guard !indices.isEmpty else { continue }
            let tensors = try indices.map { try h5.floatDataset("\(vars)/\($0)") }
            guard let (cls, cfg) = classes[layerName] else { continue }
            let names = variableNames(cls, cfg)
            var w: [String: Tensor] = [:]
            for (i, t) in tensors.enumerated() {
                w[i < names.count ? names[i] : "var\(i)"] = t
            }
            out[layerName] = w
        }
        return out
    }

    /// The order in which Keras 3 layers create their variables.
    static func variableNames(_ cls: String, _ cfg: [String: Any]) -> [String] {
        switch cls {
        case "Conv2D", "Dense", "DepthwiseConv2D": return ["kernel", "bias"]
        case "SeparableConv2D": return ["depthwise_kernel", "pointwise_kernel", "bias"]
        case "BatchNormalization":
            var n: [String] = []
            if cfg["scale"] as? Bool ?? true { n.append("gamma") }
            if cfg["center"] as? Bool ?? true { n.append("beta") }
            return n + ["moving_mean", "moving_variance"]
        case "Normalization": return ["mean", "variance", "count"]
        default: return []
        }
    }
}

/// One Keras tensor as it lives in the graph: its tensor name and whether it is a 4-D image
/// tensor (NHWC in Keras, NCHW in the graph).
private struct KTensor {
    let name: String
    let rank: Int
}

/// Turns a Keras model configuration and its weights into the NCHW graph IR.
struct KerasGraphBuilder {
    let source: KerasSource
    var file: String { source.file }
    var nodes: [Node] = []
    var initializers: [String: Tensor] = [:]
    var shapes: [String: Shape] = [:]
    var used: Set<String> = []
    private var tensors: [String: KTensor] = [:]
    var metadata: [String: String] = [:]
    /// Per-channel affine map from raw pixels to the current graph input (folded preprocessing).
    var preA: [Float] = []
    var preB: [Float] = []
    var foldable: Set<String> = []
    var inputName = ""
    var inputShape = Shape([])

    init(source: KerasSource) { self.source = source }

    func fail(_ code: ConvLensError.Code, _ detail: String) -> ConvLensError {
        ConvLensError(code, file: file, detail)
    }

    func fail(_ detail: String) -> ConvLensError { fail(.malformedFile, detail) }

    struct Layer {
        let name: String
        let cls: String
        let cfg: [String: Any]
        var inbound: [String]
    }

    mutating func build() throws -> Graph {
        let top = source.config
        let cls = top["class_name"] as? String ?? ""
        guard let cfg = top["config"] as? [String: Any], let raw = cfg["layers"] as? [[String: Any]] else {
            throw fail("the model configuration has no layer list (class '\(cls)')")
        }
        var layers: [Layer] = []
        for (i, l) in raw.enumerated() {
            let c = l["config"] as? [String: Any] ?? [:]
            guard let lc = l["class_name"] as? String,
                  let name = (l["name"] as? String) ?? (c["name"] as? String) else {
                throw fail("layer \(i) of the configuration has no class_name or name")
            }
            layers.append(Layer(name: name, cls: lc, cfg: c, inbound: []))
        }
        guard !layers.isEmpty else { throw fail("the model has no layers") }
        var outputs: [String]
        if cls == "Sequential" {
            // Sequential: a chain; the input comes from an InputLayer or the first layer's shape.
            if layers[0].cls != "InputLayer" {
                let shape = layers[0].cfg["batch_input_shape"] ?? layers[0].cfg["batch_shape"] ?? cfg["build_input_shape"]
                guard let shape else { throw fail(.unsupportedFeature, "the Sequential model has no input shape") }
                layers.insert(Layer(name: "input", cls: "InputLayer", cfg: ["batch_shape": shape], inbound: []), at: 0)
            }
            for i in 1..<layers.count { layers[i].inbound = [layers[i - 1].name] }
            outputs = [layers.last!.name]
        } else if cls == "Functional" || cls == "Model" {
            for i in layers.indices {
                let nodesCfg = raw[i < raw.count ? i : 0]["inbound_nodes"] as? [Any] ?? []
                guard nodesCfg.count <= 1 else {
                    throw fail(.unsupportedFeature, "layer '\(layers[i].name)' is called \(nodesCfg.count) times (shared layers are not supported)")
                }
                layers[i].inbound = nodesCfg.first.map(KerasGraphBuilder.historyNames) ?? []
            }
            outputs = KerasGraphBuilder.layerRefs(cfg["output_layers"])
            if outputs.isEmpty { outputs = [layers.last!.name] }
        } else {
            throw fail(.unsupportedFeature, "the model class '\(cls)' is not supported; ConvLens reads Sequential and functional models")
        }
        // Consumers, for folding leading preprocessing layers.
        var consumers: [String: Int] = [:]
        for l in layers { for i in l.inbound { consumers[i, default: 0] += 1 } }

        let inputs = layers.filter { $0.cls == "InputLayer" }
        guard inputs.count == 1 else {
            throw fail(.unsupportedFeature, "the model has \(inputs.count) inputs; ConvLens needs exactly one")
        }
        // Topological order (the configuration lists layers in creation order).
        var pending = layers
        var progressed = true
        while !pending.isEmpty && progressed {
            progressed = false
            var rest: [Layer] = []
            for l in pending {
                if l.cls == "InputLayer" || l.inbound.allSatisfy({ tensors[$0] != nil }) {
                    if l.cls != "InputLayer" && l.inbound.isEmpty {
                        throw fail("layer '\(l.name)' (\(l.cls)) has no input")
                    }
                    try add(l, foldOK: l.inbound.count == 1 && foldable.contains(l.inbound[0]) && consumers[l.inbound[0]] == 1)
                    progressed = true
                } else {
                    rest.append(l)
                }
            }
            pending = rest
        }
        if let l = pending.first {
            let missing = l.inbound.first { tensors[$0] == nil } ?? "?"
            throw fail("layer '\(l.name)' reads '\(missing)', which no layer produces")
        }
        var outNames: [String] = []
        for o in outputs {
            guard let t = tensors[o] else { throw fail("the model output '\(o)' is not a layer") }
            outNames.append(t.name)
        }
        if !preA.isEmpty && preA.allSatisfy({ $0 > 0 }) && !(preA.allSatisfy { $0 == 1 } && preB.allSatisfy { $0 == 0 }) {
            // raw pixel p ↦ a_c·p + b_c  ==  (p / S − mean_c) / std_c with S = 1/a_0.
            let a0 = preA[0]
            let std = preA.map { a0 / $0 }
            let mean = zip(preB, std).map { -$0 * $1 }
            metadata["convlens.scale"] = fmt([1 / a0])
            metadata["convlens.mean"] = fmt(mean)
            metadata["convlens.std"] = fmt(std)
        }
        metadata["convlens.source_format"] = "keras\(source.kerasMajor)"
        return Graph(inputName: inputName, inputShape: inputShape, nodes: nodes, initializers: initializers,
                     shapes: shapes, outputNames: outNames, metadata: metadata, opsetVersion: 13, source: file)
    }

    private func fmt(_ v: [Float]) -> String { v.map { "\($0)" }.joined(separator: ",") }

    /// Layer names referenced by a Keras 2 or Keras 3 inbound-node entry.
    static func historyNames(_ node: Any) -> [String] {
        var names: [String] = []
        func visit(_ v: Any) {
            if let d = v as? [String: Any] {
                if let h = d["keras_history"] as? [Any], let n = h.first as? String { names.append(n); return }
                for (_, x) in d.sorted(by: { $0.key < $1.key }) where true { if let _ = x as? [String: Any] { visit(x) } else if x is [Any] { visit(x) } }
            } else if let a = v as? [Any] {
                // Keras 2: [name, node_index, tensor_index, kwargs].
                if a.count >= 3, let n = a[0] as? String, a[1] is NSNumber { names.append(n); return }
                for x in a { visit(x) }
            }
        }
        if let d = node as? [String: Any] { visit(d["args"] ?? []) } else { visit(node) }
        return names
    }

    /// `input_layers` / `output_layers`: `[name, 0, 0]` or a list of them.
    static func layerRefs(_ v: Any?) -> [String] {
        guard let a = v as? [Any] else { return [] }
        if let n = a.first as? String { return [n] }
        return a.compactMap { ($0 as? [Any])?.first as? String }
    }

    // MARK: - Emitting nodes

    private mutating func unique(_ name: String) -> String {
        var n = name
        var k = 1
        while used.contains(n) { n = "\(name)_\(k)"; k += 1 }
        used.insert(n)
        return n
    }

    private mutating func constant(_ name: String, _ t: Tensor) -> String {
        let n = unique(name)
        initializers[n] = t
        shapes[n] = nil
        return n
    }

    /// Appends one node whose single output tensor has the node's name.
    @discardableResult
    private mutating func emit(_ name: String, _ opType: String, _ op: any Operator, _ inputs: [String], layer: String) throws -> String {
        let n = unique(name)
        let inShapes = inputs.map { shapes[$0] ?? initializers[$0]?.shape }
        let out = try op.outputShapes(inShapes, ShapeCheck(file: file, context: "layer '\(layer)' (\(opType))"))
        shapes[n] = out[0]
        nodes.append(Node(name: n, opType: opType, op: op, inputs: inputs, outputs: [n], origin: layer))
        return n
    }

    private func dims(_ t: String) -> [Int] { shapes[t]?.dimensions ?? [] }

    // MARK: - Configuration values

    private func ints(_ cfg: [String: Any], _ key: String, _ count: Int, default d: [Int]?, _ l: Layer) throws -> [Int] {
        let v = cfg[key]
        if v == nil || v is NSNull, let d { return d }
        if let n = v as? Int { return [Int](repeating: n, count: count) }
        if let a = v as? [Any], a.count == count, a.allSatisfy({ $0 is Int }) { return a.map { $0 as! Int } }
        throw fail("layer '\(l.name)' (\(l.cls)): '\(key)' = \(String(describing: v ?? "nil")) is not \(count) integers")
    }

    private func floats(_ v: Any?) -> [Float]? {
        if let n = v as? NSNumber { return [n.floatValue] }
        if let a = v as? [Any] {
            var out: [Float] = []
            for x in a { guard let f = floats(x) else { return nil }; out += f }
            return out
        }
        return nil
    }

    private func checkChannelsLast(_ l: Layer) throws {
        if let f = l.cfg["data_format"] as? String, f != "channels_last" {
            throw fail(.unsupportedFeature, "layer '\(l.name)' (\(l.cls)) uses data_format '\(f)'; ConvLens reads channels_last Keras models")
        }
    }

    private func weight(_ l: Layer, _ names: [String], shape: [Int]?) throws -> Tensor {
        let w = source.weights[l.name] ?? [:]
        guard let t = names.lazy.compactMap({ w[$0] }).first else {
            throw fail("layer '\(l.name)' (\(l.cls)) has no '\(names[0])' weight in the file")
        }
        if let shape, t.shape.dimensions != shape {
            throw fail(.shapeMismatch, "layer '\(l.name)' (\(l.cls)): weight '\(names[0])' has shape \(t.shape.dimensions); the configuration implies \(shape)")
        }
        return t
    }

    private func optionalWeight(_ l: Layer, _ name: String, shape: [Int]) throws -> Tensor? {
        guard source.weights[l.name]?[name] != nil else { return nil }
        return try weight(l, [name], shape: shape)
    }

    /// TensorFlow's 'same' padding `[top, left, bottom, right]`.
    private func samePads(_ size: [Int], kernel: [Int], strides: [Int], dilations: [Int]) -> [Int] {
        var begin = [0, 0], end = [0, 0]
        for i in 0..<2 {
            let out = (size[i] + strides[i] - 1) / strides[i]
            let extent = dilations[i] * (kernel[i] - 1) + 1
            let total = max((out - 1) * strides[i] + extent - size[i], 0)
            begin[i] = total / 2
            end[i] = total - begin[i]
        }
        return [begin[0], begin[1], end[0], end[1]]
    }

    private func pads(_ l: Layer, _ x: [Int], kernel: [Int], strides: [Int], dilations: [Int]) throws -> [Int] {
        switch (l.cfg["padding"] as? String ?? "valid").lowercased() {
        case "valid": return [0, 0, 0, 0]
        case "same": return samePads([x[2], x[3]], kernel: kernel, strides: strides, dilations: dilations)
        case let p: throw fail(.unsupportedFeature, "layer '\(l.name)' (\(l.cls)): padding '\(p)' is not supported")
        }
    }

    // MARK: - Layers

    private mutating func add(_ l: Layer, foldOK: Bool) throws {
        let ctx = "layer '\(l.name)' (\(l.cls))"
        if l.cls == "InputLayer" {
            let s = (l.cfg["batch_shape"] ?? l.cfg["batch_input_shape"]) as? [Any] ?? []
            let d = s.dropFirst().map { $0 as? Int ?? -1 }
            guard d.allSatisfy({ $0 > 0 }), d.count == 3 || d.count == 1 else {
                throw fail(.unsupportedFeature, "\(ctx): input shape \(s) is not a fixed [H, W, C] image or [F] vector")
            }
            inputName = unique(l.name)
            inputShape = try Shape(validating: d.count == 3 ? [1, d[2], d[0], d[1]] : [1, d[0]], file: file)
            shapes[inputName] = inputShape
            tensors[l.name] = KTensor(name: inputName, rank: d.count + 1)
            if d.count == 3 {
                preA = [Float](repeating: 1, count: d[2])
                preB = [Float](repeating: 0, count: d[2])
                foldable.insert(l.name)
            }
            return
        }
        let ins = l.inbound.map { tensors[$0]! }
        let x = ins[0]
        let xd = dims(x.name)
        func out(_ name: String, rank: Int? = nil) { tensors[l.name] = KTensor(name: name, rank: rank ?? x.rank) }
        func need4D() throws {
            guard x.rank == 4 else { throw fail(.unsupportedFeature, "\(ctx) needs a 4-D image input, got shape \(xd)") }
            try checkChannelsLast(l)
        }
        let activation = (l.cfg["activation"]).flatMap(KerasGraphBuilder.activationName) ?? "linear"
        let fused = activation != "linear"
        let baseName = fused ? "\(l.name)/preactivation" : l.name

        switch l.cls {
        case "Conv2D", "DepthwiseConv2D", "SeparableConv2D":
            try need4D()
            let k = try ints(l.cfg, "kernel_size", 2, default: nil, l)
            let s = try ints(l.cfg, "strides", 2, default: [1, 1], l)
            let dil = try ints(l.cfg, "dilation_rate", 2, default: [1, 1], l)
            let p = try pads(l, xd, kernel: k, strides: s, dilations: dil)
            let useBias = l.cfg["use_bias"] as? Bool ?? true
            let cin = xd[1]
            var y: String
            if l.cls == "Conv2D" {
                let groups = l.cfg["groups"] as? Int ?? 1
                guard let filters = l.cfg["filters"] as? Int, filters > 0, groups > 0, cin % groups == 0, filters % groups == 0 else {
                    throw fail("\(ctx): filters/groups \(String(describing: l.cfg["filters"]))/\(groups) do not fit \(cin) input channels")
                }
                let w = try weight(l, ["kernel"], shape: [k[0], k[1], cin / groups, filters])
                let wn = constant("\(l.name)/kernel", Reshaping.transpose(w, perm: [3, 2, 0, 1]))
                var inputs = [x.name, wn]
                if useBias { inputs.append(constant("\(l.name)/bias", try weight(l, ["bias"], shape: [filters]))) }
                y = try emit(baseName, "Conv", Conv(Conv2DGeometry(kernel: k, strides: s, pads: p, dilations: dil, groups: groups)), inputs, layer: l.name)
            } else {
                let mult = l.cfg["depth_multiplier"] as? Int ?? 1
                guard mult > 0 else { throw fail("\(ctx): depth_multiplier \(mult) must be positive") }
                let dwNames = l.cls == "DepthwiseConv2D" ? ["kernel", "depthwise_kernel"] : ["depthwise_kernel"]
                let w = try weight(l, dwNames, shape: [k[0], k[1], cin, mult])
                let oihw = Reshaping.transpose(w, perm: [2, 3, 0, 1]).reshaped(Shape([cin * mult, 1, k[0], k[1]]))
                let wn = constant("\(l.name)/depthwise_kernel", oihw)
                let geometry = Conv2DGeometry(kernel: k, strides: s, pads: p, dilations: dil, groups: cin)
                if l.cls == "DepthwiseConv2D" {
                    var inputs = [x.name, wn]
                    if useBias { inputs.append(constant("\(l.name)/bias", try weight(l, ["bias"], shape: [cin * mult]))) }
                    y = try emit(baseName, "Conv", Conv(geometry), inputs, layer: l.name)
                } else {
                    guard let filters = l.cfg["filters"] as? Int, filters > 0 else { throw fail("\(ctx): 'filters' is missing") }
                    let dw = try emit("\(l.name)/depthwise", "Conv", Conv(geometry), [x.name, wn], layer: l.name)
                    let pw = try weight(l, ["pointwise_kernel"], shape: [1, 1, cin * mult, filters])
                    var inputs = [dw, constant("\(l.name)/pointwise_kernel", Reshaping.transpose(pw, perm: [3, 2, 0, 1]))]
                    if useBias { inputs.append(constant("\(l.name)/bias", try weight(l, ["bias"], shape: [filters]))) }
                    y = try emit(baseName, "Conv", Conv(Conv2DGeometry(kernel: [1, 1])), inputs, layer: l.name)
                }
            }
            if fused { y = try emitActivation(activation, y, name: l.name, ctx: ctx, rank: 4) }
            out(y)
        case "Dense":
            guard x.rank == 2 else {
                throw fail(.unsupportedFeature, "\(ctx) applied to a \(x.rank)-D tensor \(xd); ConvLens supports Dense on vectors (add Flatten or global pooling)")
            }
            guard let units = l.cfg["units"] as? Int, units > 0 else { throw fail("\(ctx): 'units' is missing") }
            let w = try weight(l, ["kernel"], shape: [xd[1], units])
            var inputs = [x.name, constant("\(l.name)/kernel", w)]
            if l.cfg["use_bias"] as? Bool ?? true {
                inputs.append(constant("\(l.name)/bias", try weight(l, ["bias"], shape: [units])))
            }
            var y = try emit(baseName, "Gemm", Gemm(), inputs, layer: l.name)
            if fused { y = try emitActivation(activation, y, name: l.name, ctx: ctx, rank: 2) }
            out(y)
        case "Activation":
            guard let a = l.cfg["activation"].flatMap(KerasGraphBuilder.activationName) else { throw fail("\(ctx): 'activation' is missing") }
            if a == "linear" { out(try emit(l.name, "Identity", Identity(), [x.name], layer: l.name)); break }
            out(try emitActivation(a, x.name, name: l.name, ctx: ctx, rank: x.rank))
        case "ReLU":
            let maxValue = (l.cfg["max_value"] as? NSNumber)?.floatValue
            let slope = (l.cfg["negative_slope"] as? NSNumber)?.floatValue ?? 0
            let threshold = (l.cfg["threshold"] as? NSNumber)?.floatValue ?? 0
            guard threshold == 0 else { throw fail(.unsupportedFeature, "\(ctx): threshold \(threshold) is not supported (only 0)") }
            if slope == 0 {
                out(try emit(l.name, maxValue == nil ? "Relu" : "Clip", maxValue == nil ? Relu() : Clip(lower: 0, upper: maxValue), [x.name], layer: l.name))
            } else if let m = maxValue {
                let y = try emit("\(l.name)/leaky", "LeakyRelu", LeakyRelu(alpha: slope), [x.name], layer: l.name)
                out(try emit(l.name, "Clip", Clip(lower: nil, upper: m), [y], layer: l.name))
            } else {
                out(try emit(l.name, "LeakyRelu", LeakyRelu(alpha: slope), [x.name], layer: l.name))
            }
        case "LeakyReLU":
            let alpha = ((l.cfg["negative_slope"] ?? l.cfg["alpha"]) as? NSNumber)?.floatValue ?? 0.3
            out(try emit(l.name, "LeakyRelu", LeakyRelu(alpha: alpha), [x.name], layer: l.name))
        case "Softmax":
            try checkAxisLast(l, ctx)
            out(try emit(l.name, "Softmax", Softmax(axis: 1, legacy: false), [x.name], layer: l.name))
        case "BatchNormalization":
            let c = try channelAxisSize(l, x, ctx)
            let eps = (l.cfg["epsilon"] as? NSNumber)?.floatValue ?? 1e-3
            let gamma = try optionalWeight(l, "gamma", shape: [c]) ?? Tensor(shape: Shape([c]), repeating: 1)
            let beta = try optionalWeight(l, "beta", shape: [c]) ?? Tensor(shape: Shape([c]), repeating: 0)
            let mean = try weight(l, ["moving_mean"], shape: [c]), variance = try weight(l, ["moving_variance"], shape: [c])
            let inputs = [x.name, constant("\(l.name)/gamma", gamma), constant("\(l.name)/beta", beta),
                          constant("\(l.name)/moving_mean", mean), constant("\(l.name)/moving_variance", variance)]
            out(try emit(l.name, "BatchNormalization", BatchNormalization(epsilon: eps), inputs, layer: l.name))
        case "MaxPooling2D", "AveragePooling2D":
            try need4D()
            let k = try ints(l.cfg, "pool_size", 2, default: [2, 2], l)
            let s = try ints(l.cfg, "strides", 2, default: k, l)
            let p = try pads(l, xd, kernel: k, strides: s, dilations: [1, 1])
            let g = Pool2DGeometry(kernel: k, strides: s, pads: p)
            out(l.cls == "MaxPooling2D" ? try emit(l.name, "MaxPool", MaxPool(geometry: g), [x.name], layer: l.name)
                                        : try emit(l.name, "AveragePool", AveragePool(geometry: g, countIncludePad: false), [x.name], layer: l.name))
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
            try need4D()
            let keep = l.cfg["keepdims"] as? Bool ?? false
            let avg = l.cls == "GlobalAveragePooling2D"
            let op: any Operator = avg ? GlobalAveragePool() : GlobalMaxPool()
            let opType = avg ? "GlobalAveragePool" : "GlobalMaxPool"
            if keep {
                out(try emit(l.name, opType, op, [x.name], layer: l.name))
            } else {
                let y = try emit("\(l.name)/pool", opType, op, [x.name], layer: l.name)
                out(try emit(l.name, "Flatten", Reshape(to: Shape([1, xd[1]])), [y], layer: l.name), rank: 2)
            }
        case "ZeroPadding2D":
            try need4D()
            let v = l.cfg["padding"]
            var t = 1, b = 1, le = 1, r = 1
            if let n = v as? Int { (t, b, le, r) = (n, n, n, n) }
            else if let a = v as? [Any], a.count == 2 {
                if let h = a[0] as? Int, let w = a[1] as? Int { (t, b, le, r) = (h, h, w, w) }
                else if let h = a[0] as? [Int], let w = a[1] as? [Int], h.count == 2, w.count == 2 { (t, b, le, r) = (h[0], h[1], w[0], w[1]) }
                else { throw fail("\(ctx): padding \(a) is not understood") }
            } else if v != nil { throw fail("\(ctx): padding is not understood") }
            guard [t, b, le, r].allSatisfy({ $0 >= 0 && $0 < 1 << 16 }) else { throw fail("\(ctx): padding must be non-negative") }
            out(try emit(l.name, "Pad", Pad(pads: [0, 0, t, le, 0, 0, b, r], mode: .constant, value: 0), [x.name], layer: l.name))
        case "Flatten":
            if x.rank == 4 {
                // Keras flattens NHWC: go back to NHWC first so that Dense weights stay valid.
                let t = try emit("\(l.name)/nhwc", "Transpose", Transpose(perm: [0, 2, 3, 1]), [x.name], layer: l.name)
                out(try emit(l.name, "Flatten", Reshape(to: Shape([1, xd[1] * xd[2] * xd[3]])), [t], layer: l.name), rank: 2)
            } else {
                out(try emit(l.name, "Flatten", Reshape(to: Shape([1, xd.dropFirst().reduce(1, *)])), [x.name], layer: l.name), rank: 2)
            }
        case "Reshape":
            let target = (l.cfg["target_shape"] as? [Any])?.map { $0 as? Int ?? 0 } ?? []
            guard target.count == 1 || target.count == 3 else {
                throw fail(.unsupportedFeature, "\(ctx): target shape \(target) is not [F] or [H, W, C]")
            }
            var src = x.name
            let count = xd.reduce(1, *)
            var t = target
            if let i = t.firstIndex(of: -1) {
                let known = t.filter { $0 != -1 }.reduce(1, *)
                guard known > 0, count % known == 0 else { throw fail("\(ctx): cannot reshape \(xd) to \(target)") }
                t[i] = count / known
            }
            guard t.allSatisfy({ $0 > 0 }), t.reduce(1, *) == count else { throw fail("\(ctx): cannot reshape \(xd) to \(target)") }
            if x.rank == 4 { src = try emit("\(l.name)/nhwc", "Transpose", Transpose(perm: [0, 2, 3, 1]), [src], layer: l.name) }
            if t.count == 3 {
                let r = try emit("\(l.name)/reshape", "Reshape", Reshape(to: Shape([1] + t)), [src], layer: l.name)
                out(try emit(l.name, "Transpose", Transpose(perm: [0, 3, 1, 2]), [r], layer: l.name), rank: 4)
            } else {
                out(try emit(l.name, "Reshape", Reshape(to: Shape([1] + t)), [src], layer: l.name), rank: 2)
            }
        case "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "ActivityRegularization":
            out(try emit(l.name, "Dropout", Identity(), [x.name], layer: l.name))
        case "Add", "Multiply", "Subtract":
            guard ins.count >= 2 else { throw fail("\(ctx) needs at least two inputs") }
            guard ins.allSatisfy({ $0.rank == x.rank }) else { throw fail("\(ctx): inputs have different ranks") }
            let (op, opType): (BinaryOperator, String) = l.cls == "Add" ? (.add, "Add") : l.cls == "Multiply" ? (.mul, "Mul") : (.sub, "Sub")
            var acc = x.name
            for (i, t) in ins.dropFirst().enumerated() {
                let last = i == ins.count - 2
                acc = try emit(last ? l.name : "\(l.name)/\(i + 1)", opType, Arithmetic(op), [acc, t.name], layer: l.name)
            }
            out(acc)
        case "Concatenate":
            guard ins.allSatisfy({ $0.rank == x.rank }) else { throw fail("\(ctx): inputs have different ranks") }
            var axis = l.cfg["axis"] as? Int ?? -1
            if axis < 0 { axis += x.rank }
            guard axis >= 1, axis < x.rank else { throw fail("\(ctx): axis \(axis) is out of range") }
            let mapped = x.rank == 4 ? [0, 2, 3, 1][axis] : axis
            out(try emit(l.name, "Concat", Concat(axis: mapped), ins.map(\.name), layer: l.name))
        case "Rescaling":
            let scale = floats(l.cfg["scale"]) ?? [1], offset = floats(l.cfg["offset"]) ?? [0]
            if foldOK, let a = broadcast(scale, preA.count), let b = broadcast(offset, preA.count) {
                for c in preA.indices { preA[c] *= a[c]; preB[c] = preB[c] * a[c] + b[c] }
                aliasInput(l)
                break
            }
            let s = try channelConstant(l, "scale", scale, x, ctx)
            let o = try channelConstant(l, "offset", offset, x, ctx)
            let y = try emit("\(l.name)/scale", "Mul", Arithmetic(.mul), [x.name, s], layer: l.name)
            out(try emit(l.name, "Add", Arithmetic(.add), [y, o], layer: l.name))
        case "Normalization":
            try checkAxisLast(l, ctx)
            let c = x.rank == 4 ? xd[1] : xd.last!
            guard let mean = floats(l.cfg["mean"]) ?? source.weights[l.name]?["mean"]?.scalars,
                  let variance = floats(l.cfg["variance"]) ?? source.weights[l.name]?["variance"]?.scalars else {
                throw fail("\(ctx) has no mean and variance (neither in its configuration nor in the weights)")
            }
            guard let m = broadcast(mean, c), let v = broadcast(variance, c) else {
                throw fail(.shapeMismatch, "\(ctx): mean/variance have \(mean.count)/\(variance.count) values for \(c) channels")
            }
            let sd = v.map { max(Float($0).squareRoot(), 1e-7) }
            if l.cfg["invert"] as? Bool ?? false { throw fail(.unsupportedFeature, "\(ctx): invert=True is not supported") }
            if foldOK, preA.count == c {
                for i in preA.indices { preA[i] /= sd[i]; preB[i] = (preB[i] - m[i]) / sd[i] }
                aliasInput(l)
                break
            }
            let mc = try channelConstant(l, "mean", m, x, ctx)
            let sc = try channelConstant(l, "std", sd, x, ctx)
            let y = try emit("\(l.name)/center", "Sub", Arithmetic(.sub), [x.name, mc], layer: l.name)
            out(try emit(l.name, "Div", Arithmetic(.div), [y, sc], layer: l.name))
        default:
            throw fail(.unsupportedOperator, "\(ctx): the Keras layer class '\(l.cls)' is not supported; supported: \(Graph.supportedKerasLayers.joined(separator: ", "))")
        }
    }

    /// A folded preprocessing layer: its output is the graph input.
    private mutating func aliasInput(_ l: Layer) {
        let x = tensors[l.inbound[0]]!
        tensors[l.name] = x
        foldable.insert(l.name)
    }

    private func broadcast(_ v: [Float], _ n: Int) -> [Float]? {
        if v.count == 1 { return [Float](repeating: v[0], count: n) }
        return v.count == n ? v : nil
    }

    private mutating func channelConstant(_ l: Layer, _ what: String, _ v: [Float], _ x: KTensor, _ ctx: String) throws -> String {
        if v.count == 1 { return constant("\(l.name)/\(what)", Tensor(scalar: v[0])) }
        let xd = dims(x.name)
        let c = x.rank == 4 ? xd[1] : xd.last!
        guard v.count == c else { throw fail(.shapeMismatch, "\(ctx): \(what) has \(v.count) values for \(c) channels") }
        let shape = x.rank == 4 ? [1, c, 1, 1] : [1, c]
        return constant("\(l.name)/\(what)", Tensor(shape: Shape(shape), scalars: v))
    }

    private func checkAxisLast(_ l: Layer, _ ctx: String) throws {
        var a: Any? = l.cfg["axis"]
        if let arr = a as? [Any] { guard arr.count == 1 else { throw fail(.unsupportedFeature, "\(ctx): axis \(arr) is not supported") }; a = arr[0] }
        guard a == nil || a is NSNull || (a as? Int) == -1 || (a as? Int) == 3 || (a as? Int) == 1 else {
            throw fail(.unsupportedFeature, "\(ctx): only the channel (last) axis is supported, got \(a!)")
        }
    }

    private func channelAxisSize(_ l: Layer, _ x: KTensor, _ ctx: String) throws -> Int {
        try checkAxisLast(l, ctx)
        let xd = dims(x.name)
        if let a = l.cfg["axis"] as? Int, x.rank == 4, a != -1, a != 3 {
            throw fail(.unsupportedFeature, "\(ctx): only the channel (last) axis is supported, got \(a)")
        }
        return xd[1]
    }

    static func activationName(_ v: Any) -> String? {
        if v is NSNull { return "linear" }
        if let s = v as? String { return s }
        if let d = v as? [String: Any] {
            if let c = d["config"] as? String { return c }
            if let c = d["config"] as? [String: Any], let n = c["name"] as? String { return n }
            if let n = d["class_name"] as? String { return n }
        }
        return nil
    }

    /// Emits an activation function; the last node is named `name`.
    private mutating func emitActivation(_ a: String, _ x: String, name: String, ctx: String, rank: Int) throws -> String {
        func one(_ t: String, _ op: any Operator) throws -> String { try emit(name, t, op, [x], layer: name) }
        switch a.lowercased() {
        case "linear": return try emit(name, "Identity", Identity(), [x], layer: name)
        case "relu": return try one("Relu", Relu())
        case "relu6": return try one("Clip", Clip(lower: 0, upper: 6))
        case "sigmoid": return try one("Sigmoid", Sigmoid())
        case "tanh": return try one("Tanh", Tanh())
        case "leaky_relu": return try one("LeakyRelu", LeakyRelu(alpha: 0.2))
        case "hard_sigmoid":
            return source.kerasMajor >= 3 ? try one("HardSigmoid", HardSigmoid(alpha: 1.0 / 6, beta: 0.5))
                                          : try one("HardSigmoid", HardSigmoid(alpha: 0.2, beta: 0.5))
        case "hard_swish", "hard_silu": return try one("HardSwish", HardSwish())
        case "elu": return try one("Elu", Elu(alpha: 1))
        case "selu": return try one("Selu", Selu(alpha: 1.67326319217681884765625, gamma: 1.05070102214813232421875))
        case "softplus": return try one("Softplus", Softplus())
        case "mish": return try one("Mish", Mish())
        case "gelu": return try one("Gelu", Gelu(tanhApproximation: false))
        case "swish", "silu":
            let s = try emit("\(name)/sigmoid", "Sigmoid", Sigmoid(), [x], layer: name)
            return try emit(name, "Mul", Arithmetic(.mul), [x, s], layer: name)
        case "softmax":
            guard rank == 2 || rank == 4 else { throw fail(.unsupportedFeature, "\(ctx): softmax on a \(rank)-D tensor") }
            return try emit(name, "Softmax", Softmax(axis: 1, legacy: false), [x], layer: name)
        default:
            throw fail(.unsupportedOperator, "\(ctx): activation '\(a)' is not supported; supported: linear, relu, relu6, sigmoid, tanh, softmax, swish/silu, hard_sigmoid, hard_swish, leaky_relu, elu, selu, softplus, mish, gelu")
        }
    }
}
