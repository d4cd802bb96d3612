import ArgumentParser
import ConvLens
import Foundation

struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan a dataset: the top-K images and positions of every channel of the chosen layers.",
        discussion: """
            SRC is a folder (PNG and JPEG, recursive, sorted by path), a text file listing image paths \
            (one per line, relative to the list's folder), or CIFAR-10 binary batches (a .bin file, or a \
            folder holding data_batch_*.bin / test_batch.bin). Writes DIR/scan.json (schema: Docs/Scan.md), \
            the .npy arrays and manifest.json. Unreadable images are reported, skipped and counted.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("images"), help: "SRC: a folder, a text file of paths, or CIFAR-10 .bin batches.")
    var images: String

    @Option(help: "Layer to scan (repeatable): canonical name, output tensor name, or #N.")
    var layer: [String] = []

    @Option(help: "K: entries kept per unit.")
    var top = 9

    @Flag(help: "Every position is a candidate (default: each image's maximum per unit).")
    var perPosition = false

    @Option(help: "Scan the slice i/n (0-based i): the images whose index is i modulo n.")
    var shard: String?

    @Option(help: "Write the checkpoint every N images.")
    var checkpointEvery = 100

    @Flag(help: "Continue an interrupted scan from DIR/scan.checkpoint.json.")
    var resume = false

    @Option(help: "Output folder (created if missing).")
    var out: String

    func validate() throws {
        if layer.isEmpty { throw ValidationError("give at least one --layer") }
        let r = ScanRequest.topRange
        if !r.contains(top) { throw ValidationError("--top must be between \(r.lowerBound) and \(r.upperBound)") }
        if checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be at least 1") }
        if let shard, ScanShard(parsing: shard) == nil { throw ValidationError("--shard must be i/n with 0 ≤ i < n, got '\(shard.prefix(80))'") }
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try modelOptions.load()
            let source = try ScanSource.open(images)
            var request = ScanRequest(layers: layer)
            request.top = top
            request.perPosition = perPosition
            request.shard = shard.flatMap(ScanShard.init(parsing:))
            request.checkpointEvery = checkpointEvery
            request.resume = resume
            var params = modelOptions.parameters
            params["images"] = .string(images)
            params["layer"] = .array(layer.map { .string($0) })
            params["top"] = .integer(top)
            if perPosition { params["per-position"] = .bool(true) }
            if let shard { params["shard"] = .string(shard) }
            params["checkpoint-every"] = .integer(checkpointEvery)
            if resume { params["resume"] = .bool(true) }
            params["out"] = .string(out)
            // Test hook (Docs/Scan.md): exit abruptly with status 75 after N images of this run,
            // as a killed process would, to test --resume.
            let stopAfter = ProcessInfo.processInfo.environment["CONVLENS_SCAN_STOP_AFTER"].flatMap { Int($0) }
            let progress = RateProgressLine(label: "scan", unit: "images")
            let start = Date()
            let result = try model.scan(request, source: source, to: out, parameters: params) { p in
                if let skipped = p.skipped {
                    progress.interrupt()
                    FileHandle.standardError.write(Data("convlens: skipped \(skipped.path): \(skipped.reason)\n".utf8))
                }
                progress.update(p.done, p.total, thisRun: p.doneThisRun)
                if let stopAfter, p.doneThisRun >= stopAfter { Foundation.exit(75) }
            }
            progress.finish()
            let seconds = Date().timeIntervalSince(start)
            let n = ScanResult.indices(count: result.images.count, shard: result.shard).count
            print("scanned \(result.scanned) of \(n) images (\(result.skipped.count) skipped), \(result.layers.count) layer(s), top \(result.top)"
                  + String(format: " in %.1f s", seconds) + " → \(out)/scan.json")
        }
    }
}

/// A progress line with a rate and an ETA on stderr, shown only when stderr is a terminal.
final class RateProgressLine: @unchecked Sendable {
    let label: String
    let unit: String
    let enabled = isatty(2) != 0
    private var shown = false
    private let start = Date()

    init(label: String, unit: String) { (self.label, self.unit) = (label, unit) }

    func update(_ done: Int, _ total: Int, thisRun: Int) {
        guard enabled, total > 1 else { return }
        shown = true
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(thisRun) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line = String(format: "\r%@: %d/%d  %.1f %@/s  ETA %d:%02d ", label, done, total, rate, unit, Int(eta) / 60, Int(eta) % 60)
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Ends the line before another message.
    func interrupt() {
        if shown { FileHandle.standardError.write(Data("\n".utf8)); shown = false }
    }

    func finish() { interrupt() }
}
