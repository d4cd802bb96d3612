internal import CConvLensKernels

extension Convolution {
    /// Direct `Conv` for any geometry: parallel over output planes, each summing its group's input
    /// channels tap by tap in C (`CConvLensKernels`, vectorized with AVX2 + FMA when the CPU has them);
    /// the path for depthwise and tiny layers.
    ///
    /// Each output plane starts from its bias, takes its sums and then `activation`, one plane at a
    /// time while it is in cache (no separate passes over the output).
    static func directConv2D(_ input: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv2DGeometry,
                             activation: ConvolutionActivation? = nil) -> Tensor {
        let n = input.shape[0], cIn = input.shape[1], h = input.shape[2], w = input.shape[3]
        let cOut = weight.shape[0], inG = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let outG = cOut / g.groups
        let oh = g.convOutput(h, axis: 0), ow = g.convOutput(w, axis: 1)
        let sh = g.strides[0], sw = g.strides[1], dh = g.dilations[0], dw = g.dilations[1]
        let pt = g.pads[0], pl = g.pads[1]
        return Tensor(shape: [n, cOut, oh, ow]) { dst in
            input.scalars.withUnsafeBufferPointer { src in
                weight.scalars.withUnsafeBufferPointer { wt in
                    let ps = SendableConstPointer(src.baseAddress!), pw = SendableConstPointer(wt.baseAddress!)
                    let pd = SendablePointer(dst.baseAddress!)
                    let biasValues = bias?.scalars
                    Parallelism.forEach(n * cOut, flops: 2 * n * cOut * inG * kh * kw * oh * ow) { plane in
                        let b = plane / cOut, o = plane % cOut, grp = o / outG
                        let y = pd.pointer + plane * oh * ow
                        y.initialize(repeating: biasValues?[o] ?? 0, count: oh * ow)
                        for c in 0..<inG {
                            let x = ps.pointer + (b * cIn + grp * inG + c) * h * w
                            let k = pw.pointer + (o * inG + c) * kh * kw
                            convlens_direct_conv_plane(x, Int32(h), Int32(w), k, Int32(kh), Int32(kw), Int32(sh), Int32(sw),
                                                       Int32(pt), Int32(pl), Int32(dh), Int32(dw), y, Int32(oh), Int32(ow))
                        }
                        activation?.apply(y, count: oh * ow)
                    }
                }
            }
        }
    }

    /// Direct `ConvTranspose` for any geometry: parallel over output planes, each scattering its
    /// group's input channels tap by tap.
    static func directTransposedConv2D(_ input: Tensor, weight: Tensor, geometry g: Conv2DGeometry, out: inout Tensor) {
        let n = input.shape[0], cIn = input.shape[1], h = input.shape[2], w = input.shape[3]
        let outG = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let inG = cIn / g.groups, cOut = outG * g.groups
        let oh = out.shape[2], ow = out.shape[3]
        let sh = g.strides[0], sw = g.strides[1], dh = g.dilations[0], dw = g.dilations[1]
        let pt = g.pads[0], pl = g.pads[1]
        input.scalars.withUnsafeBufferPointer { src in
            weight.scalars.withUnsafeBufferPointer { wt in
                out.scalars.withUnsafeMutableBufferPointer { dst in
                    let ps = SendableConstPointer(src.baseAddress!), pw = SendableConstPointer(wt.baseAddress!)
                    let pd = SendablePointer(dst.baseAddress!)
                    Parallelism.forEach(n * cOut) { plane in
                        let b = plane / cOut, o = plane % cOut, grp = o / outG, og = o % outG
                        let y = pd.pointer + plane * oh * ow
                        for c in 0..<inG {
                            let x = ps.pointer + (b * cIn + grp * inG + c) * h * w
                            let k = pw.pointer + ((grp * inG + c) * outG + og) * kh * kw
                            convlens_direct_transposed_conv_plane(x, Int32(h), Int32(w), k, Int32(kh), Int32(kw), Int32(sh), Int32(sw),
                                                                  Int32(pt), Int32(pl), Int32(dh), Int32(dw), y, Int32(oh), Int32(ow))
                        }
                    }
                }
            }
        }
    }
}
