import ArgumentParser
import ConvLens

extension GradCAMRequest.Interpolation: ExpressibleByArgument {}

/// What `gradcam` and `occlusion` explain: `--class LIST` (default: the top class), or a unit with
/// `--target-layer Q --channel LIST [--at Y,X]`; `--labels FILE` names the classes.
struct TargetOptions: ParsableArguments {
    @Option(name: .customLong("class"), help: "Class indices to explain: 3, 3,7 or 0-4 (default: the top class).")
    var classes: String?

    @Option(help: "Explain units of this layer instead of a class (name, tensor name or #N).")
    var targetLayer: String?

    @Option(help: "With --target-layer: channels, as 3, 3,7,12 or 0-15.")
    var channel: String?

    @Option(help: "With --target-layer: the unit position Y,X in that layer's map.")
    var at: String?

    @Option(help: ArgumentHelp("Class names, one per line in class-index order.", valueName: "file"))
    var labels: String?

    func validate() throws {
        if targetLayer != nil && classes != nil { throw ValidationError("--class and --target-layer exclude each other") }
        if targetLayer != nil && channel == nil { throw ValidationError("--target-layer needs --channel LIST") }
        if targetLayer == nil && (channel != nil || at != nil) { throw ValidationError("--channel and --at need --target-layer") }
        for (name, value) in [("--class", classes), ("--channel", channel)] {
            if let value, (try? ChannelSelection(parsing: value)) == nil {
                throw ValidationError("\(name) must be a list such as 3, 3,7,12 or 0-15, got '\(value.prefix(80))'")
            }
        }
        if let at, UnitOptions.position(at) == nil { throw ValidationError("--at must be Y,X with non-negative integers, got '\(at.prefix(80))'") }
    }

    /// The model with `--labels` applied.
    func apply(to model: Model) throws -> Model {
        guard let labels else { return model }
        return try model.withLabels(from: labels)
    }

    /// The targets, checked against the model's layers and classes.
    func targets(for model: Model) throws -> [AttributionTarget] {
        if let targetLayer, let channel {
            let layer = try model.graph.layer(matching: targetLayer)
            let count = layer.shape.rank >= 2 ? layer.shape[1] : 0
            let p = at.flatMap(UnitOptions.position)
            return try ChannelSelection(parsing: channel).channels(count: count, layer: layer.name)
                .map { .unit(layer: targetLayer, channel: $0, y: p?.y, x: p?.x) }
        }
        guard let classes else { return [.topClass] }
        let scores = try model.scoreLayer()
        do {
            return try ChannelSelection(parsing: classes).channels(count: scores.shape.count, layer: scores.name).map { .classIndex($0) }
        } catch is ConvLensError {
            throw ConvLensError(.outOfRange, file: "--class", "classes '\(classes.prefix(80))' are out of range: the model has classes 0-\(scores.shape.count - 1)")
        }
    }

    var parameters: [String: JSONValue] {
        var p: [String: JSONValue] = [:]
        if let classes { p["class"] = .string(classes) }
        if let targetLayer { p["target-layer"] = .string(targetLayer) }
        if let channel { p["channel"] = .string(channel) }
        if let at { p["at"] = .string(at) }
        if let labels { p["labels"] = .string(labels) }
        return p
    }
}
