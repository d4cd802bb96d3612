import ConvLens
import Foundation

// "Copy as command" and "save": the command line that writes a view, and the same files written
// by the library functions behind that command (so a saved view is exactly a CLI run's output).
extension ExplorerEngine {
    /// The `convlens` command that writes the view `p` describes into `out`.
    /// - Parameter imagePath: the `--image` to name (`nil`: the entry's own file).
    public func command(_ p: ViewParameters, out: String? = nil, imagePath: String? = nil) throws -> String {
        let l = try layer(p)
        var args = ["convlens"]
        switch p.view {
        case "projection": args.append("project")
        case "filters": args.append("filters")
        default: args.append("activations")
        }
        if !bundledModel { args += ["--model", model.path] }
        if p.view != "filters" {
            let e = try entry(try p.required(p.image, "image"))
            if let imagePath { args += ["--image", imagePath] }
            else if e.document.id != "b0" { args += ["--image", e.document.source == "upload" || e.document.source == "camera" ? e.document.name : e.path] }
        }
        args += ["--layer", l.name]
        switch p.view {
        case "projection":
            args += ["--channel", String(try p.required(p.unit, "unit"))]
            if p.seed == .map { args += ["--seed", "map"] }
            if let y = p.y, let x = p.x, p.seed == .unit { args += ["--at", "\(y),\(x)"] }
            args += ["--rule", p.rule.rawValue, "--display", p.display.rawValue]
        case "filters":
            break
        default:
            args += ["--scale", p.scale == .global ? "layer" : "tile", "--colormap", p.colormap.rawValue]
            if p.boost != 0 { args += ["--boost", "\(p.boost)"] }
            if p.gamma != 1 { args += ["--gamma", "\(p.gamma)"] }
            if p.view == "unit" { args += ["--overlay", String(try p.required(p.unit, "unit"))] }
        }
        args += ["--out", out ?? "out-\(fileStem(forLayer: l.name))" + (p.unit.map { "-c\($0)" } ?? "")]
        return args.map(ExplorerEngine.shellQuoted).joined(separator: " ")
    }

    /// Writes the view `p` describes as its command would (PNG, NPY and `manifest.json`) into a
    /// new folder under the configured output folder; an uploaded image or camera frame is copied
    /// there first as `input.png`/`input.jpg` and named by the manifest and the command.
    /// - Returns: the folder, its files and the command that writes the same files.
    public func save(_ p: ViewParameters) throws -> CommandDocument {
        let l = try layer(p)
        let stamp = ExplorerEngine.timestamp()
        let base = "\(configuration.outputFolder)/\(stamp)-\(p.view)-\(fileStem(forLayer: l.name))" + (p.unit.map { "-c\($0)" } ?? "")
        var folder = base, n = 1
        while FileManager.default.fileExists(atPath: folder) { n += 1; folder = "\(base)-\(n)" }
        try AtomicFile.makeDirectory(folder)
        var parameters: [String: JSONValue] = ["explore": .bool(true), "layer": .string(l.name)]
        if let u = p.unit { parameters["channel"] = .integer(u) }
        var imagePath: String? = nil
        do {
            var input: ModelInput? = nil, trace: Trace? = nil
            if p.view != "filters" {
                let id = try p.required(p.image, "image")
                let e = try entry(id)
                var r = try run(id)
                if e.document.source == "upload" || e.document.source == "camera" {
                    let copy = folder + "/input." + (e.path as NSString).pathExtension
                    try AtomicFile.write(try AtomicFile.read(e.path), to: copy)
                    r.input = try model.input(from: copy)
                    imagePath = copy
                }
                (input, trace) = (r.input, r.trace)
            }
            switch p.view {
            case "projection":
                var request = ProjectionRequest(layer: l.name)
                request.channels = [try p.required(p.unit, "unit")]
                request.seedKind = p.seed
                if let y = p.y, let x = p.x, p.seed == .unit { request.at = (y, x) }
                request.rules = [p.rule]
                request.display = Display(mode: p.display, bgr: model.preprocessing.channelOrder == .bgr)
                parameters["rule"] = .string(p.rule.rawValue)
                parameters["display"] = .string(p.display.rawValue)
                _ = try model.writeProjections(request, trace: trace!, input: input!, to: folder, parameters: parameters) { _, _ in }
            case "filters":
                try model.writeFilters(l.name, request: FilterGridRequest(), to: folder, parameters: parameters)
            default:
                let grid = ActivationGridRequest(tiles: ActivationTiles(scale: p.scale, boost: p.boost, gamma: p.gamma, colormap: p.colormap))
                let overlay = p.view == "unit" ? OverlayRequest(channel: try p.required(p.unit, "unit")) : nil
                try model.writeActivations([l.name], trace: trace!, input: input!, to: folder, parameters: parameters,
                                           grid: grid, overlay: overlay)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        return CommandDocument(command: try command(p, out: folder, imagePath: imagePath), folder: folder, files: files)
    }

    /// A word as a POSIX shell reads it back unchanged.
    static func shellQuoted(_ s: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./,:=+#%@")
        if !s.isEmpty && s.allSatisfy({ safe.contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func timestamp() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss-SSS"
        return f.string(from: Date())
    }
}
