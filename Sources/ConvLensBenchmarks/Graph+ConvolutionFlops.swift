import ConvLensCore
import ConvLensGraph

extension Graph {
    /// The direct-equivalent flops (`2 · multiply-adds` of the direct definition,
    /// `ConvolutionProblem.flops`) of every `Conv` and `ConvTranspose` in one forward run, at the
    /// graph's own batch size. Other operators (pooling, activations, `Gemm`) are not counted.
    public var forwardConvolutionFlops: Double {
        var total = 0.0
        for node in nodes {
            guard node.inputs.count > 1, let input = shapes[node.inputs[0]],
                  let weight = initializers[node.inputs[1]]?.shape ?? shapes[node.inputs[1]],
                  let output = shapes[node.outputs[0]] else { continue }
            guard let (g, transposed) = node.convolution else { continue }
            total += ConvolutionProblem(direction: transposed ? .transposed : .forward, input: input, weight: weight, geometry: g,
                                        outputSize: (output[2], output[3])).flops
        }
        return total
    }

    /// The direct-equivalent flops of the data gradients of every convolution on the backward path
    /// from `layer` to the input, for one seed, on full maps (the work of one back-projection
    /// without receptive-field windowing; the data gradient of a convolution costs as much as the
    /// convolution).
    /// - Parameter layer: a layer of this graph.
    public func backwardConvolutionFlops(from layer: Layer) -> Double {
        var needed: Set<String> = [layer.tensorName]
        var total = 0.0
        for index in stride(from: layer.nodeIndex, through: 0, by: -1) {
            let node = nodes[index]
            guard node.outputs.contains(where: { needed.contains($0) }) else { continue }
            for i in node.inputs where shapes[i] != nil { needed.insert(i) }
            guard node.inputs.count > 1, let input = shapes[node.inputs[0]],
                  let weight = initializers[node.inputs[1]]?.shape ?? shapes[node.inputs[1]],
                  let output = shapes[node.outputs[0]] else { continue }
            // The data gradient of a Conv is a transposed convolution from its output to its input
            // (and of a ConvTranspose a convolution).
            guard let (g, transposed) = node.convolution else { continue }
            total += ConvolutionProblem(direction: transposed ? .forward : .transposed, input: output, weight: weight, geometry: g,
                                        outputSize: (input[2], input[3])).flops
        }
        return total
    }

    /// The cost model's choices for the forward convolutions (what `.auto` runs in `run(_:)` when
    /// the planner estimates), as sorted algorithm names (`direct`, `fft`, `gemm`).
    public var forwardConvolutionAlgorithms: [String] {
        var used = Set<String>()
        for node in nodes {
            guard let (g, transposed) = node.convolution, !transposed, node.inputs.count > 1, let input = shapes[node.inputs[0]],
                  let weight = initializers[node.inputs[1]]?.shape, let output = shapes[node.outputs[0]] else { continue }
            let p = ConvolutionProblem(direction: .forward, input: input, weight: weight, geometry: g,
                                       outputSize: (output[2], output[3]))
            used.insert(ConvolutionPlanner.shared.estimate(p).algorithm.rawValue)
        }
        return used.sorted()
    }
}
