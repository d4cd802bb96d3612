import ConvLensCore

/// `Identity`, `Dropout` (inference) and `Cast` to float: the input unchanged, forward and backward.
package struct Identity: Operator, PlainResolution {
    package static let onnxTypes = ["Cast", "Dropout", "Identity"]
    package init() {}

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        if node.opType == "Cast", let to = node.int("to"), to != 1 {
            throw node.fail(.unsupportedFeature, "Cast of a computed tensor to type \(to) is not supported (only to FLOAT)")
        }
        return Identity()
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { [inputs[0]] }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] { [Shape(try check.input(inputs, 0))] }
    package var locality: ForwardLocality { .pointwise(broadcasting: false) }

    package func forward(_ x: [Tensor?]) -> ForwardOutput { ForwardOutput(x[0]!) }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        context.first(inputs)
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        context.first(context.signal(outputs).reshaped(Shape([context.seeds] + context.inputShape.dimensions)))
    }

    package func isWindowable(_ context: BackwardContext) -> Bool { context.hasWindowableInput }

    package func windowedBackward(_ g: consuming Tensor, _ w: SeedWindows, _ context: BackwardContext) throws -> [Signal?] {
        var r = [Signal?](repeating: nil, count: context.node.inputs.count)
        r[0] = Signal(g, windows: w)
        return r
    }
}
