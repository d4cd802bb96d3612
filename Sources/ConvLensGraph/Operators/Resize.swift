import ConvLensCore

/// `Resize` (and opset 10's semantics) on the two spatial axes, nearest or linear. Backward: the
/// true gradient (the transpose of the interpolation).
package struct Resize: DenseBackward {
    package static let onnxTypes = ["Resize"]
    package let height: Int
    package let width: Int
    package let scaleY: Double
    package let scaleX: Double
    package let linear: Bool
    package let transform: Reshaping.CoordinateTransform
    package let nearest: Reshaping.NearestMode

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        let x = node.x
        guard x.count == 4 else { throw node.fail(.unsupportedFeature, "only 4-D Resize is supported") }
        let mode = node.string("mode") ?? "nearest"
        guard mode == "nearest" || mode == "linear" else {
            throw node.fail(.unsupportedFeature, "Resize mode '\(mode)' is not supported (nearest, linear are)")
        }
        let ctmName = node.opset < 11 ? "asymmetric" : (node.string("coordinate_transformation_mode") ?? "half_pixel")
        guard let ctm = Reshaping.CoordinateTransform(rawValue: ctmName) else {
            throw node.fail(.unsupportedFeature, "coordinate_transformation_mode '\(ctmName)' is not supported")
        }
        if node.bool("antialias") { throw node.fail(.unsupportedFeature, "Resize with antialias=1 is not supported") }
        // Opset 10's Resize (like Upsample) picks the nearest pixel by flooring.
        let nmName = node.opset < 11 ? "floor" : (node.string("nearest_mode") ?? "round_prefer_floor")
        guard let nm = Reshaping.NearestMode(rawValue: nmName) else {
            throw node.fail(.unsupportedFeature, "nearest_mode '\(nmName)' is not supported")
        }
        let scalesIndex = node.opset < 11 ? 1 : 2
        var oh = 0, ow = 0, sy = 1.0, sx = 1.0
        if node.opset >= 11, let sizes = try node.constInts(3, "sizes"), !sizes.isEmpty {
            guard sizes.count == 4, sizes[0] == x[0], sizes[1] == x[1] else {
                throw node.fail(.unsupportedFeature, "Resize may only change the two spatial axes (sizes \(sizes))")
            }
            (oh, ow) = (sizes[2], sizes[3])
            (sy, sx) = (Double(oh) / Double(x[2]), Double(ow) / Double(x[3]))
        } else if let c = node.constTensor(scalesIndex) {
            let s = c.scalars.map(Double.init)
            guard s.count == 4, s[0] == 1, s[1] == 1, s[2] > 0, s[3] > 0, s[2] < 4096, s[3] < 4096 else {
                throw node.fail(.unsupportedFeature, "Resize may only scale the two spatial axes (scales \(s))")
            }
            (sy, sx) = (s[2], s[3])
            (oh, ow) = (Int((Double(x[2]) * sy).rounded(.down)), Int((Double(x[3]) * sx).rounded(.down)))
        } else {
            throw node.fail(.unsupportedFeature, "Resize needs constant scales or sizes")
        }
        guard oh > 0, ow > 0 else { throw node.fail("the output would be empty") }
        return Resize(height: oh, width: ow, scaleY: sy, scaleX: sx, linear: mode == "linear", transform: ctm, nearest: nm)
    }

    package static func runtimeInputs(_ inputs: [String]) -> [String] { [inputs[0]] }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        let x = try check.input(inputs, 0, rank: 4)
        return [try check.make([x[0], x[1], height, width])]
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        ForwardOutput(Reshaping.resize2D(x[0]!, outSize: (height, width), scales: (scaleY, scaleX), linear: linear,
                                         transform: transform, nearest: nearest))
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        let base = context.first(inputs)
        guard let hw = context.map(0, base), hw.count == 2 else { return base }
        var out = base
        let scale = [Double(height) / Double(hw[0]), Double(width) / Double(hw[1])]
        for i in 0..<2 {
            out.jump[i] = base.jump[i] / scale[i]
            out.offset[i] = base.offset[i] + (0.5 / scale[i] - 0.5) * base.jump[i]
            out.size[i] = min(base.size[i] + (linear ? base.jump[i] : 0), base.limit(i))
        }
        return out
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        let inShape = context.inputShape
        return context.first(context.stacked(Reshaping.resize2DBackward(context.batched(context.signal(outputs), context.outputShape),
                                                                        inputShape: context.batchedShape(inShape), scales: (scaleY, scaleX),
                                                                        linear: linear, transform: transform, nearest: nearest), inShape))
    }
}
