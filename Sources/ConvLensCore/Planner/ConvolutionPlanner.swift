import Foundation

/// The algorithm that computes a convolution or transposed convolution.
public enum ConvolutionAlgorithm: String, Sendable, Hashable, CaseIterable, Codable {
    /// Let ``ConvolutionPlanner`` choose per layer and direction.
    case auto
    /// FFTW r2c/c2r on overlap-add tiles, channel mixing by one `cblas_cgemm` per frequency bin.
    case fft
    /// im2col / col2im + `cblas_sgemm`.
    case gemm
    /// Plain loops (depthwise and tiny layers).
    case direct
}

/// One convolution to plan: shapes, geometry and batch.
public struct ConvolutionProblem: Sendable, Hashable, CustomStringConvertible {
    /// `Conv` (`forward`) or `ConvTranspose` (`transposed`, the back-projection of a `Conv`).
    public enum Direction: String, Sendable, Hashable { case forward, transposed }
    public var direction: Direction
    public var batch: Int
    /// Channels of the input tensor and of the output tensor.
    public var inChannels: Int, outChannels: Int
    public var height: Int, width: Int
    public var outHeight: Int, outWidth: Int
    public var geometry: Conv2DGeometry

    /// - Parameters:
    ///   - input: `[N, C_in, H, W]`.
    ///   - weight: `[C_out, C_in/g, kH, kW]` (forward) or `[C_in, C_out/g, kH, kW]` (transposed).
    public init(direction: Direction, input: Shape, weight: Shape, geometry: Conv2DGeometry, outputSize: (Int, Int)) {
        self.direction = direction
        batch = input[0]
        inChannels = input[1]
        height = input[2]
        width = input[3]
        outChannels = direction == .forward ? weight[0] : weight[1] * geometry.groups
        (outHeight, outWidth) = outputSize
        self.geometry = geometry
    }

    var inPerGroup: Int { inChannels / geometry.groups }
    var outPerGroup: Int { outChannels / geometry.groups }
    var taps: Int { geometry.kernel[0] * geometry.kernel[1] }
    var isDepthwise: Bool { inPerGroup == 1 && outPerGroup == 1 }

    /// Multiply-adds ×2 of the direct definition (what "direct-equivalent GFLOP/s" counts).
    public var flops: Double {
        let pixels = direction == .forward ? outHeight * outWidth : height * width
        let fan = direction == .forward ? inPerGroup : outPerGroup
        let channels = direction == .forward ? outChannels : inChannels
        return 2 * Double(batch) * Double(channels) * Double(fan) * Double(taps) * Double(pixels)
    }

    /// A stable text key (for the measured-plan cache file).
    public var description: String {
        let g = geometry
        return "\(direction.rawValue) n\(batch) c\(inChannels)->\(outChannels) \(height)x\(width)->\(outHeight)x\(outWidth)"
            + " k\(g.kernel[0])x\(g.kernel[1]) s\(g.strides[0])x\(g.strides[1]) p\(g.pads.map(String.init).joined(separator: ","))"
            + " d\(g.dilations[0])x\(g.dilations[1]) g\(g.groups)"
    }
}

/// What the planner chose (or was told) for one convolution, with its estimated time.
public struct ConvolutionChoice: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `.fft`, `.gemm` or `.direct` (never `.auto`).
    public var algorithm: ConvolutionAlgorithm
    /// The FFT tile size (FFT only).
    public var tile: Int?
    /// Estimated seconds from the cost model.
    public var estimatedSeconds: Double

    public init(algorithm: ConvolutionAlgorithm, tile: Int? = nil, estimatedSeconds: Double) {
        self.algorithm = algorithm
        self.tile = tile
        self.estimatedSeconds = estimatedSeconds
    }

    /// `fft32`, `gemm`, `direct`.
    public var description: String { algorithm.rawValue + (tile.map(String.init) ?? "") }
}

/// Picks direct, GEMM or FFT (and the FFT tile size) per convolution from a cost model, or by
/// timing the candidates once (`mode = .measure`, remembered in memory and in ``cacheFile``).
///
/// The cost model (Docs/Performance.md) divides each algorithm's work by a rate measured on this
/// machine class (FACTS.md "Speed"), times ``Parallelism/threadCount``:
/// - direct: `flops / 4 GFLOP/s` (depthwise), `/ 2 GFLOP/s` otherwise;
/// - GEMM: `flops / (60 GFLOP/s · e)` with `e` falling when the product's small dimension is
///   under 32, plus im2col/col2im traffic (60 GFLOP/s: calibrated on the Docs/Performance.md table);
/// - FFT: transforms (`2.5·T²·log₂T²` flops at 10 GFLOP/s each, per tile and channel) plus the
///   per-bin complex products (`8·bins·M·C_in·C_out` at 45 GFLOP/s · e, `e` falling when `M`, `C_in`
///   or `C_out` is under 16) plus the kernel spectra, for each candidate tile.
public final class ConvolutionPlanner: @unchecked Sendable {
    /// `estimate` uses the cost model; `measure` times the candidates on the first call of each shape.
    public enum Mode: String, Sendable, CaseIterable { case estimate, measure }

    /// The planner the convolution functions consult.
    public static let shared = ConvolutionPlanner()

    private let lock = NSLock()
    private var _mode: Mode = .estimate
    private var measured: [String: ConvolutionChoice] = [:]
    private var _cacheFile: String?

    public init() {}

    /// How `.auto` decides.
    public var mode: Mode {
        get { lock.lock(); defer { lock.unlock() }; return _mode }
        set { lock.lock(); _mode = newValue; lock.unlock() }
    }

    /// A JSON file of measured choices: loaded when set (if it exists), rewritten after each measurement.
    public var cacheFile: String? {
        get { lock.lock(); defer { lock.unlock() }; return _cacheFile }
        set {
            lock.lock()
            defer { lock.unlock() }
            _cacheFile = newValue
            if let path = newValue, let data = FileManager.default.contents(atPath: path),
               let saved = try? JSONDecoder().decode([String: ConvolutionChoice].self, from: data) {
                measured.merge(saved) { mine, _ in mine }
            }
        }
    }

    // Rates per core (FACTS.md "Speed"), in FLOP/s and bytes/s.
    static let gemmRate = 60e9, cgemmRate = 45e9, fftRate = 10e9
    static let directRate = 2e9, depthwiseRate = 4e9, memoryRate = 4e9

    /// Every candidate with its estimated seconds, cheapest first (FFT once per feasible tile).
    public func candidates(_ p: ConvolutionProblem) -> [ConvolutionChoice] {
        let threads = Double(Parallelism.threadCount)
        var out: [ConvolutionChoice] = []
        out.append(ConvolutionChoice(algorithm: .direct, estimatedSeconds: p.flops / ((p.isDepthwise ? Self.depthwiseRate : Self.directRate) * threads)))
        out.append(ConvolutionChoice(algorithm: .gemm, estimatedSeconds: gemmSeconds(p) / threads))
        if !p.isDepthwise {
            let extent = max(p.geometry.extent(0), p.geometry.extent(1))
            let tiles = FFTConvolution.tileSizes.filter { extent <= $0 / 2 + 1 }
            for t in tiles.isEmpty ? [FFTConvolution.smallestTile(extent: extent)] : tiles {
                out.append(ConvolutionChoice(algorithm: .fft, tile: t, estimatedSeconds: fftSeconds(p, tile: t) / threads))
            }
        }
        return out.sorted { $0.estimatedSeconds < $1.estimatedSeconds }
    }

    /// Single-core seconds of the GEMM path.
    func gemmSeconds(_ p: ConvolutionProblem) -> Double {
        let (m, k): (Int, Int)
        let columns: Double
        if p.direction == .forward {
            (m, k) = (p.outPerGroup, p.inPerGroup * p.taps)
            columns = Double(k * p.outHeight * p.outWidth)
        } else {
            (m, k) = (p.outPerGroup * p.taps, p.inPerGroup)
            columns = Double(m * p.height * p.width)
        }
        let e = max(0.02, min(1, Double(m) / 32) * min(1, Double(k) / 32))
        let traffic = Double(p.batch * p.geometry.groups) * columns * 8 / Self.memoryRate
        return p.flops / (Self.gemmRate * e) + traffic
    }

    /// Single-core seconds of the FFT path with `t × t` tiles.
    func fftSeconds(_ p: ConvolutionProblem, tile t: Int) -> Double {
        let g = p.geometry
        let eh = g.extent(0), ew = g.extent(1)
        let (uh, uw) = p.direction == .forward ? (p.height, p.width)
            : ((p.height - 1) * g.strides[0] + 1, (p.width - 1) * g.strides[1] + 1)
        let tiles = Double(((uh + t - eh) / (t - eh + 1)) * ((uw + t - ew) / (t - ew + 1)))
        let bins = Double(t * (t / 2 + 1))
        let n2 = Double(t * t)
        let transform = 2.5 * n2 * log2(n2) / Self.fftRate + bins * 16 / Self.memoryRate
        let groups = Double(g.groups), cin = Double(p.inPerGroup), cout = Double(p.outPerGroup)
        let m = Double(p.batch) * tiles
        let transforms = groups * (m * (cin + cout) + cin * cout) * transform
        let e = max(0.02, min(1, m / 16) * min(1, cin / 16) * min(1, cout / 16))
        let mixing = groups * 8 * bins * m * cin * cout / (Self.cgemmRate * e)
        return transforms + mixing
    }

    /// The estimate-mode choice.
    public func estimate(_ p: ConvolutionProblem) -> ConvolutionChoice { candidates(p)[0] }

    /// Resolves `algorithm` for `p`.
    /// - Parameters:
    ///   - algorithm: `.auto` consults the cost model (or measures); others are returned as forced.
    ///   - tile: a forced FFT tile size.
    ///   - run: runs one candidate (used in measure mode).
    public func choose(_ p: ConvolutionProblem, algorithm: ConvolutionAlgorithm, tile: Int? = nil,
                       run: (ConvolutionChoice) -> Void) -> ConvolutionChoice {
        let all = candidates(p)
        switch algorithm {
        case .fft:
            let extent = max(p.geometry.extent(0), p.geometry.extent(1))
            let t = FFTConvolution.tile(requested: tile, extent: extent)
            let c = all.first { $0.algorithm == .fft && $0.tile == t }
            return ConvolutionChoice(algorithm: .fft, tile: t,
                                     estimatedSeconds: c?.estimatedSeconds ?? fftSeconds(p, tile: t) / Double(Parallelism.threadCount))
        case .gemm, .direct:
            return all.first { $0.algorithm == algorithm }!
        case .auto:
            guard mode == .measure else { return all[0] }
            let key = p.description
            lock.lock()
            let known = measured[key]
            lock.unlock()
            if let known { return known }
            // Time the cheapest estimate of each algorithm (skipping those estimated 20× worse).
            var seen = Set<ConvolutionAlgorithm>()
            let best = all[0].estimatedSeconds
            var timed: [(ConvolutionChoice, Double)] = []
            for c in all where !seen.contains(c.algorithm) && c.estimatedSeconds <= 20 * best {
                seen.insert(c.algorithm)
                run(c)  // warm-up: plans and kernel spectra
                let start = DispatchTime.now().uptimeNanoseconds
                run(c)
                timed.append((c, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            }
            let winner = timed.min { $0.1 < $1.1 }!.0
            lock.lock()
            measured[key] = winner
            let file = _cacheFile, snapshot = measured
            lock.unlock()
            if let file, let data = try? JSONEncoder().encode(snapshot) {
                try? AtomicFile.write(data, to: file)
            }
            return winner
        }
    }
}
