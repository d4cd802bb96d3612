import ConvLens
import Foundation
import Hummingbird
import Logging

/// `convlens explore`: a local web page in the spirit of deep-visualization-toolbox, served over
/// HTTP by Hummingbird (Docs/Explorer.md). The page is bundled (`Page/`); every view it shows comes
/// from the JSON/PNG/NPY API under `/api/`, computed by an ``ExplorerEngine``.
///
/// ```swift
/// let explorer = try Explorer(configuration: ExplorerConfiguration())
/// try await explorer.run { url in print("open", url) }   // until SIGINT/SIGTERM, or cancellation
/// ```
public final class Explorer: Sendable {
    public let configuration: ExplorerConfiguration
    /// The model, its inputs and their traces.
    public let engine: ExplorerEngine
    let lanes = Lanes()
    /// Upload bodies being received (each held in memory up to the upload limit).
    let uploads = Lanes()

    /// Loads the model and lists the inputs (nothing is bound yet).
    /// - Throws: `ConvLensError` for a bad model, labels file, image file or folder.
    public init(configuration: ExplorerConfiguration) throws {
        self.configuration = configuration
        engine = try ExplorerEngine(configuration: configuration)
    }

    /// Binds the configured address, calls `onReady` with the page's URL, and serves until the
    /// task is cancelled or the process gets SIGINT/SIGTERM.
    /// - Parameter signals: stop gracefully on SIGINT/SIGTERM (the command line); tests pass `false`
    ///   and cancel the task instead.
    public func run(signals: Bool = true, onReady: @escaping @Sendable (String) -> Void) async throws {
        let pageFiles = try Explorer.loadPage()
        let router = Router(context: BasicRequestContext.self)
        let guardian = HostGuard<BasicRequestContext>(configuration: configuration)
        router.add(middleware: guardian)
        addRoutes(to: router, page: pageFiles)
        let host = configuration.host
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "convlens"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                guardian.bound(port: port)
                let shown = host.contains(":") ? "[\(host)]" : host
                onReady("http://\(shown):\(port)/")
            },
            logger: Explorer.quietLogger())
        defer { engine.close() }
        do {
            if signals { try await app.runService() } else { try await app.runService(gracefulShutdownSignals: []) }
        } catch is CancellationError {
        } catch {
            // Binding fails here (an address in use, a host that does not resolve).
            throw ConvLensError(.invalidArgument, "cannot serve on \(host):\(configuration.port): \(error)")
        }
    }

    /// The page's files (`index.html`, `app.js`, `app.css`), read once from the bundle.
    static func loadPage() throws -> [String: (type: String, data: Data)] {
        var files: [String: (String, Data)] = [:]
        for (name, type) in [("index.html", "text/html; charset=utf-8"), ("app.js", "text/javascript; charset=utf-8"),
                             ("app.css", "text/css; charset=utf-8")] {
            guard let url = Bundle.module.url(forResource: "Page/" + name, withExtension: nil) ?? Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Page"),
                  let data = try? Data(contentsOf: url) else {
                throw ConvLensError(.missingResource, file: "Page/" + name, "the explorer's page is missing from the installation")
            }
            files[name] = (type, data)
        }
        return files
    }

    static func quietLogger() -> Logger {
        var logger = Logger(label: "convlens.explore")
        logger.logLevel = .critical
        return logger
    }
}
