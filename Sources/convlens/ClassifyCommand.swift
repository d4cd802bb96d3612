import ArgumentParser
import ConvLens
import Foundation

struct ClassifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Print the top-5 classes with their probabilities.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var inputOptions: InputOptions

    @Option(help: "How many classes to print.")
    var top = 5

    @Option(help: ArgumentHelp("Class names, one per line in class-index order (overrides the model's own; a 1,000-class model without labels gets the bundled ImageNet-1k names).", valueName: "file"))
    var labels: String?

    @Option(help: "Also write manifest.json with the predictions into this folder.")
    var out: String?

    @Flag(help: "Machine-readable JSON on stdout.")
    var json = false

    func validate() throws {
        if top < 1 { throw ValidationError("--top must be at least 1") }
        if inputOptions.gridScale != nil { throw ValidationError("classify draws no grid: --scale takes a number (the pixel divisor)") }
    }

    func run() async throws {
        try await runReportingErrors {
            var model = try modelOptions.load()
            if let labels { model = try model.withLabels(from: labels) }
            let input = try inputOptions.load(for: model)
            let predictions = try model.classify(try model.run(input), top: top)
            if let out {
                var params = modelOptions.parameters.merging(inputOptions.parameters) { a, _ in a }
                params["top"] = .integer(top)
                if let labels { params["labels"] = .string(labels) }
                params["out"] = .string(out)
                try model.writeClassification(predictions, input: input, to: out, parameters: params)
            }
            if json {
                try printJSON(predictions)
            } else {
                for p in predictions {
                    print(String(format: "%d. %@  %.2f%%  (class %d)", p.rank, p.label, 100 * p.probability, p.index))
                }
            }
        }
    }
}
