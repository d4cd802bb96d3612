import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import ConvLensProjection
import Foundation

/// What a Grad-CAM or an occlusion map explains: a class score or a unit.
public enum AttributionTarget: Sendable, Equatable {
    /// Class `index` of the model output: its score before a final softmax (Grad-CAM), or its
    /// probability (occlusion).
    case classIndex(Int)
    /// The top class on the current input.
    case topClass
    /// A unit of a layer: `(y, x)` in its map (`nil`: the channel's argmax for Grad-CAM, the sum of
    /// the channel's map for occlusion, Zeiler & Fergus's "total activation of the feature map").
    case unit(layer: String, channel: Int, y: Int? = nil, x: Int? = nil)
}

/// A target resolved against a forward run.
public struct ResolvedTarget: Sendable, Equatable {
    /// The layer whose value is explained (the class scores, or the unit's layer).
    public let layer: Layer
    /// The class index or the unit's channel.
    public let channel: Int
    /// The unit's position (`nil` for classes, and for a channel's map sum).
    public let y: Int?
    /// The unit's position (`nil` for classes, and for a channel's map sum).
    public let x: Int?
    /// Whether the target is a class.
    public let isClass: Bool
    /// The class name or `unit <layer> c<channel> y<y> x<x>`.
    public let label: String
    /// The target's value on the current input (the score or the activation).
    public let value: Float

    /// A file-name fragment: `class<k>` or `<layer>_c<k>[_y<y>_x<x>]`.
    public var stem: String {
        if isClass { return "class\(channel)" }
        var s = "\(fileStem(forLayer: layer.name))_c\(channel)"
        if let y, let x { s += "_y\(y)_x\(x)" }
        return s
    }
}

/// What `convlens gradcam` computes (Selvaraju et al. 2017; Captum's `LayerGradCam` and
/// `GuidedGradCam`).
public struct GradCAMRequest: Sendable {
    /// The convolution layer whose maps are weighted (`[1, K, h, w]`).
    public var layer: String
    /// The targets (several give one map each, from one batched backward pass).
    public var targets: [AttributionTarget] = [.topClass]
    /// Keep only the positive part of the map (the paper's ReLU; Captum's `relu_attributions`).
    public var relu = true
    /// Also compute guided Grad-CAM (guided backprop × the upsampled positive part of the map,
    /// whatever ``relu`` says).
    public var guided = true
    /// How the map is upsampled to the input.
    public var interpolation: Interpolation = .bilinear
    /// How the guided Grad-CAM PNG is rendered.
    public var display = Display(mode: .raw)
    /// Opacity of the map over the image.
    public var opacity: Float = 0.5

    /// Upsampling of the map to the input size.
    public enum Interpolation: String, Sendable, CaseIterable {
        /// `torch.nn.functional.interpolate(mode="bilinear", align_corners=False)`.
        case bilinear
        /// `mode="nearest"` (PyTorch's legacy nearest: `floor(dst · in / out)`).
        case nearest
    }

    public init(layer: String) { self.layer = layer }

    /// The most targets one request may hold (their signals at the layer are held at once).
    public static let maximumTargets = 256
}

/// One Grad-CAM result.
public struct GradCAM: Sendable {
    /// The weighted layer.
    public let layer: Layer
    /// The explained target.
    public let target: ResolvedTarget
    /// `α_k`: the mean over the map of `∂target/∂A_k`, one per channel.
    public let weights: [Float]
    /// `Σ_k α_k·A_k` (after the ReLU when requested), `[h, w]`.
    public let map: Tensor
    /// ``map`` upsampled to the input, `[H, W]`.
    public let upsampled: Tensor
    /// Guided backprop × the upsampled positive part of ``map``, `[1, C, H, W]` (NCHW), when requested.
    public let guided: Tensor?
}

extension Model {
    /// The layer holding the class scores: the first graph output, or the input of a final
    /// `Softmax` (possibly followed by shape-only nodes such as Flatten; Grad-CAM explains the score
    /// before the softmax).
    /// - Throws: `ConvLensError` when the output is not a vector of class scores.
    public func scoreLayer() throws -> Layer {
        guard let name = graph.outputNames.first, let shape = graph.shapes[name],
              shape.count > 1, shape.dimensions.filter({ $0 > 1 }).count == 1 else {
            throw ConvLensError(.unsupportedFeature, file: path, "the model's output is not a vector of class scores")
        }
        // Walk back through shape-only nodes (Softmax → Flatten, …) to a Softmax, if there is one.
        var tensor = name, cursor = name
        let shapeOnly: Set<String> = ["Reshape", "Flatten", "Identity", "Squeeze", "Unsqueeze", "Dropout", "Cast"]
        while let node = graph.nodes.last(where: { $0.outputs.contains(cursor) }), let input = node.inputs.first,
              graph.shapes[input]?.count == shape.count {
            if node.opType == "Softmax" {
                tensor = input
                break
            }
            guard shapeOnly.contains(node.opType) else { break }
            cursor = input
        }
        guard let layer = graph.layers.first(where: { $0.tensorName == tensor }) else {
            throw ConvLensError(.unsupportedFeature, file: path, "the model's output '\(name)' is not computed by a node")
        }
        return layer
    }

    /// Resolves attribution targets against a forward run.
    /// - Parameter mapSums: a unit without a position stands for the sum of its channel's map
    ///   (occlusion) instead of the channel's argmax (Grad-CAM).
    /// - Throws: `ConvLensError` for a class or unit out of range or an unknown layer.
    public func resolve(_ targets: [AttributionTarget], trace: Trace, mapSums: Bool = false) throws -> [ResolvedTarget] {
        try targets.map { target in
            switch target {
            case .topClass, .classIndex:
                let layer = try scoreLayer()
                let scores = trace.activation(layer)
                let index: Int
                if case .classIndex(let k) = target {
                    guard k >= 0 && k < scores.count else {
                        throw ConvLensError(.outOfRange, parameter: "class", "class \(k) is out of range: the model has classes 0-\(scores.count - 1)")
                    }
                    index = k
                } else {
                    index = try classify(trace, top: 1)[0].index
                }
                let names = classNames(count: scores.count)
                return ResolvedTarget(layer: layer, channel: index, y: nil, x: nil, isClass: true,
                                      label: index < names.count ? names[index] : "class \(index)", value: scores.scalars[index])
            case .unit(let query, let channel, let y, let x):
                let layer = try graph.layer(matching: query)
                let act = trace.activation(layer)
                if let y, let x {
                    let r = try Seed.unit(channel: channel, y: y, x: x).resolve(in: act, layer: layer.name)
                    return ResolvedTarget(layer: layer, channel: channel, y: r.y, x: r.x, isClass: false,
                                          label: "unit \(layer.name) c\(channel) y\(y) x\(x)", value: r.activation)
                }
                let r = try Seed.unit(channel: channel).resolve(in: act, layer: layer.name)
                if mapSums, act.rank == 4 {
                    return ResolvedTarget(layer: layer, channel: channel, y: nil, x: nil, isClass: false,
                                          label: "map sum \(layer.name) c\(channel)",
                                          value: Model.unitValue(act, channel: channel, y: nil, x: nil))
                }
                var label = "unit \(layer.name) c\(channel)"
                if let y = r.y, let x = r.x { label += " y\(y) x\(x)" }
                return ResolvedTarget(layer: layer, channel: channel, y: r.y, x: r.x, isClass: false, label: label, value: r.activation)
            }
        }
    }

    /// Grad-CAM maps of `request.layer` for each target: `α_k = mean_{y,x} ∂t/∂A_k[y, x]`,
    /// `map = Σ_k α_k·A_k` (ReLU'd when ``GradCAMRequest/relu``), upsampled to the input; guided
    /// Grad-CAM multiplies the guided-backprop projection of the target with the upsampled map.
    /// All targets run as one batched backward pass.
    /// - Throws: `ConvLensError` for an unknown layer, a layer that is not `[1, K, h, w]` or that
    ///   comes after a target, or a target out of range.
    public func gradCAM(_ request: GradCAMRequest, trace: Trace) throws -> [GradCAM] {
        let layer = try graph.layer(matching: request.layer)
        let d = layer.shape.dimensions
        guard d.count == 4, d[0] == 1 else {
            throw ConvLensError(.unsupportedFeature, parameter: "layer", "Grad-CAM needs a [1, C, H, W] layer; '\(layer.name)' has shape \(layer.shape)")
        }
        if let axes = graph.receptiveFields()[layer.tensorName]?.mapAxes, axes != [2, 3] {
            throw ConvLensError(.unsupportedFeature, parameter: "layer",
                                "'\(layer.name)' holds its map in axes \(axes) (a channels-last tensor); choose the layer after the block's Transpose back")
        }
        guard request.targets.count <= GradCAMRequest.maximumTargets else {
            throw ConvLensError(.absurdSize, parameter: "class", "\(request.targets.count) targets; Grad-CAM takes at most \(GradCAMRequest.maximumTargets) per run")
        }
        let targets = try resolve(request.targets, trace: trace)
        let projector = Projector(trace: trace)
        let k = d[1], plane = d[2] * d[3]
        let activation = trace.activation(layer)
        let input = nchw(trace.input)
        let (inH, inW) = (input.shape[2], input.shape[3])
        // One backward pass per target layer, every target of that layer batched.
        var byIndex = [GradCAM?](repeating: nil, count: targets.count)
        for group in Dictionary(grouping: targets.indices, by: { targets[$0].layer.tensorName }).values.sorted(by: { $0[0] < $1[0] }) {
            let seeds = group.map { Seed.unit(channel: targets[$0].channel, y: targets[$0].y, x: targets[$0].x) }
            let targetLayer = targets[group[0]].layer
            let grads = try projector.signal(of: targetLayer, seeds: seeds, at: layer)
            let guided = request.guided ? try projector.project(layer: targetLayer, seeds: seeds, rule: .guided) : []
            for (s, i) in group.enumerated() {
                let g = grads.scalars[(s * k * plane)..<((s + 1) * k * plane)]
                var weights = [Float](repeating: 0, count: k)
                var map = [Float](repeating: 0, count: plane)
                for c in 0..<k {
                    var sum = 0.0
                    for j in 0..<plane { sum += Double(g[g.startIndex + c * plane + j]) }
                    weights[c] = Float(sum / Double(plane))
                    let a = activation.scalars[(c * plane)..<((c + 1) * plane)]
                    for j in 0..<plane { map[j] += weights[c] * a[a.startIndex + j] }
                }
                if request.relu { map = map.map { max($0, 0) } }
                let mapTensor = Tensor(shape: Shape([d[2], d[3]]), scalars: map)
                let up = Self.upsample(mapTensor, height: inH, width: inW, request.interpolation)
                var guidedTensor: Tensor? = nil
                if request.guided {
                    // Guided Grad-CAM always weighs by the positive part of the map (the paper's
                    // definition; Captum's GuidedGradCam), taken before upsampling.
                    let positive = request.relu ? up
                        : Self.upsample(Tensor(shape: mapTensor.shape, scalars: map.map { max($0, 0) }), height: inH, width: inW, request.interpolation)
                    var t = nchw(guided[s].tensor)
                    let planeIn = inH * inW
                    for c in 0..<t.shape[1] {
                        for j in 0..<planeIn { t.scalars[c * planeIn + j] *= positive.scalars[j] }
                    }
                    guidedTensor = t
                }
                byIndex[i] = GradCAM(layer: layer, target: targets[i], weights: weights, map: mapTensor, upsampled: up, guided: guidedTensor)
            }
        }
        return byIndex.map { $0! }
    }

    /// A `[h, w]` map resized to `[height, width]` as PyTorch's `interpolate` (`bilinear` with
    /// `align_corners=False`, or legacy `nearest`).
    static func upsample(_ map: Tensor, height: Int, width: Int, _ mode: GradCAMRequest.Interpolation) -> Tensor {
        let h = map.shape[0], w = map.shape[1]
        let x = map.reshaped(Shape([1, 1, h, w]))
        let scales = (Double(height) / Double(h), Double(width) / Double(w))
        let r = mode == .bilinear
            ? Reshaping.resize2D(x, outSize: (height, width), scales: scales, linear: true, transform: .pytorchHalfPixel, nearest: .floor)
            : Reshaping.resize2D(x, outSize: (height, width), scales: scales, linear: false, transform: .asymmetric, nearest: .floor)
        return r.reshaped(Shape([height, width]))
    }

    /// Computes Grad-CAM and writes, per target, the map (`.npy`, `[h, w]`, kind `gradcam`) with the
    /// map over the input as PNG (viridis from 0 to the maximum; the diverging colormap for signed
    /// maps), the upsampled map (`[H, W]`, kind `gradcam-input`) and, when
    /// requested, guided Grad-CAM (`[1, C, H, W]` and its PNG, kind `guided-gradcam`), and
    /// `manifest.json`.
    /// - Throws: `ConvLensError` before anything is written for a bad layer or target.
    @discardableResult
    public func writeGradCAM(_ request: GradCAMRequest, trace: Trace, input: ModelInput, to directory: String,
                             parameters: [String: JSONValue]) throws -> (Manifest, [GradCAM]) {
        let results = try gradCAM(request, trace: trace)
        var manifest = try self.manifest(command: "gradcam", input: input, parameters: parameters)
        let background = try displayImage(of: input)
        try AtomicFile.makeDirectory(directory)
        let stem = fileStem(forLayer: results.first?.layer.name ?? request.layer)
        var display = request.display
        display.bgr = (input.preprocessing ?? preprocessing).channelOrder == .bgr
        for r in results {
            let name = "\(stem)_\(r.target.stem)_gradcam"
            func output(_ kind: Manifest.Kind, _ t: Tensor, npy: String, png: String?) -> Manifest.Output {
                var o = Manifest.Output(kind: kind)
                o.layer = r.layer.name
                o.layerQuery = request.layer
                o.label = r.target.label
                o.channel = r.target.channel
                o.y = r.target.y
                o.x = r.target.x
                o.activation = r.target.value
                o.npy = npy
                o.png = png
                o.shape = t.shape.dimensions
                (o.min, o.max) = (t.range.min, t.range.max)
                return o
            }
            try NPY.write(r.map, to: "\(directory)/\(name).npy")
            // A ReLU'd map on viridis from 0 to its maximum; a signed one on the diverging colormap.
            let colormap: Colormap = request.relu ? .viridis : .diverging
            let range = request.relu ? ValueRange(min: 0, max: r.upsampled.range.max) : nil
            let overlay = Overlay(colormap: colormap, opacity: request.opacity, legend: true)
                .render(image: background, map: r.upsampled.scalars, mapWidth: r.upsampled.shape[1], mapHeight: r.upsampled.shape[0], range: range)
            try overlay.writePNG(to: "\(directory)/\(name).png")
            manifest.outputs.append(output(.gradcam, r.map, npy: "\(name).npy", png: "\(name).png"))
            try NPY.write(r.upsampled, to: "\(directory)/\(name)_input.npy")
            manifest.outputs.append(output(.gradcamInput, r.upsampled, npy: "\(name)_input.npy", png: nil))
            if let g = r.guided {
                let gname = "\(stem)_\(r.target.stem)_guided-gradcam"
                try NPY.write(g, to: "\(directory)/\(gname).npy")
                try display.render(g).writePNG(to: "\(directory)/\(gname).png")
                var o = output(.guidedGradcam, g, npy: "\(gname).npy", png: "\(gname).png")
                o.rule = ProjectionRule.guided.rawValue
                o.display = display.mode.rawValue
                manifest.outputs.append(o)
            }
        }
        try manifest.write(to: directory)
        return (manifest, results)
    }
}
