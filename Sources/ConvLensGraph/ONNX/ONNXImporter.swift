import ConvLensCore
import Foundation
internal import SwiftProtobuf

extension Graph {
    /// Imports an ONNX model file.
    /// - Parameter path: the `.onnx` file; external data is read relative to its folder.
    /// - Throws: ``ConvLensError`` naming the file and the cause: unreadable or malformed protobuf,
    ///   an unsupported operator (with the node and the supported list), inconsistent shapes,
    ///   sizes that disagree with the data, external data outside the model's folder.
    public static func load(onnx path: String) throws -> Graph {
        let data = try AtomicFile.read(path)
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try Graph(onnx: data, source: path, directory: dir)
    }

    /// Imports an ONNX model from memory.
    /// - Parameters:
    ///   - data: the serialized `ModelProto`.
    ///   - source: names the model in errors.
    ///   - directory: where external data lives (`nil`: external data is an error).
    public init(onnx data: Data, source: String = "<model>", directory: String? = nil) throws {
        guard !data.isEmpty else {
            throw ConvLensError(.malformedFile, file: source, "the file is empty")
        }
        let model = try Onnx_ModelProto(decoding: data, source: source)
        guard model.hasGraph, !model.graph.node.isEmpty else {
            throw ConvLensError(.malformedFile, file: source, "not a valid ONNX model (no graph or no nodes)")
        }
        var builder = ONNXGraphBuilder(file: source, decoder: TensorDecoder(file: source, directory: directory),
                                       opset: ONNXGraphBuilder.defaultOpset(model))
        self = try builder.build(model)
    }
}

/// Walks an ONNX graph once, folding constants and resolving every operator into an ``Op``.
struct ONNXGraphBuilder {
    let file: String
    let decoder: TensorDecoder
    let opset: Int
    var consts: [String: Constant] = [:]
    var shapes: [String: Shape] = [:]
    var nodes: [Node] = []
    var initializers: [String: Tensor] = [:]
    var usedNames: Set<String> = []
    /// Elements of every runtime tensor so far (a forward run keeps them all).
    var activationCount = 0

    /// The largest constant the importer builds by folding (2^26 elements, 256 MiB).
    static let maximumConstantCount = 1 << 26
    /// The most activation elements a graph may produce in one forward run (2^31, 8 GiB).
    static let maximumActivationCount = 1 << 31

    init(file: String, decoder: TensorDecoder, opset: Int) {
        self.file = file
        self.decoder = decoder
        self.opset = opset
    }

    static func defaultOpset(_ m: Onnx_ModelProto) -> Int {
        for o in m.opsetImport where o.domain.isEmpty || o.domain == "ai.onnx" { return Int(o.version) }
        return 7
    }

    func fail(_ code: ConvLensError.Code, _ detail: String) -> ConvLensError {
        ConvLensError(code, file: file, detail)
    }

    func fail(_ detail: String) -> ConvLensError { fail(.malformedFile, detail) }

    mutating func build(_ model: Onnx_ModelProto) throws -> Graph {
        let g = model.graph
        guard opset >= 7 else {
            throw fail(.unsupportedFeature, "the model uses opset \(opset); ConvLens reads opset 7 and later")
        }
        for t in g.initializer {
            consts[t.name] = try decoder.decode(t, what: "initializer '\(t.name)'")
        }
        // The one runtime input: the first graph input that is not an initializer.
        guard let input = g.input.first(where: { consts[$0.name] == nil }) else {
            throw fail("the graph declares no input")
        }
        let inputShape = try resolveInputShape(input)
        shapes[input.name] = inputShape
        try checkOperators(g.node)
        for (index, proto) in g.node.enumerated() {
            try add(proto, index: index)
        }
        let outputs = g.output.map(\.name)
        for o in outputs where shapes[o] == nil && consts[o] == nil {
            throw fail("the graph output '\(o)' is not produced by any node")
        }
        var metadata: [String: String] = [:]
        for p in model.metadataProps { metadata[p.key] = p.value }
        return Graph(inputName: input.name, inputShape: inputShape, nodes: nodes, initializers: initializers,
                     shapes: shapes, outputNames: outputs.filter { shapes[$0] != nil }, metadata: metadata,
                     opsetVersion: opset, source: file)
    }

    private func resolveInputShape(_ v: Onnx_ValueInfoProto) throws -> Shape {
        let tt = v.type.tensorType
        guard tt.elemType == 1 else {
            throw fail(.unsupportedFeature, "the input '\(v.name)' has element type \(tt.elemType); ConvLens feeds FLOAT (1) inputs")
        }
        var dims: [Int] = []
        for (i, d) in tt.shape.dim.enumerated() {
            switch d.value {
            case .dimValue(let n)? where n > 0:
                dims.append(Int(n))
            default:
                guard i == 0 else {
                    throw fail(.unsupportedFeature, "the input '\(v.name)' has a symbolic or missing dimension \(i); ConvLens needs a fixed input size")
                }
                dims.append(1) // a symbolic batch axis runs with batch 1
            }
        }
        return try Shape(validating: dims, file: file)
    }

    // MARK: - Nodes

    /// Every operator the model uses that ConvLens lacks, in one error: each with the first node
    /// that uses it and how many nodes do.
    private func checkOperators(_ nodes: [Onnx_NodeProto]) throws {
        var missing: [(op: String, first: String, count: Int)] = []
        for (index, p) in nodes.enumerated() {
            let known = (p.domain.isEmpty || p.domain == "ai.onnx")
                && (OperatorTable.byONNXType[p.opType] != nil || OperatorTable.foldedOnly[p.opType] != nil)
            guard !known else { continue }
            let op = p.domain.isEmpty || p.domain == "ai.onnx" ? p.opType : "\(p.domain).\(p.opType)"
            if let i = missing.firstIndex(where: { $0.op == op }) {
                missing[i].count += 1
            } else {
                missing.append((op, p.name.isEmpty ? "\(p.opType)_\(index)" : p.name, 1))
            }
        }
        guard !missing.isEmpty else { return }
        let list = missing.map { "'\($0.op)' (node '\($0.first)'\($0.count > 1 ? " and \($0.count - 1) more" : ""))" }
        throw fail(.unsupportedOperator, "\(missing.count == 1 ? "operator" : "\(missing.count) operators") not supported: \(list.joined(separator: ", ")); supported: \(Graph.supportedONNXOperators.joined(separator: ", ")) (default ONNX domain)")
    }

    private mutating func add(_ p: Onnx_NodeProto, index: Int) throws {
        let op = p.opType
        var name = p.name.isEmpty ? "\(op)_\(index)" : p.name
        if usedNames.contains(name) { name += "_\(index)" }
        usedNames.insert(name)
        let ctx = "node '\(name)' (\(op))"
        var attrs: [String: Onnx_AttributeProto] = [:]
        for a in p.attribute { attrs[a.name] = a }
        let a = Attributes(attrs: attrs, context: ctx, file: file)
        let inputs = Array(p.input)
        for i in inputs where !i.isEmpty && consts[i] == nil && shapes[i] == nil {
            throw fail("\(ctx) reads tensor '\(i)' that no earlier node produces")
        }
        let type = OperatorTable.byONNXType[op]
        let required = type?.requiredInputs ?? OperatorTable.foldedOnly[op] ?? 1
        guard inputs.count >= required, !inputs.prefix(required).contains("") else {
            throw fail("\(ctx) needs \(required) input\(required == 1 ? "" : "s"), it has \(inputs.filter { !$0.isEmpty }.count)")
        }
        guard !p.output.isEmpty, !p.output[0].isEmpty else { throw fail("\(ctx) has no output") }
        for o in p.output where !o.isEmpty && (shapes[o] != nil || consts[o] != nil) {
            throw fail("\(ctx) writes tensor '\(o)', which an earlier node, the input or an initializer already defines")
        }
        try a.checkMagnitudes(exempt: op == "Slice" ? ["starts", "ends"] : [])

        // Constant folding of the shape-computing subgraphs exporters emit.
        if let folded = try foldConstant(op, inputs: inputs, attrs: a, ctx: ctx) {
            guard folded.shape.count <= ONNXGraphBuilder.maximumConstantCount else {
                throw fail(.absurdSize, "\(ctx) would build a constant of \(folded.shape.count) elements")
            }
            consts[p.output[0]] = folded
            return
        }
        guard let type else {
            throw fail(.unsupportedFeature, "\(ctx): \(op) on a tensor computed at run time is not supported; ConvLens folds it only when its inputs are constant")
        }
        let runtimeOp = try type.resolve(reader(op, inputs: inputs, outputs: Array(p.output), a: a, ctx: ctx))
        let usedInputs = type.runtimeInputs(inputs)
        let inShapes = usedInputs.map { $0.isEmpty ? nil : (shapes[$0] ?? consts[$0]?.shape) }
        // Validated before anything runs, constant or not: kernels never see inconsistent shapes.
        let outShapes = try runtimeOp.outputShapes(inShapes, ShapeCheck(file: file, context: ctx))
        // Inputs that are all constants: evaluate now (a float constant pushed through an op).
        if usedInputs.allSatisfy({ $0.isEmpty || consts[$0] != nil }) {
            guard outShapes.reduce(0, { $0 + $1.count }) <= ONNXGraphBuilder.maximumConstantCount else {
                throw fail(.absurdSize, "\(ctx) would build constants of \(outShapes.reduce(0) { $0 + $1.count }) elements")
            }
            let outs = runtimeOp.forward(usedInputs.map { $0.isEmpty ? nil : consts[$0]!.floatTensor }).outputs
            for (n, t) in zip(p.output, outs) where !n.isEmpty { consts[n] = .float(t) }
            return
        }
        if let empty = outShapes.first(where: { $0.count == 0 }) {
            throw fail(.unsupportedFeature, "\(ctx): its output \(empty) is empty; ConvLens needs non-empty activations")
        }
        activationCount += outShapes.reduce(0) { $0 + $1.count }
        guard activationCount <= ONNXGraphBuilder.maximumActivationCount else {
            throw fail(.absurdSize, "\(ctx): the activations of the graph up to here need \(activationCount / (1 << 28)) GiB or more, over the limit of \(ONNXGraphBuilder.maximumActivationCount / (1 << 28)) GiB")
        }
        for i in usedInputs where !i.isEmpty && shapes[i] == nil {
            initializers[i] = consts[i]!.floatTensor
        }
        var outs: [String] = []
        for (k, n) in p.output.enumerated() where k < outShapes.count {
            outs.append(n)
            if !n.isEmpty { shapes[n] = outShapes[k] }
        }
        nodes.append(Node(name: name, opType: op, op: runtimeOp, inputs: usedInputs, outputs: outs))
    }

    /// The reader an operator's resolution gets.
    func reader(_ op: String, inputs: [String], outputs: [String], a: Attributes, ctx: String) -> ONNXNodeReader {
        ONNXNodeReader(builder: self, attributes: a, opType: op, inputs: inputs, outputs: outputs, context: ctx)
    }

    func shapeOf(_ name: String) -> [Int]? {
        (shapes[name] ?? consts[name]?.shape)?.dimensions
    }

    /// A constant integer input; values beyond ±2^31 are rejected, or clamped when `clamp` is set
    /// (Slice's "to the end" sentinels).
    func constInts(_ name: String?, _ ctx: String, _ what: String, clamp: Bool = false) throws -> [Int]? {
        guard let name, !name.isEmpty else { return nil }
        guard let c = consts[name] else {
            throw fail(.unsupportedFeature, "\(ctx): its \(what) input '\(name)' is computed at run time; ConvLens needs it constant")
        }
        let limit = 1 << 31
        if clamp { return c.ints.map { min(max($0, -limit), limit) } }
        guard !c.ints.contains(where: { $0 < -limit || $0 > limit }) else {
            throw fail("\(ctx): its \(what) input holds a value beyond ±2^31")
        }
        return c.ints
    }

    func constFloat(_ name: String?, _ ctx: String, _ what: String) throws -> Float? {
        guard let name, !name.isEmpty else { return nil }
        guard let c = consts[name] else {
            throw fail(.unsupportedFeature, "\(ctx): its \(what) input '\(name)' is computed at run time; ConvLens needs it constant")
        }
        let t = c.floatTensor
        guard t.count == 1 else { throw fail("\(ctx): its \(what) input must be a scalar, it has shape \(t.shape)") }
        return t.scalars[0]
    }

    func axis(_ a: Int, rank: Int, _ ctx: String) throws -> Int {
        let r = a < 0 ? a + rank : a
        guard r >= 0 && r < rank else { throw fail("\(ctx): axis \(a) is out of range for rank \(rank)") }
        return r
    }

    // MARK: - Constant folding (integer shape arithmetic)

    private mutating func foldConstant(_ op: String, inputs: [String], attrs a: Attributes, ctx: String) throws -> Constant? {
        switch op {
        case "Constant":
            return try a.constantValue(decoder)
        case "Shape":
            guard var dims = shapeOf(inputs[0]) else { return nil }
            let r = dims.count
            let start = try axisClamped(a.int("start") ?? 0, r), end = try axisClamped(a.int("end") ?? r, r)
            dims = start < end ? Array(dims[start..<end]) : []
            return .int(dims, Shape([dims.count]))
        case "ConstantOfShape":
            guard let dims = try constInts(inputs[0], ctx, "shape") else { return nil }
            let shape = try Shape(validating: dims, file: file)
            let value = try a.tensor("value").map { try decoder.decode($0, what: "\(ctx) value") } ?? .float(Tensor(scalar: 0))
            switch value {
            case .float(let t): return .float(Tensor(shape: shape, repeating: t.scalars.first ?? 0))
            case .int(let v, _): return .int([Int](repeating: v.first ?? 0, count: shape.count), shape)
            }
        default:
            break
        }
        // Integer-valued computations on constants only.
        let present = inputs.filter { !$0.isEmpty }
        guard !present.isEmpty, present.allSatisfy({ consts[$0] != nil }) else { return nil }
        guard present.contains(where: { if case .int = consts[$0]! { return true } else { return false } }) else { return nil }
        let c = present.map { consts[$0]! }
        switch op {
        case "Identity":
            return c[0]
        case "Cast":
            let to = a.int("to") ?? 1
            if [1, 10, 11].contains(to) { return .float(c[0].floatTensor) }
            return .int(c[0].ints, c[0].shape)
        case "Unsqueeze", "Squeeze", "Reshape", "Flatten":
            // Shape-only: reuse the runtime resolution on the constant's shape.
            guard let resolved = try Reshape.resolve(reader(op, inputs: inputs, outputs: [""], a: a, ctx: ctx)) as? Reshape else { return nil }
            return .int(c[0].ints, resolved.shape)
        case "Concat":
            let ax = try axis(a.int("axis") ?? 0, rank: max(1, c[0].shape.rank), ctx)
            guard ax == 0, c.allSatisfy({ $0.shape.rank <= 1 }) else { return nil }
            let v = c.flatMap(\.ints)
            return .int(v, Shape([v.count]))
        case "Gather":
            guard c.count == 2, c[0].shape.rank == 1, (a.int("axis") ?? 0) == 0 else { return nil }
            let data = c[0].ints
            var out: [Int] = []
            for i in c[1].ints {
                let j = i < 0 ? i + data.count : i
                guard j >= 0 && j < data.count else { throw fail("\(ctx): index \(i) is out of range") }
                out.append(data[j])
            }
            return .int(out, c[1].shape)
        case "Slice":
            guard c[0].shape.rank == 1 else { return nil }
            guard let resolved = try Slice.resolve(reader(op, inputs: inputs, outputs: [""], a: a, ctx: ctx)) as? Slice else { return nil }
            let r = Reshaping.sliceRange(start: resolved.starts.first ?? 0, end: resolved.ends.first ?? Int.max,
                                         step: resolved.steps.first ?? 1, dim: c[0].ints.count)
            let v = (0..<r.count).map { c[0].ints[r.first + $0 * r.step] }
            return .int(v, Shape([v.count]))
        case "Add", "Sub", "Mul", "Div":
            guard c.count == 2, let dims = BinaryOperator.broadcastShape(c[0].shape.dimensions, c[1].shape.dimensions),
                  dims.count <= 1 else { return nil }
            let n = dims.first ?? 1
            let x = c[0].ints, y = c[1].ints
            let v: [Int] = try (0..<n).map { i in
                let p = x.count == 1 ? x[0] : x[i], q = y.count == 1 ? y[0] : y[i]
                switch op {
                case "Add": return p &+ q
                case "Sub": return p &- q
                case "Mul": return p &* q
                default:
                    guard q != 0 else { throw fail("\(ctx): integer division by zero") }
                    let (r, overflow) = p.dividedReportingOverflow(by: q)
                    guard !overflow else { throw fail("\(ctx): integer division overflows") }
                    return (p % q != 0 && (p < 0) != (q < 0)) ? r - 1 : r
                }
            }
            return .int(v, Shape(dims))
        default:
            return nil
        }
    }

    private func axisClamped(_ a: Int, _ rank: Int) throws -> Int {
        min(max(a < 0 ? a + rank : a, 0), rank)
    }
}

extension Onnx_ModelProto {
    /// Decodes a serialized model with the importer's nesting limit (64 levels).
    /// - Throws: ``ConvLensError`` (`malformedFile`, naming `source`) when the protobuf does not decode.
    init(decoding data: Data, source: String) throws {
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            self = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw ConvLensError(.malformedFile, file: source, "not a valid ONNX model (the protobuf does not decode: \(error))")
        }
    }
}
