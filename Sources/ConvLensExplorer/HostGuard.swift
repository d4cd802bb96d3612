import Foundation
import Hummingbird

/// Refuses requests whose `Host` (or `Origin`, when sent) is not the server's own address: a page
/// on another site cannot reach the explorer by pointing a name it controls at 127.0.0.1 (DNS
/// rebinding), nor post to it from the browser. Allowed hosts: the bound host and, when it is
/// loopback, `localhost`, `127.0.0.1` and `[::1]`, each with the bound port; plus
/// ``ExplorerConfiguration/allowedHosts``.
struct HostGuard<Context: RequestContext>: RouterMiddleware {
    let configuration: ExplorerConfiguration
    let port = PortBox()

    init(configuration: ExplorerConfiguration) { self.configuration = configuration }

    func bound(port p: Int) { port.set(p) }

    /// The `host:port` values a request may name.
    func allowed() -> Set<String> {
        let p = port.get()
        var names = [configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host]
        if configuration.isLoopback || configuration.host == "0.0.0.0" || configuration.host == "::" {
            names += ["localhost", "127.0.0.1", "[::1]"]
        }
        names += configuration.allowedHosts
        // Browsers leave the default port out of Host and Origin.
        return Set(names.flatMap { n in p == 80 ? ["\(n.lowercased()):80", n.lowercased()] : ["\(n.lowercased()):\(p)"] })
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let ok = allowed()
        guard let authority = request.head.authority?.lowercased(), ok.contains(authority) else {
            return Routes.error(.forbidden, "refused: the Host header '\((request.head.authority ?? "").prefix(80))' is not this server's address")
        }
        if let origin = request.headers[.origin] {
            let o = origin.lowercased()
            guard o.hasPrefix("http://"), ok.contains(String(o.dropFirst(7))) else {
                return Routes.error(.forbidden, "refused: the Origin '\(origin.prefix(80))' is not this server")
            }
        }
        return try await next(request, context)
    }
}

/// The port the server got (known only once it runs; port 0 picks one).
final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func set(_ v: Int) { lock.lock(); value = v; lock.unlock() }
    func get() -> Int { lock.lock(); defer { lock.unlock() }; return value }
}

/// Latest-wins bookkeeping: each request may name a `client` and a `lane` (`grid`, `back`, …);
/// a request that a newer one of the same client and lane has superseded before it reached the
/// engine is answered 409 without being computed. Also counts requests waiting for the engine.
final class Lanes: @unchecked Sendable {
    private let lock = NSLock()
    private var latest: [String: UInt64] = [:]
    private var counter: UInt64 = 0
    private var waiting = 0

    /// Registers a request; returns its ticket (`nil` key: never superseded).
    func enter(_ key: String?) -> (String?, UInt64) {
        lock.lock(); defer { lock.unlock() }
        counter += 1
        if let key {
            if latest.count > 4096 { latest.removeAll() }   // bounded: stale clients are forgotten
            latest[key] = counter
        }
        return (key, counter)
    }

    func isLatest(_ ticket: (String?, UInt64)) -> Bool {
        guard let key = ticket.0 else { return true }
        lock.lock(); defer { lock.unlock() }
        return latest[key].map { $0 == ticket.1 } ?? true
    }

    /// Counts a request waiting for the engine; `false` when `limit` are already waiting.
    func admit(limit: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard waiting < limit else { return false }
        waiting += 1
        return true
    }

    func leave() { lock.lock(); waiting -= 1; lock.unlock() }
}
