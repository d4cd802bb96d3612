import ConvLensCore

/// `MaxPool` (2-D). The forward pass records the switches; backward under every rule routes the
/// signal to the forward argmax (first maximum on ties; overlapping windows add).
package struct MaxPool: Operator {
    package static let onnxTypes = ["MaxPool"]
    package let geometry: Pool2DGeometry

    package static func resolve(_ node: ONNXNodeReader) throws -> any Operator {
        if node.outputs.count > 1, !node.outputs[1].isEmpty {
            throw node.fail(.unsupportedFeature, "the Indices output of MaxPool is not supported")
        }
        return MaxPool(geometry: try PoolingAttributes.geometry(node))
    }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        [try PoolingAttributes.outputShape(geometry, inputs, check)]
    }

    package var locality: ForwardLocality {
        PoolingAttributes.locality(geometry) { MaxPool(geometry: $0) }
    }

    package func forward(_ x: [Tensor?]) -> ForwardOutput {
        let (y, s) = Pooling.maxPool2D(x[0]!, geometry: geometry)
        return ForwardOutput([y], switches: s)
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        PoolingAttributes.field(geometry, context.first(inputs))
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        guard let sw = context.trace.switches[context.node.outputs[0]] else { throw context.unsupported("MaxPool without switches") }
        let inShape = context.inputShape
        return context.first(context.stacked(Backward.maxPool2D(context.batched(context.signal(outputs), context.outputShape),
                                                                switches: sw, inputShape: context.batchedShape(inShape)), inShape))
    }

    package func isWindowable(_ context: BackwardContext) -> Bool {
        context.hasWindowableInput && context.trace.switches[context.node.outputs[0]] != nil
    }

    /// Window to window through the forward switches.
    package func windowedBackward(_ g: consuming Tensor, _ w: SeedWindows, _ context: BackwardContext) throws -> [Signal?] {
        let switches = context.trace.switches[context.node.outputs[0]]!
        let pool = geometry
        let inShape = context.inputShape
        let c = inShape[1], inW = inShape[3]
        let outShape = context.outputShape
        let outH = outShape[2], outW = outShape[3]
        let extent = (0..<2).map { pool.dilations[$0] * (pool.kernel[$0] - 1) + 1 }
        let natural = w.below(stride: pool.strides, padBegin: [pool.pads[0], pool.pads[1]], extent: extent,
                              inputHeight: inShape[2], inputWidth: inW)
        let kept = SeedWindows.covering(natural, mapHeight: inShape[2], mapWidth: inW)
        var out = Tensor(shape: Shape([w.seeds, c, kept.height, kept.width]))
        g.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                switches.withUnsafeBufferPointer { sw in
                    let ps = SendableConstPointer(src.baseAddress!), pd = SendablePointer(dst.baseAddress!)
                    let psw = SendableConstPointer(sw.baseAddress!)
                    Parallelism.forEach(w.seeds) { s in
                        for ch in 0..<c {
                            let from = ps.pointer + (s * c + ch) * w.height * w.width
                            let to = pd.pointer + (s * c + ch) * kept.height * kept.width
                            for a in 0..<w.height {
                                let row = psw.pointer + (ch * outH + w.top[s] + a) * outW + w.left[s]
                                for b in 0..<w.width {
                                    let v = from[a * w.width + b]
                                    if v == 0 { continue }
                                    let index = Int(row[b])
                                    let y = index / inW - kept.top[s], x = index % inW - kept.left[s]
                                    precondition(y >= 0 && y < kept.height && x >= 0 && x < kept.width, "max-pool switch outside the window")
                                    to[y * kept.width + x] += v
                                }
                            }
                        }
                    }
                }
            }
        }
        return [Signal(out, windows: kept)]
    }
}

/// The attribute handling `MaxPool` and `AveragePool` share.
enum PoolingAttributes {
    static func geometry(_ node: ONNXNodeReader) throws -> Pool2DGeometry {
        let x = node.x
        guard x.count == 4 else { throw node.fail(.unsupportedFeature, "only 2-D pooling is supported (input \(x))") }
        guard let kernel = node.ints("kernel_shape"), kernel.count == 2, kernel.allSatisfy({ $0 >= 1 }) else {
            throw node.fail("kernel_shape must hold two positive sizes")
        }
        var g = Pool2DGeometry(kernel: kernel, strides: node.ints("strides") ?? [1, 1], pads: node.ints("pads") ?? [0, 0, 0, 0],
                               dilations: node.ints("dilations") ?? [1, 1], ceilMode: node.bool("ceil_mode"))
        guard g.strides.count == 2, g.pads.count == 4, g.dilations.count == 2, g.strides.allSatisfy({ $0 >= 1 }),
              g.dilations.allSatisfy({ $0 >= 1 }), g.pads.allSatisfy({ $0 >= 0 }) else {
            throw node.fail("invalid strides, pads or dilations")
        }
        let autoPad = node.string("auto_pad") ?? "NOTSET"
        if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
            for i in 0..<2 {
                let out = (x[2 + i] + g.strides[i] - 1) / g.strides[i]
                let extent = g.dilations[i] * (g.kernel[i] - 1) + 1
                let total = max(0, (out - 1) * g.strides[i] + extent - x[2 + i])
                let small = total / 2, large = total - small
                (g.pads[i], g.pads[i + 2]) = autoPad == "SAME_UPPER" ? (small, large) : (large, small)
            }
        } else if autoPad == "VALID" {
            g.pads = [0, 0, 0, 0]
        }
        return g
    }

    static func outputShape(_ g: Pool2DGeometry, _ inputs: [Shape?], _ check: ShapeCheck) throws -> Shape {
        let x = try check.input(inputs, 0, rank: 4)
        for i in 0..<2 where g.pads[i] >= g.kernel[i] || g.pads[i + 2] >= g.kernel[i] {
            throw check.fail("padding \(g.pads) must be smaller than the window \(g.kernel)")
        }
        return try check.make([x[0], x[1], g.output(x[2], axis: 0), g.output(x[3], axis: 1)])
    }

    /// A window locality when the output size is ONNX's floor rule (`ceil_mode` windows that
    /// overhang the padded input are recomputed whole).
    static func locality(_ g: Pool2DGeometry, _ make: @escaping @Sendable (Pool2DGeometry) -> any Operator) -> ForwardLocality {
        guard !g.ceilMode else { return .global }
        let extent = (0..<2).map { g.dilations[$0] * (g.kernel[$0] - 1) + 1 }
        return .window(extent: extent, strides: g.strides, pads: g.pads) { pads in
            var local = g
            local.pads = pads
            return make(local)
        }
    }

    static func field(_ g: Pool2DGeometry, _ base: ReceptiveField) -> ReceptiveField {
        let ext = (0..<2).map { g.dilations[$0] * (g.kernel[$0] - 1) + 1 }
        return base.window(extent: ext, stride: g.strides, padBegin: [g.pads[0], g.pads[1]], padEnd: [g.pads[2], g.pads[3]])
    }
}
