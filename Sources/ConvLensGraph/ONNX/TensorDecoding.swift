import ConvLensCore
import Foundation
internal import SwiftProtobuf

/// A constant known at import: a float tensor (weights) or an integer array (shapes, axes).
enum Constant {
    case float(Tensor)
    case int([Int], Shape)

    var shape: Shape {
        switch self {
        case .float(let t): return t.shape
        case .int(_, let s): return s
        }
    }

    /// Integer values (float constants are truncated, as ONNX `Cast` does).
    var ints: [Int] {
        switch self {
        case .int(let v, _): return v
        case .float(let t): return t.scalars.map { $0.isFinite ? Int($0) : 0 }
        }
    }

    var floatTensor: Tensor {
        switch self {
        case .float(let t): return t
        case .int(let v, let s): return Tensor(shape: s, scalars: v.map(Float.init))
        }
    }
}

/// Decodes ONNX `TensorProto`s, checking every size against the bytes present.
struct TensorDecoder {
    /// The model file (for messages).
    let file: String
    /// The folder external data must stay inside.
    let directory: String?

    func decode(_ t: Onnx_TensorProto, what: String) throws -> Constant {
        let dims = t.dims.map { Int($0) }
        if t.dims.contains(where: { $0 < 0 || $0 > Int64(Int32.max) }) {
            throw ConvLensError(.absurdSize, file: file, "\(what) has an impossible shape \(t.dims)")
        }
        let shape = try Shape(validating: dims, file: file)
        let n = shape.count
        var raw: Data? = nil
        if t.dataLocation == .external {
            raw = try readExternal(t, what: what)
        } else if t.hasRawData {
            raw = t.rawData
        }
        func need(_ size: Int) throws -> Data {
            let bytes = raw!
            guard bytes.count == n * size else {
                throw ConvLensError(.malformedFile, file: file, "\(what): shape \(shape) needs \(n * size) bytes of data, the file holds \(bytes.count)")
            }
            return bytes
        }
        func check(_ count: Int) throws {
            guard count == n else {
                throw ConvLensError(.malformedFile, file: file, "\(what): shape \(shape) needs \(n) values, the file holds \(count)")
            }
        }
        switch Onnx_TensorProto.DataType(rawValue: Int(t.dataType)) {
        case .float?:
            if raw != nil {
                let d = try need(4)
                return .float(Tensor(shape: shape) { out in
                    d.withUnsafeBytes { b in for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) } }
                })
            }
            try check(t.floatData.count)
            return .float(Tensor(shape: shape, scalars: t.floatData))
        case .double?:
            if raw != nil {
                let d = try need(8)
                return .float(Tensor(shape: shape) { out in
                    d.withUnsafeBytes { b in for i in 0..<n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) } }
                })
            }
            try check(t.doubleData.count)
            return .float(Tensor(shape: shape, scalars: t.doubleData.map { Float($0) }))
        case .float16?:
            if raw != nil {
                let d = try need(2)
                return .float(Tensor(shape: shape) { out in
                    d.withUnsafeBytes { b in for i in 0..<n { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) } }
                })
            }
            // FLOAT16 outside raw_data: bit patterns in int32_data.
            try check(t.int32Data.count)
            return .float(Tensor(shape: shape, scalars: t.int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) }))
        case .int64?:
            if raw != nil {
                let d = try need(8)
                let v = d.withUnsafeBytes { b in (0..<n).map { Int(Int64(littleEndian: b.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) } }
                return .int(v, shape)
            }
            try check(t.int64Data.count)
            return .int(t.int64Data.map { Int($0) }, shape)
        case .int32?, .int16?, .int8?, .uint8?, .uint16?, .bool?:
            let size: Int
            switch Onnx_TensorProto.DataType(rawValue: Int(t.dataType))! {
            case .int32: size = 4
            case .int16, .uint16: size = 2
            default: size = 1
            }
            if raw != nil {
                let d = try need(size)
                let signed = [3, 5, 6].contains(t.dataType)
                let v: [Int] = d.withUnsafeBytes { b in
                    (0..<n).map { i in
                        switch (size, signed) {
                        case (4, _): return Int(Int32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                        case (2, true): return Int(Int16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                        case (2, false): return Int(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                        case (_, true): return Int(b.load(fromByteOffset: i, as: Int8.self))
                        default: return Int(b.load(fromByteOffset: i, as: UInt8.self))
                        }
                    }
                }
                return .int(v, shape)
            }
            try check(t.int32Data.count)
            return .int(t.int32Data.map { Int($0) }, shape)
        default:
            throw ConvLensError(.unsupportedFeature, file: file, "\(what) has data type \(t.dataType), which ConvLens does not read (FLOAT, FLOAT16, DOUBLE and integer types are supported)")
        }
    }

    /// Reads external data, refusing any location outside the model's folder.
    private func readExternal(_ t: Onnx_TensorProto, what: String) throws -> Data {
        var info: [String: String] = [:]
        for e in t.externalData { info[e.key] = e.value }
        guard let location = info["location"], !location.isEmpty else {
            throw ConvLensError(.malformedFile, file: file, "\(what) is stored externally but names no location")
        }
        guard let directory else {
            throw ConvLensError(.unsupportedFeature, file: file, "\(what) is stored externally, but the model was not read from a file")
        }
        let components = location.split(separator: "/", omittingEmptySubsequences: true)
        guard !location.hasPrefix("/"), !location.contains("\\"), !components.contains(where: { $0 == ".." }) else {
            throw ConvLensError(.malformedFile, file: file, "\(what): external data location '\(location)' leaves the model's folder")
        }
        let base = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath().path
        let path = URL(fileURLWithPath: directory + "/" + location).standardizedFileURL.resolvingSymlinksInPath().path
        guard path.hasPrefix(base + "/") else {
            throw ConvLensError(.malformedFile, file: file, "\(what): external data location '\(location)' leaves the model's folder")
        }
        let data = try AtomicFile.read(path)
        let offset = Int(info["offset"] ?? "0") ?? -1
        let length = info["length"].flatMap { Int($0) } ?? (data.count - max(offset, 0))
        guard offset >= 0, length >= 0, offset <= data.count, length <= data.count - offset else {
            throw ConvLensError(.malformedFile, file: path, "\(what): external data offset \(offset) and length \(length) fall outside the file's \(data.count) bytes")
        }
        return data.subdata(in: offset..<(offset + length))
    }
}
