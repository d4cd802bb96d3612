import Foundation

/// How `convlens explore` starts (Docs/Explorer.md).
public struct ExplorerConfiguration: Sendable {
    /// The model file; `nil` for the bundled MobileNetV2.
    public var model: String?
    /// A class-names file overriding the model's labels.
    public var labels: String?
    /// A folder whose PNG and JPEG files are offered as inputs (sorted by name).
    public var imageFolder: String?
    /// Single image files offered as inputs.
    public var imageFiles: [String] = []
    /// A `convlens scan` output folder of this model: its layers get the top-K pane (crops and
    /// their projections, as `convlens topk` draws them).
    public var scanFolder: String?
    /// The address to bind; loopback by default.
    public var host = "127.0.0.1"
    /// The port; 0 lets the system choose a free one.
    public var port = 0
    /// The folder that saved views go into (one sub-folder per save).
    public var outputFolder = "convlens-explore"
    /// The largest uploaded image, in bytes.
    public var uploadLimit = 16 << 20
    /// Uploads received at once (their bodies are held in memory); more are answered 429.
    public var uploadSlots = 4
    /// Uploaded images kept (the oldest is forgotten first).
    public var uploadCount = 32
    /// Camera frames kept (the oldest is forgotten first).
    public var cameraFrameCount = 4
    /// Forward traces kept in memory (least recently used is dropped first).
    public var traceCacheSize = 4
    /// Requests waiting for the engine at once; more are answered 429.
    public var queueLimit = 64
    /// Further `Host` names the server answers to (a machine name, when ``host`` is not loopback).
    public var allowedHosts: [String] = []
    /// The most files a folder may offer (the first, by name).
    public var folderLimit = 10_000

    public init() {}

    /// Whether ``host`` is a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
    public var isLoopback: Bool {
        if host.lowercased() == "localhost" { return true }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } == [UInt8](repeating: 0, count: 15) + [1] }
        return false
    }
}
