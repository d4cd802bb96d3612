import ConvLens
import Foundation

/// The query parameters of a view request, validated (Docs/Explorer.md "Parameters"). Every bad
/// value is a ``ViewParameters/Invalid`` naming the parameter; nothing reaches the engine unchecked.
public struct ViewParameters: Sendable, Equatable {
    /// The input image's id.
    public var image: String?
    /// The layer query (canonical name, tensor name or `#N`).
    public var layer: String?
    /// The unit (channel) of the layer.
    public var unit: Int?
    /// A position in the unit's map (`nil`: the argmax).
    public var y: Int?
    public var x: Int?
    public var rule: ProjectionRule = .deconvnet
    public var display: DisplayMode = .norm
    public var seed: ProjectionRequest.SeedKind = .unit
    /// Activation grid drawing.
    public var scale: TileScale = .global
    public var boost: Float = 0
    public var gamma: Float = 1
    public var colormap: Colormap = .gray
    /// For the signal view: the layer whose unit is projected (the frozen seed's layer).
    public var from: String?
    /// For predictions: how many classes.
    public var top: Int = 5
    /// The view `command` and `save` describe: `projection`, `activations`, `filters`, `unit`.
    public var view: String = "projection"

    /// A parameter that is malformed or out of range.
    public struct Invalid: Error, Sendable, Equatable {
        public var parameter: String
        public var reason: String
        public var line: String { "parameter '\(parameter)': \(reason)" }
    }

    public init() {}

    /// Parses query parameters; unknown names are ignored (the page adds its own, such as `lane`).
    public init(_ q: [String: String]) throws {
        func text(_ name: String, limit: Int = 4096) throws -> String? {
            guard let v = q[name] else { return nil }
            guard !v.isEmpty, v.utf8.count <= limit else {
                throw Invalid(parameter: name, reason: v.isEmpty ? "is empty" : "is longer than \(limit) bytes")
            }
            guard !v.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw Invalid(parameter: name, reason: "contains control characters")
            }
            return v
        }
        func int(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let s = try text(name, limit: 20) else { return nil }
            guard let v = Int(s), range.contains(v) else {
                throw Invalid(parameter: name, reason: "'\(s)' is not an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }
        func float(_ name: String, _ range: ClosedRange<Float>) throws -> Float? {
            guard let s = try text(name, limit: 40) else { return nil }
            guard let v = Float(s), v.isFinite, range.contains(v) else {
                throw Invalid(parameter: name, reason: "'\(s)' is not a number in \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }
        func choice<T>(_ name: String, _ parse: (String) -> T?, _ names: [String]) throws -> T? {
            guard let s = try text(name, limit: 40) else { return nil }
            guard let v = parse(s) else {
                throw Invalid(parameter: name, reason: "'\(s)' is not one of \(names.joined(separator: ", "))")
            }
            return v
        }
        image = try text("image", limit: 32)
        layer = try text("layer")
        from = try text("from")
        unit = try int("unit", 0...(1 << 30))
        y = try int("y", 0...(1 << 30))
        x = try int("x", 0...(1 << 30))
        guard (y == nil) == (x == nil) else { throw Invalid(parameter: y == nil ? "y" : "x", reason: "y and x go together") }
        rule = try choice("rule", ProjectionRule.init(rawValue:), ProjectionRule.allCases.map(\.rawValue)) ?? rule
        display = try choice("display", DisplayMode.init(rawValue:), DisplayMode.allCases.map(\.rawValue)) ?? display
        seed = try choice("seed", ProjectionRequest.SeedKind.init(rawValue:), ProjectionRequest.SeedKind.allCases.map(\.rawValue)) ?? seed
        scale = try choice("scale", { ["layer": TileScale.global, "tile": .tile][$0] }, ["layer", "tile"]) ?? scale
        colormap = try choice("colormap", Colormap.init(rawValue:), Colormap.allCases.map(\.rawValue)) ?? colormap
        boost = try float("boost", 0...1) ?? boost
        gamma = try float("gamma", 0.01...100) ?? gamma
        top = try int("top", 1...1000) ?? top
        view = try choice("view", { ["projection", "activations", "filters", "unit"].contains($0) ? $0 : nil },
                          ["projection", "activations", "filters", "unit"]) ?? view
    }

    /// The latest-wins key of a request (`client` + `lane`), or `nil` when it names no lane.
    /// - Throws: ``Invalid`` for a client or lane that is not 1–64 letters, digits, `-` or `_`.
    static func lane(_ q: [String: String]) throws -> String? {
        func word(_ name: String) throws -> String? {
            guard let v = q[name] else { return nil }
            guard (1...64).contains(v.count), v.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw Invalid(parameter: name, reason: "must be 1 to 64 letters, digits, '-' or '_'")
            }
            return v
        }
        let client = try word("client")
        return try word("lane").map { "\(client ?? "")/\($0)" }
    }

    /// The value of a required parameter.
    func required<T>(_ value: T?, _ name: String) throws -> T {
        guard let value else { throw Invalid(parameter: name, reason: "is required") }
        return value
    }
}
