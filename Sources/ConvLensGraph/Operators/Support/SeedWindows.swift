import ConvLensCore

/// Where each seed's backward signal can be non-zero on one `[1, C, H, W]` tensor (DESIGN.md §5,
/// Docs/Performance.md "Receptive-field windows").
///
/// A unit seed's signal is zero outside the unit's receptive field at every layer below it. Every
/// seed of a batch gets a window of the same size (so the batch stays one tensor `[S, C, h, w]` and
/// the transposed convolutions stay batched products) at its own position. Windows always lie inside
/// the map; a window as large as the map is the whole map.
package struct SeedWindows: Equatable, Sendable {
    /// Window rows and columns (the same for every seed).
    package var height: Int
    package var width: Int
    /// The map the windows sit in.
    package var mapHeight: Int
    package var mapWidth: Int
    /// Per seed, the map row and column of the window's top-left pixel.
    package var top: [Int]
    package var left: [Int]

    package init(height: Int, width: Int, mapHeight: Int, mapWidth: Int, top: [Int], left: [Int]) {
        self.height = height
        self.width = width
        self.mapHeight = mapHeight
        self.mapWidth = mapWidth
        self.top = top
        self.left = left
    }

    package var seeds: Int { top.count }
    package var isWholeMap: Bool { height == mapHeight && width == mapWidth && top.allSatisfy { $0 == 0 } && left.allSatisfy { $0 == 0 } }

    /// Every seed's window is the whole `height × width` map.
    package static func wholeMap(seeds: Int, height: Int, width: Int) -> SeedWindows {
        SeedWindows(height: height, width: width, mapHeight: height, mapWidth: width,
                    top: [Int](repeating: 0, count: seeds), left: [Int](repeating: 0, count: seeds))
    }

    /// Windows inside a `mapHeight × mapWidth` map that cover what `natural` covers of it.
    ///
    /// `natural` may hang over the map's edges or be larger than the map. The result has the size
    /// `min(map, natural)`; each window starts where its natural window does, moved inward just
    /// enough to stay inside the map, so it still covers the natural window's part of the map.
    package static func covering(_ natural: SeedWindows, mapHeight: Int, mapWidth: Int) -> SeedWindows {
        let h = min(mapHeight, natural.height), w = min(mapWidth, natural.width)
        return SeedWindows(height: h, width: w, mapHeight: mapHeight, mapWidth: mapWidth,
                           top: natural.top.map { min(max($0, 0), mapHeight - h) },
                           left: natural.left.map { min(max($0, 0), mapWidth - w) })
    }

    /// The natural windows below a sliding-window operation (convolution, pooling) whose output
    /// windows are `self`: output pixel `o` reads input pixels `o·stride − padBegin + [0, extent)`.
    /// They may hang over the input map's edges (see ``covering(_:mapHeight:mapWidth:)``).
    package func below(stride: [Int], padBegin: [Int], extent: [Int], inputHeight: Int, inputWidth: Int) -> SeedWindows {
        SeedWindows(height: (height - 1) * stride[0] + extent[0], width: (width - 1) * stride[1] + extent[1],
                    mapHeight: inputHeight, mapWidth: inputWidth,
                    top: top.map { $0 * stride[0] - padBegin[0] }, left: left.map { $0 * stride[1] - padBegin[1] })
    }

    /// Windows that cover both `self`'s and `other`'s window of every seed (same map).
    package func union(_ other: SeedWindows) -> SeedWindows {
        if self == other { return self }
        var h = 0, w = 0
        for s in 0..<seeds {
            h = max(h, max(top[s] + height, other.top[s] + other.height) - min(top[s], other.top[s]))
            w = max(w, max(left[s] + width, other.left[s] + other.width) - min(left[s], other.left[s]))
        }
        let natural = SeedWindows(height: h, width: w, mapHeight: mapHeight, mapWidth: mapWidth,
                                  top: zip(top, other.top).map { min($0, $1) }, left: zip(left, other.left).map { min($0, $1) })
        return .covering(natural, mapHeight: mapHeight, mapWidth: mapWidth)
    }
}

/// Copies and gathers between windows (parallel over seeds).
package enum WindowCopy {
    /// `[S, C, b.height, b.width]` holding what `data` (`[S, C, a.height, a.width]` in windows `a`)
    /// holds inside windows `b`; zero where `a` has no data. `a` may hang over the map.
    package static func rewindow(_ data: Tensor, channels c: Int, from a: SeedWindows, to b: SeedWindows) -> Tensor {
        if a == b { return data }
        let s = a.seeds
        var out = Tensor(shape: Shape([s, c, b.height, b.width]))
        data.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                let ps = SendableConstPointer(src.baseAddress!), pd = SendablePointer(dst.baseAddress!)
                Parallelism.forEach(s) { k in
                    let r0 = max(a.top[k], b.top[k]), r1 = min(a.top[k] + a.height, b.top[k] + b.height)
                    let c0 = max(a.left[k], b.left[k]), c1 = min(a.left[k] + a.width, b.left[k] + b.width)
                    guard r0 < r1, c0 < c1 else { return }
                    for ch in 0..<c {
                        let from = ps.pointer + (k * c + ch) * a.height * a.width
                        let to = pd.pointer + (k * c + ch) * b.height * b.width
                        for r in r0..<r1 {
                            (to + (r - b.top[k]) * b.width + (c0 - b.left[k]))
                                .update(from: from + (r - a.top[k]) * a.width + (c0 - a.left[k]), count: c1 - c0)
                        }
                    }
                }
            }
        }
        return out
    }

    /// `[S, C, w.height, w.width]`: each seed's window of the forward map `x` (`[1, C, H, W]`).
    package static func gather(_ x: Tensor, into w: SeedWindows) -> Tensor {
        let c = x.shape[1], h = x.shape[2], wd = x.shape[3]
        if w.seeds == 1 && w.isWholeMap { return x.reshaped(Shape([1, c, h, wd])) }
        var out = Tensor(shape: Shape([w.seeds, c, w.height, w.width]))
        x.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                let ps = SendableConstPointer(src.baseAddress!), pd = SendablePointer(dst.baseAddress!)
                Parallelism.forEach(w.seeds) { k in
                    for ch in 0..<c {
                        let from = ps.pointer + ch * h * wd
                        let to = pd.pointer + (k * c + ch) * w.height * w.width
                        for r in 0..<w.height {
                            (to + r * w.width).update(from: from + (w.top[k] + r) * wd + w.left[k], count: w.width)
                        }
                    }
                }
            }
        }
        return out
    }
}

/// A stacked backward signal: dense (`[S] + forward shape`) or in per-seed windows
/// (`[S, C, h, w]` on a `[1, C, H, W]` tensor).
package struct Signal: Sendable {
    package var values: Tensor
    package var windows: SeedWindows?

    package init(dense: Tensor) {
        values = dense
        windows = nil
    }

    package init(_ values: Tensor, windows: SeedWindows) {
        self.values = values
        self.windows = windows
    }

    /// The dense stacked tensor `[S] + forwardShape`.
    package func dense(_ forwardShape: Shape) -> Tensor {
        guard let w = windows else { return values }
        let c = forwardShape[1]
        let full = SeedWindows.wholeMap(seeds: w.seeds, height: w.mapHeight, width: w.mapWidth)
        return WindowCopy.rewindow(values, channels: c, from: w, to: full).reshaped(Shape([w.seeds] + forwardShape.dimensions))
    }

    /// The signal in windows, when the forward tensor is `[1, C, H, W]` (a dense signal becomes
    /// whole-map windows without copying); `nil` otherwise.
    package func windowed(_ forwardShape: Shape, seeds: Int) -> Signal? {
        if windows != nil { return self }
        guard forwardShape.rank == 4, forwardShape[0] == 1 else { return nil }
        let d = forwardShape.dimensions
        return Signal(values.reshaped(Shape([seeds, d[1], d[2], d[3]])),
                      windows: .wholeMap(seeds: seeds, height: d[2], width: d[3]))
    }

    /// The sum of two signals on the same tensor (windows are merged).
    package static func sum(_ a: Signal, _ b: Signal, forwardShape: Shape) -> Signal {
        if let wa = a.windows, let wb = b.windows {
            let c = forwardShape[1]
            let u = wa.union(wb)
            return Signal(BinaryOperator.add.apply(WindowCopy.rewindow(a.values, channels: c, from: wa, to: u),
                                                   WindowCopy.rewindow(b.values, channels: c, from: wb, to: u)), windows: u)
        }
        return Signal(dense: BinaryOperator.add.apply(a.dense(forwardShape), b.dense(forwardShape)))
    }
}
