import ConvLensCore
import Foundation

/// How a one-input elementwise operator passes the backward signal (DESIGN.md §1's rule table).
package enum ElementwiseRule {
    /// A rectifier (ReLU, ReLU6, leaky ReLU): `deconvnet` rectifies the signal and ignores the
    /// forward mask, `guided` rectifies and applies the mask `inside(x)`, `backprop` applies the
    /// mask with `leak` outside it.
    case rectifier(inside: (Float) -> Bool, leak: Float)
    /// A smooth (or piecewise-smooth) function: the true derivative from the forward input `x` and
    /// output `y`, under every rule.
    case derivative((_ x: Float, _ y: Float) -> Float)
}

/// A one-input elementwise operator: its value and its backward rule are all it defines; shapes,
/// the forward loop, the receptive field (unchanged) and the dense and windowed backward passes
/// follow from them.
package protocol UnaryElementwise: Operator {
    /// `f(x)`.
    func value(_ x: Float) -> Float
    /// How the signal passes backward.
    var backwardRule: ElementwiseRule { get }
}

extension UnaryElementwise {
    package var locality: ForwardLocality { .pointwise(broadcasting: false) }

    package func outputShapes(_ inputs: [Shape?], _ check: ShapeCheck) throws -> [Shape] {
        [Shape(try check.input(inputs, 0))]
    }

    /// The optimizer specializes this loop for each conforming type; keep ``value(_:)`` branch-free
    /// where it can be so that the loop vectorizes.
    package func forward(_ inputs: [Tensor?]) -> ForwardOutput {
        // Written into fresh storage: mutating a copy of the input would first copy it whole.
        let x = inputs[0]!
        return ForwardOutput(Tensor(shape: x.shape) { out in
            x.scalars.withUnsafeBufferPointer { src in
                for i in 0..<out.count { out[i] = value(src[i]) }
            }
        })
    }

    package func receptiveField(_ inputs: [ReceptiveField?], _ context: FieldContext) -> ReceptiveField {
        context.first(inputs)
    }

    package func backward(_ outputs: [Tensor?], _ context: BackwardContext) throws -> [Tensor?] {
        context.first(elementwiseBackward(context.signal(outputs), x: context.input(0), y: context.output(), perSeed: false, context))
    }

    package func isWindowable(_ context: BackwardContext) -> Bool { context.hasWindowableInput }

    package func windowedBackward(_ g: consuming Tensor, _ w: SeedWindows, _ context: BackwardContext) throws -> [Signal?] {
        // Whole-map windows share the forward maps; other windows gather each seed's part.
        let whole = w.isWholeMap
        let xMap = context.input(0)
        let x = whole ? xMap : WindowCopy.gather(xMap, into: w)
        var y: Tensor? = nil
        if case .derivative = backwardRule {
            let yMap = context.output()
            y = whole ? yMap : WindowCopy.gather(yMap, into: w)
        }
        var r = [Signal?](repeating: nil, count: context.node.inputs.count)
        r[0] = Signal(elementwiseBackward(consume g, x: x, y: y, perSeed: !whole, context), windows: w)
        return r
    }

    /// Every rule is `g ← f · g` or `g ← f · max(g, 0)` with a factor `f` from the forward pass.
    /// - Parameters:
    ///   - g: the stacked signal, `S · n` values (consumed: rewritten in place when unshared).
    ///   - x, y: the forward input and output: `n` values shared by every seed, or (`perSeed`)
    ///     `S · n` values, each seed's own window of the maps.
    func elementwiseBackward(_ g: consuming Tensor, x: Tensor, y: Tensor?, perSeed: Bool, _ context: BackwardContext) -> Tensor {
        let seeds = context.seeds
        let n = g.count / max(1, seeds)
        let count = perSeed ? seeds * n : n
        func factors(_ body: (Float, Float) -> Float) -> [Float] {
            x.scalars.withUnsafeBufferPointer { xs in
                [Float](unsafeUninitializedCapacity: count) { buf, k in
                    if let y {
                        y.scalars.withUnsafeBufferPointer { ys in
                            for i in 0..<count { buf[i] = body(xs[i], ys[i]) }
                        }
                    } else {
                        for i in 0..<count { buf[i] = body(xs[i], 0) }
                    }
                    k = count
                }
            }
        }
        let f: [Float]?, rectify: Bool
        switch backwardRule {
        case .rectifier(let inside, let leak):
            switch context.rule {
            case .deconvnet: (f, rectify) = (nil, true)
            case .guided: (f, rectify) = (factors { x, _ in inside(x) ? 1 : 0 }, true)
            case .backprop: (f, rectify) = (factors { x, _ in inside(x) ? 1 : leak }, false)
            }
        case .derivative(let d):
            (f, rectify) = (factors(d), false)
        }
        let stride = perSeed ? n : 0
        g.scalars.withUnsafeMutableBufferPointer { p in
            let pp = SendablePointer(p.baseAddress!)
            if let f {
                f.withUnsafeBufferPointer { fp in
                    let pf = SendableConstPointer(fp.baseAddress!)
                    Parallelism.forEach(seeds) { s in
                        let v = pp.pointer + s * n, k = pf.pointer + s * stride
                        if rectify { for i in 0..<n { v[i] = max(v[i], 0) } }
                        for i in 0..<n { v[i] *= k[i] }
                    }
                }
            } else if rectify {
                Parallelism.forEach(seeds) { s in
                    let v = pp.pointer + s * n
                    for i in 0..<n { v[i] = max(v[i], 0) }
                }
            }
        }
        return g
    }
}

/// An elementwise operator without attributes.
package typealias PlainElementwise = UnaryElementwise & PlainResolution
