import ArgumentParser
import ConvLens
import Foundation

struct ScanMergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan-merge",
        abstract: "Merge the shards of a scan (convlens scan --shard i/n) into the result of the whole scan.")

    @Argument(help: "The output folders of every shard 0..<n.")
    var shards: [String]

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Output folder (created if missing).")
    var out: String

    func validate() throws {
        if shards.isEmpty { throw ValidationError("give the shard folders to merge") }
    }

    func run() async throws {
        try await runReportingErrors {
            let parts = try shards.map { try ScanResult.read(directory: $0) }
            let merged = try ScanResult.merge(parts, paths: shards)
            let model = try Model.load(modelOptions.model ?? merged.model.path)
            var params = modelOptions.parameters
            params["shards"] = .array(shards.map { .string($0) })
            params["out"] = .string(out)
            try merged.write(to: out, model: model, command: "scan-merge", parameters: params)
            print("merged \(parts.count) shards: \(merged.scanned) images scanned (\(merged.skipped.count) skipped) → \(out)/scan.json")
        }
    }
}
