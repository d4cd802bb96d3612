import ArgumentParser
import ConvLens
import Foundation

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print the model's layers: row #N, name, op, output shape, parameters, kernel/stride, receptive field.")

    @OptionGroup var modelOptions: ModelOptions

    @Flag(help: "Machine-readable JSON on stdout.")
    var json = false

    @Flag(help: "Add the planner's algorithm and estimated cost for each convolution's backward (projection) direction at batch 1.")
    var plan = false

    func run() async throws {
        try await runReportingErrors {
            let model = try modelOptions.load()
            if json {
                struct Report: Encodable {
                    var model: String
                    var input: String
                    var inputShape: [Int]
                    var opset: Int
                    var layers: [LayerSummary]
                    enum CodingKeys: String, CodingKey { case model, input, inputShape = "input_shape", opset, layers }
                }
                try printJSON(Report(model: model.path, input: model.graph.inputName, inputShape: model.graph.inputShape.dimensions,
                                     opset: model.graph.opsetVersion, layers: model.layerSummaries(plan: plan)))
            } else {
                print(model.layerTable(plan: plan))
            }
        }
    }
}
