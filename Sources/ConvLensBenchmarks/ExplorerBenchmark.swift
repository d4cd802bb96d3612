import ConvLens
import ConvLensExplorer
import Foundation

/// The explorer's rows of `convlens bench` (Docs/Performance.md, Docs/Explorer.md "Speed"): what a
/// user of the page waits for, measured in the engine on the bundled MobileNetV2 (HTTP on loopback
/// adds about a millisecond; `Scripts/explorer-load.py` measures through HTTP).
///
/// - `XI`: a new image → its forward pass and the activation grid of the page's starting layer
///   (upload decoding included). Reported: the 95th percentile.
/// - `XC`: a click on a unit → its projection PNG, on every layer (quick: 4 spatial layers) under
///   each of the three rules. Reported: the 95th percentile.
/// - `XF`: one webcam frame with the back pane on → forward, input picture, grid, projection and
///   predictions: the page's loop. Reported: the median frame (frames/s in the note).
public enum ExplorerBenchmark {
    /// The workload ids, in order.
    public static let ids = BenchmarkSuite.explorerIds

    /// Runs one workload (after a warm-up pass).
    /// - Throws: `ConvLensError` when the bundled model or photographs are missing.
    public static func run(_ id: String, quick: Bool, progress: BenchmarkSuite.Progress? = nil) async throws -> BenchmarkResult {
        let engine = try ExplorerEngine(configuration: ExplorerConfiguration())
        defer { engine.close() }
        let photos = try BundledResources.sampleImages.map { try AtomicFile.read(try BundledResources.path($0)) }
        let doc = engine.document
        let start = startLayer(doc)
        var base = ViewParameters()
        base.image = "b0"
        base.layer = doc.layers[start].name
        base.unit = 0
        let spatial = doc.layers.indices.filter { doc.layers[$0].height > 1 && doc.layers[$0].shape.count == 4 }

        let samples: Int
        let what: String
        let work: (Int) async throws -> Void
        switch id {
        case "XI":
            samples = quick ? 9 : 30
            what = "explore: new image → forward + grid of #\(doc.layers[start].index) (p95)"
            work = { i in
                let d = try await engine.add(photos[i % photos.count], name: "bench.jpg", camera: true)
                var p = base
                p.image = d.id
                _ = try await engine.activationGrid(p)
            }
        case "XC":
            // Full: every layer of the model (the classifier's too); quick: 4 spatial layers.
            let layers = quick ? stride(from: 0, to: spatial.count, by: max(1, spatial.count / 4)).map { spatial[$0] } : Array(doc.layers.indices)
            samples = layers.count * ProjectionRule.allCases.count
            what = "explore: unit click → projection PNG, \(layers.count) layers × 3 rules (p95)"
            _ = try await engine.activationGrid(base)   // the trace of b0, as the page has it before a click
            work = { i in
                var p = base
                let l = doc.layers[layers[i % layers.count]]
                p.layer = l.name
                p.unit = (i * 7) % l.channels
                p.rule = ProjectionRule.allCases[(i / layers.count) % ProjectionRule.allCases.count]
                _ = try await engine.projectionPNG(p)
            }
        case "XF":
            samples = quick ? 9 : 30
            what = "explore: camera frame with back pane: forward, input, grid, projection, top-5 (median)"
            work = { i in
                let d = try await engine.add(photos[i % photos.count], name: "camera.jpg", camera: true)
                var p = base
                p.image = d.id
                _ = try await engine.inputPNG(p)
                _ = try await engine.activationGrid(p)
                _ = try await engine.projectionPNG(p)
                _ = try await engine.predictions(p)
            }
        default:
            throw ConvLensError(.invalidArgument, parameter: "only", "unknown explorer workload '\(id)'")
        }

        ResourceUsage.resetPeak()
        progress?(id, 0, samples)
        for i in 0..<min(samples, 6) { try await work(i) }   // warm-up: FFTW plans, planner, caches
        var times: [Double] = []
        for i in 0..<samples {
            progress?(id, i + 1, samples)
            let t0 = DispatchTime.now().uptimeNanoseconds
            try await work(i)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let sorted = times.sorted()
        let median = sorted[sorted.count / 2]
        let p95 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)]
        let reported = id == "XF" ? median : p95
        let note: String
        switch id {
        case "XI": note = String(format: "p95 %.0f ms, median %.0f ms (target: p95 ≤ 150 ms)", 1000 * p95, 1000 * median)
        case "XC": note = String(format: "p95 %.0f ms, median %.0f ms (target: p95 ≤ 100 ms)", 1000 * p95, 1000 * median)
        default: note = String(format: "%.1f frames/s (median frame %.0f ms, p95 %.0f ms; target ≥ 5 frames/s)", 1 / median, 1000 * median, 1000 * p95)
        }
        return BenchmarkResult(id: id, what: what, seconds: reported, minSeconds: sorted.first, method: id == "XF" ? "median" : "p95",
                               methods: ["median": median, "p95": p95], runs: samples, seeds: 0, flops: 0, gflops: nil,
                               peakRSSBytes: ResourceUsage.peakResidentBytes(), algorithms: "auto", note: note)
    }

    /// The page's starting layer: the first rectified spatial layer whose units see at least a
    /// quarter of the input (as `app.js` chooses it).
    static func startLayer(_ doc: ModelDocument) -> Int {
        let side = Double(doc.input.suffix(2).max() ?? 1)
        func wide(_ l: LayerDocument) -> Bool { l.height > 1 && (l.receptiveField?.size.first ?? 0) >= side / 4 }
        return doc.layers.firstIndex { wide($0) && ["Relu", "Clip", "LeakyRelu"].contains($0.op) }
            ?? doc.layers.firstIndex(where: wide) ?? 0
    }
}

extension BenchmarkSuite {
    /// Runs the workloads `ids` (from ``select(_:)``): the suite's with ``run(ids:quick:zoo:progress:)``,
    /// then the explorer's (``ExplorerBenchmark``), in one report. A workload that cannot run has
    /// `seconds == nil` and says why in its note.
    public static func runAll(ids: [String], quick: Bool, zoo: String = defaultZoo, progress: Progress? = nil) async -> BenchmarkReport {
        var report = run(ids: ids, quick: quick, zoo: zoo, progress: progress)
        let start = DispatchTime.now().uptimeNanoseconds
        for id in ids where explorerIds.contains(id) {
            do {
                report.workloads.append(try await ExplorerBenchmark.run(id, quick: quick, progress: progress))
            } catch {
                report.workloads.append(BenchmarkResult(id: id, what: id, seconds: nil, minSeconds: nil, method: "p95", methods: [:],
                                                        runs: 0, seeds: 0, flops: 0, gflops: nil, peakRSSBytes: nil,
                                                        algorithms: "n/a", note: "n/a: \(error)"))
            }
        }
        report.totalSeconds = (report.totalSeconds ?? 0) + Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return report
    }
}
