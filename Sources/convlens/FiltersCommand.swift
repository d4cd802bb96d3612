import ArgumentParser
import ConvLens
import Foundation

struct FiltersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filters",
        abstract: "Write a convolution layer's weights (.npy, exactly the model's values) and its filter grid (PNG + .npy).")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "A Conv or ConvTranspose layer: canonical name, output tensor name, or #N from `convlens inspect`.")
    var layer: String

    @Option(help: "Output folder (created if missing).")
    var out: String

    @Option(help: ArgumentHelp("rgb (3 channels per filter), pairs (one tile per output×input pair), input:K, norm (L2 over inputs) or depthwise. Default: rgb for 3-channel first layers, depthwise for 1 channel per filter, else pairs.",
                               valueName: "view"))
    var view: String?

    @Option(help: "global: one min–max over the whole weight tensor; tile: one per tile.")
    var scale: TileScale = .global

    @Flag(help: "Show 3-channel filters as BGR → RGB (automatic when the model's metadata says BGR).")
    var bgr = false

    @OptionGroup var layout: GridLayoutOptions

    func validate() throws {
        if let v = view {
            do { _ = try FilterView(parsing: v) } catch let e as ConvLensError { throw ValidationError(e.commandLine) }
        }
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try modelOptions.load()
            let tiles = FilterTiles(view: try view.map(FilterView.init(parsing:)), scale: scale, bgr: bgr, maxTiles: layout.maxTiles)
            var params = modelOptions.parameters.merging(layout.parameters) { a, _ in a }
            params["layer"] = .string(layer)
            params["out"] = .string(out)
            params["scale"] = .string(scale.rawValue)
            if let view { params["view"] = .string(view) }
            if bgr { params["bgr"] = .bool(true) }
            let manifest = try model.writeFilters(layer, request: FilterGridRequest(tiles: tiles, grid: layout.grid, labels: layout.labels),
                                                  to: out, parameters: params)
            for o in manifest.outputs {
                let file = o.png ?? o.npy ?? ""
                let what = o.kind == .filters ? "\(o.shape ?? [])" : "\(o.view ?? "") view, \(o.channels?.count ?? 0) filters, \(o.grid?[0] ?? 0)×\(o.grid?[1] ?? 0) tiles"
                print("\(o.kind)  \(o.layer ?? "")  \(what)  → \(out)/\(file)")
            }
        }
    }
}

extension TileScale: ExpressibleByArgument {}
