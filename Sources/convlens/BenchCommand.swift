import ArgumentParser
import ConvLens
import ConvLensBenchmarks
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

    @Flag(help: "Print the transposed-convolution table instead of the workloads (FFT vs GEMM, 128→128 channels, 56×56, batch 16, k = 3, 5, 7, 11).")
    var fftTable = false

    @Option(help: "With --fft-table: timed runs per row, the best reported (default 5).")
    var repeats: Int?

    func validate() throws {
        guard fftTable else {
            if repeats != nil { throw ValidationError("--repeats goes with --fft-table") }
            return
        }
        if let repeats, !(1...1000).contains(repeats) { throw ValidationError("--repeats must be 1 to 1000") }
        guard !quick, !json, only == nil, baseline == nil, out == nil else {
            throw ValidationError("--fft-table prints its table alone: it takes no --quick, --json, --only, --baseline or --out")
        }
    }

    func run() async throws {
        try await runReportingErrors {
            if fftTable {
                TransposedConvolutionTable.run(repeats: repeats ?? 5) { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
                return
            }
            let ids = try BenchmarkSuite.select(only?.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
            // Read the baseline before hours of work, so a bad path fails at once.
            let base = try baseline.map { try BenchmarkBaseline(contentsOf: $0) }
            if let out { try AtomicFile.makeDirectory(URL(fileURLWithPath: out).deletingLastPathComponent().path) }
            let progress = BenchProgress()
            let report = await BenchmarkSuite.runAll(ids: ids, quick: quick, zoo: zoo, progress: progress.update)
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
