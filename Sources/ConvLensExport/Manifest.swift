import ConvLensCore
import Crypto
import Foundation

/// A JSON value for free-form manifest parameters.
public enum JSONValue: Codable, Sendable, Equatable {
    case string(String), number(Double), integer(Int), bool(Bool), array([JSONValue]), object([String: JSONValue]), null

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .number(let d): try c.encode(d)
        case .integer(let i): try c.encode(i)
        case .bool(let b): try c.encode(b)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}

/// The record of one command run, written as `manifest.json` in its output folder (DESIGN.md §3).
public struct Manifest: Codable, Sendable {
    public struct Tool: Codable, Sendable {
        public var name = "convlens"
        public var version: String
    }
    public struct FileRecord: Codable, Sendable {
        public var path: String
        public var sha256: String
        public var shape: [Int]?
        public var preprocessing: JSONValue?
    }
    /// What an output shows, encoded as its name (`"activation-grid"`). The set is open: a
    /// manifest from a newer ConvLens decodes with kinds this one does not name.
    public struct Kind: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(rawValue)
        }
        public var description: String { rawValue }

        public static let activation = Kind(rawValue: "activation")
        public static let activationGrid = Kind(rawValue: "activation-grid")
        public static let overlay = Kind(rawValue: "overlay")
        public static let filters = Kind(rawValue: "filters")
        public static let filterGrid = Kind(rawValue: "filter-grid")
        public static let projection = Kind(rawValue: "projection")
        public static let projectionGrid = Kind(rawValue: "projection-grid")
        public static let projectionStack = Kind(rawValue: "projection-stack")
        public static let panel = Kind(rawValue: "panel")
        public static let tensorboard = Kind(rawValue: "tensorboard")
        public static let notebook = Kind(rawValue: "notebook")
        public static let scan = Kind(rawValue: "scan")
        public static let topk = Kind(rawValue: "topk")
        public static let classification = Kind(rawValue: "classification")
        public static let optimized = Kind(rawValue: "optimized")
        public static let objectiveCurve = Kind(rawValue: "objective-curve")
        public static let gradcam = Kind(rawValue: "gradcam")
        public static let gradcamInput = Kind(rawValue: "gradcam-input")
        public static let guidedGradcam = Kind(rawValue: "guided-gradcam")
        public static let occlusionMap = Kind(rawValue: "occlusion-map")
        public static let occlusion = Kind(rawValue: "occlusion")
        public static let occlusionTop = Kind(rawValue: "occlusion-top")
    }

    /// One output file (or group of files) with what it shows. Fields that do not apply are `nil`
    /// and omitted from the JSON.
    public struct Output: Codable, Sendable {
        public var kind: Kind
        public var layer: String?
        public var layerQuery: String?
        public var channel: Int?
        public var channels: [Int]?
        public var y: Int?
        public var x: Int?
        public var activation: Float?
        public var rule: String?
        public var seed: String?
        public var display: String?
        public var algorithm: String?
        public var npy: String?
        public var png: String?
        public var shape: [Int]?
        public var min: Float?
        public var max: Float?
        public var label: String?
        public var probability: Float?
        public var rank: Int?
        /// Grids and overlays: how values were scaled (`global`, `layer` or `tile`).
        public var scale: String?
        /// Filter grids: the view (`rgb`, `pairs`, `input:K`, `norm`, `depthwise`).
        public var view: String?
        /// Activation grids and overlays: the colormap.
        public var colormap: String?
        /// Activation grids: deep-visualization-toolbox's boost exponent and gamma.
        public var boost: Float?
        public var gamma: Float?
        /// Filter grids (`pairs`, `input:K`): the input channels shown.
        public var inputChannels: [Int]?
        /// Grids: the integer magnification of each tile, and `[rows, columns]`.
        public var zoom: Int?
        public var grid: [Int]?
        /// A file that is neither PNG nor `.npy` (a TensorBoard event file), relative to the folder.
        public var file: String?
        /// TensorBoard: the summary tags written, and the step.
        public var tags: [String]?
        public var step: Int?

        public init(kind: Kind) { self.kind = kind }

        enum CodingKeys: String, CodingKey {
            case kind, layer, layerQuery = "layer_query", channel, channels, y, x, activation, rule, seed, display,
                 algorithm, npy, png, shape, min, max, label, probability, rank
            case scale, view, colormap, boost, gamma, inputChannels = "input_channels", zoom, grid, file, tags, step
        }
    }

    /// What a run used: peak memory and, for projections, the convolution work.
    public struct Performance: Codable, Sendable {
        /// Peak resident set size of the process in bytes (Linux `VmHWM`).
        public var peakResidentBytes: Int
        /// The `--memory-budget` in bytes, for commands that project.
        public var memoryBudgetBytes: Int?
        /// Direct-equivalent flops of the backward convolutions that ran (on receptive-field windows).
        public var convolutionFlops: Double?
        /// The same convolutions on whole maps.
        public var denseConvolutionFlops: Double?

        public init(peakResidentBytes: Int) { self.peakResidentBytes = peakResidentBytes }

        enum CodingKeys: String, CodingKey {
            case peakResidentBytes = "peak_resident_bytes", memoryBudgetBytes = "memory_budget_bytes"
            case convolutionFlops = "convolution_flops", denseConvolutionFlops = "dense_convolution_flops"
        }
    }

    public var tool: Tool
    public var command: String
    public var model: FileRecord?
    public var input: FileRecord?
    public var parameters: [String: JSONValue]
    public var outputs: [Output]
    /// Peak memory and work of the run (commands that project).
    public var performance: Performance?

    public init(command: String, version: String, model: FileRecord?, input: FileRecord?, parameters: [String: JSONValue]) {
        self.tool = Tool(version: version)
        self.command = command
        self.model = model
        self.input = input
        self.parameters = parameters
        self.outputs = []
    }

    /// The JSON text (sorted keys, pretty-printed).
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(self)
    }

    /// Writes `manifest.json` into `directory`, atomically, after every output it lists (the
    /// run's commit record; with `CONVLENS_SYNC=1` a durable one: ``AtomicFile``).
    public func write(to directory: String) throws {
        try AtomicFile.commit(folder: directory)
        try AtomicFile.write(try jsonData(), to: directory + "/manifest.json", sync: AtomicFile.syncRequested)
        try AtomicFile.syncEntries(of: directory)
    }

    /// A record of a file with its SHA-256.
    public static func record(path: String, shape: [Int]? = nil, preprocessing: JSONValue? = nil) throws -> FileRecord {
        FileRecord(path: path, sha256: sha256Hex(try AtomicFile.read(path)), shape: shape, preprocessing: preprocessing)
    }

    /// The SHA-256 of `data` as 64 lowercase hex digits (swift-crypto).
    public static func sha256Hex(_ data: Data) -> String {
        Crypto.SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
