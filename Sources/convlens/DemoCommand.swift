import ArgumentParser
import ConvLens
import Foundation

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole story on the bundled model and image: inspect, classify, filters, activations with grids and an overlay, TensorBoard.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Image (PNG, JPEG or .npy); default: the bundled sample photograph.")
    var image: String?

    @Option(help: "Output folder; one sub-folder per step.")
    var out: String = "convlens-demo"

    func run() async throws {
        try await runReportingErrors {
            print(try Demo.run(model: modelOptions.model, image: image, out: out))
        }
    }
}
