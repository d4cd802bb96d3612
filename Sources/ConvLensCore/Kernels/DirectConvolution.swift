extension Convolution {
    /// Direct `Conv` for any geometry: parallel over output planes, each summing its group's input
    /// channels tap by tap (the reference path; fast only for tiny layers).
    static func directConv2D(_ input: Tensor, weight: Tensor, geometry g: Conv2DGeometry, out: inout Tensor) {
        let n = input.shape[0], cIn = input.shape[1], h = input.shape[2], w = input.shape[3]
        let cOut = weight.shape[0], inG = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let outG = cOut / g.groups
        let oh = out.shape[2], ow = out.shape[3]
        let sh = g.strides[0], sw = g.strides[1], dh = g.dilations[0], dw = g.dilations[1]
        let pt = g.pads[0], pl = g.pads[1]
        input.scalars.withUnsafeBufferPointer { src in
            weight.scalars.withUnsafeBufferPointer { wt in
                out.scalars.withUnsafeMutableBufferPointer { dst in
                    let ps = SendableConstPointer(src.baseAddress!), pw = SendableConstPointer(wt.baseAddress!)
                    let pd = SendablePointer(dst.baseAddress!)
                    Parallelism.forEach(n * cOut) { plane in
                        let b = plane / cOut, o = plane % cOut, grp = o / outG
                        let y = pd.pointer + plane * oh * ow
                        for c in 0..<inG {
                            let x = ps.pointer + (b * cIn + grp * inG + c) * h * w
                            let k = pw.pointer + (o * inG + c) * kh * kw
                            for oy in 0..<oh {
                                let row = y + oy * ow
                                for i in 0..<kh {
                                    let iy = oy * sh - pt + i * dh
                                    if iy < 0 || iy >= h { continue }
                                    let inRow = x + iy * w
                                    for j in 0..<kw {
                                        let kv = k[i * kw + j]
                                        let shift = j * dw - pl
                                        let lo = max(0, ceilDiv(-shift, sw)), hi = min(ow, ceilDiv(w - shift, sw))
                                        if lo >= hi { continue }
                                        for ox in lo..<hi { row[ox] += kv * inRow[ox * sw + shift] }
                                    }
                                }
                            }
                        }
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
                            for iy in 0..<h {
                                let inRow = x + iy * w
                                for i in 0..<kh {
                                    let oy = iy * sh - pt + i * dh
                                    if oy < 0 || oy >= oh { continue }
                                    let row = y + oy * ow
                                    for j in 0..<kw {
                                        let kv = k[i * kw + j]
                                        let shift = j * dw - pl
                                        let lo = max(0, ceilDiv(-shift, sw)), hi = min(w, ceilDiv(ow - shift, sw))
                                        if lo >= hi { continue }
                                        for ix in lo..<hi { row[ix * sw + shift] += kv * inRow[ix] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
