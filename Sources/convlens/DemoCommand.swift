import ArgumentParser
import ConvLens
import Foundation

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole story on the bundled model and image.")

    @Option(help: "Output folder.")
    var out: String = "convlens-demo"

    @Option(help: "Image (PNG, JPEG); default: the bundled sample photograph.")
    var image: String?

    func run() async throws {
        try await runReportingErrors {
            let report = try Demo.run(image: image, out: out)
            print(report)
        }
    }
}
