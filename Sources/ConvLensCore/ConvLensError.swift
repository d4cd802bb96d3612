/// The error every public ConvLens API throws for bad input discovered at run time.
///
/// A `ConvLensError` carries a ``Code`` that says what went wrong, the file or request parameter
/// it concerns, and a human-readable detail. The command-line tool prints ``line`` (with the
/// parameter named as its flag, ``naming(parameter:)``) on standard error and exits with status 2.
///
/// Programmer errors (a negative channel index passed by calling code, a shape mismatch between
/// two tensors the library itself built) are preconditions, not `ConvLensError`s.
public struct ConvLensError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A file could not be opened or read.
        public static let unreadableFile = Code("unreadable-file")
        /// A file was read but its content is not valid for its format.
        public static let malformedFile = Code("malformed-file")
        /// A file uses a valid feature of its format that ConvLens does not support.
        public static let unsupportedFeature = Code("unsupported-feature")
        /// A model contains an operator ConvLens does not implement.
        public static let unsupportedOperator = Code("unsupported-operator")
        /// A declared size or shape is impossible or too large to allocate.
        public static let absurdSize = Code("absurd-size")
        /// A layer query matched nothing.
        public static let unknownLayer = Code("unknown-layer")
        /// A channel, position or other index is outside the valid range.
        public static let outOfRange = Code("out-of-range")
        /// An input tensor has the wrong shape for the model.
        public static let shapeMismatch = Code("shape-mismatch")
        /// An output file or folder could not be written.
        public static let unwritableOutput = Code("unwritable-output")
        /// A bundled resource (model, image, labels) is missing.
        public static let missingResource = Code("missing-resource")
        /// An argument value is invalid for this model or input.
        public static let invalidArgument = Code("invalid-argument")
    }

    /// What went wrong.
    public var code: Code
    /// The file (or, from a front end, the argument such as `--layer`) the error concerns; `nil`
    /// when none applies.
    public var file: String?
    /// The request parameter the error concerns, by the library's name for it (`layer`,
    /// `channel`, `at`, `class`, `window`, `view`, …); `nil` when none applies. The library does
    /// not know how a front end spells it: the command line names it as its flag (`--layer`), the
    /// explorer as its query parameter (``naming(parameter:)``).
    public var parameter: String?
    /// One human-readable sentence saying what was expected and what was found.
    public var detail: String

    public init(_ code: Code, file: String? = nil, _ detail: String) {
        self.code = code
        self.file = file
        self.detail = detail
    }

    /// An error about a request parameter (see ``parameter``) rather than a file.
    public init(_ code: Code, parameter: String, _ detail: String) {
        self.code = code
        self.parameter = parameter
        self.detail = detail
    }

    /// The same error with its ``parameter`` shown under a front end's name for it, as the
    /// subject of ``description`` and ``line`` (when the error names no file).
    /// - Parameter name: the front end's spelling of a library parameter (`"layer"` → `"--layer"`).
    public func naming(parameter name: (String) -> String) -> ConvLensError {
        guard let parameter else { return self }
        var copy = self
        copy.parameter = name(parameter)
        return copy
    }

    /// What the error is about: the file, else the parameter.
    private var subject: String? { file ?? parameter }

    /// One line: `FILE: DETAIL`, `PARAMETER: DETAIL`, or just the detail when neither applies.
    public var description: String {
        if let subject { return "\(subject): \(detail)" }
        return detail
    }

    /// The message as one line for a terminal (the CLI prints it after `convlens: `): line breaks
    /// and other control or format characters become spaces; a quoted string (`'…'`) over 80
    /// characters, which is what a user typed or a file named, keeps its first 60 and says how
    /// long it was; a file path over 160 characters keeps its first 40 and last 100; the line
    /// stops at 1,000 characters.
    public var line: String {
        var text = ConvLensError.shortenQuotes(detail)
        if let file = subject {
            let f = file.count > 160 ? "\(file.prefix(40))…\(file.suffix(100))" : file
            text = "\(f): \(text)"
        }
        // Control and format characters (escape sequences, line and paragraph separators) become spaces.
        text = text.replacingOccurrences(of: "\r\n", with: " ")
        text = String(String.UnicodeScalarView(text.unicodeScalars.map { c in
            switch c.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator: return " "
            default: return c
            }
        }))
        return text.count > 1000 ? String(text.prefix(999)) + "…" : text
    }

    /// Cuts long quoted strings, in time linear in the length. A quote opens after a space, a
    /// bracket, `=`, `:` or `,` (not in "model's") and closes before anything but a letter.
    private static func shortenQuotes(_ s: String) -> String {
        guard s.count > 80 else { return s }
        let c = Array(s)
        // The nearest closing quote at or after each index, found in one backward pass.
        var nextClose = [Int](repeating: -1, count: c.count + 1)
        for j in stride(from: c.count - 1, through: 0, by: -1) {
            nextClose[j] = c[j] == "'" && (j + 1 == c.count || !c[j + 1].isLetter) ? j : nextClose[j + 1]
        }
        var out = ""
        var i = 0
        while i < c.count {
            let opens = c[i] == "'" && (i == 0 || c[i - 1].isWhitespace || "([{=:,".contains(c[i - 1]))
            let close = nextClose[i + 1]
            if opens, close > i {
                let quoted = c[(i + 1)..<close]
                out += "'" + (quoted.count > 80 ? "\(String(quoted.prefix(60)))… (\(quoted.count) characters)" : String(quoted)) + "'"
                i = close + 1
            } else {
                out.append(c[i])
                i += 1
            }
        }
        return out
    }

    /// The same error attributed to `file` when it names neither a file nor a parameter yet.
    public func attributed(to file: String) -> ConvLensError {
        var copy = self
        if copy.file == nil && copy.parameter == nil { copy.file = file }
        return copy
    }
}
