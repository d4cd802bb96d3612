import Foundation

/// Reads and writes NumPy `.npy` arrays.
///
/// Reading accepts format versions 1.0, 2.0 and 3.0, little- or big-endian `float32` (`<f4`) and
/// `float64` (`<f8`), C order. Writing produces version 1.0, `<f4`, C order, which NumPy loads
/// with `numpy.load`. Fortran-order, object, integer and other arrays are rejected with a
/// ``ConvLensError`` that names the file and the dtype.
public enum NPY {
    private static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // \x93NUMPY

    /// Decodes an `.npy` file's bytes.
    /// - Parameters:
    ///   - data: the whole file.
    ///   - file: the name used in error messages.
    /// - Returns: the array as fp32 (float64 input is rounded to nearest).
    /// - Throws: ``ConvLensError`` (`malformedFile`, `unsupportedFeature`, `absurdSize`).
    public static func decode(_ data: Data, file: String = "<npy>") throws -> Tensor {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw ConvLensError(.malformedFile, file: file, "not a NumPy .npy file (bad magic bytes)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else {
                throw ConvLensError(.malformedFile, file: file, "truncated .npy header")
            }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw ConvLensError(.unsupportedFeature, file: file, ".npy format version \(major) is not supported (1.0, 2.0 and 3.0 are)")
        }
        guard headerStart + headerLength <= bytes.count else {
            throw ConvLensError(.malformedFile, file: file, "truncated .npy header (declares \(headerLength) bytes)")
        }
        guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw ConvLensError(.malformedFile, file: file, "the .npy header is not text")
        }
        let dict = try parseHeader(header, file: file)
        guard let descr = dict["descr"], let fortran = dict["fortran_order"], let shapeText = dict["shape"] else {
            throw ConvLensError(.malformedFile, file: file, "the .npy header lacks descr, fortran_order or shape")
        }
        let dtype = unquote(descr)
        if fortran == "True" {
            throw ConvLensError(.unsupportedFeature, file: file, "Fortran-order arrays are not supported; save with numpy.ascontiguousarray")
        }
        guard fortran == "False" else {
            throw ConvLensError(.malformedFile, file: file, "fortran_order is \(fortran), expected True or False")
        }
        let dims = try parseShape(shapeText, file: file)
        let shape = try Shape(validating: dims, file: file)
        let elementSize: Int
        let bigEndian: Bool
        switch dtype {
        case "<f4", "=f4", "f4": (elementSize, bigEndian) = (4, false)
        case ">f4": (elementSize, bigEndian) = (4, true)
        case "<f8", "=f8", "f8": (elementSize, bigEndian) = (8, false)
        case ">f8": (elementSize, bigEndian) = (8, true)
        default:
            throw ConvLensError(.unsupportedFeature, file: file, "dtype '\(dtype)' is not supported; ConvLens reads float32 and float64 arrays")
        }
        let dataStart = headerStart + headerLength
        let needed = shape.count * elementSize
        guard bytes.count - dataStart >= needed else {
            throw ConvLensError(.malformedFile, file: file, "truncated .npy data: shape \(shape) needs \(needed) bytes, the file has \(bytes.count - dataStart)")
        }
        return Tensor(shape: shape) { out in
            bytes.withUnsafeBytes { raw in
                let base = raw.baseAddress! + dataStart
                if elementSize == 4 {
                    for i in 0..<out.count {
                        var bits = base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
                        bits = bigEndian ? UInt32(bigEndian: bits) : UInt32(littleEndian: bits)
                        out[i] = Float(bitPattern: bits)
                    }
                } else {
                    for i in 0..<out.count {
                        var bits = base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                        bits = bigEndian ? UInt64(bigEndian: bits) : UInt64(littleEndian: bits)
                        out[i] = Float(Double(bitPattern: bits))
                    }
                }
            }
        }
    }

    /// Reads an `.npy` file.
    /// - Throws: ``ConvLensError`` naming `path`.
    public static func read(_ path: String) throws -> Tensor {
        try decode(try AtomicFile.read(path), file: path)
    }

    /// Encodes a tensor as `.npy` version 1.0, `<f4`, C order.
    public static func encode(_ tensor: Tensor) -> Data {
        var data = Data(header(for: tensor.shape))
        tensor.scalars.withUnsafeBufferPointer { buf in
            appendLittleEndian(buf) { data.append(contentsOf: $0) }
        }
        return data
    }

    /// The `.npy` 1.0 preamble (magic, version, header length, header padded to 64 bytes).
    static func header(for shape: Shape) -> [UInt8] {
        let dims = shape.dimensions
        let shapeText: String
        switch dims.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(dims[0]),)"
        default: shapeText = "(" + dims.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad so that magic + version + length + header is a multiple of 64, ending in '\n'.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let n = header.utf8.count
        return magic + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8)
    }

    /// Hands the little-endian bytes of `values` to `put`: the storage itself on a little-endian
    /// machine, a swapped copy otherwise.
    private static func appendLittleEndian(_ values: UnsafeBufferPointer<Float>, _ put: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        #if _endian(little)
        try put(UnsafeRawBufferPointer(values))
        #else
        let le = values.map { $0.bitPattern.littleEndian }
        try le.withUnsafeBytes { try put($0) }
        #endif
    }

    /// Writes a tensor to `path` atomically as `.npy` version 1.0, `<f4`, straight from its
    /// storage (no encoded copy).
    /// - Throws: ``ConvLensError`` with code `unwritableOutput`.
    public static func write(_ tensor: Tensor, to path: String) throws {
        let head = header(for: tensor.shape)
        try AtomicFile.write(to: path) { put in
            try head.withUnsafeBytes { try put($0) }
            try tensor.scalars.withUnsafeBufferPointer { try appendLittleEndian($0, put) }
        }
    }

    /// Writes tensors of one shape `[1, …]` (or `[…]`) stacked along a new first axis as one
    /// `.npy` `[S, …]`, atomically, straight from their storage: slice `s` is tensor `s`, bit for bit.
    /// - Returns: the shape written.
    /// - Throws: ``ConvLensError`` `invalidArgument` when the shapes differ, `unwritableOutput`.
    @discardableResult
    public static func writeStack(_ tensors: [Tensor], to path: String) throws -> [Int] {
        let first = tensors.first?.shape.dimensions ?? []
        guard tensors.allSatisfy({ $0.shape.dimensions == first }) else {
            throw ConvLensError(.invalidArgument, file: path, "cannot stack arrays of different shapes")
        }
        let shape = [tensors.count] + (first.first == 1 ? Array(first.dropFirst()) : first)
        let head = header(for: Shape(shape))
        try AtomicFile.write(to: path) { put in
            try head.withUnsafeBytes { try put($0) }
            for t in tensors { try t.scalars.withUnsafeBufferPointer { try appendLittleEndian($0, put) } }
        }
        return shape
    }

    // MARK: - Header parsing (a Python dict literal with three known keys)

    private static func parseHeader(_ text: String, file: String) throws -> [String: String] {
        var s = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        guard s.first == "{", s.last == "}" else {
            throw ConvLensError(.malformedFile, file: file, "the .npy header is not a dictionary")
        }
        s = s.dropFirst().dropLast()
        var result: [String: String] = [:]
        var i = s.startIndex
        func skipSpaces() { while i < s.endIndex, s[i] == " " || s[i] == "," || s[i] == "\n" { i = s.index(after: i) } }
        while true {
            skipSpaces()
            if i >= s.endIndex { break }
            guard s[i] == "'" || s[i] == "\"" else {
                throw ConvLensError(.malformedFile, file: file, "the .npy header has a malformed key")
            }
            let q = s[i]
            i = s.index(after: i)
            guard let end = s[i...].firstIndex(of: q) else {
                throw ConvLensError(.malformedFile, file: file, "the .npy header has an unterminated key")
            }
            let key = String(s[i..<end])
            i = s.index(after: end)
            while i < s.endIndex, s[i] == " " { i = s.index(after: i) }
            guard i < s.endIndex, s[i] == ":" else {
                throw ConvLensError(.malformedFile, file: file, "the .npy header lacks ':' after '\(key)'")
            }
            i = s.index(after: i)
            while i < s.endIndex, s[i] == " " { i = s.index(after: i) }
            let valueStart = i
            if i < s.endIndex, s[i] == "(" {
                guard let close = s[i...].firstIndex(of: ")") else {
                    throw ConvLensError(.malformedFile, file: file, "the .npy header has an unterminated shape")
                }
                i = s.index(after: close)
            } else if i < s.endIndex, s[i] == "'" || s[i] == "\"" {
                let q2 = s[i]
                guard let close = s[s.index(after: i)...].firstIndex(of: q2) else {
                    throw ConvLensError(.malformedFile, file: file, "the .npy header has an unterminated string")
                }
                i = s.index(after: close)
            } else if i < s.endIndex, s[i] == "[" || s[i] == "{" {
                // Structured dtypes: recorded as unsupported below.
                result[key] = "<structured>"
                break
            } else {
                while i < s.endIndex, s[i] != "," { i = s.index(after: i) }
            }
            result[key] = String(s[valueStart..<i]).trimmingCharacters(in: .whitespaces)
        }
        return result
    }

    private static func unquote(_ s: String) -> String {
        var t = Substring(s)
        if t.first == "'" || t.first == "\"" { t = t.dropFirst() }
        if t.last == "'" || t.last == "\"" { t = t.dropLast() }
        return String(t)
    }

    private static func parseShape(_ s: String, file: String) throws -> [Int] {
        guard s.hasPrefix("("), s.hasSuffix(")") else {
            throw ConvLensError(.malformedFile, file: file, "the .npy shape '\(s)' is not a tuple")
        }
        let inner = s.dropFirst().dropLast()
        var dims: [Int] = []
        for part in inner.split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "L", with: "")
            if t.isEmpty { continue }
            guard let d = Int(t), d >= 0 else {
                throw ConvLensError(.malformedFile, file: file, "the .npy shape '\(s)' has a bad dimension '\(t)'")
            }
            dims.append(d)
        }
        return dims
    }
}
