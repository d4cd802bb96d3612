import ArgumentParser
import ConvLens
import ConvLensExplorer
import Foundation

struct ExploreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explore",
        abstract: "Serve the live explorer: a local web page to walk layers and units, with their projections.",
        discussion: "Prints the URL to open and serves until interrupted (Ctrl-C). Binds to 127.0.0.1 unless --host says otherwise. See Docs/Explorer.md.")

    @Option(help: "ONNX or Keras model file (default: the bundled MobileNetV2).")
    var model: String?

    @Option(help: ArgumentHelp("Class names, one per line in class-index order.", valueName: "file"))
    var labels: String?

    @Option(help: ArgumentHelp("A PNG or JPEG file to offer as input (repeatable).", valueName: "file"))
    var image: [String] = []

    @Option(help: ArgumentHelp("A folder whose PNG and JPEG files are offered as inputs, by name.", valueName: "dir"))
    var images: String?

    @Option(help: ArgumentHelp("A `convlens scan` folder of this model: its layers get each unit's top images and their projections.", valueName: "dir"))
    var scan: String?

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port (0: any free port).")
    var port = 0

    @Option(name: .customLong("allow-host"), help: ArgumentHelp("A further Host name the server answers to (repeatable; for a non-loopback --host).", valueName: "name"))
    var allowHost: [String] = []

    @Option(help: ArgumentHelp("Where saved views go (one folder per save).", valueName: "dir"))
    var out = "convlens-explore"

    @Option(help: ArgumentHelp("The largest uploaded image, in MiB.", valueName: "MiB"))
    var uploadLimit = 16

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard (1...1024).contains(uploadLimit) else { throw ValidationError("--upload-limit must be in 1...1024 (MiB)") }
        guard !host.isEmpty, host.count <= 255, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else {
            throw ValidationError("--host must be an address or host name")
        }
    }

    func run() async throws {
        try await runReportingErrors {
            var c = ExplorerConfiguration()
            c.model = model
            c.labels = labels
            c.imageFiles = image
            c.imageFolder = images
            c.scanFolder = scan
            c.host = host
            c.port = port
            c.allowedHosts = allowHost
            c.outputFolder = out
            c.uploadLimit = uploadLimit << 20
            if !c.isLoopback {
                FileHandle.standardError.write(Data("convlens: warning: listening on \(host), not loopback: anyone who can reach this address can use the explorer (it has no authentication)\n".utf8))
            }
            let explorer = try Explorer(configuration: c)
            try await explorer.run { url in
                FileHandle.standardOutput.write(Data("ConvLens explorer: \(url)  (Ctrl-C stops it)\n".utf8))
            }
        }
    }
}
