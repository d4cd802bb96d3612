import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import ConvLensProjection
import Foundation

/// What `convlens optimize` computes: images that maximize units, channels or classes, from noise
/// (activation maximization; Lucid/Lucent's parameterizations and transforms, deep-visualization-
/// toolbox's regularizers). Semantics in Docs/Optimize.md.
public struct OptimizeRequest: Sendable {
    /// What is maximized, per channel of ``channels`` (one image each, optimized as one batch).
    public enum Objective: Sendable, Equatable {
        /// The mean of the channel's map (a fully connected layer: the neuron).
        case channelMean(layer: String)
        /// One unit of the channel; `nil` position: the centre of the map.
        case unit(layer: String, y: Int?, x: Int?)
        /// A class score (before a final softmax); ``channels`` are class indices.
        case classScore
    }

    /// How the image is parameterized.
    public enum Parameterization: String, Sendable, CaseIterable {
        /// The image itself (before colour decorrelation and the sigmoid).
        case pixels
        /// Lucid's Fourier parameterization: a spectrum scaled by `1/f`.
        case fourier
    }

    /// The random transforms applied before each step (one draw per step for the whole batch).
    public struct Transforms: Sendable, Equatable {
        /// Pad every side with this many pixels of 0.5 gray.
        public var pad = 12
        /// Translate by `0..<jitter` pixels down and right (1 or less: none).
        public var jitter = 8
        /// Scale factors to choose from.
        public var scales: [Float] = (0...10).map { 1 + Float($0 - 5) / 50 }
        /// Rotation angles (degrees) to choose from.
        public var angles: [Float] = (-10...10).map(Float.init) + Array(repeating: 0, count: 5)
        /// A second translation by `0..<finalJitter` pixels.
        public var finalJitter = 4

        /// Lucid/Lucent's `standard_transforms`.
        public static let standard = Transforms()
        /// No transforms (the image is only fitted to the model input).
        public static let none = Transforms(pad: 0, jitter: 0, scales: [], angles: [], finalJitter: 0)
        /// Draw translations centred on 0 (`−⌊n/2⌋ ..< n − ⌊n/2⌋`) instead of `0 ..< n`: the image
        /// then sits where the final, untransformed evaluation sees it, on average.
        public var centred = false

        /// The standard pad and jitter, centred, without scaling or rotation, for a single unit's
        /// objective: scaling and rotating about the image centre carry a unit away from the centre
        /// by several pixels, and uncentred jitter shifts it by half the jitter on average, so the
        /// image would excite the unit's neighbours instead (Docs/Optimize.md).
        public static let jitter: Transforms = {
            var t = Transforms(scales: [], angles: [])
            t.centred = true
            return t
        }()

        public init(pad: Int = 12, jitter: Int = 8, scales: [Float] = (0...10).map { 1 + Float($0 - 5) / 50 },
                    angles: [Float] = (-10...10).map(Float.init) + Array(repeating: 0, count: 5), finalJitter: Int = 4) {
            (self.pad, self.jitter, self.scales, self.angles, self.finalJitter) = (pad, jitter, scales, angles, finalJitter)
        }

        /// One draw: pad, translate, scale, rotate, translate, then fit to `height × width`.
        func draw(_ rng: inout SplitMix64, height: Int, width: Int) -> [ImageTransform] {
            var t: [ImageTransform] = []
            if pad > 0 { t.append(.pad(pixels: pad, value: 0.5)) }
            if jitter > 1 {
                let d = centred ? jitter / 2 : 0
                t.append(.translate(dy: rng.below(jitter) - d, dx: rng.below(jitter) - d))
            }
            if !scales.isEmpty { t.append(.scale(scales[rng.below(scales.count)])) }
            if !angles.isEmpty { t.append(.rotate(degrees: angles[rng.below(angles.count)])) }
            if finalJitter > 1 {
                let d = centred ? finalJitter / 2 : 0
                t.append(.translate(dy: rng.below(finalJitter) - d, dx: rng.below(finalJitter) - d))
            }
            t.append(.fit(height: height, width: width, value: 0.5))
            return t
        }
    }

    public var objective: Objective
    /// The channels (or classes) to maximize, one image each.
    public var channels: [Int]
    public var parameterization: Parameterization = .fourier
    /// Decorrelate colours (Lucid's matrix) before the sigmoid.
    public var decorrelate = true
    public var steps = 512
    /// Adam's step size.
    public var learningRate: Float = 0.05
    /// Seeds the initial noise and the transform draws.
    public var seed: UInt64 = 0
    /// Standard deviation of the initial parameter.
    public var initialScale: Float = 0.01
    public var transforms = Transforms.standard
    /// Weight of the total variation penalty (mean squared neighbour differences of the image).
    public var totalVariation: Float = 0
    /// Weight of the L2 penalty `mean((rgb − 0.5)²)`.
    public var l2: Float = 0
    /// deep-visualization-toolbox's decay: the parameter is multiplied by `1 − decay` after each step.
    public var decay: Float = 0
    /// Blur the image parameter every this many steps (0: never; pixels only).
    public var blurEvery = 0
    /// The blur's standard deviation in pixels.
    public var blurSigma: Float = 0.5
    /// Set parameter values whose magnitude is below this percentile to 0 after each step (pixels only).
    public var clipValuesPercentile: Float = 0
    /// Set pixels whose norm over channels is below this percentile to 0 after each step (pixels only).
    public var clipNormPercentile: Float = 0

    public init(objective: Objective, channels: [Int]) {
        self.objective = objective
        self.channels = channels
    }

    /// The most images (channels or classes) one run optimizes as a batch.
    public static let maximumImages = 64
}

/// The result of one optimization.
public struct Optimization: Sendable {
    /// The objective's layer.
    public let layer: Layer
    /// The channels (or classes), one image each.
    public let channels: [Int]
    /// The images, `[S, 3, H, W]` RGB in (0, 1), at the model input size, without transforms.
    public let images: Tensor
    /// The objective (before penalties) at each step, per channel: `curves[s][step]`.
    public let curves: [[Float]]
    /// The objective of each final image, without transforms.
    public let final: [Float]

    /// A `[1, 3, H, W]` RGB tensor in (0, 1) as an image.
    static func picture(_ rgb: Tensor) -> Image {
        let (h, w) = (rgb.shape[2], rgb.shape[3])
        var px = [Float](repeating: 0, count: 3 * h * w)
        for j in 0..<(h * w) { for k in 0..<3 { px[3 * j + k] = rgb.scalars[k * h * w + j] } }
        return Image(unit: px, width: w, height: h, channels: 3)
    }
}

/// The objective, the image parameterization and the gradient of one step (Docs/Optimize.md).
public struct OptimizationProblem: Sendable {
    public let model: Model
    public let request: OptimizeRequest
    /// The objective's layer (in the batch-1 graph).
    public let layer: Layer
    /// Images per batch, model input height and width.
    public let count: Int, height: Int, width: Int
    let batchGraph: Graph?
    let fourier: FourierImage?

    /// Lucid's colour decorrelation matrix, normalized by its largest column norm.
    static let color: [Float] = {
        let m: [Double] = [0.26, 0.09, 0.02, 0.27, 0.00, -0.05, 0.27, -0.09, 0.03]
        let norms = (0..<3).map { c in (0..<3).map { m[$0 * 3 + c] * m[$0 * 3 + c] }.reduce(0, +).squareRoot() }
        let top = norms.max()!
        return m.map { Float($0 / top) }
    }()

    /// Checks the request against the model and prepares the batched graph.
    /// - Throws: `ConvLensError` for an unknown layer, a channel out of range, a position outside
    ///   the map, an input that is not a 3-channel image, an odd width with the Fourier
    ///   parameterization, or pixel-only regularizers with it.
    public init(model: Model, request: OptimizeRequest) throws {
        self.model = model
        self.request = request
        let input = model.graph.inputShape.dimensions
        guard input.count == 4, input[0] == 1 else {
            throw ConvLensError(.unsupportedFeature, file: model.path, "optimize needs an image input; the model takes \(model.graph.inputShape)")
        }
        let (c, h, w) = model.inputIsNHWC ? (input[3], input[1], input[2]) : (input[1], input[2], input[3])
        guard c == 3 else { throw ConvLensError(.unsupportedFeature, file: model.path, "optimize needs an RGB input; the model takes \(c) channels") }
        (height, width) = (h, w)
        switch request.objective {
        case .classScore: layer = try model.scoreLayer()
        case .channelMean(let q), .unit(let q, _, _): layer = try model.graph.layer(matching: q)
        }
        let d = layer.shape.dimensions
        guard (d.count == 4 || d.count == 2), d[0] == 1 else {
            throw ConvLensError(.unsupportedFeature, parameter: "layer", "layer '\(layer.name)' has shape \(layer.shape); optimize needs a [1, C, H, W] or [1, N] layer")
        }
        guard !request.channels.isEmpty else { throw ConvLensError(.invalidArgument, parameter: "channel", "no channel to optimize") }
        guard request.channels.count <= OptimizeRequest.maximumImages else {
            throw ConvLensError(.absurdSize, parameter: request.objective == .classScore ? "class" : "channel",
                                "\(request.channels.count) images; one run optimizes at most \(OptimizeRequest.maximumImages) (split the channels over several runs)")
        }
        for ch in request.channels where ch < 0 || ch >= d[1] {
            throw ConvLensError(.outOfRange, parameter: request.objective == .classScore ? "class" : "channel",
                                "\(ch) is out of range: '\(layer.name)' has 0-\(d[1] - 1)")
        }
        if case .unit(_, let y?, let x?) = request.objective {
            guard d.count == 4, y >= 0, y < d[2], x >= 0, x < d[3] else {
                throw ConvLensError(.outOfRange, parameter: "at", "position \(y),\(x) is outside layer '\(layer.name)' (\(layer.shape))")
            }
        }
        if request.parameterization == .fourier {
            guard w % 2 == 0 else { throw ConvLensError(.unsupportedFeature, parameter: "param", "the Fourier parameterization needs an even input width; this model's is \(w)") }
            if request.blurEvery > 0 || request.clipValuesPercentile > 0 || request.clipNormPercentile > 0 {
                throw ConvLensError(.invalidArgument, parameter: "param", "blurring and clipping act on pixels: use --param pixels")
            }
            fourier = FourierImage(height: h, width: w)
        } else {
            fourier = nil
        }
        count = request.channels.count
        // One graph for the whole batch: the model re-imported with its batch dimension set.
        if count > 1, !Graph.isKerasFile(model.path), let data = try? AtomicFile.read(model.path),
           let batched = try? ONNXRewriting.settingBatchSize(count, of: data, source: model.path),
           let g = try? Graph(onnx: batched, source: model.path) {
            batchGraph = g
        } else {
            batchGraph = nil
        }
    }

    /// The shape of the parameter: `[S, 3, H, W]` (pixels) or `[S, 3, H, W/2 + 1, 2]` (Fourier).
    public var parameterShape: Shape {
        request.parameterization == .pixels ? Shape([count, 3, height, width]) : Shape([count, 3, height, width / 2 + 1, 2])
    }

    /// The parameter's RGB images, `[S, 3, H, W]` in (0, 1).
    public func images(_ parameter: Tensor) -> Tensor {
        var raw = fourier.map { f in f.image(parameter, count: count) } ?? parameter
        if request.decorrelate { raw = Self.mixColors(raw, transposed: false) }
        let rgb = raw.scalars.map { 1 / (1 + exp(-$0)) }
        return Tensor(shape: Shape([count, 3, height, width]), scalars: rgb)
    }

    /// The objective of each image (before penalties), and the gradient of
    /// `Σ_i objective_i − totalVariation·TV(rgb_i) − l2·L2(rgb_i)` with respect to the parameter,
    /// with the given transforms applied before the model.
    /// - Throws: `ConvLensError` when the forward or backward pass fails.
    public func evaluate(_ parameter: Tensor, transforms: [ImageTransform]) throws -> (objective: [Float], gradient: Tensor) {
        let rgb = images(parameter)
        var shapes: [Shape] = []
        var x = rgb
        for t in transforms {
            shapes.append(x.shape)
            x = t.apply(x)
        }
        precondition(x.shape[2] == height && x.shape[3] == width, "the transforms must end with .fit to the model input")
        let (objective, gInput) = try modelGradient(x)
        var g = gInput
        for (t, s) in zip(transforms, shapes).reversed() { g = t.adjoint(g, inputShape: s) }
        g = addPenaltyGradients(g, rgb)
        // Through the sigmoid, the colour mix and the parameterization.
        for i in 0..<g.count { let s = rgb.scalars[i]; g.scalars[i] *= s * (1 - s) }
        if request.decorrelate { g = Self.mixColors(g, transposed: true) }
        if let fourier { g = fourier.adjoint(g, count: count) }
        return (objective, g)
    }

    /// The objective of images at the model input size, and its gradient with respect to them.
    func modelGradient(_ rgb: Tensor) throws -> ([Float], Tensor) {
        let pre = model.preprocessing
        let plane = height * width
        func channelOf(_ k: Int) -> Int { pre.channelOrder == .bgr ? 2 - k : k }
        func value(_ v: [Float], _ k: Int) -> Float { v.count == 1 ? v[0] : v[k] }
        // x = (rgb·255/scale − mean)/std in the model's channel order and layout.
        var x = Tensor(shape: Shape([count, 3, height, width]))
        for s in 0..<count {
            for k in 0..<3 {
                let src = channelOf(k), m = value(pre.mean, k), sd = value(pre.std, k)
                for j in 0..<plane {
                    x.scalars[(s * 3 + k) * plane + j] = (rgb.scalars[(s * 3 + src) * plane + j] * 255 / pre.scale - m) / sd
                }
            }
        }
        if model.inputIsNHWC { x = Reshaping.transpose(x, perm: [0, 2, 3, 1]) }
        var values: [Float] = []
        var gx: Tensor
        if let batchGraph {
            let (v, g) = try gradient(graph: batchGraph, input: x, images: Array(0..<count))
            values = v
            gx = g
        } else {
            var parts: [Float] = []
            let per = x.count / count
            for s in 0..<count {
                let one = Tensor(shape: model.graph.inputShape, scalars: Array(x.scalars[(s * per)..<((s + 1) * per)]))
                let (v, g) = try gradient(graph: model.graph, input: one, images: [s])
                values += v
                parts += g.scalars
            }
            gx = Tensor(shape: x.shape, scalars: parts)
        }
        if model.inputIsNHWC { gx = Reshaping.transpose(gx, perm: [0, 3, 1, 2]) }
        var g = Tensor(shape: Shape([count, 3, height, width]))
        for s in 0..<count {
            for k in 0..<3 {
                let dst = channelOf(k), f = 255 / (pre.scale * value(pre.std, k))
                for j in 0..<plane { g.scalars[(s * 3 + dst) * plane + j] = gx.scalars[(s * 3 + k) * plane + j] * f }
            }
        }
        return (values, g)
    }

    /// One forward and backward pass of `graph` (batch = `images.count`): the objectives and the
    /// input gradient.
    private func gradient(graph: Graph, input: Tensor, images: [Int]) throws -> ([Float], Tensor) {
        // Only the nodes up to the objective's layer.
        let l = graph.layers[layer.index]
        let trace = try graph.run(input, through: l.nodeIndex)
        let act = trace.activation(l)
        var seed = Tensor(shape: act.shape)
        let n = images.count
        let per = act.count / n
        var values: [Float] = []
        for (b, s) in images.enumerated() {
            let c = request.channels[s]
            if act.rank == 2 {
                seed.scalars[b * per + c] = 1
                values.append(act.scalars[b * per + c])
                continue
            }
            let (h, w) = (act.shape[2], act.shape[3])
            let base = b * per + c * h * w
            switch request.objective {
            case .unit(_, let y, let x):
                let k = (y ?? h / 2) * w + (x ?? w / 2)
                seed.scalars[base + k] = 1
                values.append(act.scalars[base + k])
            default:
                var sum = 0.0
                for k in 0..<(h * w) {
                    seed.scalars[base + k] = 1 / Float(h * w)
                    sum += Double(act.scalars[base + k])
                }
                values.append(Float(sum / Double(h * w)))
            }
        }
        let g = try Projector(trace: trace).gradient(of: l, seed: seed)
        return (values, g)
    }

    /// Adds the gradients of `−totalVariation·TV − l2·L2` (per image, means over `3·H·W`).
    func addPenaltyGradients(_ g: Tensor, _ rgb: Tensor) -> Tensor {
        guard request.totalVariation != 0 || request.l2 != 0 else { return g }
        var out = g
        let h = height, w = width
        let norm = Float(3 * h * w)
        let tv = 2 * request.totalVariation / norm, l2 = 2 * request.l2 / norm
        for p in 0..<(count * 3) {
            let base = p * h * w
            for y in 0..<h {
                for x in 0..<w {
                    let i = base + y * w + x, v = rgb.scalars[i]
                    var d: Float = 0
                    if y + 1 < h { d -= v - rgb.scalars[i + w] }
                    if y > 0 { d -= v - rgb.scalars[i - w] }
                    if x + 1 < w { d -= v - rgb.scalars[i + 1] }
                    if x > 0 { d -= v - rgb.scalars[i - 1] }
                    out.scalars[i] += tv * d - l2 * (v - 0.5)
                }
            }
        }
        return out
    }

    /// Per pixel, `out_c = Σ_k M[c][k]·x_k` (or `Σ_k M[k][c]·x_k` transposed).
    static func mixColors(_ x: Tensor, transposed: Bool) -> Tensor {
        let n = x.shape[0], plane = x.shape[2] * x.shape[3]
        var out = Tensor(shape: x.shape)
        let m = color
        for s in 0..<n {
            for c in 0..<3 {
                for k in 0..<3 {
                    let f = transposed ? m[k * 3 + c] : m[c * 3 + k]
                    if f == 0 { continue }
                    for j in 0..<plane { out.scalars[(s * 3 + c) * plane + j] += f * x.scalars[(s * 3 + k) * plane + j] }
                }
            }
        }
        return out
    }
}

/// Lucid's Fourier image: `irfft2(scale ⊙ spectrum, norm="ortho") / 4` per channel, with
/// `scale = 1 / max(f, 1/max(H, W))`, and its adjoint. Planes are transformed in parallel, one FFTW
/// plan pair per worker.
public final class FourierImage: @unchecked Sendable {
    public let height: Int, width: Int
    /// One transform pair per worker (a pair's buffers serve one plane at a time).
    let workers: [RealFFT2D]
    /// Per spectrum bin (`H × (W/2 + 1)`), the frequency scale.
    let scale: [Float]
    /// One call at a time uses the workers' buffers.
    private let lock = NSLock()

    public init(height: Int, width: Int) {
        (self.height, self.width) = (height, width)
        workers = (0..<max(1, Parallelism.threadCount)).map { _ in RealFFT2D(height: height, width: width) }
        let bins = width / 2 + 1
        var s = [Float](repeating: 0, count: height * bins)
        for ky in 0..<height {
            let fy = Double(ky <= (height - 1) / 2 ? ky : ky - height) / Double(height)
            for kx in 0..<bins {
                let fx = Double(kx < (width + 1) / 2 ? kx : kx - width) / Double(width)
                s[ky * bins + kx] = Float(1 / max((fx * fx + fy * fy).squareRoot(), 1 / Double(max(width, height))))
            }
        }
        scale = s
    }

    /// Runs `body(plane, worker)` for every plane, the planes split into one contiguous run per worker.
    private func eachPlane(_ planes: Int, _ body: @Sendable (Int, RealFFT2D) -> Void) {
        let runs = min(workers.count, planes)
        let workers = self.workers
        lock.withLock {
            Parallelism.forEach(runs) { r in
                for p in stride(from: r, to: planes, by: runs) { body(p, workers[r]) }
            }
        }
    }

    /// `[S, 3, H, W/2+1, 2]` → `[S, 3, H, W]`.
    public func image(_ spectrum: Tensor, count: Int) -> Tensor {
        let bins = 2 * height * (width / 2 + 1), plane = height * width
        let factor = 1 / (4 * Float(plane).squareRoot())
        var out = Tensor(shape: Shape([count, 3, height, width]))
        let scale = self.scale
        out.scalars.withUnsafeMutableBufferPointer { dst in
            let d = SendablePointer(dst.baseAddress!)
            eachPlane(count * 3) { p, fft in
                var z = Array(spectrum.scalars[(p * bins)..<((p + 1) * bins)])
                for i in 0..<(bins / 2) { z[2 * i] *= scale[i]; z[2 * i + 1] *= scale[i] }
                let r = fft.inverse(z)
                for j in 0..<plane { d.pointer[p * plane + j] = r[j] * factor }
            }
        }
        return out
    }

    /// The adjoint of ``image(_:count:)``: `[S, 3, H, W]` → `[S, 3, H, W/2+1, 2]`.
    public func adjoint(_ g: Tensor, count: Int) -> Tensor {
        let half = width / 2 + 1, plane = height * width, bins = 2 * height * half
        let factor = 1 / (4 * Float(plane).squareRoot())
        let (h, w, scale) = (height, width, self.scale)
        var out = Tensor(shape: Shape([count, 3, height, half, 2]))
        out.scalars.withUnsafeMutableBufferPointer { dst in
            let d = SendablePointer(dst.baseAddress!)
            eachPlane(count * 3) { p, fft in
                let z = fft.forward(Array(g.scalars[(p * plane)..<((p + 1) * plane)]))
                for ky in 0..<h {
                    for kx in 0..<half {
                        // Interior columns stand for a bin and its mirror image.
                        let multiplicity: Float = kx == 0 || (w % 2 == 0 && kx == w / 2) ? 1 : 2
                        let i = ky * half + kx, f = multiplicity * scale[i] * factor
                        d.pointer[p * bins + 2 * i] = z[2 * i] * f
                        d.pointer[p * bins + 2 * i + 1] = z[2 * i + 1] * f
                    }
                }
            }
        }
        return out
    }
}

extension Model {
    /// Runs activation maximization: Adam on the parameter, one transform draw per step for the
    /// batch, then the penalties' and toolbox regularizers' steps.
    /// - Parameter progress: called with (steps done, steps).
    /// - Throws: `ConvLensError` for a bad request (see ``OptimizationProblem/init(model:request:)``).
    public func optimize(_ request: OptimizeRequest, progress: ((Int, Int) -> Void)? = nil) throws -> Optimization {
        let problem = try OptimizationProblem(model: self, request: request)
        var rng = SplitMix64(seed: request.seed)
        let shape = problem.parameterShape
        var p = Tensor(shape: shape, scalars: (0..<shape.count).map { _ in Float(rng.normal()) * request.initialScale })
        var m = [Float](repeating: 0, count: shape.count), v = m
        let (b1, b2, eps) = (Float(0.9), Float(0.999), Float(1e-8))
        var curves = [[Float]](repeating: [], count: problem.count)
        for step in 1...max(1, request.steps) where request.steps > 0 {
            let transforms = request.transforms.draw(&rng, height: problem.height, width: problem.width)
            let (objective, g) = try problem.evaluate(p, transforms: transforms)
            for s in 0..<problem.count { curves[s].append(objective[s]) }
            let c1 = 1 - pow(b1, Float(step)), c2 = 1 - pow(b2, Float(step))
            for i in 0..<p.count {
                m[i] = b1 * m[i] + (1 - b1) * g.scalars[i]
                v[i] = b2 * v[i] + (1 - b2) * g.scalars[i] * g.scalars[i]
                p.scalars[i] += request.learningRate * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
            }
            Self.regularize(&p, request, step: step, height: problem.height, width: problem.width)
            progress?(step, request.steps)
        }
        let rgb = problem.images(p)
        let final = try problem.modelGradient(rgb).0
        return Optimization(layer: problem.layer, channels: request.channels, images: rgb, curves: curves, final: final)
    }

    /// deep-visualization-toolbox's regularizers on the parameter: decay, blur every N steps,
    /// small-value and small-norm clipping (the last three for pixels only).
    static func regularize(_ p: inout Tensor, _ r: OptimizeRequest, step: Int, height h: Int, width w: Int) {
        if r.decay > 0 { for i in 0..<p.count { p.scalars[i] *= 1 - r.decay } }
        guard r.parameterization == .pixels else { return }
        let plane = h * w, images = p.shape[0]
        if r.blurEvery > 0, step % r.blurEvery == 0 {
            for q in 0..<(images * 3) {
                let blurred = Display.gaussianBlur(Array(p.scalars[(q * plane)..<((q + 1) * plane)]), height: h, width: w, sigma: Double(r.blurSigma))
                for j in 0..<plane { p.scalars[q * plane + j] = blurred[j] }
            }
        }
        func threshold(_ values: [Float], _ percentile: Float) -> Float {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int(Float(sorted.count) * percentile / 100))]
        }
        if r.clipValuesPercentile > 0 {
            for s in 0..<images {
                let range = (s * 3 * plane)..<((s + 1) * 3 * plane)
                let t = threshold(p.scalars[range].map(abs), r.clipValuesPercentile)
                for i in range where abs(p.scalars[i]) < t { p.scalars[i] = 0 }
            }
        }
        if r.clipNormPercentile > 0 {
            for s in 0..<images {
                let base = s * 3 * plane
                let norms = (0..<plane).map { j in (0..<3).map { p.scalars[base + $0 * plane + j] * p.scalars[base + $0 * plane + j] }.reduce(0, +).squareRoot() }
                let t = threshold(norms, r.clipNormPercentile)
                for j in 0..<plane where norms[j] < t { for c in 0..<3 { p.scalars[base + c * plane + j] = 0 } }
            }
        }
    }
}

extension SplitMix64 {
    /// A uniform integer in `0..<n`.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
}

extension Model {
    /// Runs ``optimize(_:progress:)`` and writes, per channel, the image (`.png`, and `.npy`
    /// `[1, 3, H, W]` RGB in (0, 1); kind `optimized`) and the objective curve (`.npy` `[steps]` and
    /// a plot; kind `objective-curve`), and `manifest.json`.
    /// - Throws: `ConvLensError` before anything is written for a bad request.
    @discardableResult
    public func writeOptimization(_ request: OptimizeRequest, to directory: String, parameters: [String: JSONValue],
                                  progress: ((Int, Int) -> Void)? = nil) throws -> (Manifest, Optimization) {
        let result = try optimize(request, progress: progress)
        var manifest = try self.manifest(command: "optimize", input: nil, parameters: parameters)
        try AtomicFile.makeDirectory(directory)
        let (h, w) = (result.images.shape[2], result.images.shape[3])
        for (s, c) in result.channels.enumerated() {
            let stem = request.objective == .classScore ? "class\(c)" : "\(fileStem(forLayer: result.layer.name))_c\(c)"
            let rgb = result.images.item(s)
            try NPY.write(rgb, to: "\(directory)/\(stem)_optimized.npy")
            try Optimization.picture(rgb).writePNG(to: "\(directory)/\(stem)_optimized.png")
            var o = Manifest.Output(kind: .optimized)
            o.layer = result.layer.name
            o.channel = c
            o.activation = result.final[s]
            o.npy = "\(stem)_optimized.npy"
            o.png = "\(stem)_optimized.png"
            o.shape = [1, 3, h, w]
            (o.min, o.max) = (rgb.range.min, rgb.range.max)
            manifest.outputs.append(o)
            let curve = Tensor(shape: Shape([result.curves[s].count]), scalars: result.curves[s])
            try NPY.write(curve, to: "\(directory)/\(stem)_objective.npy")
            try Self.plot(result.curves[s], title: "\(result.layer.name.suffix(24)) C\(c)").writePNG(to: "\(directory)/\(stem)_objective.png")
            var q = Manifest.Output(kind: .objectiveCurve)
            q.layer = result.layer.name
            q.channel = c
            q.npy = "\(stem)_objective.npy"
            q.png = "\(stem)_objective.png"
            q.shape = [result.curves[s].count]
            (q.min, q.max) = (curve.range.min, curve.range.max)
            manifest.outputs.append(q)
        }
        try manifest.write(to: directory)
        return (manifest, result)
    }

    /// A line plot of `values` against the step, with the range and step count written on it.
    static func plot(_ values: [Float], title: String) -> Image {
        let (w, h, margin) = (360, 160, 14)
        var canvas = Canvas(width: w, height: h + 2 * margin)
        let range = ValueRange(of: values)
        let gray = RGB(gray: 0.7)
        canvas.fill(Rect(x: 0, y: margin, width: 1, height: h), gray)
        canvas.fill(Rect(x: 0, y: margin + h - 1, width: w, height: 1), gray)
        let blue = RGB(red: 0.12, green: 0.47, blue: 0.71)
        var last: (Int, Int)? = nil
        for (i, v) in values.enumerated() {
            let x = values.count == 1 ? 0 : i * (w - 1) / (values.count - 1)
            let y = margin + h - 1 - Int((range.unit(v) * Float(h - 1)).rounded())
            if let (px, py) = last {
                // A vertical run joins consecutive points.
                for yy in min(py, y)...max(py, y) { canvas.set(x: px, y: yy, blue) }
                for xx in px...x { canvas.set(x: xx, y: y, blue) }
            } else {
                canvas.set(x: x, y: y, blue)
            }
            last = (x, y)
        }
        canvas.draw(text: "\(title)  MAX \(ColorBar.label(range.max))", x: 2, y: 2, color: .black)
        canvas.draw(text: "MIN \(ColorBar.label(range.min))  \(values.count) STEPS", x: 2, y: margin + h + 3, color: .black)
        return canvas.image
    }
}
