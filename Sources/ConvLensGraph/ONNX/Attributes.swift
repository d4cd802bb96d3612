import ConvLensCore
import Foundation
internal import SwiftProtobuf

/// Typed access to an ONNX node's attributes, with errors naming the node.
struct Attributes {
    let attrs: [String: Onnx_AttributeProto]
    let context: String
    let file: String

    func has(_ name: String) -> Bool { attrs[name] != nil }

    func int(_ name: String) -> Int? { attrs[name].map { Int($0.i) } }
    func float(_ name: String) -> Float? { attrs[name].map(\.f) }
    func ints(_ name: String) -> [Int]? { attrs[name].map { $0.ints.map { Int($0) } } }

    /// Integer list attributes clamped to ±2^31 (for sentinel values such as INT64_MAX).
    func clampedInts(_ name: String) -> [Int]? { ints(name)?.map { min(max($0, -(1 << 31)), 1 << 31) } }
    func floats(_ name: String) -> [Float]? { attrs[name].map(\.floats) }
    func string(_ name: String) -> String? { attrs[name].map { String(decoding: $0.s, as: UTF8.self) } }
    func tensor(_ name: String) -> Onnx_TensorProto? { attrs[name].flatMap { $0.hasT ? $0.t : nil } }

    /// Rejects integer attributes beyond ±2^31 (every size, stride, pad and axis ConvLens handles
    /// fits; larger values would overflow the geometry arithmetic). `exempt` names attributes that
    /// may hold ONNX's "to the end" sentinels (Slice's `starts`/`ends`), which are clamped instead.
    func checkMagnitudes(exempt: Set<String> = []) throws {
        let limit = Int64(1) << 31
        for (name, a) in attrs where !exempt.contains(name) {
            // Both fields, whatever the declared type: the readers above do not look at the type.
            if a.i < -limit || a.i > limit || a.ints.contains(where: { $0 < -limit || $0 > limit }) {
                throw ConvLensError(.malformedFile, file: file, "\(context): attribute \(name) holds a value beyond ±2^31")
            }
        }
    }

    /// The value of a `Constant` node.
    func constantValue(_ decoder: TensorDecoder) throws -> Constant {
        if let t = tensor("value") { return try decoder.decode(t, what: "\(context) value") }
        if let f = float("value_float") { return .float(Tensor(scalar: f)) }
        if let fs = floats("value_floats") { return .float(Tensor(shape: Shape([fs.count]), scalars: fs)) }
        if let i = int("value_int") { return .int([i], Shape([])) }
        if let is_ = ints("value_ints") { return .int(is_, Shape([is_.count])) }
        throw ConvLensError(.unsupportedFeature, file: file, "\(context) holds a kind of constant ConvLens does not read (sparse or string)")
    }
}
