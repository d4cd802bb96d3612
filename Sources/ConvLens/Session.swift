import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import ConvLensProjection
import Foundation

/// How far a long piece of work has got.
public struct WorkProgress: Sendable, Equatable {
    /// Units of work done (backward passes: seeds × rules).
    public var done: Int
    /// Units of work in all.
    public var total: Int
    /// `done / total`, 1 when there is nothing to do.
    public var fractionCompleted: Double { total == 0 ? 1 : Double(done) / Double(total) }

    public init(done: Int, total: Int) {
        self.done = done
        self.total = total
    }
}

/// A working session on one model and one input: load once, run the forward pass once, then ask
/// for filters, activations, projections, comparisons and exports of that run.
///
/// ```swift
/// let session = try await Session(model: nil, image: "cat.jpg")   // nil: the bundled model / photograph
/// let act = try await session.activation("#20")                    // [1, 32, 28, 28]
/// var request = ProjectionRequest(layer: "#65")
/// request.channels = [3, 7]
/// request.rules = ProjectionRule.allCases
/// let projections = try await session.project(request) { print($0.done, "/", $0.total) }
/// ```
///
/// A `Session` is an actor: its state (the input and its trace) changes only through
/// ``load(image:preprocessing:)``, and every view reads the current trace.
public actor Session {
    /// The model (immutable).
    public nonisolated let model: Model
    /// The current input: its tensor is the model input (`[1, C, H, W]`, or NHWC for NHWC models).
    public private(set) var input: ModelInput
    /// The forward run of ``model`` on ``input``: every layer's activation and the pooling switches.
    public private(set) var trace: Trace

    /// Loads a model and an image and runs the forward pass.
    /// - Parameters:
    ///   - path: an ONNX or Keras file; `nil` for the bundled MobileNetV2.
    ///   - image: PNG, JPEG or `.npy`; `nil` for the bundled photograph.
    ///   - preprocessing: overrides the model's own preprocessing; `nil` keeps it.
    /// - Throws: `ConvLensError` for an unreadable or malformed model or image.
    public init(model path: String? = nil, image: String? = nil, preprocessing: Preprocessing? = nil) async throws {
        let model = try Model.load(path)
        let input = try model.input(from: image, preprocessing: preprocessing)
        self.model = model
        self.input = input
        self.trace = try model.run(input)
    }

    /// Replaces the input and reruns the forward pass.
    /// - Throws: `ConvLensError` for an unreadable image or a tensor of the wrong shape.
    public func load(image: String?, preprocessing: Preprocessing? = nil) throws {
        let next = try model.input(from: image, preprocessing: preprocessing)
        trace = try model.run(next)
        input = next
    }

    /// The layer a query names (canonical name, output tensor name, or `#N`).
    /// - Throws: `ConvLensError` (`unknownLayer`) listing the nearest names.
    public func layer(_ query: String) throws -> Layer { try model.graph.layer(matching: query) }

    /// A layer's activation on the current input: `[1, C, H, W]` (`[1, N]` for fully connected
    /// layers), exactly the forward values.
    public func activation(_ query: String) throws -> Tensor { trace.activation(try layer(query)) }

    /// A convolution layer's weights: `[C_out, C_in/groups, kH, kW]` (ConvTranspose:
    /// `[C_in, C_out/groups, kH, kW]`).
    /// - Throws: `ConvLensError` when the layer is not a convolution.
    public func filters(_ query: String) throws -> FilterWeights { try model.filterWeights(of: try layer(query)) }

    /// The top-`k` classes of the current input.
    public func classify(top k: Int = 5) throws -> [Prediction] { try model.classify(trace, top: k) }

    /// Projects the request's units to the input, one batched backward pass per rule.
    /// - Parameters:
    ///   - request: layer, channels (`nil`: all), seed kind, position, rules, LRN mode, algorithm.
    ///   - progress: called as seeds × rules complete.
    /// - Returns: one `Projection` per seed and rule, rules outermost; each tensor has the
    ///   input's shape (`[1, C, H, W]`).
    /// - Throws: `ConvLensError` for an unknown layer or a channel or position out of range.
    public func project(_ request: ProjectionRequest, progress: (@Sendable (WorkProgress) -> Void)? = nil) async throws -> [Projection] {
        let l = try layer(request.layer)
        let seeds = request.seeds(channelCount: l.shape.rank >= 2 ? l.shape[1] : 0)
        var projector = Projector(trace: trace)
        projector.lrn = request.lrn
        projector.algorithm = request.algorithm
        projector.memoryBudget = request.memoryBudget
        var all: [Projection] = []
        let total = seeds.count * request.rules.count
        for (k, rule) in request.rules.enumerated() {
            all += try projector.project(layer: l, seeds: seeds, rule: rule) { done, _ in
                progress?(WorkProgress(done: k * seeds.count + done, total: total))
            }
            await Task.yield()
        }
        return all
    }

    /// Grad-CAM (and guided Grad-CAM) of the request's targets at its layer, on the current input.
    /// - Throws: `ConvLensError` for an unknown layer, a layer that is not `[1, C, H, W]`, or a
    ///   target out of range.
    public func gradCAM(_ request: GradCAMRequest) throws -> [GradCAM] { try model.gradCAM(request, trace: trace) }

    /// Occlusion maps of the request's targets on the current input.
    /// - Parameter progress: called as window positions complete.
    /// - Throws: `ConvLensError` for a window larger than the input or a target out of range.
    public func occlusion(_ request: OcclusionRequest, progress: (@Sendable (WorkProgress) -> Void)? = nil) throws -> OcclusionMaps {
        try model.occlusion(request, trace: trace) { progress?(WorkProgress(done: $0, total: $1)) }
    }

    /// Activation maximization on the session's model (the current input plays no part).
    /// - Parameter progress: called as steps complete.
    /// - Throws: `ConvLensError` for a bad request (unknown layer, channel out of range, …).
    public nonisolated func optimize(_ request: OptimizeRequest, progress: (@Sendable (WorkProgress) -> Void)? = nil) throws -> Optimization {
        try model.optimize(request) { progress?(WorkProgress(done: $0, total: $1)) }
    }

    /// Writes Grad-CAM maps, overlays and guided views (as `convlens gradcam`).
    @discardableResult
    public func exportGradCAM(_ request: GradCAMRequest, to directory: String) throws -> Manifest {
        try model.writeGradCAM(request, trace: trace, input: input, to: directory, parameters: [:]).0
    }

    /// Writes occlusion maps and attributions (as `convlens occlusion`).
    @discardableResult
    public func exportOcclusion(_ request: OcclusionRequest, to directory: String,
                                progress: (@Sendable (WorkProgress) -> Void)? = nil) throws -> Manifest {
        try model.writeOcclusion(request, trace: trace, input: input, to: directory, parameters: [:]) {
            progress?(WorkProgress(done: $0, total: $1))
        }.0
    }

    /// Writes projections with their PNGs, arrays and `manifest.json` (as `convlens project`).
    @discardableResult
    public func exportProjections(_ request: ProjectionRequest, to directory: String,
                                  progress: (@Sendable (WorkProgress) -> Void)? = nil) async throws -> Manifest {
        try model.writeProjections(request, trace: trace, input: input, to: directory, parameters: [:]) {
            progress?(WorkProgress(done: $0, total: $1))
        }.0
    }

    /// Writes comparison panels (as `convlens compare`).
    @discardableResult
    public func exportComparisons(_ request: ComparisonRequest, to directory: String,
                                  progress: (@Sendable (WorkProgress) -> Void)? = nil) async throws -> Manifest {
        try model.writeComparisons(request, trace: trace, input: input, to: directory, parameters: [:]) {
            progress?(WorkProgress(done: $0, total: $1))
        }
    }

    /// Writes a Jupyter notebook with its arrays and images (as `convlens notebook`).
    @discardableResult
    public func exportNotebook(_ request: NotebookRequest, to directory: String,
                               progress: (@Sendable (WorkProgress) -> Void)? = nil) async throws -> Manifest {
        try model.writeNotebook(request, trace: trace, input: input, to: directory, parameters: [:]) {
            progress?(WorkProgress(done: $0, total: $1))
        }
    }
}
