import ConvLens
import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensProjection
import Foundation

/// The workloads of `convlens bench` (the contract shared with the PyTorch baseline; ids, sizes and
/// counts in Docs/Performance.md "convlens bench").
///
/// A projection workload's run is the whole job a user asks for: the forward pass on its input(s)
/// and every projection. Each workload runs once to warm up (FFTW plans, kernel spectra, planner
/// decisions), then ``runs(quick:)`` times; the median is reported.
public enum BenchmarkSuite {
    /// Every workload id, in suite order.
    public static let ids = ["A", "B", "C", "D1", "D16", "E3", "E5", "E7", "E11", "F", "O", "M1", "M16", "JR50", "JD121", "JEB0", "JMV2"] + explorerIds

    /// The explorer's workloads (`convlens explore`'s latencies): run by `ConvLensExplorer`'s
    /// `ExplorerBenchmark`, which the command line calls; ``run(ids:quick:zoo:progress:)`` skips them.
    public static let explorerIds = ["XI", "XC", "XF"]

    /// The whole-job workloads: the `convlens project` command run as a child process on a model
    /// exported by `Tests/Benchmarks/export_job_models.py` (Docs/Performance.md "Whole jobs").
    public static let jobIds: Set<String> = ["JR50", "JD121", "JEB0", "JMV2"]

    /// The folder of the whole-job models when none is given: `.build/bench/zoo` (where `make bench`
    /// exports them), relative to the working directory.
    public static let defaultZoo = ".build/bench/zoo"

    /// The channels a whole job projects: with `quick` 0..<32 of ResNet-50 `layer3` and DenseNet-121
    /// `denseblock3` and 0..<64 of MobileNetV2 `features.10.conv.0`, otherwise every channel (and
    /// always every channel of EfficientNet-B0 `features.4`'s 80).
    public static func jobChannels(_ id: String, of total: Int, quick: Bool) -> Int {
        guard quick else { return total }
        switch id {
        case "JEB0": return total
        case "JMV2": return min(64, total)
        default: return min(32, total)
        }
    }

    /// The layer workloads M1 and M16 maximize: the bundled MobileNetV2's block 3 expansion
    /// (BN folded), `[1, 144, 56, 56]`.
    public static let optimizeProbe = "/features/features.3/conv/conv.0/conv.0.0/Conv"

    /// Steps of M1 / M16: 512, or 16 / 8 with `quick`.
    public static func optimizeSteps(channels: Int, quick: Bool) -> Int { quick ? (channels == 1 ? 16 : 8) : 512 }

    /// The layer workload C seeds in the bundled MobileNetV2: block 16's projection (BN folded), `[1, 160, 7, 7]`.
    public static let mobileNetProbe = "/features/features.16/conv/conv.2/Conv"

    /// Timed runs per workload: 5, or 3 with `quick`.
    public static func runs(quick: Bool) -> Int { quick ? 3 : 5 }

    /// Checks and orders a list of workload ids (case-insensitive).
    /// - Parameter only: ids such as `["A", "e3"]`; `nil` or empty: every workload.
    /// - Returns: the canonical ids in suite order, without repeats.
    /// - Throws: ``ConvLensError`` (`invalidArgument`, parameter `only`) for an unknown id.
    public static func select(_ only: [String]?) throws -> [String] {
        guard let only, !only.isEmpty else { return ids }
        var chosen = Set<String>()
        for raw in only {
            let id = raw.trimmingCharacters(in: .whitespaces).uppercased()
            guard ids.contains(id) else {
                throw ConvLensError(.invalidArgument, parameter: "only", "unknown workload '\(raw)'; the workloads are \(ids.joined(separator: ", "))")
            }
            chosen.insert(id)
        }
        return ids.filter(chosen.contains)
    }

    /// A progress report: the workload, and which run starts (0: the warm-up, then 1…total, the timed runs).
    public typealias Progress = @Sendable (_ id: String, _ done: Int, _ total: Int) -> Void

    /// Runs the chosen workloads and measures the machine's peak.
    /// - Parameters:
    ///   - ids: canonical ids (``select(_:)``).
    ///   - quick: the smaller sizes and 3 runs instead of 5.
    ///   - progress: called before the warm-up and before every timed run.
    /// - Returns: the report, workloads in suite order; a workload that throws (a ``ConvLensError``:
    ///   the bundled model missing, a model the importer rejects) has `seconds == nil` and the
    ///   error in its note.
    public static func run(ids: [String], quick: Bool, zoo: String = defaultZoo, progress: Progress? = nil) -> BenchmarkReport {
        let start = DispatchTime.now().uptimeNanoseconds
        let load = loadAverage()
        let peak = MachinePeak.measure()
        var results: [BenchmarkResult] = []
        for id in ids where !explorerIds.contains(id) {
            do {
                results.append(try run(id, quick: quick, zoo: zoo, progress: progress))
            } catch {
                // One workload that cannot run (a model ConvLens rejects) is a row with the reason,
                // not the end of the suite.
                results.append(BenchmarkResult(id: id, what: id, seconds: nil, minSeconds: nil, method: "auto", methods: [:],
                                               runs: 0, seeds: 0, flops: 0, gflops: nil, peakRSSBytes: nil,
                                               algorithms: "n/a", note: "n/a: \(error)"))
            }
        }
        let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return BenchmarkReport(versions: ["convlens": convLensVersion, "blas": MatrixMultiply.kernels], threads: Parallelism.threadCount, quick: quick,
                               machinePeakGFLOPS: peak, totalSeconds: total, loadAverage: load, workloads: results)
    }

    /// Runs one workload: set-up (untimed), peak-memory reset, a warm-up run, then ``runs(quick:)``
    /// timed runs.
    /// - Throws: ``ConvLensError`` for an unknown id or a failing workload.
    public static func run(_ id: String, quick: Bool, zoo: String = defaultZoo, progress: Progress? = nil) throws -> BenchmarkResult {
        let w = try jobIds.contains(id) ? job(id, quick: quick, zoo: zoo) : prepare(id, quick: quick)
        let runs = runs(quick: quick)
        ResourceUsage.resetPeak()
        progress?(id, 0, runs)
        var algorithms = try w.run()
        var times: [Double] = []
        for r in 0..<runs {
            progress?(id, r + 1, runs)
            let t0 = DispatchTime.now().uptimeNanoseconds
            algorithms = try w.run()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let peakRSS = ResourceUsage.peakResidentBytes()
        let sorted = times.sorted()
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        var result = BenchmarkResult(id: id, what: w.what, seconds: median, minSeconds: sorted.first, method: "auto",
                                     methods: ["auto": median], runs: runs, seeds: w.seeds, flops: w.flops,
                                     gflops: median > 0 && w.flops > 0 ? w.flops / median / 1e9 : nil, peakRSSBytes: peakRSS,
                                     algorithms: algorithms, note: w.note)
        if let log = w.work, log.denseConvolutionFlops > 0 {
            result.windowWorkFraction = log.convolutionFlops / log.denseConvolutionFlops
        }
        if let finish = w.finish {
            let (note, peak, used) = try finish()
            result.note += "; " + note
            result.peakRSSBytes = peak ?? result.peakRSSBytes
            result.algorithms = used ?? result.algorithms
        }
        return result
    }

    /// The 1-minute load average (`/proc/loadavg`), or `nil` where unavailable.
    static func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }

    /// A workload ready to run: `run` does one timed unit of work and returns the algorithms used.
    struct Prepared {
        var what: String
        var seeds: Int
        var flops: Double
        var note: String
        var run: () throws -> String
        /// Collects the backward convolutions' work (projection workloads).
        var work: AlgorithmLog? = nil
        /// After the timed runs: a note to add, and the peak RSS and algorithms to report (whole
        /// jobs: the child's, from its manifest).
        var finish: (() throws -> (String, Int?, String?))? = nil
    }

    /// A whole-job workload: `convlens project … --all-channels --rule deconvnet --stack` (or
    /// `--channel 0-31` with `quick`) run by this executable as a child process on a model of the
    /// zoo, timed from process start to exit. Afterwards its stack is compared with the PyTorch
    /// side's (`<zoo>/<id>.torch.npy`, when the baseline ran first).
    /// - Throws: ``ConvLensError`` `unreadableFile` when the zoo is missing (naming the script
    ///   that exports it), `invalidArgument` when the child fails.
    static func job(_ id: String, quick: Bool, zoo: String) throws -> Prepared {
        let specPath = zoo + "/jobs.json"
        guard FileManager.default.fileExists(atPath: specPath) else {
            throw ConvLensError(.unreadableFile, file: specPath, "no whole-job models; run Tests/Benchmarks/export_job_models.py \(zoo) (make bench does)")
        }
        guard let jobs = try JSONSerialization.jsonObject(with: try AtomicFile.read(specPath)) as? [String: [String: Any]],
              let spec = jobs[id], let model = spec["model"] as? String, let input = spec["input"] as? String,
              let layer = spec["layer"] as? String, let total = spec["channels"] as? Int,
              let architecture = spec["architecture"] as? String, let module = spec["module"] as? String else {
            throw ConvLensError(.malformedFile, file: specPath, "no complete entry for \(id)")
        }
        let n = jobChannels(id, of: total, quick: quick)
        let out = NSTemporaryDirectory() + "convlens-bench-\(id)-\(getpid())"
        var arguments = ["project", "--model", zoo + "/" + model, "--image", zoo + "/" + input, "--layer", layer]
        arguments += n == total ? ["--all-channels"] : ["--channel", "0-\(n - 1)"]
        arguments += ["--rule", "deconvnet", "--stack", "--out", out]
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let run: () throws -> String = {
            try? FileManager.default.removeItem(atPath: out)
            let child = Process()
            child.executableURL = URL(fileURLWithPath: executable)
            child.arguments = arguments
            let errors = Pipe()
            child.standardOutput = FileHandle.nullDevice
            child.standardError = errors
            try child.run()
            let message = errors.fileHandleForReading.readDataToEndOfFile()
            child.waitUntilExit()
            guard child.terminationStatus == 0 else {
                throw ConvLensError(.invalidArgument, file: "convlens " + arguments.joined(separator: " "),
                                    "exit \(child.terminationStatus): \(String(decoding: message, as: UTF8.self).prefix(300))")
            }
            return "cli"
        }
        let finish: () throws -> (String, Int?, String?) = {
            defer { try? FileManager.default.removeItem(atPath: out) }
            let manifest = try JSONDecoder().decode(Manifest.self, from: try AtomicFile.read(out + "/manifest.json"))
            guard let stack = manifest.outputs.first(where: { $0.kind == .projectionStack }), let npy = stack.npy else {
                throw ConvLensError(.malformedFile, file: out + "/manifest.json", "the job wrote no projection stack")
            }
            var note = "the child's peak RSS and algorithms"
            let reference = zoo + "/\(id).torch.npy"
            if FileManager.default.fileExists(atPath: reference) {
                let mine = try NPY.read(out + "/" + npy), theirs = try NPY.read(reference)
                if mine.shape == theirs.shape {
                    note += String(format: "; vs PyTorch's stack: rel L2 %.1e", relativeL2(mine.scalars, theirs.scalars))
                } else {
                    note += "; PyTorch's stack is \(theirs.shape), not \(mine.shape) (another --quick?)"
                }
            } else {
                note += "; no PyTorch stack to compare (run the baseline first)"
            }
            let used = stack.algorithm.map { $0.hasPrefix("auto:") ? String($0.dropFirst(5)) : $0 }
            return (note, manifest.performance?.peakResidentBytes, used)
        }
        return Prepared(what: "\(architecture) \(module), deconvnet, \(n) ch, whole CLI job", seeds: n, flops: 0,
                        note: "convlens project --stack as a child process: start, import, forward, projections, files written",
                        run: run, finish: finish)
    }

    /// `‖a − b‖ / ‖b‖`.
    static func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
        var num = 0.0, den = 0.0
        for i in 0..<min(a.count, b.count) {
            let d = Double(a[i]) - Double(b[i])
            num += d * d
            den += Double(b[i]) * Double(b[i])
        }
        return (num / max(den, 1e-300)).squareRoot()
    }

    static func prepare(_ id: String, quick: Bool) throws -> Prepared {
        switch id {
        case "A":
            let channels = quick ? 64 : 192
            return try projection(graph: BenchmarkNetworks.alexNetFeatures(), layer: BenchmarkNetworks.alexNetProbe,
                                  images: 1, channels: channels, rule: .deconvnet, inputSeed: 0xA0,
                                  what: "AlexNet features.4, deconvnet, \(channels) ch")
        case "B":
            let images = quick ? 16 : 64
            return try projection(graph: BenchmarkNetworks.cifar10Recipe(), layer: BenchmarkNetworks.cifarProbe,
                                  images: images, channels: 64, rule: .deconvnet, inputSeed: 0xB0,
                                  what: "CIFAR recipe conv2, deconvnet, \(images) img × 64 ch")
        case "C":
            let channels = quick ? 48 : 160
            return try projection(graph: try mobileNet(batch: 1), layer: mobileNetProbe, images: 1, channels: channels,
                                  rule: .guided, inputSeed: 0xC0,
                                  what: "MobileNetV2 block 16, guided, \(channels) ch")
        case "D1", "D16":
            let batch = id == "D1" ? 1 : 16
            let graph = try mobileNet(batch: batch)
            var rng = SplitMix64(seed: 0xD0)
            let input = rng.normalTensor(graph.inputShape)
            return Prepared(what: "MobileNetV2 forward, batch \(batch)", seeds: 0, flops: graph.forwardConvolutionFlops,
                            note: "forward to the outputs (Graph.evaluate: no trace, ReLU6 fused into the convolutions), what ONNX Runtime computes; flops count Conv layers (the classifier's Gemm is not counted); algorithms: the cost model's forward choices",
                            run: {
                                _ = try graph.evaluate(input)
                                return graph.forwardConvolutionAlgorithms.joined(separator: "+")
                            })
        case "E3", "E5", "E7", "E11":
            let k = Int(id.dropFirst())!
            let batch = quick ? 8 : 16
            var rng = SplitMix64(seed: 0xE0 + UInt64(k))
            let x = rng.normalTensor([batch, 128, 56, 56])
            // ConvTranspose layout: [C_in, C_out/groups, kH, kW].
            let w = rng.normalTensor([128, 128, k, k], std: (2.0 / Double(128 * k * k)).squareRoot())
            let g = Conv2DGeometry(kernel: [k, k], pads: [k / 2, k / 2, k / 2, k / 2])
            let problem = ConvolutionProblem(direction: .transposed, input: x.shape, weight: w.shape, geometry: g, outputSize: (56, 56))
            return Prepared(what: "transposed conv k\(k), 128→128, 56×56, batch \(batch)", seeds: 0, flops: problem.flops,
                            note: "one Convolution.transposedConv2DWithChoice(.auto); no bias",
                            run: {
                                let (_, choice) = Convolution.transposedConv2DWithChoice(x, weight: w, bias: nil, geometry: g,
                                                                                         outputSize: (56, 56), algorithm: .auto)
                                return choice.description
                            })
        case "F":
            let channels = quick ? 32 : 512
            return try projection(graph: BenchmarkNetworks.vgg16Features(), layer: BenchmarkNetworks.vggProbe,
                                  images: 1, channels: channels, rule: .deconvnet, inputSeed: 0xF0,
                                  what: "VGG16 features.29, deconvnet, \(channels) ch")
        case "O":
            // Occlusion (issue 17): the bundled MobileNetV2 on a random input, a 32-pixel window,
            // class 0's probability; the forward trace is part of the job.
            let graph = try mobileNet(batch: 1)
            let model = try Model(path: graph.source, graph: graph)
            var rng = SplitMix64(seed: 0x0C)
            let x = rng.normalTensor(graph.inputShape)
            var request = OcclusionRequest()
            request.window = 32
            request.stride = quick ? 32 : 16
            request.targets = [.classIndex(0)]
            let positions = request.positions(graph.inputShape[2]).count * request.positions(graph.inputShape[3]).count
            let fraction = WorkFraction()
            return Prepared(what: "MobileNetV2 occlusion, 32 px window, stride \(request.stride) (\(positions) positions)", seeds: positions,
                            flops: Double(1 + positions) * graph.forwardConvolutionFlops,
                            note: "forward + one incremental forward per window position; flops: (1 + positions) × a whole forward's convolutions",
                            run: {
                                let maps = try model.occlusion(request, trace: try graph.run(x))
                                fraction.set(Double(maps.work.computed) / Double(max(1, maps.work.whole)))
                                return String(format: "incremental: %.0f%% of the activations", 100 * fraction.value)
                            })
        case "M1", "M16":
            // Activation maximization (issue 17): Lucid's Fourier image with decorrelated colour and
            // the standard transforms, Adam (lr 0.05), the mean of channels 0..<n, n images as one batch.
            let n = id == "M1" ? 1 : 16
            let model = try Model.load(nil)
            var request = OptimizeRequest(objective: .channelMean(layer: optimizeProbe), channels: Array(0..<n))
            request.steps = optimizeSteps(channels: n, quick: quick)
            let steps = request.steps
            let layer = try model.graph.layer(matching: optimizeProbe)
            let flops = 2 * Double(steps * n) * model.graph.backwardConvolutionFlops(from: layer)
            return Prepared(what: "MobileNetV2 optimize, \(n) ch × \(steps) steps (fft, standard transforms)", seeds: n, flops: flops,
                            note: "Model.optimize: per step a forward pass of the whole graph and a backward pass to the input; flops: 2 × steps × images × the convolutions up to the layer",
                            run: {
                                _ = try model.optimize(request)
                                return "fft param"
                            })
        default:
            throw ConvLensError(.invalidArgument, parameter: "only", "unknown workload '\(id)'; the workloads are \(ids.joined(separator: ", "))")
        }
    }

    /// The bundled MobileNetV2 with its input's batch dimension set to `batch`.
    static func mobileNet(batch: Int) throws -> Graph {
        let path = try BundledResources.path(BundledResources.defaultModel)
        var data = try AtomicFile.read(path)
        if batch != 1 { data = try ONNXRewriting.settingBatchSize(batch, of: data, source: path) }
        return try Graph(onnx: data, source: path)
    }

    /// A projection workload: per image, a forward run and unit seeds at the argmax of channels
    /// `0..<channels` of `layer`, projected with `rule`.
    static func projection(graph: Graph, layer name: String, images: Int, channels: Int, rule: ProjectionRule,
                           inputSeed: UInt64, what: String) throws -> Prepared {
        let layer = try graph.layer(matching: name)
        precondition(channels <= layer.shape[1], "\(name) has \(layer.shape[1]) channels")
        var rng = SplitMix64(seed: inputSeed)
        let inputs = (0..<images).map { _ in rng.normalTensor(graph.inputShape) }
        let seeds = (0..<channels).map { Seed.unit(channel: $0) }
        // The convolutions the seeded layer depends on are those of its backward path, and a data
        // gradient costs what the forward convolution costs: (1 + seeds) × the path per image (as the
        // PyTorch baseline counts). Layers after the seeded one, which Graph.run also computes, are
        // not credited.
        let flops = Double(images) * Double(1 + channels) * graph.backwardConvolutionFlops(from: layer)
        let forward = graph.forwardConvolutionAlgorithms.joined(separator: "+")
        let work = AlgorithmLog()
        return Prepared(what: what, seeds: images * channels, flops: flops,
                        note: "forward (whole graph) + projections; flops: (1 + seeds) × the convolutions up to the seeded layer; algorithms: backward (forward: \(forward))",
                        run: {
                            var labels = Set<String>()
                            for x in inputs {
                                let trace = try graph.run(x)
                                let projections = try Projector(trace: trace).project(layer: layer, seeds: seeds, rule: rule, log: work)
                                if let label = projections.first?.algorithm { labels.insert(label) }
                            }
                            return labels.sorted().map { $0.hasPrefix("auto:") ? String($0.dropFirst(5)) : $0 }.joined(separator: ",")
                        }, work: work)
    }
}

/// A number set by a workload's run and read by its label.
final class WorkFraction: @unchecked Sendable {
    private(set) var value = 0.0
    func set(_ v: Double) { value = v }
}
