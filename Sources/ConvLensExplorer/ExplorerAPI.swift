import ConvLens
import Foundation

// The JSON documents of the explorer's API (Docs/Explorer.md "API"). Keys are snake_case, as in
// manifest.json.

/// `GET /api/model`.
public struct ModelDocument: Codable, Sendable {
    /// The model file's name (`mobilenetv2.onnx`).
    public var name: String
    /// Whether it is the bundled model (commands then omit `--model`).
    public var bundled: Bool
    /// The model input's shape.
    public var input: [Int]
    /// The layers in `inspect` order.
    public var layers: [LayerDocument]
    /// Projection rules, display modes, colormaps and seed kinds, in the order the page cycles them.
    public var rules: [String]
    public var displays: [String]
    public var colormaps: [String]
    public var seeds: [String]
    /// The canonical names of the layers `--scan` covers (`GET /api/topk.png`); empty without a scan.
    public var scannedLayers: [String]

    enum CodingKeys: String, CodingKey {
        case name, bundled, input, layers, rules, displays, colormaps, seeds
        case scannedLayers = "scanned_layers"
    }
}

/// One layer of ``ModelDocument``.
public struct LayerDocument: Codable, Sendable {
    /// `#N`, the canonical name, the op and the output shape (as `inspect`).
    public var index: Int
    public var name: String
    public var op: String
    public var shape: [Int]
    /// Channels, and the map size of one channel (1 × 1 for fully connected layers).
    public var channels: Int
    public var height: Int
    public var width: Int
    /// The receptive field of one unit in input pixels.
    public var receptiveField: ReceptiveField?
    /// Whether `GET /api/filters.png` has filters for this layer (a convolution, or a Keras layer
    /// that stands for one).
    public var hasFilters: Bool
    /// Where unit `c`'s tile is in the activation grid: row `c / columns`, column `c % columns`,
    /// cells of `cell_width × cell_height` pixels, the tile `zoom`× magnified `padding` pixels
    /// inside its cell.
    public var grid: GridDocument

    enum CodingKeys: String, CodingKey {
        case index, name, op, shape, channels, height, width, grid
        case receptiveField = "receptive_field", hasFilters = "has_filters"
    }
}

/// The layout of an activation grid (the default grid: padding 1, automatic zoom, no labels).
public struct GridDocument: Codable, Sendable, Equatable {
    public var columns: Int
    public var rows: Int
    public var zoom: Int
    public var padding: Int
    public var cellWidth: Int
    public var cellHeight: Int
    public var width: Int
    public var height: Int

    enum CodingKeys: String, CodingKey {
        case columns, rows, zoom, padding, width, height
        case cellWidth = "cell_width", cellHeight = "cell_height"
    }
}

/// One input image (`GET /api/images`, `POST /api/images`).
public struct ImageDocument: Codable, Sendable, Equatable {
    /// The id every view names it by (`b0`, `f3`, `u1`, `c7`).
    public var id: String
    /// The file's name.
    public var name: String
    /// `bundled`, `file` (`--image`), `folder` (`--images`), `upload` or `camera`.
    public var source: String
}

/// `GET /api/predictions`.
public struct PredictionsDocument: Codable, Sendable {
    public var image: String
    public var predictions: [Prediction]
}

/// `GET /api/command` and `POST /api/save`.
public struct CommandDocument: Codable, Sendable {
    /// The `convlens` command line that writes the same view.
    public var command: String
    /// With `POST /api/save`: the folder written and its files.
    public var folder: String?
    public var files: [String]?
}

/// Every error: `{"error": "one line naming the cause"}`.
public struct ErrorDocument: Codable, Sendable {
    public var error: String
}
