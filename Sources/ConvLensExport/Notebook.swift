import ConvLensCore
import Foundation

/// A Jupyter notebook in nbformat 4.5 (DESIGN.md §4), built cell by cell and written as JSON.
///
/// The rules that `nbformat.validate` enforces and this type keeps (FACTS.md "Jupyter notebooks"):
/// every cell has a unique `id` matching `^[a-zA-Z0-9-_]+$` (1–64 characters); code cells always
/// carry `outputs` and `execution_count` (written as JSON `null` when the cell has not run, which
/// synthesized `Encodable` would drop); markdown cells carry neither; a `display_data` output has
/// `output_type`, `data` and `metadata`.
public struct Notebook: Encodable, Sendable {
    /// One output of a code cell. Only `display_data` is produced.
    public struct Output: Encodable, Sendable {
        /// MIME type → content (`image/png`: base64 text; `text/plain`: lines).
        public var data: [String: JSONValue]
        /// Per-MIME metadata (`image/png`: `{"width": …, "height": …}`).
        public var metadata: [String: JSONValue] = [:]

        /// A PNG shown inline, with a plain-text fallback.
        /// - Parameters:
        ///   - png: the PNG file's bytes (embedded as base64).
        ///   - text: what a text-only front end shows instead.
        public static func png(_ png: Data, text: String) -> Output {
            Output(data: ["image/png": .string(png.base64EncodedString()), "text/plain": .array(Notebook.lines(text).map(JSONValue.string))])
        }

        enum CodingKeys: String, CodingKey { case outputType = "output_type", data, metadata }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode("display_data", forKey: .outputType)
            try c.encode(data, forKey: .data)
            try c.encode(metadata, forKey: .metadata)
        }
    }

    /// One cell: markdown or code.
    public struct Cell: Encodable, Sendable {
        public enum Kind: String, Sendable { case markdown, code }
        public var kind: Kind
        /// Unique within the notebook; `^[a-zA-Z0-9-_]+$`, 1–64 characters.
        public var id: String
        /// The cell text.
        public var source: String
        /// Code cells: saved outputs (shown without running the notebook).
        public var outputs: [Output] = []

        enum CodingKeys: String, CodingKey { case cellType = "cell_type", id, metadata, source, outputs, executionCount = "execution_count" }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(kind.rawValue, forKey: .cellType)
            try c.encode(id, forKey: .id)
            try c.encode([String: JSONValue](), forKey: .metadata)
            try c.encode(Notebook.lines(source), forKey: .source)
            if kind == .code {
                try c.encode(outputs, forKey: .outputs)
                try c.encodeNil(forKey: .executionCount)
            }
        }
    }

    /// The notebook's cells, in order.
    public private(set) var cells: [Cell] = []
    /// The title (first markdown cell) and the notebook's `metadata.title`.
    public var title: String

    public init(title: String) {
        self.title = title
    }

    /// Appends a markdown cell.
    public mutating func markdown(_ text: String) {
        cells.append(Cell(kind: .markdown, id: nextID(), source: text))
    }

    /// Appends a code cell with saved outputs (not executed: `execution_count` is `null`).
    public mutating func code(_ text: String, outputs: [Output] = []) {
        cells.append(Cell(kind: .code, id: nextID(), source: text, outputs: outputs))
    }

    /// Cell ids are `cell-1`, `cell-2`, …: unique, valid and stable across runs (so regenerated
    /// notebooks diff cleanly).
    private func nextID() -> String { "cell-\(cells.count + 1)" }

    enum CodingKeys: String, CodingKey { case nbformat, nbformatMinor = "nbformat_minor", metadata, cells }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(4, forKey: .nbformat)
        try c.encode(5, forKey: .nbformatMinor)
        let metadata: [String: JSONValue] = [
            "kernelspec": .object(["name": .string("python3"), "display_name": .string("Python 3"), "language": .string("python")]),
            "language_info": .object(["name": .string("python"), "file_extension": .string(".py"), "mimetype": .string("text/x-python")]),
            "title": .string(title),
        ]
        try c.encode(metadata, forKey: .metadata)
        try c.encode(cells, forKey: .cells)
    }

    /// The JSON text (sorted keys, one-space indent as Jupyter writes it).
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var d = try e.encode(self)
        d.append(0x0A)
        return d
    }

    /// Writes the notebook atomically to `path`.
    public func write(to path: String) throws {
        try AtomicFile.write(try jsonData(), to: path)
    }

    /// A multi-line string as Jupyter stores it: lines that keep their `\n`, the last without.
    static func lines(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in text {
            current.append(ch)
            if ch == "\n" { out.append(current); current = "" }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
