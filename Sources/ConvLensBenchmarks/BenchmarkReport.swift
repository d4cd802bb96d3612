import Foundation

/// One workload's result: one entry of the `workloads` array of `convlens bench --json`
/// (the shape shared with `Tests/Benchmarks/pytorch_baseline.py`, Docs/Performance.md).
public struct BenchmarkResult: Sendable, Codable, Equatable {
    /// The workload id (`A`, `B`, `C`, `D1`, `D16`, `E3`, `E5`, `E7`, `E11`, `F`).
    public var id: String
    /// A short description (network, layer, rule, counts).
    public var what: String
    /// The median seconds of one run; `nil` when the workload could not run (see ``note``).
    public var seconds: Double?
    /// The fastest run, in seconds.
    public var minSeconds: Double?
    /// The method whose median is ``seconds`` (ConvLens: `auto`, the planner's choice per layer).
    public var method: String
    /// Every method's median seconds.
    public var methods: [String: Double]
    /// How many timed runs (after one warm-up run).
    public var runs: Int
    /// Seeds projected in one run (0 for forward-only and single-convolution workloads).
    public var seeds: Int
    /// Direct-equivalent flops of one run (Docs/Performance.md "convlens bench").
    public var flops: Double
    /// `flops / seconds / 1e9`.
    public var gflops: Double?
    /// The peak resident set size while the workload ran (`VmHWM` after resetting it), in bytes.
    public var peakRSSBytes: Int?
    /// The convolution algorithms that ran (`fft+gemm`, `fft32`, …).
    public var algorithms: String
    /// Anything a reader of the number should know.
    public var note: String
    /// Projection workloads: the backward convolutions' work on receptive-field windows as a
    /// fraction of the same convolutions on whole maps (``AlgorithmLog/convolutionFlops``).
    public var windowWorkFraction: Double?

    public init(id: String, what: String, seconds: Double?, minSeconds: Double?, method: String, methods: [String: Double],
                runs: Int, seeds: Int, flops: Double, gflops: Double?, peakRSSBytes: Int?, algorithms: String, note: String) {
        self.id = id
        self.what = what
        self.seconds = seconds
        self.minSeconds = minSeconds
        self.method = method
        self.methods = methods
        self.runs = runs
        self.seeds = seeds
        self.flops = flops
        self.gflops = gflops
        self.peakRSSBytes = peakRSSBytes
        self.algorithms = algorithms
        self.note = note
    }

    enum CodingKeys: String, CodingKey {
        case id, what, seconds, method, methods, runs, seeds, flops, gflops, algorithms, note
        case minSeconds = "min_seconds"
        case peakRSSBytes = "peak_rss_bytes"
        case windowWorkFraction = "window_work_fraction"
    }

    // Absent values are written as null (the synthesized encoder would drop the keys).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(what, forKey: .what)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(minSeconds, forKey: .minSeconds)
        try c.encode(method, forKey: .method)
        try c.encode(methods, forKey: .methods)
        try c.encode(runs, forKey: .runs)
        try c.encode(seeds, forKey: .seeds)
        try c.encode(flops, forKey: .flops)
        try c.encode(gflops, forKey: .gflops)
        try c.encode(peakRSSBytes, forKey: .peakRSSBytes)
        try c.encode(algorithms, forKey: .algorithms)
        try c.encodeIfPresent(windowWorkFraction, forKey: .windowWorkFraction)
        try c.encode(note, forKey: .note)
    }
}

/// The result of `convlens bench`: what `--json` prints and `--out` writes.
public struct BenchmarkReport: Sendable, Codable, Equatable {
    /// Always `convlens` (the PyTorch baseline writes `pytorch`).
    public var tool: String = "convlens"
    /// Versions of the tool and what it links.
    public var versions: [String: String]
    /// Worker threads (`Parallelism.threadCount`).
    public var threads: Int
    /// Whether the quick sizes ran.
    public var quick: Bool
    /// The measured fp32 FMA peak of the machine on ``threads`` threads (``MachinePeak``).
    public var machinePeakGFLOPS: Double?
    /// Wall-clock seconds of the whole suite (peak probe, set-up, warm-ups and timed runs).
    public var totalSeconds: Double?
    /// The 1-minute load average when the suite started (`/proc/loadavg`): above about the thread
    /// count, other work shared the cores and the times are inflated.
    public var loadAverage: Double?
    /// One entry per workload, in suite order.
    public var workloads: [BenchmarkResult]

    public init(versions: [String: String], threads: Int, quick: Bool, machinePeakGFLOPS: Double?,
                totalSeconds: Double?, loadAverage: Double? = nil, workloads: [BenchmarkResult]) {
        self.versions = versions
        self.threads = threads
        self.quick = quick
        self.machinePeakGFLOPS = machinePeakGFLOPS
        self.totalSeconds = totalSeconds
        self.loadAverage = loadAverage
        self.workloads = workloads
    }

    enum CodingKeys: String, CodingKey {
        case tool, versions, threads, quick, workloads
        case machinePeakGFLOPS = "machine_peak_gflops"
        case totalSeconds = "total_seconds"
        case loadAverage = "load_average"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tool, forKey: .tool)
        try c.encode(versions, forKey: .versions)
        try c.encode(threads, forKey: .threads)
        try c.encode(quick, forKey: .quick)
        try c.encode(machinePeakGFLOPS, forKey: .machinePeakGFLOPS)
        try c.encode(totalSeconds, forKey: .totalSeconds)
        try c.encode(loadAverage, forKey: .loadAverage)
        try c.encode(workloads, forKey: .workloads)
    }

    /// The report as pretty-printed JSON with sorted keys.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(self)
    }
}
