import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import Foundation

/// What `convlens occlusion` computes (Zeiler & Fergus 2014 §4.2; Captum's `Occlusion`).
public struct OcclusionRequest: Sendable {
    /// The side of the square window, in input pixels.
    public var window = 16
    /// The step between window positions, in input pixels.
    public var stride = 8
    /// The value the window holds, in the model's normalized input space: 0 is the mean colour of
    /// models whose preprocessing subtracts the dataset mean.
    public var baseline: Float = 0
    /// The targets: classes (their probabilities) and units.
    public var targets: [AttributionTarget] = [.topClass]
    /// Recompute only what a window changes (``Graph/runPatched(_:inputs:keep:promote:)``); `false`
    /// runs every occluded input through the whole network.
    public var incremental = true

    public init() {}

    /// Window rows (or columns) for an input side of `size`: `0, s, 2s, …` as Captum places them,
    /// `ceil((size − window) / stride) + 1` of them, the last window cut at the border; with a
    /// stride larger than the window, starts at or past the border are dropped.
    public func positions(_ size: Int) -> [Int] {
        guard window <= size, stride >= 1 else { return [] }
        let count = (size - window + stride - 1) / stride + 1
        return (0..<count).map { $0 * stride }.filter { $0 < size }
    }

    /// The most targets one request may hold.
    public static let maximumTargets = 256
}

/// Occlusion maps of one input.
public struct OcclusionMaps: Sendable {
    /// The window's top rows and left columns.
    public let rows: [Int], columns: [Int]
    /// The targets; unit targets without a position stand for the sum of the channel's map.
    public let targets: [ResolvedTarget]
    /// The targets' values on the clean input (class probabilities, activations or map sums).
    public let clean: [Float]
    /// Per target, `[rows, columns]`: its value with the window at each position (Zeiler & Fergus's
    /// figure 7 (b), (d)).
    public let values: [Tensor]
    /// Per target, `[1, C, H, W]`: for each input element, the mean of `clean − value` over the
    /// windows that cover it (Captum's `Occlusion`; 0 where no window reaches).
    public let attributions: [Tensor]
    /// `[rows, columns]`: the top class with the window at each position (figure 7 (e)), and its
    /// probability; `nil` when the model has no class output.
    public let topClass: Tensor?, topProbability: Tensor?
    /// Elements computed against whole forward passes.
    public let work: PatchedWork
}

extension Model {
    /// Slides the window over the input and records, per position, each target's value, the top
    /// class, and the per-pixel attribution.
    /// - Parameter progress: called with (positions done, total).
    /// - Throws: `ConvLensError` for a window larger than the input, a bad target, or an input that
    ///   is not an image batch.
    public func occlusion(_ request: OcclusionRequest, trace: Trace, progress: ((Int, Int) -> Void)? = nil) throws -> OcclusionMaps {
        let x = nchw(trace.input)
        guard x.rank == 4, x.shape[0] == 1 else {
            throw ConvLensError(.unsupportedFeature, file: trace.graph.source, "occlusion needs an image input; the model takes \(trace.input.shape)")
        }
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        guard request.window >= 1, request.stride >= 1, request.window <= min(h, w) else {
            throw ConvLensError(.outOfRange, parameter: "window", "a \(request.window)-pixel window with stride \(request.stride) does not fit the \(h)×\(w) input")
        }
        guard request.baseline.isFinite else { throw ConvLensError(.invalidArgument, parameter: "baseline", "the baseline must be a finite number") }
        guard request.targets.count <= OcclusionRequest.maximumTargets else {
            throw ConvLensError(.absurdSize, parameter: "class", "\(request.targets.count) targets; occlusion takes at most \(OcclusionRequest.maximumTargets) per run")
        }
        let targets = try resolve(request.targets, trace: trace, mapSums: true)
        let scores = try? scoreLayer()
        var needed = Set(targets.map(\.layer.tensorName))
        if let scores { needed.insert(scores.tensorName) }
        let keep = needed
        @Sendable func evaluate(_ values: [String: Tensor]) -> (targets: [Float], top: (Int, Float)?) {
            var probabilities: [Double]? = nil
            if let scores, let s = values[scores.tensorName] { probabilities = Self.softmax(s.scalars) }
            let v = targets.map { t -> Float in
                if t.isClass { return Float(probabilities?[t.channel] ?? .nan) }
                return Self.unitValue(values[t.layer.tensorName]!, channel: t.channel, y: t.y, x: t.x)
            }
            guard let p = probabilities, let best = p.indices.max(by: { p[$0] < p[$1] || (p[$0] == p[$1] && $0 > $1) }) else { return (v, nil) }
            return (v, (best, Float(p[best])))
        }
        var cleanValues: [String: Tensor] = [:]
        for name in keep { cleanValues[name] = trace.values[name] }
        let clean = evaluate(cleanValues).targets
        let rows = request.positions(h), cols = request.positions(w)
        let total = rows.count * cols.count
        var values = [[Float]](repeating: [Float](repeating: 0, count: total), count: targets.count)
        var sums = [[Double]](repeating: [Double](repeating: 0, count: h * w), count: targets.count)
        var counts = [Int](repeating: 0, count: h * w)
        var top = [Float](repeating: 0, count: total), topP = [Float](repeating: 0, count: total)
        var hasTop = false
        var work = PatchedWork()
        // Window positions run concurrently (each forward pass is independent); the attribution
        // sums are accumulated afterwards, in position order.
        let boxes = rows.flatMap { y0 in cols.map { x0 in
            MapRegion(top: y0, left: x0, bottom: min(h, y0 + request.window), right: min(w, x0 + request.window))
        } }
        let results = ResultSlots<(targets: [Float], top: (Int, Float)?, work: PatchedWork)>(count: total)
        let counter = ProgressCounter(total: total, progress)
        let nhwc = inputIsNHWC
        // Positions run in groups whose forward passes stack once their changes cover whole maps
        // (``Graph/runPatched(_:inputs:keep:promote:)``); groups run concurrently. A group holds up
        // to 16 images, fewer when 16 of the largest activation would pass 32 Mi floats; the groups
        // come in whole rounds of one per thread, of about equal size, so no thread idles at the end.
        let largest = trace.graph.shapes.values.map(\.count).max() ?? 1
        let cap = max(1, min(16, (32 << 20) / max(1, largest)))
        let threads = Parallelism.threadCount
        // Whole rounds of groups: a multiple of the thread count, of sizes that differ by at most one.
        let rounds = max(1, ((total + cap - 1) / cap + threads - 1) / threads)
        let perGroup = !request.incremental ? 1 : max(1, (total + rounds * threads - 1) / (rounds * threads))
        let groups = stride(from: 0, to: total, by: perGroup).map { $0..<min(total, $0 + perGroup) }
        Parallelism.forEach(groups.count) { g in
            let inputs = groups[g].map { k -> PatchedInput in
                let region = boxes[k]
                var patched = x
                patched.scalars.withUnsafeMutableBufferPointer { p in
                    for ch in 0..<c {
                        for y in region.top..<region.bottom {
                            let row = p.baseAddress! + (ch * h + y) * w
                            for xx in region.left..<region.right { row[xx] = request.baseline }
                        }
                    }
                }
                return nhwc ? PatchedInput(Reshaping.transpose(patched, perm: [0, 2, 3, 1]), region: nil)
                            : PatchedInput(patched, region: request.incremental ? region : nil)
            }
            for (k, (out, done)) in zip(groups[g], trace.graph.runPatched(trace, inputs: inputs, keep: keep)) {
                let e = evaluate(out)
                results.set(k, (e.targets, e.top, done))
                counter.advance()
            }
        }
        for k in 0..<total {
            let (v, best, done) = results.get(k)
            let region = boxes[k]
            work += done
            for t in targets.indices {
                values[t][k] = v[t]
                let delta = Double(clean[t]) - Double(v[t])
                for y in region.top..<region.bottom {
                    for xx in region.left..<region.right { sums[t][y * w + xx] += delta }
                }
            }
            for y in region.top..<region.bottom {
                for xx in region.left..<region.right { counts[y * w + xx] += 1 }
            }
            if let (b, p) = best { (top[k], topP[k], hasTop) = (Float(b), p, true) }
        }
        let attributions = sums.map { s -> Tensor in
            let plane = (0..<(h * w)).map { counts[$0] == 0 ? Float(0) : Float(s[$0] / Double(counts[$0])) }
            return Tensor(shape: Shape([1, c, h, w]), scalars: Array((0..<c).map { _ in plane }.joined()))
        }
        let grid = Shape([rows.count, cols.count])
        return OcclusionMaps(rows: rows, columns: cols, targets: targets, clean: clean,
                             values: values.map { Tensor(shape: grid, scalars: $0) }, attributions: attributions,
                             topClass: hasTop ? Tensor(shape: grid, scalars: top) : nil,
                             topProbability: hasTop ? Tensor(shape: grid, scalars: topP) : nil, work: work)
    }

    /// Softmax in double precision.
    static func softmax(_ v: [Float]) -> [Double] {
        let m = Double(v.max() ?? 0)
        let e = v.map { exp(Double($0) - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// A unit's activation, or the sum of its channel's map when it has no position.
    static func unitValue(_ t: Tensor, channel: Int, y: Int?, x: Int?) -> Float {
        let d = t.shape.dimensions
        if d.count == 2 { return t.scalars[channel] }
        let plane = d[2] * d[3]
        if let y, let x { return t.scalars[channel * plane + y * d[3] + x] }
        var s = 0.0
        for k in 0..<plane { s += Double(t.scalars[channel * plane + k]) }
        return Float(s)
    }
}

extension Model {
    /// Computes occlusion maps and writes, per target, the map over window positions (`.npy`
    /// `[rows, columns]` and a viridis PNG with its colour bar, kind `occlusion-map`) and the
    /// per-pixel attribution (`[1, C, H, W]`, and its channel-0 plane over the input with the
    /// diverging colormap, kind `occlusion`); the top-class map (kind `occlusion-top`, a PNG with a
    /// colour per class and its legend) when the model has a class output; and `manifest.json`.
    /// - Throws: `ConvLensError` before anything is written for a bad window, target or input.
    @discardableResult
    public func writeOcclusion(_ request: OcclusionRequest, trace: Trace, input: ModelInput, to directory: String,
                               parameters: [String: JSONValue], progress: ((Int, Int) -> Void)? = nil) throws -> (Manifest, OcclusionMaps) {
        let maps = try occlusion(request, trace: trace, progress: progress)
        var manifest = try self.manifest(command: "occlusion", input: input, parameters: parameters)
        let background = try displayImage(of: input)
        try AtomicFile.makeDirectory(directory)
        func output(_ kind: Manifest.Kind, _ t: Tensor, _ name: String, png: Bool = true) -> Manifest.Output {
            var o = Manifest.Output(kind: kind)
            o.npy = "\(name).npy"
            o.png = png ? "\(name).png" : nil
            o.shape = t.shape.dimensions
            (o.min, o.max) = (t.range.min, t.range.max)
            return o
        }
        for (k, t) in maps.targets.enumerated() {
            let name = "\(t.stem)_occlusion"
            func describe(_ o: inout Manifest.Output) {
                o.label = t.label
                o.channel = t.channel
                o.y = t.y
                o.x = t.x
                o.activation = maps.clean[k]
                if !t.isClass { o.layer = t.layer.name }
            }
            try NPY.write(maps.values[k], to: "\(directory)/\(name)_map.npy")
            try Self.positionMap(maps.values[k], width: background.width).writePNG(to: "\(directory)/\(name)_map.png")
            var m = output(.occlusionMap, maps.values[k], "\(name)_map")
            describe(&m)
            manifest.outputs.append(m)
            let a = maps.attributions[k]
            try NPY.write(a, to: "\(directory)/\(name).npy")
            let plane = a.scalars[0..<(a.shape[2] * a.shape[3])]
            try Overlay(colormap: .diverging, opacity: 0.6, legend: true)
                .render(image: background, map: Array(plane), mapWidth: a.shape[3], mapHeight: a.shape[2])
                .writePNG(to: "\(directory)/\(name).png")
            var o = output(.occlusion, a, name)
            describe(&o)
            manifest.outputs.append(o)
        }
        if let top = maps.topClass, let scores = try? scoreLayer() {
            let names = classNames(count: scores.shape.count)
            try NPY.write(top, to: "\(directory)/occlusion_top.npy")
            try Self.classMap(top, names: names, width: background.width).writePNG(to: "\(directory)/occlusion_top.png")
            var o = output(.occlusionTop, top, "occlusion_top")
            o.label = "top class per window position"
            manifest.outputs.append(o)
        }
        try manifest.write(to: directory)
        return (manifest, maps)
    }

    /// A `[rows, columns]` map as viridis cells (min–max), magnified to about `width` pixels, with
    /// its colour bar.
    static func positionMap(_ t: Tensor, width: Int) -> Image {
        let rows = t.shape[0], cols = t.shape[1]
        let zoom = max(1, width / max(cols, 1))
        let range = ValueRange(of: t.scalars)
        var canvas = Canvas(width: cols * zoom, height: rows * zoom)
        for i in 0..<rows {
            for j in 0..<cols {
                canvas.fill(Rect(x: j * zoom, y: i * zoom, width: zoom, height: zoom), Colormap.viridis.color(range.unit(t.scalars[i * cols + j])))
            }
        }
        let bar = ColorBar(colormap: .viridis, range: range).render(length: canvas.width)
        return Canvas.vertical([canvas.image, bar], spacing: 2)
    }

    /// A `[rows, columns]` map of class indices: one colour per class (the ten most frequent; gray
    /// for the rest), magnified to about `width` pixels, with a legend.
    static func classMap(_ t: Tensor, names: [String], width: Int) -> Image {
        let rows = t.shape[0], cols = t.shape[1]
        let zoom = max(1, width / max(cols, 1))
        let classes = t.scalars.map { Int($0) }
        var frequency: [Int: Int] = [:]
        for k in classes { frequency[k, default: 0] += 1 }
        let shown = frequency.keys.sorted { frequency[$0]! != frequency[$1]! ? frequency[$0]! > frequency[$1]! : $0 < $1 }.prefix(10)
        let palette: [RGB] = [
            RGB(red: 0.12, green: 0.47, blue: 0.71), RGB(red: 1.0, green: 0.5, blue: 0.05), RGB(red: 0.17, green: 0.63, blue: 0.17),
            RGB(red: 0.84, green: 0.15, blue: 0.16), RGB(red: 0.58, green: 0.4, blue: 0.74), RGB(red: 0.55, green: 0.34, blue: 0.29),
            RGB(red: 0.89, green: 0.47, blue: 0.76), RGB(red: 0.74, green: 0.74, blue: 0.13), RGB(red: 0.09, green: 0.75, blue: 0.81),
            RGB(red: 0.0, green: 0.0, blue: 0.0),
        ]
        let colour = Dictionary(uniqueKeysWithValues: shown.enumerated().map { ($1, palette[$0]) })
        let other = RGB(gray: 0.6)
        var canvas = Canvas(width: cols * zoom, height: rows * zoom)
        for i in 0..<rows {
            for j in 0..<cols {
                canvas.fill(Rect(x: j * zoom, y: i * zoom, width: zoom, height: zoom), colour[classes[i * cols + j]] ?? other)
            }
        }
        var legend: [Image] = []
        let font = BitmapFont.standard
        for k in shown {
            let text = k < names.count ? "\(k) \(names[k])" : "CLASS \(k)"
            var line = Canvas(width: 12 + font.size(of: text).width, height: max(8, font.glyphHeight))
            line.fill(Rect(x: 0, y: 0, width: 8, height: 8), colour[k]!)
            line.draw(text: text, x: 12, y: 0, color: .black)
            legend.append(line.image)
        }
        return Canvas.vertical([canvas.image] + legend, spacing: 2)
    }
}

/// One result per work item, written concurrently to distinct slots.
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ value: T) { lock.withLock { slots[i] = value } }
    func get(_ i: Int) -> T { lock.withLock { slots[i]! } }
}

/// Counts finished work items from several threads and reports them in order.
final class ProgressCounter: @unchecked Sendable {
    private var done = 0
    private let total: Int
    private let report: ((Int, Int) -> Void)?
    private let lock = NSLock()

    init(total: Int, _ report: ((Int, Int) -> Void)?) {
        self.total = total
        self.report = report
    }

    func advance() {
        lock.withLock {
            done += 1
            report?(done, total)
        }
    }
}
