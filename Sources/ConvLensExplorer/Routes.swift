import ConvLens
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A request that a newer one of the same client and lane replaced before it was computed.
struct Superseded: Error {}

extension ExplorerEngine {
    /// Runs `body` on the engine unless the request was superseded while it waited.
    func perform<T: Sendable>(_ current: @Sendable () -> Bool, _ body: @Sendable (isolated ExplorerEngine) throws -> T) throws -> T {
        guard current() else { throw Superseded() }
        return try body(self)
    }
}

extension Explorer {
    /// The routes of Docs/Explorer.md "API".
    func addRoutes(to router: Router<BasicRequestContext>, page: [String: (type: String, data: Data)]) {
        for (name, file) in page {
            router.get(name == "index.html" ? "/" : "/\(name)") { _, _ in Routes.bytes(file.data, type: file.type) }
        }
        let engine = self.engine
        router.get("/api/model") { _, _ in Routes.json(engine.document) }
        router.get("/api/images") { _, _ in Routes.json(await engine.images()) }
        router.post("/api/images") { request, _ in await self.upload(request) }

        get(router, "/api/input.png") { e, p in Routes.png(try e.inputPNG(p)) }
        get(router, "/api/predictions") { e, p in
            Routes.json(PredictionsDocument(image: try p.required(p.image, "image"), predictions: try e.predictions(p)))
        }
        get(router, "/api/activations.png") { e, p in Routes.png(try e.activationGrid(p)) }
        get(router, "/api/activations.npy") { e, p in Routes.npy(try e.activation(p)) }
        get(router, "/api/signal.png") { e, p in Routes.png(try e.signalGrid(p)) }
        get(router, "/api/unit.png") { e, p in Routes.png(try e.unitPNG(p)) }
        get(router, "/api/projection.png") { e, p in Routes.png(try e.projectionPNG(p)) }
        get(router, "/api/projection.npy") { e, p in Routes.npy(try e.projection(p)) }
        get(router, "/api/filters.png") { e, p in Routes.png(try e.filtersPNG(p)) }
        get(router, "/api/topk.png") { e, p in Routes.png(try e.topkPNG(p)) }
        get(router, "/api/command") { e, p in Routes.json(CommandDocument(command: try e.command(p))) }
        router.post("/api/save") { request, _ in
            await self.view(request) { e, p in Routes.json(try e.save(p)) }
        }
    }

    private func get(_ router: Router<BasicRequestContext>, _ path: String,
                     _ body: @escaping @Sendable (isolated ExplorerEngine, ViewParameters) throws -> Response) {
        router.get(RouterPath(stringLiteral: path)) { request, _ in await self.view(request, body) }
    }

    /// Parses the query, waits for the engine (latest-wins per `client` + `lane`, at most
    /// ``ExplorerConfiguration/queueLimit`` waiting), runs the view and maps errors to one-line
    /// JSON answers.
    func view(_ request: Request, _ body: @escaping @Sendable (isolated ExplorerEngine, ViewParameters) throws -> Response) async -> Response {
        var query: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
        do {
            let p = try ViewParameters(query)
            let key = try ViewParameters.lane(query)
            guard lanes.admit(limit: configuration.queueLimit) else {
                return Routes.error(.tooManyRequests, "busy: \(configuration.queueLimit) requests are already waiting")
            }
            defer { lanes.leave() }
            let ticket = lanes.enter(key)
            let lanes = self.lanes
            var response = try await engine.perform({ lanes.isLatest(ticket) }) { e in
                let start = DispatchTime.now().uptimeNanoseconds
                var r = try body(e, p)
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                r.headers[HTTPField.Name("Server-Timing")!] = String(format: "engine;dur=%.1f", ms)
                return r
            }
            response.headers[.cacheControl] = "no-store"
            return response
        } catch {
            return Routes.error(for: error)
        }
    }

    /// `POST /api/images?name=N[&source=camera]`: the body is the file.
    func upload(_ request: Request) async -> Response {
        let limit = configuration.uploadLimit
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            return Routes.error(.contentTooLarge, "the upload is \(length) bytes; the limit is \(limit)")
        }
        // At most `uploadSlots` bodies are held at once (each up to the limit), then the queue.
        guard uploads.admit(limit: configuration.uploadSlots) else {
            return Routes.error(.tooManyRequests, "busy: \(configuration.uploadSlots) uploads are already arriving")
        }
        defer { uploads.leave() }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            let data = Data(buffer.readableBytesView)
            let q = request.uri.queryParameters
            let name = q.get("name") ?? "upload"
            let camera = q.get("source") == "camera"
            guard lanes.admit(limit: configuration.queueLimit) else {
                return Routes.error(.tooManyRequests, "busy: \(configuration.queueLimit) requests are already waiting")
            }
            defer { lanes.leave() }
            return Routes.json(try await engine.add(data, name: name, camera: camera), status: .created)
        } catch is NIOTooManyBytesError {
            return Routes.error(.contentTooLarge, "the upload is larger than \(limit) bytes")
        } catch let e as HTTPError where e.status == .contentTooLarge {
            return Routes.error(.contentTooLarge, "the upload is larger than \(limit) bytes")
        } catch {
            return Routes.error(for: error)
        }
    }
}

/// Response helpers.
enum Routes {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    static func bytes(_ data: Data, type: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status,
                 headers: [.contentType: type, .cacheControl: "no-store", HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func png(_ data: Data) -> Response { bytes(data, type: "image/png") }

    static func npy(_ t: Tensor) -> Response { bytes(NPY.encode(t), type: "application/octet-stream") }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        guard let data = try? encoder.encode(value) else { return error(.internalServerError, "the answer could not be encoded") }
        return bytes(data, type: "application/json", status: status)
    }

    static func error(_ status: HTTPResponse.Status, _ line: String) -> Response {
        json(ErrorDocument(error: line), status: status)
    }

    /// The status and one-line message of an error.
    static func error(for error: Error) -> Response {
        switch error {
        case let e as ViewParameters.Invalid: return Routes.error(.badRequest, e.line)
        case let e as NotFound: return Routes.error(.notFound, e.line)
        case is Superseded: return Routes.error(.conflict, "superseded by a newer request")
        case let error as ConvLensError:
            // Library parameters under this API's names for them (a unit is a channel here).
            let e = error.naming { ["channel": "unit", "overlay": "unit", "at": "y/x"][$0] ?? $0 }
            switch e.code {
            case .unknownLayer: return Routes.error(.notFound, e.line)
            case .unwritableOutput, .missingResource: return Routes.error(.internalServerError, e.line)
            default: return Routes.error(.badRequest, e.line)
            }
        default: return Routes.error(.internalServerError, ConvLensError(.invalidArgument, "internal error: \(String(describing: error).prefix(200))").line)
        }
    }
}
