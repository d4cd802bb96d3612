import ArgumentParser
import ConvLens
import Foundation

extension OptimizeRequest.Parameterization: ExpressibleByArgument {}

struct OptimizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimize",
        abstract: "Activation maximization: images that maximize channels, units or classes, from noise.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Layer to maximize (name, tensor name or #N); omit with --class.")
    var layer: String?

    @Option(help: "Channels of --layer: 3, 3,7,12 or 0-15 (one image each, optimized as one batch).")
    var channel: String?

    @Option(name: .customLong("class"), help: "Class indices to maximize (the score before a final softmax).")
    var classes: String?

    @Flag(help: "Maximize one unit of each channel (default: the channel's mean).")
    var unit = false

    @Option(help: "With --unit: the position Y,X in the layer's map (default: the centre).")
    var at: String?

    @Option(name: .customLong("param"), help: "Parameterization: fourier or pixels.")
    var parameterization: OptimizeRequest.Parameterization = .fourier

    @Flag(inversion: .prefixedNo, help: "Decorrelate colours before the sigmoid.")
    var decorrelate = true

    @Option(help: "Optimization steps.")
    var steps = 512

    /// The most steps a command accepts.
    static let maximumSteps = 100_000

    @Option(help: "Adam's step size.")
    var lr: Float = 0.05

    @Option(help: "Seed of the initial noise and the transform draws.")
    var seed: UInt64 = 0

    @Option(help: "Robustness transforms: standard (Lucid's pad, jitter, scale, rotate, jitter), jitter (pad and jitter only) or none (default: none with --unit, standard otherwise).")
    var transforms: String?

    /// The transforms preset: the option, or the default for the objective.
    var transformsName: String { transforms ?? (unit ? "none" : "standard") }

    @Option(help: "Weight of the total-variation penalty.")
    var tv: Float = 0

    @Option(help: "Weight of the L2 penalty on the image.")
    var l2: Float = 0

    @Option(help: "Multiply the parameter by 1 − decay after each step.")
    var decay: Float = 0

    @Option(help: "Blur the image every N steps (pixels only; 0: never).")
    var blurEvery = 0

    @Option(help: "The blur's standard deviation in pixels.")
    var blurSigma: Float = 0.5

    @Option(help: "Zero parameter values below this percentile of magnitude after each step (pixels only).")
    var clipValues: Float = 0

    @Option(help: "Zero pixels whose norm is below this percentile after each step (pixels only).")
    var clipNorm: Float = 0

    @Option(help: "Output folder (created if missing).")
    var out: String

    func validate() throws {
        if (layer == nil) == (classes == nil) { throw ValidationError("give --layer Q --channel LIST, or --class LIST") }
        if layer != nil && channel == nil { throw ValidationError("--layer needs --channel LIST") }
        if classes != nil && (unit || at != nil || channel != nil) { throw ValidationError("--class excludes --channel, --unit and --at") }
        if at != nil && !unit { throw ValidationError("--at needs --unit") }
        if let at, UnitOptions.position(at) == nil { throw ValidationError("--at must be Y,X with non-negative integers, got '\(at.prefix(80))'") }
        for (name, value) in [("--channel", channel), ("--class", classes)] {
            if let value, (try? ChannelSelection(parsing: value)) == nil {
                throw ValidationError("\(name) must be a list such as 3, 3,7,12 or 0-15, got '\(value.prefix(80))'")
            }
        }
        if !(1...Self.maximumSteps).contains(steps) { throw ValidationError("--steps must be between 1 and \(Self.maximumSteps)") }
        if !(lr.isFinite && lr > 0 && lr <= 100) { throw ValidationError("--lr must be a number in (0, 100]") }
        if let transforms, !["standard", "jitter", "none"].contains(transforms) {
            throw ValidationError("--transforms must be standard, jitter or none")
        }
        for (name, v) in [("--tv", tv), ("--l2", l2)] where !(v.isFinite && v >= 0 && v <= 1e6) {
            throw ValidationError("\(name) must be a finite number between 0 and 1e6")
        }
        if !(blurSigma.isFinite && blurSigma > 0 && blurSigma <= 100) { throw ValidationError("--blur-sigma must be in (0, 100] pixels") }
        if !(decay.isFinite && decay >= 0 && decay < 1) { throw ValidationError("--decay must be in [0, 1)") }
        for (name, v) in [("--clip-values", clipValues), ("--clip-norm", clipNorm)] where !(v.isFinite && v >= 0 && v < 100) {
            throw ValidationError("\(name) must be a percentile in [0, 100)")
        }
        if blurEvery < 0 { throw ValidationError("--blur-every must not be negative") }
    }

    func run() async throws {
        try await runReportingErrors {
            let model = try modelOptions.load()
            let objective: OptimizeRequest.Objective
            let channels: [Int]
            if let classes {
                objective = .classScore
                let scores = try model.scoreLayer()
                channels = try ChannelSelection(parsing: classes).channels(count: scores.shape.count, layer: scores.name)
            } else {
                let l = try model.graph.layer(matching: layer!)
                channels = try ChannelSelection(parsing: channel!).channels(count: l.shape.rank >= 2 ? l.shape[1] : 0, layer: l.name)
                let p = at.flatMap(UnitOptions.position)
                objective = unit ? .unit(layer: layer!, y: p?.y, x: p?.x) : .channelMean(layer: layer!)
            }
            var request = OptimizeRequest(objective: objective, channels: channels)
            request.parameterization = parameterization
            request.decorrelate = decorrelate
            request.steps = steps
            request.learningRate = lr
            request.seed = seed
            request.transforms = ["none": .none, "jitter": .jitter][transformsName] ?? .standard
            request.totalVariation = tv
            request.l2 = l2
            request.decay = decay
            request.blurEvery = blurEvery
            request.blurSigma = blurSigma
            request.clipValuesPercentile = clipValues
            request.clipNormPercentile = clipNorm
            var params = modelOptions.parameters
            if let layer { params["layer"] = .string(layer) }
            if let channel { params["channel"] = .string(channel) }
            if let classes { params["class"] = .string(classes) }
            if unit { params["unit"] = .bool(true) }
            if let at { params["at"] = .string(at) }
            params["param"] = .string(parameterization.rawValue)
            params["decorrelate"] = .bool(decorrelate)
            params["steps"] = .integer(steps)
            params["lr"] = .number(Double(lr))
            params["seed"] = .integer(Int(truncatingIfNeeded: seed))
            params["transforms"] = .string(transformsName)
            for (k, v) in [("tv", tv), ("l2", l2), ("decay", decay), ("blur-sigma", blurSigma), ("clip-values", clipValues), ("clip-norm", clipNorm)] {
                params[k] = .number(Double(v))
            }
            params["blur-every"] = .integer(blurEvery)
            params["out"] = .string(out)
            let progress = ProgressLine(label: "optimize")
            let (_, result) = try model.writeOptimization(request, to: out, parameters: params, progress: progress.update)
            progress.finish()
            for (c, v) in zip(result.channels, result.final) {
                print(String(format: "%@ %d: objective %.4g", objective == .classScore ? "class" : "channel", c, Double(v)))
            }
            print("\(result.channels.count) optimized image\(result.channels.count == 1 ? "" : "s") of \(result.layer.name) → \(out)/")
        }
    }
}
