import ArgumentParser
import ConvLens
import ConvLensExplorer
import Foundation

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run the benchmark suite (projection, forward and transposed-convolution workloads).",
        discussion: "Workloads: \(BenchmarkSuite.ids.joined(separator: ", ")) (Docs/Performance.md \"convlens bench\"). Each runs once to warm up, then 5 times (3 with --quick); the median is reported.")

    @Flag(help: "Smaller sizes (fewer channels, images and batch) and 3 timed runs instead of 5.")
    var quick = false

    @Flag(help: "Print the results as JSON instead of the table.")
    var json = false

    @Option(help: "Comma-separated workload ids to run (default: all), e.g. A,C,E3.")
    var only: String?

    @Option(help: "JSON results of another tool for the same workloads (Tests/Benchmarks/pytorch_baseline.py); adds ratios and targets to the table.")
    var baseline: String?

    @Option(help: "Also write the JSON results to this file.")
    var out: String?

    @Option(help: "The whole-job workloads' models (Tests/Benchmarks/export_job_models.py).")
    var zoo: String = BenchmarkSuite.defaultZoo

    func run() async throws {
        try await runReportingErrors {
            let ids = try BenchmarkSuite.select(only?.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
            // Read the baseline before hours of work, so a bad path fails at once.
            let base = try baseline.map { try BenchmarkBaseline(contentsOf: $0) }
            if let out { try AtomicFile.makeDirectory(URL(fileURLWithPath: out).deletingLastPathComponent().path) }
            let progress = BenchProgress()
            var report = BenchmarkSuite.run(ids: ids, quick: quick, zoo: zoo, progress: progress.update)
            let start = DispatchTime.now().uptimeNanoseconds
            for id in ids where BenchmarkSuite.explorerIds.contains(id) {
                do {
                    report.workloads.append(try await ExplorerBenchmark.run(id, quick: quick, progress: progress.update))
                } catch {
                    report.workloads.append(BenchmarkResult(id: id, what: id, seconds: nil, minSeconds: nil, method: "p95", methods: [:],
                                                            runs: 0, seeds: 0, flops: 0, gflops: nil, peakRSSBytes: nil,
                                                            algorithms: "n/a", note: "n/a: \(error)"))
                }
            }
            report.totalSeconds = (report.totalSeconds ?? 0) + Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            progress.finish()
            let data = try report.jsonData()
            if let out { try AtomicFile.write(data + Data("\n".utf8), to: out) }
            if json {
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(report.table(baseline: base))
            }
        }
    }
}

/// The bench progress line on stderr (only on a terminal): the workload and its runs.
final class BenchProgress: @unchecked Sendable {
    let enabled = isatty(2) != 0
    private var shown = false

    func update(_ id: String, _ done: Int, _ total: Int) {
        guard enabled else { return }
        shown = true
        let what = done == 0 ? "warm-up" : "run \(done)/\(total)"
        FileHandle.standardError.write(Data("\r\u{1B}[Kbench \(id): \(what)".utf8))
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
