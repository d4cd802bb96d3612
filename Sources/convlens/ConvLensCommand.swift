import ArgumentParser
import ConvLens
import Foundation

@main
struct ConvLensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convlens",
        abstract: "See what convolutional networks see: filters, activations and back-projections.",
        version: convLensVersion,
        subcommands: [InspectCommand.self, ClassifyCommand.self, ActivationsCommand.self, FiltersCommand.self,
                      TensorboardCommand.self, ProjectCommand.self, CompareCommand.self, NotebookCommand.self, DemoCommand.self,
                      ScanCommand.self, ScanMergeCommand.self, TopKCommand.self, GradCAMCommand.self, OcclusionCommand.self, OptimizeCommand.self, ExploreCommand.self, BenchCommand.self])

    /// Runs the chosen command as swift-argument-parser would, but a malformed command line's
    /// message (exit 64) has its long words cut: the parser quotes a bad value in full.
    static func main() async {
        do {
            var command = try await asyncParseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            guard code == .validationFailure else { exit(withError: error) }
            let message = fullMessage(for: error)
            if !message.isEmpty { FileHandle.standardError.write(Data((cutLongWords(message) + "\n").utf8)) }
            Foundation.exit(code.rawValue)
        }
    }
}

/// Words (runs without spaces or line breaks) over 100 characters keep their first 60 and say how
/// long they were.
func cutLongWords(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
        line.split(separator: " ", omittingEmptySubsequences: false).map { word in
            word.count > 100 ? "\(word.prefix(60))… (\(word.count) characters)" : String(word)
        }.joined(separator: " ")
    }.joined(separator: "\n")
}

/// Runs a command body, mapping ``ConvLensError`` to one line on stderr and exit status 2.
///
/// Also keeps freed buffers for reuse (``ResourceUsage/retainFreedMemory()``) before the work starts.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    ResourceUsage.retainFreedMemory()
    do {
        try await body()
    } catch let error as ConvLensError {
        FileHandle.standardError.write(Data("convlens: \(error.commandLine)\n".utf8))
        throw ExitCode(2)
    } catch let error as ExitCode {
        throw error
    } catch {
        // Anything else that escapes the library is still bad input discovered while running.
        let line = ConvLensError(.invalidArgument, "\(error)").line
        FileHandle.standardError.write(Data("convlens: \(line)\n".utf8))
        throw ExitCode(2)
    }
}

extension ConvLensError {
    /// The error as the command line reports it: one line, whatever the names in the message
    /// contain, long user strings cut, and a library parameter named as its flag. Each parameter
    /// is the flag of that name (`layer` → `--layer`); where a command nests a view under other
    /// options, the library renames its parameters first (compare's Grad-CAM column:
    /// `gradcam-layer`).
    var commandLine: String { naming { "--\($0)" }.line }
}
