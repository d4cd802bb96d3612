import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import Foundation

/// One candidate of a unit's top-K: an activation value at a position of one dataset image.
public struct ScanEntry: Codable, Sendable, Hashable {
    /// The activation.
    public var value: Float
    /// The 0-based index of the image in ``ScanResult/images``.
    public var image: Int
    /// Row and column in the layer's activation map (0 for fully connected layers).
    public var y: Int
    public var x: Int

    public init(value: Float, image: Int, y: Int, x: Int) {
        (self.value, self.image, self.y, self.x) = (value, image, y, x)
    }

    /// The scan order: higher value first; ties → lower image, then lower y, then lower x.
    public static func precedes(_ a: ScanEntry, _ b: ScanEntry) -> Bool {
        if a.value != b.value { return a.value > b.value }
        if a.image != b.image { return a.image < b.image }
        if a.y != b.y { return a.y < b.y }
        return a.x < b.x
    }
}

/// A bounded, sorted top-K list (K is small: a sorted array beats a heap here).
struct TopList {
    let k: Int
    var entries: [ScanEntry]

    init(k: Int, entries: [ScanEntry] = []) { (self.k, self.entries) = (k, entries) }

    /// Whether `value` could enter the list at all (cheap pre-check before building an entry).
    @inline(__always) func admits(_ value: Float) -> Bool {
        entries.count < k || value >= entries[entries.count - 1].value
    }

    mutating func offer(_ e: ScanEntry) {
        if entries.count == k, let last = entries.last, !ScanEntry.precedes(e, last) { return }
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ScanEntry.precedes(entries[mid], e) { lo = mid + 1 } else { hi = mid }
        }
        entries.insert(e, at: lo)
        if entries.count > k { entries.removeLast() }
    }
}

/// Where a scan's images come from (`--images SRC`).
public struct ScanSource: Codable, Sendable, Equatable {
    /// `folder` (PNG and JPEG, recursive, sorted by path), `list` (a text file of paths) or
    /// `cifar10` (CIFAR-10 binary batch files, 3,073-byte records).
    public var kind: String
    /// SRC as given.
    public var path: String
    /// The image ids in scan order: file paths, or `BATCH.bin#RECORD` for CIFAR-10.
    public var images: [String]

    /// CIFAR-10 binary record: 1 label byte, then 1,024 red, 1,024 green and 1,024 blue bytes (32×32).
    public static let cifarRecordSize = 3073

    /// Lists the images of SRC.
    /// - Throws: ``ConvLensError`` when SRC is missing, empty or malformed (a CIFAR-10 file whose size
    ///   is not a multiple of 3,073 bytes).
    public static func open(_ path: String) throws -> ScanSource {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ConvLensError(.unreadableFile, file: path, "no such file or folder (--images)")
        }
        let root = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        var source: ScanSource
        if isDir.boolValue {
            let top = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted()
            let batches = top.filter(isCIFARBatchName)
            if !batches.isEmpty {
                source = ScanSource(kind: "cifar10", path: path, images: try batches.flatMap { try cifarRecords(root + "/" + $0) })
            } else {
                guard let walker = fm.enumerator(atPath: root) else {
                    throw ConvLensError(.unreadableFile, file: path, "cannot list the folder")
                }
                var files: [String] = []
                while let rel = walker.nextObject() as? String {
                    let ext = (rel as NSString).pathExtension.lowercased()
                    if ["png", "jpg", "jpeg"].contains(ext) { files.append(rel) }
                }
                // Byte-wise order of the relative path: the same on every machine and locale.
                files.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                source = ScanSource(kind: "folder", path: path, images: files.map { root + "/" + $0 })
            }
        } else if path.lowercased().hasSuffix(".bin") {
            source = ScanSource(kind: "cifar10", path: path, images: try cifarRecords(path))
        } else {
            let text = String(decoding: try AtomicFile.read(path), as: UTF8.self)
            let base = (path as NSString).deletingLastPathComponent
            let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            let paths = lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }.map { p in
                p.hasPrefix("/") || base.isEmpty ? p : base + "/" + p
            }
            source = ScanSource(kind: "list", path: path, images: paths)
        }
        guard !source.images.isEmpty else {
            throw ConvLensError(.unreadableFile, file: path, "holds no images (PNG or JPEG files, a list of paths, or CIFAR-10 .bin batches)")
        }
        return source
    }

    static func isCIFARBatchName(_ name: String) -> Bool {
        name == "test_batch.bin" || (name.hasPrefix("data_batch_") && name.hasSuffix(".bin"))
    }

    static func cifarRecords(_ file: String) throws -> [String] {
        let attrs = try? FileManager.default.attributesOfItem(atPath: file)
        guard let size = (attrs?[.size] as? NSNumber)?.intValue else {
            throw ConvLensError(.unreadableFile, file: file, "cannot read the file size")
        }
        guard size > 0, size % cifarRecordSize == 0 else {
            throw ConvLensError(.malformedFile, file: file, "\(size) bytes is not a whole number of 3,073-byte CIFAR-10 records")
        }
        return (0..<(size / cifarRecordSize)).map { "\(file)#\($0)" }
    }

    /// Decodes image `index`.
    /// - Throws: ``ConvLensError`` naming the file (unreadable or malformed image).
    public func image(_ index: Int) throws -> Image {
        let id = images[index]
        guard kind == "cifar10" else { return try Image.read(id) }
        guard let hash = id.lastIndex(of: "#"), let record = Int(id[id.index(after: hash)...]),
              record >= 0, record <= Int(Int32.max) else {
            throw ConvLensError(.malformedFile, file: id, "not a CIFAR-10 record id (FILE#N, N ≥ 0)")
        }
        let file = String(id[..<hash])
        guard let handle = FileHandle(forReadingAtPath: file) else {
            throw ConvLensError(.unreadableFile, file: file, "cannot open the CIFAR-10 batch")
        }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(record * Self.cifarRecordSize))
        guard let data = try handle.read(upToCount: Self.cifarRecordSize), data.count == Self.cifarRecordSize else {
            throw ConvLensError(.malformedFile, file: id, "truncated CIFAR-10 record")
        }
        let bytes = [UInt8](data)
        var pixels = [Float](repeating: 0, count: 32 * 32 * 3)
        for p in 0..<1024 { for c in 0..<3 { pixels[p * 3 + c] = Float(bytes[1 + c * 1024 + p]) } }
        return Image(width: 32, height: 32, channels: 3, pixels: pixels)
    }
}

extension Model {
    /// Prepares the model input from a decoded image (as ``input(from:preprocessing:)`` does for a file).
    /// - Throws: ``ConvLensError`` naming `path` when the model's input is not an image batch.
    public func input(image: Image, path: String, preprocessing pre: Preprocessing) throws -> ModelInput {
        let want = graph.inputShape
        guard want.rank == 4, want[0] == 1 else {
            throw ConvLensError(.unsupportedFeature, file: path, "the model's input \(want) is not an image batch")
        }
        if inputIsNHWC {
            let nchw = try pre.apply(to: image, channels: want[3], height: want[1], width: want[2], file: path)
            return ModelInput(path: path, tensor: Reshaping.transpose(nchw, perm: [0, 2, 3, 1]), preprocessing: pre)
        }
        return ModelInput(path: path, tensor: try pre.apply(to: image, channels: want[1], height: want[2], width: want[3], file: path),
                          preprocessing: pre)
    }

    /// The input of image `index` of a scan source.
    public func input(source: ScanSource, index: Int, preprocessing: Preprocessing) throws -> ModelInput {
        try input(image: source.image(index), path: source.images[index], preprocessing: preprocessing)
    }
}

/// A shard `index/count`: the images whose index `i` has `i % count == index`.
public struct ScanShard: Codable, Sendable, Hashable {
    public var index: Int
    public var count: Int
    public init(index: Int, count: Int) { (self.index, self.count) = (index, count) }

    /// Parses `i/n` (0 ≤ i < n).
    public init?(parsing s: String) {
        let p = s.split(separator: "/", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard p.count == 2, let i = p[0], let n = p[1], n >= 1, i >= 0, i < n else { return nil }
        (index, count) = (i, n)
    }
}

/// What `convlens scan` computes.
public struct ScanRequest: Sendable {
    /// The layer queries.
    public var layers: [String]
    /// K.
    public var top = 9
    /// The K a scan may keep: what `scan()` accepts and every reader of a scan requires.
    public static let topRange = 1...10_000
    /// Every position is a candidate (default: each image's maximum per unit only).
    public var perPosition = false
    /// Scan one slice only.
    public var shard: ScanShard?
    /// Write the checkpoint every N images.
    public var checkpointEvery = 100
    /// Continue from `DIR/scan.checkpoint.json` when it is there.
    public var resume = false
    /// The preprocessing of every image (default: the model's).
    public var preprocessing: Preprocessing?

    public init(layers: [String]) { self.layers = layers }
}

/// The model a scan ran.
public struct ScanModel: Codable, Sendable, Equatable {
    public var path: String
    public var sha256: String
}

/// `DIR/scan.json` (schema in `Docs/Scan.md`).
public struct ScanResult: Codable, Sendable, Equatable {
    /// A skipped image and why.
    public struct Skip: Codable, Sendable, Equatable {
        public var image: Int
        public var path: String
        public var reason: String
    }

    /// One scanned layer.
    public struct LayerResult: Codable, Sendable, Equatable {
        /// The canonical name, and the query as typed.
        public var name: String
        public var query: String
        /// `[C, H, W]` (`[N, 1, 1]` for a fully connected layer).
        public var shape: [Int]
        /// The receptive field: size, jump and offset in input pixels (rows, columns).
        public var fieldSize: [Double]
        public var fieldJump: [Double]
        public var fieldOffset: [Double]
        /// The `.npy` files beside scan.json: values `[C, K]`, positions `[C, K, 3]` (image, y, x).
        public var valuesNpy: String
        public var positionsNpy: String
        /// Per channel, its top K in scan order (fewer when fewer candidates were seen).
        public var units: [[ScanEntry]]

        enum CodingKeys: String, CodingKey {
            case name, query, shape, fieldSize = "field_size", fieldJump = "field_jump", fieldOffset = "field_offset",
                 valuesNpy = "values_npy", positionsNpy = "positions_npy", units
        }
    }

    public var format = "convlens-scan"
    public var version = 1
    public var model: ScanModel
    public var source: String
    public var sourceKind: String
    /// Every image of the source, in scan order; entries refer to them by index.
    public var images: [String]
    public var preprocessing: Preprocessing
    public var top: Int
    public var perPosition: Bool
    /// The slice this result covers; `nil` for a whole scan (and a merge of all shards).
    public var shard: ScanShard?
    /// Images scanned successfully, and the skipped ones (sorted by index).
    public var scanned: Int
    public var skipped: [Skip]
    public var layers: [LayerResult]

    enum CodingKeys: String, CodingKey {
        case format, version, model, source, sourceKind = "source_kind", images, preprocessing, top,
             perPosition = "per_position", shard, scanned, skipped, layers
    }

    /// The image indices of a shard (all of them without one).
    public static func indices(count: Int, shard: ScanShard?) -> [Int] {
        guard let s = shard else { return Array(0..<count) }
        return Array(stride(from: s.index, to: count, by: s.count))
    }

    /// Reads `DIR/scan.json`.
    /// - Throws: ``ConvLensError`` (`malformedFile`) when the file does not decode or is not a
    ///   consistent scan (``validated(file:)``).
    public static func read(directory: String) throws -> ScanResult {
        let path = directory + "/scan.json"
        return try decode(try AtomicFile.read(path), file: path)
    }

    /// Decodes and validates the contents of a `scan.json`.
    /// - Parameter file: names the file in errors.
    /// - Throws: ``ConvLensError`` (`malformedFile`) as ``read(directory:)``.
    public static func decode(_ data: Data, file: String) throws -> ScanResult {
        let result: ScanResult
        do { result = try JSONDecoder().decode(ScanResult.self, from: data) } catch {
            throw ConvLensError(.malformedFile, file: file, "not a convlens scan.json (\(error))")
        }
        return try result.validated(file: file)
    }

    /// Whether `name` is a plain `.npy` file name: no folder part, not hidden, printable.
    static func isPlainArrayName(_ name: String) -> Bool {
        name.hasSuffix(".npy") && name.count <= 255 && !name.hasPrefix(".") && !name.contains("/") && !name.contains("\\")
            && name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
    }

    /// The result itself, after checking everything its readers index with (`merge`, `topk`, the
    /// explorer's top-K pane), so that a damaged or hostile file is an error and not a crash: the
    /// format and version, `top` in 1–10000, the source kind, a shard `index < count`, per layer
    /// plain `.npy` array names and a `[C, H, W]`
    /// shape of positive sizes with one unit list per channel, at most `top` entries per unit,
    /// and every entry's image and position inside the scan.
    /// - Parameter file: names the file in errors.
    /// - Throws: ``ConvLensError`` (`malformedFile`) naming the first inconsistency.
    public func validated(file: String) throws -> ScanResult {
        func bad(_ why: String) -> ConvLensError { ConvLensError(.malformedFile, file: file, "not a consistent convlens scan: \(why)") }
        guard format == "convlens-scan", version == 1 else { throw bad("format '\(format)' version \(version); expected convlens-scan version 1") }
        guard ScanRequest.topRange.contains(top) else { throw bad("top is \(top); expected \(ScanRequest.topRange.lowerBound)-\(ScanRequest.topRange.upperBound)") }
        guard ["folder", "list", "cifar10"].contains(sourceKind) else { throw bad("source kind '\(sourceKind)'; expected folder, list or cifar10") }
        if let s = shard, !(s.count >= 1 && (0..<s.count).contains(s.index)) { throw bad("shard \(s.index)/\(s.count)") }
        guard (0...images.count).contains(scanned) else { throw bad("\(scanned) images scanned of \(images.count)") }
        if let s = skipped.first(where: { !images.indices.contains($0.image) }) {
            throw bad("skipped image \(s.image) is not one of the \(images.count) images")
        }
        for l in layers {
            // Array names are written by scan-merge into its output folder: one plain file name each.
            for name in [l.valuesNpy, l.positionsNpy] where !ScanResult.isPlainArrayName(name) {
                throw bad("layer '\(l.name)' names its array '\(name)'; expected a file name ending in .npy, without folders")
            }
            guard l.shape.count == 3, l.shape.allSatisfy({ $0 >= 1 }), l.shape[0] == l.units.count else {
                throw bad("layer '\(l.name)' has shape \(l.shape) and \(l.units.count) unit lists")
            }
            for (c, entries) in l.units.enumerated() {
                guard entries.count <= top else { throw bad("layer '\(l.name)' unit \(c) lists \(entries.count) entries; top is \(top)") }
                if let e = entries.first(where: { !images.indices.contains($0.image) || !(0..<l.shape[1]).contains($0.y) || !(0..<l.shape[2]).contains($0.x) }) {
                    throw bad("layer '\(l.name)' unit \(c) lists image \(e.image) at \(e.y),\(e.x), outside the scan's \(images.count) images and \(l.shape[1])×\(l.shape[2]) map")
                }
            }
        }
        return self
    }

    func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(self)
    }

    /// The `[C, H, W]` a scan records for a layer: `[1, C, H, W]` maps as they are, `[1, N]`
    /// vectors as `[N, 1, 1]`; `nil` for other shapes (not scannable).
    static func scannedShape(_ layer: Layer) -> [Int]? {
        let d = layer.shape.dimensions
        switch d.count {
        case 4: return [d[1], d[2], d[3]]
        case 2: return [d[1], 1, 1]
        default: return nil
        }
    }

    /// Merges the results of every shard `0..<n` of one scan into the result of the whole scan.
    /// Top-K is associative, so the merge equals a single scan field for field.
    /// - Throws: ``ConvLensError`` when the shards come from different scans, repeat, or miss one.
    public static func merge(_ parts: [ScanResult], paths: [String]) throws -> ScanResult {
        precondition(!parts.isEmpty && parts.count == paths.count)
        let first = parts[0]
        guard let n = first.shard?.count else {
            throw ConvLensError(.invalidArgument, file: paths[0], "is not a shard (scanned without --shard)")
        }
        var seen = Set<Int>()
        for (p, path) in zip(parts, paths) {
            guard let s = p.shard, s.count == n else {
                throw ConvLensError(.invalidArgument, file: path, "is not a shard of \(n)")
            }
            guard seen.insert(s.index).inserted else {
                throw ConvLensError(.invalidArgument, file: path, "repeats shard \(s.index)/\(n)")
            }
            let same = p.model.sha256 == first.model.sha256 && p.images == first.images && p.preprocessing == first.preprocessing
                && p.top == first.top && p.perPosition == first.perPosition
                && p.layers.map(\.name) == first.layers.map(\.name) && p.layers.map(\.shape) == first.layers.map(\.shape)
            guard same else {
                throw ConvLensError(.invalidArgument, file: path, "comes from a different scan than \(paths[0]) (model, images, layers, --top or --per-position differ)")
            }
        }
        if let missing = (0..<n).first(where: { !seen.contains($0) }) {
            throw ConvLensError(.invalidArgument, file: "scan-merge", "shard \(missing)/\(n) is missing")
        }
        var merged = first
        merged.shard = nil
        merged.scanned = parts.reduce(0) { $0 + $1.scanned }
        merged.skipped = parts.flatMap(\.skipped).sorted { $0.image < $1.image }
        for l in merged.layers.indices {
            for c in merged.layers[l].units.indices {
                let all = parts.flatMap { $0.layers[l].units[c] }.sorted(by: ScanEntry.precedes)
                merged.layers[l].units[c] = Array(all.prefix(first.top))
            }
        }
        return merged
    }

    /// Writes `scan.json`, the `.npy` arrays of every layer and `manifest.json` (`kind: "scan"`).
    public func write(to directory: String, model: Model, command: String, parameters: [String: JSONValue]) throws {
        try AtomicFile.makeDirectory(directory)
        var manifest = try model.manifest(command: command, input: nil, parameters: parameters)
        for l in layers {
            let c = l.units.count
            var values = [Float](repeating: .nan, count: c * top)
            var positions = [Float](repeating: -1, count: c * top * 3)
            for (ch, entries) in l.units.enumerated() {
                for (r, e) in entries.enumerated() {
                    values[ch * top + r] = e.value
                    positions[(ch * top + r) * 3] = Float(e.image)
                    positions[(ch * top + r) * 3 + 1] = Float(e.y)
                    positions[(ch * top + r) * 3 + 2] = Float(e.x)
                }
            }
            try NPY.write(Tensor(shape: Shape([c, top]), scalars: values), to: "\(directory)/\(l.valuesNpy)")
            try NPY.write(Tensor(shape: Shape([c, top, 3]), scalars: positions), to: "\(directory)/\(l.positionsNpy)")
            var o = Manifest.Output(kind: .scan)
            o.layer = l.name
            o.layerQuery = l.query
            o.npy = l.valuesNpy
            o.file = "scan.json"
            o.shape = [c, top]
            manifest.outputs.append(o)
        }
        try AtomicFile.write(jsonData(), to: directory + "/scan.json")
        try manifest.write(to: directory)
    }
}

/// The checkpoint of an unfinished scan: the partial result and how many images of the slice are done.
struct ScanCheckpoint: Codable {
    var result: ScanResult
    var done: Int

    static func path(_ directory: String) -> String { directory + "/scan.checkpoint.json" }
}

/// How a scan went, for the progress line.
public struct ScanProgress: Sendable {
    /// Images of the slice handled (scanned or skipped), including those of a resumed checkpoint.
    public var done: Int
    /// Images in the slice.
    public var total: Int
    /// Images handled in this run.
    public var doneThisRun: Int
    /// Set when the image just handled was skipped: its id and why.
    public var skipped: (path: String, reason: String)?
}

extension Model {
    /// Scans a dataset: for every channel of every requested layer, the top K activations (the
    /// per-image maximum of each unit, or every position with `perPosition`) in scan order.
    /// Forward passes run one image at a time (the graph runs batch 1).
    /// - Parameters:
    ///   - request: layers, K, shard, checkpointing.
    ///   - source: the images.
    ///   - directory: the output folder: `scan.json`, the `.npy` arrays, `manifest.json`, and while
    ///     running, `scan.checkpoint.json` (removed at the end).
    ///   - parameters: the options to record in the manifest.
    ///   - progress: called after each image (after any checkpoint it triggered).
    /// - Returns: the result written.
    /// - Throws: ``ConvLensError`` for unknown layers, an unwritable folder, or a checkpoint from a
    ///   different scan. Unreadable images are skipped and recorded, never fatal.
    @discardableResult
    public func scan(_ request: ScanRequest, source: ScanSource, to directory: String, parameters: [String: JSONValue],
                     progress: ((ScanProgress) -> Void)? = nil) throws -> ScanResult {
        precondition(request.checkpointEvery >= 1)
        // The range every reader of a scan accepts (validated(file:)).
        guard ScanRequest.topRange.contains(request.top) else {
            let r = ScanRequest.topRange
            throw ConvLensError(.outOfRange, parameter: "top", "top is \(request.top); a scan keeps \(r.lowerBound) to \(r.upperBound) entries per unit")
        }
        let layers = try request.layers.map { try graph.layer(matching: $0) }
        let fields = graph.receptiveFields()
        let pre = request.preprocessing ?? preprocessing
        var used: Set<String> = []
        var layerResults: [ScanResult.LayerResult] = []
        for (layer, query) in zip(layers, request.layers) {
            guard let shape = ScanResult.scannedShape(layer) else {
                throw ConvLensError(.unsupportedFeature, parameter: "layer", "\(layer.name) has shape \(layer.shape); a scan needs [1, C, H, W] or [1, N]")
            }
            var stem = fileStem(forLayer: layer.name)
            if used.contains(stem) { stem += "-\(layer.index)" }
            used.insert(stem)
            let rf = fields[layer.tensorName] ?? .pixel
            layerResults.append(.init(name: layer.name, query: query, shape: shape, fieldSize: rf.size, fieldJump: rf.jump, fieldOffset: rf.offset,
                                      valuesNpy: "\(stem)_values.npy", positionsNpy: "\(stem)_positions.npy",
                                      units: Array(repeating: [], count: shape[0])))
        }
        let rec = try record()
        var result = ScanResult(model: ScanModel(path: rec.path, sha256: rec.sha256), source: source.path, sourceKind: source.kind, images: source.images, preprocessing: pre,
                                top: request.top, perPosition: request.perPosition, shard: request.shard, scanned: 0, skipped: [],
                                layers: layerResults)
        try AtomicFile.makeDirectory(directory)
        let slice = ScanResult.indices(count: source.images.count, shard: request.shard)
        var done = 0
        let checkpointPath = ScanCheckpoint.path(directory)
        if request.resume, FileManager.default.fileExists(atPath: checkpointPath) {
            let cp: ScanCheckpoint
            do { cp = try JSONDecoder().decode(ScanCheckpoint.self, from: AtomicFile.read(checkpointPath)) } catch let e as ConvLensError { throw e } catch {
                throw ConvLensError(.malformedFile, file: checkpointPath, "not a scan checkpoint (\(error))")
            }
            _ = try cp.result.validated(file: checkpointPath)
            var expected = cp.result
            (expected.scanned, expected.skipped) = (0, [])
            for i in expected.layers.indices { expected.layers[i].units = Array(repeating: [], count: expected.layers[i].units.count) }
            guard expected == result, (0...slice.count).contains(cp.done) else {
                throw ConvLensError(.invalidArgument, file: checkpointPath, "was written by a different scan (model, images, layers, --top, --per-position or --shard differ); remove it or drop --resume")
            }
            result = cp.result
            done = cp.done
        } else if request.resume, FileManager.default.fileExists(atPath: directory + "/scan.json"),
                  var finished = try? ScanResult.read(directory: directory) {
            // Nothing to redo: the scan finished. Same configuration → keep it.
            let saved = finished
            (finished.scanned, finished.skipped) = (0, [])
            for i in finished.layers.indices { finished.layers[i].units = Array(repeating: [], count: finished.layers[i].units.count) }
            if finished == result {
                progress?(ScanProgress(done: slice.count, total: slice.count, doneThisRun: 0))
                return saved
            }
        }
        // Per-unit lists live in flat arrays while scanning (K entries × channels × layers).
        var lists: [[TopList]] = result.layers.map { l in l.units.map { TopList(k: request.top, entries: $0) } }
        func flush() { for l in lists.indices { for c in lists[l].indices { result.layers[l].units[c] = lists[l][c].entries } } }
        func checkpoint() throws {
            flush()
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            try AtomicFile.write(e.encode(ScanCheckpoint(result: result, done: done)), to: checkpointPath)
        }
        var thisRun = 0
        while done < slice.count {
            let index = slice[done]
            var skip: (String, String)? = nil
            do {
                let input = try self.input(source: source, index: index, preprocessing: pre)
                // Only the scanned layers' tensors are kept (no trace: scans run many images).
                let values = try evaluate(input, keep: Set(layers.map(\.tensorName)))
                for (l, layer) in layers.enumerated() {
                    let act = values[layer.tensorName]!
                    let (c, h, w) = (result.layers[l].shape[0], result.layers[l].shape[1], result.layers[l].shape[2])
                    act.scalars.withUnsafeBufferPointer { a in
                        for ch in 0..<c {
                            let base = ch * h * w
                            if request.perPosition {
                                for p in 0..<(h * w) where a[base + p].isFinite && lists[l][ch].admits(a[base + p]) {
                                    lists[l][ch].offer(ScanEntry(value: a[base + p], image: index, y: p / w, x: p % w))
                                }
                            } else {
                                var best = -1
                                for p in 0..<(h * w) where a[base + p].isFinite && (best < 0 || a[base + p] > a[base + best]) { best = p }
                                if best >= 0 { lists[l][ch].offer(ScanEntry(value: a[base + best], image: index, y: best / w, x: best % w)) }
                            }
                        }
                    }
                }
                result.scanned += 1
            } catch {
                let why = (error as? ConvLensError)?.description ?? "\(error)"
                skip = (source.images[index], why.replacingOccurrences(of: "\n", with: " "))
                result.skipped.append(.init(image: index, path: source.images[index], reason: skip!.1))
            }
            done += 1
            thisRun += 1
            if done % request.checkpointEvery == 0 && done < slice.count { try checkpoint() }
            progress?(ScanProgress(done: done, total: slice.count, doneThisRun: thisRun, skipped: skip))
        }
        flush()
        try result.write(to: directory, model: self, command: "scan", parameters: parameters)
        try? FileManager.default.removeItem(atPath: checkpointPath)
        return result
    }
}
