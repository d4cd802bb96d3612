import ConvLensCore
import ConvLensGraph
import Foundation

/// The networks of `convlens bench` that are not bundled, built in code with fixed random weights
/// (He-normal, std `sqrt(2 / fan_in)`, biases 0.01; a fixed ``SplitMix64`` seed per network) and
/// imported through the ONNX importer (`ONNXModelBuilder`). Node names are those of torch's
/// exporter for the torchvision modules, so a layer is named the same in ConvLens and in the
/// PyTorch baseline (`Tests/Benchmarks/pytorch_baseline.py`).
public enum BenchmarkNetworks {
    /// The layer workload A seeds: the ReLU after AlexNet's second convolution, `[1, 192, 27, 27]`.
    public static let alexNetProbe = "/features/features.4/Relu"
    /// The layer workload B seeds: the ReLU after the CIFAR-10 recipe's conv2, `[1, 64, 16, 16]`.
    public static let cifarProbe = "/relu2/Relu"
    /// The layer workload F seeds: the ReLU after VGG16's conv5_3, `[1, 512, 14, 14]`.
    public static let vggProbe = "/features/features.29/Relu"

    /// torchvision `alexnet().features`: conv 3→64 k11 s4 p2, ReLU, maxpool 3/2, conv 64→192 k5 p2,
    /// ReLU, maxpool 3/2, conv 192→384 k3 p1, ReLU, conv 384→256 k3 p1, ReLU, conv 256→256 k3 p1,
    /// ReLU, maxpool 3/2 (`features.0` … `features.12`).
    /// - Parameter batch: the input's batch size (input `[batch, 3, 224, 224]`).
    /// - Returns: the imported graph; its output is `[batch, 256, 6, 6]`.
    /// - Throws: ``ConvLensError`` if the importer rejects the model (a bug).
    public static func alexNetFeatures(batch: Int = 1) throws -> Graph {
        var rng = SplitMix64(seed: 0xA1E8_0001)
        var b = ONNXModelBuilder(inputShape: [batch, 3, 224, 224])
        var c = 3
        typealias Block = (i: Int, out: Int, k: Int, s: Int, p: Int, pool: Bool)
        let blocks: [Block] = [(0, 64, 11, 4, 2, true), (3, 192, 5, 1, 2, true), (6, 384, 3, 1, 1, false),
                               (8, 256, 3, 1, 1, false), (10, 256, 3, 1, 1, true)]
        for layer in blocks {
            conv(&b, &rng, "/features/features.\(layer.i)/Conv", cin: c, cout: layer.out, k: layer.k, stride: layer.s, pad: layer.p)
            b.relu("/features/features.\(layer.i + 1)/Relu")
            if layer.pool { b.maxPool("/features/features.\(layer.i + 2)/MaxPool", kernel: [3, 3], strides: [2, 2]) }
            c = layer.out
        }
        return try b.graph(source: "<bench:alexnet-features>")
    }

    /// The TensorFlow CIFAR-10 tutorial's first two convolution blocks (DESIGN.md `seed/`): conv1
    /// 5×5 3→64 pad 2, ReLU, maxpool 3×3 stride 2 pad 1 (→ 16×16), LRN (size 9, alpha 0.001 — ONNX
    /// divides it by the size, as TensorFlow's `alpha = 0.001 / 9` —, beta 0.75, bias 1), conv2 5×5
    /// 64→64 pad 2, ReLU. Nodes `/conv1/Conv`, `/relu1/Relu`, `/pool1/MaxPool`, `/norm1/LRN`,
    /// `/conv2/Conv`, `/relu2/Relu`.
    /// - Returns: the imported graph; input `[1, 3, 32, 32]`, output `[1, 64, 16, 16]`.
    /// - Throws: ``ConvLensError`` if the importer rejects the model (a bug).
    public static func cifar10Recipe() throws -> Graph {
        var rng = SplitMix64(seed: 0xC1FA_0010)
        var b = ONNXModelBuilder(inputShape: [1, 3, 32, 32])
        conv(&b, &rng, "/conv1/Conv", cin: 3, cout: 64, k: 5, stride: 1, pad: 2)
        b.relu("/relu1/Relu")
        b.maxPool("/pool1/MaxPool", kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1])
        b.lrn("/norm1/LRN", size: 9, alpha: 0.001, beta: 0.75, bias: 1)
        conv(&b, &rng, "/conv2/Conv", cin: 64, cout: 64, k: 5, stride: 1, pad: 2)
        b.relu("/relu2/Relu")
        return try b.graph(source: "<bench:cifar10-recipe>")
    }

    /// torchvision `vgg16().features`: 13 convolutions 3×3 pad 1 each followed by a ReLU, and 5
    /// maxpools 2/2 (`features.0` … `features.30`; conv5_3 is `features.28`, its ReLU `features.29`).
    /// - Returns: the imported graph; input `[1, 3, 224, 224]`, output `[1, 512, 7, 7]`.
    /// - Throws: ``ConvLensError`` if the importer rejects the model (a bug).
    public static func vgg16Features() throws -> Graph {
        var rng = SplitMix64(seed: 0x5666_0016)
        var b = ONNXModelBuilder(inputShape: [1, 3, 224, 224])
        let config = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0]
        var i = 0, c = 3
        for v in config {
            if v == 0 {
                b.maxPool("/features/features.\(i)/MaxPool", kernel: [2, 2], strides: [2, 2])
                i += 1
            } else {
                conv(&b, &rng, "/features/features.\(i)/Conv", cin: c, cout: v, k: 3, stride: 1, pad: 1)
                b.relu("/features/features.\(i + 1)/Relu")
                i += 2
                c = v
            }
        }
        return try b.graph(source: "<bench:vgg16-features>")
    }

    /// Adds a conv with He-normal weights `[cout, cin, k, k]` and biases 0.01.
    private static func conv(_ b: inout ONNXModelBuilder, _ rng: inout SplitMix64, _ node: String,
                             cin: Int, cout: Int, k: Int, stride: Int, pad: Int) {
        let std = (2.0 / Double(cin * k * k)).squareRoot()
        let w = rng.normalTensor([cout, cin, k, k], std: std)
        b.conv(node, weight: w, bias: Tensor(shape: [cout], repeating: 0.01), strides: [stride, stride],
               pads: [pad, pad, pad, pad])
    }
}
