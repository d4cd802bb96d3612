import ConvLensCore
import Foundation
internal import SwiftProtobuf

/// Rewrites of a serialized ONNX model that the importer cannot express on a ``Graph``.
public enum ONNXRewriting {
    /// A copy of a serialized ONNX model whose graph input has batch size `batch` (its first
    /// dimension); the graph outputs' first dimension is cleared too (symbolic), since the
    /// importer infers every shape from the input. Use it to run a batch-1 export on `batch` images.
    /// - Parameters:
    ///   - batch: the new first dimension, ≥ 1.
    ///   - data: the serialized `ModelProto`.
    ///   - source: names the model in errors.
    /// - Returns: the rewritten serialized model.
    /// - Throws: ``ConvLensError`` (`malformedFile`) when `data` does not decode or its input is not 4-D.
    public static func settingBatchSize(_ batch: Int, of data: Data, source: String) throws -> Data {
        precondition(batch >= 1, "batch must be positive")
        var m = try Onnx_ModelProto(decoding: data, source: source)
        let initializers = Set(m.graph.initializer.map(\.name))
        guard let i = m.graph.input.firstIndex(where: { !initializers.contains($0.name) }),
              !m.graph.input[i].type.tensorType.shape.dim.isEmpty else {
            throw ConvLensError(.malformedFile, file: source, "the graph declares no input with a shape")
        }
        m.graph.input[i].type.tensorType.shape.dim[0].dimValue = Int64(batch)
        for k in m.graph.output.indices where !m.graph.output[k].type.tensorType.shape.dim.isEmpty {
            m.graph.output[k].type.tensorType.shape.dim[0].dimParam = "batch"
        }
        m.graph.valueInfo = []
        do {
            return try m.serializedData()
        } catch {
            throw ConvLensError(.malformedFile, file: source, "the rewritten model does not encode: \(error)")
        }
    }
}
