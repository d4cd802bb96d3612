import Foundation

/// FFT convolution and transposed convolution on overlap-add tiles (DESIGN.md §5,
/// Docs/Performance.md).
///
/// Both directions reduce to one engine: a stride-1 *linear convolution* `z = u ∗ k'` of an input
/// plane `u` with a kernel `k'`, read back at `out[oy][ox] = z[oy·s_o + off_y][ox·s_o + off_x]`.
/// - `Conv` (cross-correlation): `u = x`, `k'` = the dilated kernel flipped, `s_o` = the stride,
///   `off = E − 1 − pad_begin` (E the dilated extent).
/// - `ConvTranspose`: `u` = `x` with `stride − 1` zeros inserted between samples, `k'` = the dilated
///   kernel, `s_o = 1`, `off = pad_begin`; pixels past the end (output padding) stay 0 + bias.
///
/// `u` is cut into blocks of `B = T − E + 1` pixels; each block, zero-padded to `T × T`, is
/// transformed with FFTW r2c; spectra are stored bin-major (`X[bin][m][c]`, `m` = batch item × tile);
/// channel mixing is one `cblas_cgemm` per bin (`Y[bin] = X[bin] · K[bin]`); each output tile is
/// transformed back (c2r) and added into the output at its block's place (overlap-add). The kernel
/// spectra `K[bin][c][o]`, with FFTW's `1/T²` folded in, are computed once per layer, tile size and
/// direction and kept in ``KernelSpectrumCache``.
enum FFTConvolution {
    enum Direction: String, Sendable { case forward, transposed }

    /// The smallest tile for a dilated kernel extent that the planner considers (block ≥ T/2).
    static func smallestTile(extent: Int) -> Int {
        tileSizes.first { extent <= $0 / 2 + 1 } ?? fittingTile(extent: extent)
    }

    /// Tile sizes the planner chooses from (2^a 3^b, fast FFTW sizes).
    static let tileSizes = [16, 24, 32, 48, 64]

    /// A tile of 2^a·3^b size that holds `extent` with a block of at least a quarter tile.
    static func fittingTile(extent: Int) -> Int {
        var t = 16
        while extent > t - t / 4 { t *= 2 }
        return t
    }

    /// The tile to use for a requested size: the request when the kernel fits it (block ≥ 1),
    /// otherwise the smallest planner tile that holds the kernel.
    static func tile(requested: Int?, extent: Int) -> Int {
        if let t = requested, extent < t { return t }
        return smallestTile(extent: extent)
    }

    /// The geometry of one FFT convolution problem (one group).
    struct Problem {
        var batch: Int
        var inChannels: Int
        var outChannels: Int
        var inHeight: Int, inWidth: Int
        /// Zero-insertion stride of the input (transposed direction), 1 otherwise.
        var insert: (Int, Int)
        var extent: (Int, Int)
        var outHeight: Int, outWidth: Int
        var outStride: (Int, Int)
        var offset: (Int, Int)
        var tile: Int

        var uHeight: Int { (inHeight - 1) * insert.0 + 1 }
        var uWidth: Int { (inWidth - 1) * insert.1 + 1 }
        var block: (Int, Int) { (tile - extent.0 + 1, tile - extent.1 + 1) }
        var tilesY: Int { (uHeight + block.0 - 1) / block.0 }
        var tilesX: Int { (uWidth + block.1 - 1) / block.1 }
        var tilesPerItem: Int { tilesY * tilesX }
    }

    /// Bytes of spectra held at once (input and output spectra of one chunk of batch items); set
    /// by ``ConvolutionMemory/configure(budget:)``.
    static var chunkBudget: Int { ConvolutionMemory.fftWorkingBytes }

    /// Runs the engine for one group.
    /// - Parameters:
    ///   - input: batch item `b`, channel `c` plane at `input + b·inputBatchStride + c·H·W`.
    ///   - spectra: the kernel spectra, `bins × inChannels × outChannels` complex values.
    ///   - output: zero-initialized; plane `(b, o)` at `output + b·outputBatchStride + o·oh·ow`.
    static func run(_ p: Problem, input: UnsafePointer<Float>, inputBatchStride: Int,
                    spectra: KernelSpectra, output: UnsafeMutablePointer<Float>, outputBatchStride: Int) {
        let plans = FFTW.tilePlans(p.tile)
        let t = p.tile, bins = plans.bins
        let tiles = p.tilesPerItem
        let cIn = p.inChannels, cOut = p.outChannels
        let perItem = bins * tiles * (cIn + cOut) * 8
        let itemsPerChunk = max(1, min(p.batch, chunkBudget / max(1, perItem)))
        let xSpec = FFTW.allocateComplex(bins * itemsPerChunk * tiles * cIn)
        let ySpec = FFTW.allocateComplex(bins * itemsPerChunk * tiles * cOut)
        defer { FFTW.free(xSpec); FFTW.free(ySpec) }
        let px = SendablePointer(xSpec.assumingMemoryBound(to: Float.self))
        let py = SendablePointer(ySpec.assumingMemoryBound(to: Float.self))
        let pin = SendableConstPointer(input), pout = SendablePointer(output)
        let kSpec = SendableConstPointer(UnsafePointer(spectra.storage))
        let inPlane = p.inHeight * p.inWidth, outPlane = p.outHeight * p.outWidth
        var start = 0
        while start < p.batch {
            let items = min(itemsPerChunk, p.batch - start)
            let m = items * tiles
            let first = start
            // 1. Forward transforms, one work item per (batch item, input channel).
            Parallelism.forEach(items * cIn) { job in
                let bl = job / cIn, c = job % cIn
                let real = FFTW.allocateReal(t * t)
                let cplx = FFTW.allocateComplex(bins)
                defer { FFTW.free(UnsafeMutableRawPointer(real)); FFTW.free(cplx) }
                let spec = cplx.assumingMemoryBound(to: Float.self)
                let x = pin.pointer + (first + bl) * inputBatchStride + c * inPlane
                for ty in 0..<p.tilesY {
                    for tx in 0..<p.tilesX {
                        loadTile(p, x: x, ty: ty, tx: tx, into: real)
                        plans.forward(real, cplx)
                        let row = bl * tiles + ty * p.tilesX + tx
                        // X[bin][row][c]
                        var dst = px.pointer + 2 * (row * cIn + c)
                        let step = 2 * m * cIn
                        for bin in 0..<bins {
                            dst[0] = spec[2 * bin]
                            dst[1] = spec[2 * bin + 1]
                            dst += step
                        }
                    }
                }
            }
            // 2. Channel mixing: one complex product per bin.
            Parallelism.forEach(bins) { bin in
                BLAS.cgemm(m: m, n: cOut, k: cIn,
                           a: UnsafeRawPointer(px.pointer + 2 * bin * m * cIn), lda: cIn,
                           b: UnsafeRawPointer(kSpec.pointer + 2 * bin * cIn * cOut), ldb: cOut,
                           c: UnsafeMutableRawPointer(py.pointer + 2 * bin * m * cOut), ldc: cOut)
            }
            // 3. Inverse transforms and overlap-add, one work item per (batch item, output channel):
            //    the tiles of one plane are added in a fixed order (deterministic results).
            Parallelism.forEach(items * cOut) { job in
                let bl = job / cOut, o = job % cOut
                let real = FFTW.allocateReal(t * t)
                let cplx = FFTW.allocateComplex(bins)
                defer { FFTW.free(UnsafeMutableRawPointer(real)); FFTW.free(cplx) }
                let spec = cplx.assumingMemoryBound(to: Float.self)
                let y = pout.pointer + (first + bl) * outputBatchStride + o * outPlane
                for ty in 0..<p.tilesY {
                    for tx in 0..<p.tilesX {
                        let row = bl * tiles + ty * p.tilesX + tx
                        var src = UnsafePointer(py.pointer + 2 * (row * cOut + o))
                        let step = 2 * m * cOut
                        for bin in 0..<bins {
                            spec[2 * bin] = src[0]
                            spec[2 * bin + 1] = src[1]
                            src += step
                        }
                        plans.inverse(cplx, real)
                        addTile(p, real, ty: ty, tx: tx, into: y)
                    }
                }
            }
            start += items
        }
    }

    /// Fills a `T × T` tile with block `(ty, tx)` of `u` (the input with zeros inserted), zero elsewhere.
    @inline(__always)
    static func loadTile(_ p: Problem, x: UnsafePointer<Float>, ty: Int, tx: Int, into real: UnsafeMutablePointer<Float>) {
        let t = p.tile
        real.update(repeating: 0, count: t * t)
        let (bh, bw) = p.block
        let (sy, sx) = p.insert
        let u0 = ty * bh, v0 = tx * bw
        let u1 = min(p.uHeight, u0 + bh), v1 = min(p.uWidth, v0 + bw)
        // First u row/column in the block that holds an input sample (a multiple of the stride).
        let firstU = (u0 + sy - 1) / sy * sy, firstV = (v0 + sx - 1) / sx * sx
        var u = firstU
        while u < u1 {
            let src = x + (u / sy) * p.inWidth
            let dst = real + (u - u0) * t
            if sx == 1 {
                (dst).update(from: src + v0, count: v1 - v0)
            } else {
                var v = firstV
                while v < v1 {
                    dst[v - v0] = src[v / sx]
                    v += sx
                }
            }
            u += sy
        }
    }

    /// Adds an inverse-transformed tile (z rows `ty·B … ty·B + T`) into the output where
    /// `z[oy·s + off]` lands.
    @inline(__always)
    static func addTile(_ p: Problem, _ real: UnsafePointer<Float>, ty: Int, tx: Int, into y: UnsafeMutablePointer<Float>) {
        let t = p.tile
        let (bh, bw) = p.block
        let (sy, sx) = p.outStride
        let (offY, offX) = p.offset
        let z0 = ty * bh, w0 = tx * bw
        // Output rows oy with z0 ≤ oy·sy + offY < z0 + t.
        let oyLo = max(0, Convolution.ceilDiv(z0 - offY, sy)), oyHi = min(p.outHeight, Convolution.ceilDiv(z0 + t - offY, sy))
        let oxLo = max(0, Convolution.ceilDiv(w0 - offX, sx)), oxHi = min(p.outWidth, Convolution.ceilDiv(w0 + t - offX, sx))
        if oyLo >= oyHi || oxLo >= oxHi { return }
        for oy in oyLo..<oyHi {
            let src = real + (oy * sy + offY - z0) * t
            let dst = y + oy * p.outWidth
            if sx == 1 {
                let s = src + (offX - w0)
                for ox in oxLo..<oxHi { dst[ox] += s[ox] }
            } else {
                for ox in oxLo..<oxHi { dst[ox] += src[ox * sx + offX - w0] }
            }
        }
    }
}

/// Kernel spectra of one group of a layer: `bins × C_in × C_out` complex values (bin-major,
/// FFTW-aligned), scaled by `1/T²`.
final class KernelSpectra: @unchecked Sendable {
    let storage: UnsafeMutablePointer<Float>
    let bytes: Int

    init(complexCount: Int) {
        storage = FFTW.allocateComplex(complexCount).assumingMemoryBound(to: Float.self)
        bytes = complexCount * 8
    }

    deinit { FFTW.free(UnsafeMutableRawPointer(storage)) }

    /// Computes the spectra of `kernel(c, o)` (a `kh × kw` kernel read through `weight`), dilated,
    /// flipped for the forward direction, placed at the top-left of a `T × T` tile.
    /// - Parameter weightIndex: the offset of tap (0, 0) of the kernel for input channel `c` and
    ///   output channel `o` within `weight`.
    static func make(tile t: Int, inChannels: Int, outChannels: Int, kernel: (Int, Int), dilation: (Int, Int),
                     flip: Bool, weight: UnsafePointer<Float>, weightIndex: @escaping @Sendable (Int, Int) -> Int) -> KernelSpectra {
        let plans = FFTW.tilePlans(t)
        let bins = plans.bins
        let s = KernelSpectra(complexCount: bins * inChannels * outChannels)
        let dst = SendablePointer(s.storage), w = SendableConstPointer(weight)
        let (kh, kw) = kernel, (dh, dw) = dilation
        let eh = dh * (kh - 1) + 1, ew = dw * (kw - 1) + 1
        let scale = 1 / Float(t * t)
        Parallelism.forEach(inChannels) { c in
            let real = FFTW.allocateReal(t * t)
            let cplx = FFTW.allocateComplex(bins)
            defer { FFTW.free(UnsafeMutableRawPointer(real)); FFTW.free(cplx) }
            let spec = cplx.assumingMemoryBound(to: Float.self)
            for o in 0..<outChannels {
                real.update(repeating: 0, count: t * t)
                let k = w.pointer + weightIndex(c, o)
                for i in 0..<kh {
                    for j in 0..<kw {
                        let r = flip ? eh - 1 - i * dh : i * dh
                        let q = flip ? ew - 1 - j * dw : j * dw
                        real[r * t + q] = k[i * kw + j]
                    }
                }
                plans.forward(real, cplx)
                var d = dst.pointer + 2 * (c * outChannels + o)
                let step = 2 * inChannels * outChannels
                for bin in 0..<bins {
                    d[0] = spec[2 * bin] * scale
                    d[1] = spec[2 * bin + 1] * scale
                    d += step
                }
            }
        }
        return s
    }
}

/// A small LRU of kernel spectra under a byte budget, keyed by the weights (compared exactly), the
/// geometry, the group, the tile size and the direction.
final class KernelSpectrumCache: @unchecked Sendable {
    struct Key: Hashable {
        var direction: FFTConvolution.Direction
        var tile: Int
        var group: Int
        var geometry: Conv2DGeometry
        var weightShape: [Int]
        var weightHash: Int
    }

    static let shared = KernelSpectrumCache(budget: 512 << 20)

    private let lock = NSLock()
    private var budget: Int
    private var entries: [Key: (weights: [Float], spectra: KernelSpectra, used: Int)] = [:]
    private var clock = 0
    private var bytes = 0

    init(budget: Int) { self.budget = budget }

    /// The cached spectra for `key` and these exact weights, or `make()`'s result (then cached).
    func spectra(_ key: Key, weights: [Float], make: () -> KernelSpectra) -> KernelSpectra {
        lock.lock()
        clock += 1
        if let e = entries[key], e.weights == weights {
            entries[key]!.used = clock
            lock.unlock()
            return e.spectra
        }
        lock.unlock()
        let s = make()
        lock.lock()
        defer { lock.unlock() }
        if let old = entries[key] { bytes -= old.spectra.bytes }
        entries[key] = (weights, s, clock)
        bytes += s.bytes
        while bytes > budget, entries.count > 1,
              let victim = entries.filter({ $0.key != key }).min(by: { $0.value.used < $1.value.used }) {
            bytes -= victim.value.spectra.bytes
            entries[victim.key] = nil
        }
        return s
    }

    /// Changes the byte budget (entries over it are evicted at the next insertion).
    func setBudget(_ bytes: Int) {
        lock.lock()
        budget = bytes
        lock.unlock()
    }

    /// Forgets every entry.
    func removeAll() {
        lock.lock()
        entries = [:]
        bytes = 0
        lock.unlock()
    }
}

extension Convolution {
    /// A cheap, exact-match-verified fingerprint of weights for the spectrum cache.
    static func fingerprint(_ w: [Float]) -> Int {
        var h = Hasher()
        h.combine(w.count)
        w.withUnsafeBytes { h.combine(bytes: $0) }
        return h.finalize()
    }

    /// FFT `Conv` (see ``FFTConvolution``); `tile` is the requested tile size.
    static func fftConv2D(_ input: Tensor, weight: Tensor, geometry g: Conv2DGeometry, tile requested: Int?, out: inout Tensor) {
        let n = input.shape[0], cIn = input.shape[1], h = input.shape[2], w = input.shape[3]
        let cOut = weight.shape[0], inG = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let outG = cOut / g.groups
        let oh = out.shape[2], ow = out.shape[3]
        let eh = g.extent(0), ew = g.extent(1)
        let t = FFTConvolution.tile(requested: requested, extent: max(eh, ew))
        let hash = fingerprint(weight.scalars)
        let p = FFTConvolution.Problem(
            batch: n, inChannels: inG, outChannels: outG, inHeight: h, inWidth: w, insert: (1, 1), extent: (eh, ew),
            outHeight: oh, outWidth: ow, outStride: (g.strides[0], g.strides[1]),
            offset: (eh - 1 - g.pads[0], ew - 1 - g.pads[1]), tile: t)
        weight.scalars.withUnsafeBufferPointer { wt in
            input.scalars.withUnsafeBufferPointer { src in
                out.scalars.withUnsafeMutableBufferPointer { dst in
                    for grp in 0..<g.groups {
                        let key = KernelSpectrumCache.Key(direction: .forward, tile: t, group: grp, geometry: g,
                                                          weightShape: weight.shape.dimensions, weightHash: hash)
                        let spectra = KernelSpectrumCache.shared.spectra(key, weights: weight.scalars) {
                            // weight[grp·outG + o][c] for input channel c of the group.
                            KernelSpectra.make(tile: t, inChannels: inG, outChannels: outG, kernel: (kh, kw),
                                               dilation: (g.dilations[0], g.dilations[1]), flip: true,
                                               weight: wt.baseAddress!) { c, o in ((grp * outG + o) * inG + c) * kh * kw }
                        }
                        FFTConvolution.run(p, input: src.baseAddress! + grp * inG * h * w, inputBatchStride: cIn * h * w,
                                           spectra: spectra, output: dst.baseAddress! + grp * outG * oh * ow,
                                           outputBatchStride: cOut * oh * ow)
                    }
                }
            }
        }
    }

    /// FFT `ConvTranspose` (see ``FFTConvolution``); `out` is zero-initialized `[N, C_out, oh, ow]`.
    static func fftTransposedConv2D(_ input: Tensor, weight: Tensor, geometry g: Conv2DGeometry, tile requested: Int?, out: inout Tensor) {
        let n = input.shape[0], cIn = input.shape[1], h = input.shape[2], w = input.shape[3]
        let outG = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let inG = cIn / g.groups
        let cOut = outG * g.groups
        let oh = out.shape[2], ow = out.shape[3]
        let eh = g.extent(0), ew = g.extent(1)
        let t = FFTConvolution.tile(requested: requested, extent: max(eh, ew))
        let hash = fingerprint(weight.scalars)
        let p = FFTConvolution.Problem(
            batch: n, inChannels: inG, outChannels: outG, inHeight: h, inWidth: w, insert: (g.strides[0], g.strides[1]),
            extent: (eh, ew), outHeight: oh, outWidth: ow, outStride: (1, 1), offset: (g.pads[0], g.pads[1]), tile: t)
        weight.scalars.withUnsafeBufferPointer { wt in
            input.scalars.withUnsafeBufferPointer { src in
                out.scalars.withUnsafeMutableBufferPointer { dst in
                    for grp in 0..<g.groups {
                        let key = KernelSpectrumCache.Key(direction: .transposed, tile: t, group: grp, geometry: g,
                                                          weightShape: weight.shape.dimensions, weightHash: hash)
                        let spectra = KernelSpectrumCache.shared.spectra(key, weights: weight.scalars) {
                            // weight[grp·inG + c][o] (ONNX ConvTranspose layout).
                            KernelSpectra.make(tile: t, inChannels: inG, outChannels: outG, kernel: (kh, kw),
                                               dilation: (g.dilations[0], g.dilations[1]), flip: false,
                                               weight: wt.baseAddress!) { c, o in ((grp * inG + c) * outG + o) * kh * kw }
                        }
                        FFTConvolution.run(p, input: src.baseAddress! + grp * inG * h * w, inputBatchStride: cIn * h * w,
                                           spectra: spectra, output: dst.baseAddress! + grp * outG * oh * ow,
                                           outputBatchStride: cOut * oh * ow)
                    }
                }
            }
        }
    }
}

/// The memory the convolution engine keeps beyond its inputs and outputs: cached kernel spectra
/// and the FFT's per-chunk spectra. ``configure(budget:)`` gives them a share of a projection's
/// memory budget (`--memory-budget`).
public enum ConvolutionMemory {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var working = 96 << 20

    /// Bytes of input and output spectra the FFT path holds at once (batch items are processed in
    /// chunks that fit).
    public static var fftWorkingBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return working
    }

    /// Shares `budget` bytes: an eighth (at most 512 MiB) for cached kernel spectra, a
    /// thirty-second (16 MiB–256 MiB) for the FFT's working spectra. The defaults (512 MiB and
    /// 96 MiB) suit the default 4 GiB budget.
    public static func configure(budget: Int) {
        KernelSpectrumCache.shared.setBudget(max(16 << 20, min(512 << 20, budget / 8)))
        lock.lock()
        working = max(16 << 20, min(256 << 20, budget / 32))
        lock.unlock()
    }
}
