internal import CHDF5
import ConvLensCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A read-only HDF5 file, read whole by libhdf5 in a child process (DESIGN.md §2; the only code
/// in ConvLens that reaches libhdf5).
///
/// libhdf5 is not written for hostile files: a flipped bit can make it crash or loop forever.
/// So ConvLens never calls it in its own process. `init` forks a child that runs only C code
/// (`Sources/CHDF5/snapshot.h`): it opens the file, walks its groups by hard links, and streams
/// every group, every float or integer dataset (as float32) and every scalar string attribute
/// through a pipe. The parent bounds the wait (``timeLimit``), decodes the stream with bounds checks, and
/// turns a crash, a timeout or a bad stream into one ``ConvLensError`` naming the file. The
/// child's address space is capped (``memoryBudget`` beyond what the process maps); it follows no
/// soft or external link, reads no external or virtual dataset storage and loads no filter
/// plugin, so a file cannot make ConvLens read another file.
///
/// Queries (`kind`, `members`, `stringAttribute`, `floatDataset`) answer from the snapshot.
package final class HDF5File {
    /// Names the file in errors (the `.h5` path, or `archive.keras!model.weights.h5`).
    package let source: String
    /// The largest dataset ConvLens reads (elements): 256 Mi floats (the child enforces it).
    static let maxElements = 1 << 28

    /// How long the reader may take, in seconds: `CONVLENS_HDF5_TIMEOUT` (at most a day) or 120.
    static var timeLimit: Double {
        if let v = ProcessInfo.processInfo.environment["CONVLENS_HDF5_TIMEOUT"], let s = Double(v), s > 0, s.isFinite {
            return min(s, 86_400)
        }
        return 120
    }

    /// The most bytes the reader may stream: 2^30 float32 values (the child's cap) and 256 MiB of
    /// strings, with room for the records around them.
    static let maxStreamBytes = (4 << 30) + (512 << 20)

    /// The root members the Keras importer reads; the child walks nothing else.
    static let kerasRoots = ["model_weights", "layers"]

    /// Address space the reader may map beyond the parent's: 16 GiB.
    static let memoryBudget: UInt64 = 16 << 30

    /// What an object is; `unreadable` when libhdf5 could not open or read it (``check(_:)``
    /// throws why).
    package enum Kind { case group, dataset, other, unreadable }

    private enum Entry {
        case group
        case dataset(Tensor)
        case unreadable(ConvLensError)
        case other
    }

    private var entries: [String: Entry] = [:]
    private var children: [String: [String]] = [:]
    private var attributes: [String: [String: String]] = [:]
    /// Groups whose member list libhdf5 could not read, with the cause.
    private var brokenGroups: [String: ConvLensError] = [:]
    /// String attributes libhdf5 could not read, by object and name.
    private var attributeErrors: [String: [String: ConvLensError]] = [:]

    /// Reads an HDF5 file on disk: the root's attributes and, below the root, only the members
    /// named in `roots` (all when `nil`).
    init(path: String, roots: [String]? = nil) throws {
        source = path
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConvLensError(.unreadableFile, file: path, "cannot open the file for reading")
        }
        try load(path: path, image: nil, roots: roots)
    }

    /// Reads an HDF5 file held in memory (libhdf5's core driver reads the image; nothing touches disk).
    init(image data: Data, source: String, roots: [String]? = nil) throws {
        self.source = source
        guard !data.isEmpty else { throw ConvLensError(.malformedFile, file: source, "the HDF5 file is empty") }
        try load(path: source, image: data, roots: roots)
    }

    /// Decodes a stream as the child writes it (tests feed it damaged streams).
    package init(stream: [UInt8], source: String) throws {
        self.source = source
        try decode(stream)
    }

    private func fail(_ path: String, _ detail: String) -> ConvLensError {
        ConvLensError(.malformedFile, file: source, "\(path): \(detail)")
    }

    /// What the object at `path` is, or `nil` when nothing is there.
    package func kind(_ path: String) -> Kind? {
        switch entries[HDF5File.normalize(path)] {
        case nil: return nil
        case .group: return .group
        case .dataset: return .dataset
        case .unreadable: return .unreadable
        case .other: return .other
        }
    }

    /// Throws why the object at `path` could not be read, if it could not.
    package func check(_ path: String) throws {
        if case .unreadable(let e) = entries[HDF5File.normalize(path)] { throw e }
    }

    /// The names of a group's members, in name order.
    package func members(_ path: String) throws -> [String] {
        let p = HDF5File.normalize(path)
        guard case .group = entries[p] else { throw fail(path, "is not a group") }
        if let e = brokenGroups[p] { throw e }
        return children[p] ?? []
    }

    /// A scalar string attribute of the object at `path`, or `nil` when it is absent or not a
    /// scalar string.
    package func stringAttribute(_ name: String, of path: String = "/") throws -> String? {
        let p = HDF5File.normalize(path)
        if let e = attributeErrors[p]?[name] { throw e }
        return attributes[p]?[name]
    }

    /// A dataset as fp32 (libhdf5 converts float64/float16 data) with its own shape.
    /// - Throws: when it is not a floating-point dataset, is larger than ``maxElements``, or its
    ///   stored data is shorter than its shape says.
    package func floatDataset(_ path: String) throws -> Tensor {
        switch entries[HDF5File.normalize(path)] {
        case .dataset(let t): return t
        case .unreadable(let e): throw e
        default: throw fail(path, "is not a readable dataset")
        }
    }

    private static func normalize(_ path: String) -> String {
        var p = path
        while p.count > 1, p.hasSuffix("/") { p.removeLast() }
        return p.isEmpty ? "/" : p
    }

    // MARK: Reading

    private func load(path: String, image: Data?, roots: [String]?) throws {
        var readFD: Int32 = -1
        let pid: pid_t = path.withCString { cPath in
            HDF5File.withOptionalCString(roots?.joined(separator: "\n")) { cRoots in
                if let image {
                    return image.withUnsafeBytes {
                        convlens_h5_snapshot_spawn(cPath, $0.baseAddress, $0.count, cRoots, HDF5File.memoryBudget, &readFD)
                    }
                }
                return convlens_h5_snapshot_spawn(cPath, nil, 0, cRoots, HDF5File.memoryBudget, &readFD)
            }
        }
        guard pid > 0 else {
            throw ConvLensError(.unreadableFile, file: source, "cannot start the HDF5 reader: \(String(cString: strerror(errno)))")
        }
        let limit = HDF5File.timeLimit
        let (stream, end) = HDF5File.drain(readFD, seconds: limit, maxBytes: HDF5File.maxStreamBytes)
        close(readFD)
        // Only a child that closed the pipe is left to finish; any other is stopped first, so the
        // wait below cannot block.
        if end != .endOfStream { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        switch end {
        case .timeLimit:
            throw ConvLensError(.malformedFile, file: source, "libhdf5 did not finish reading the file in \(Int(limit)) s: it is corrupt (CONVLENS_HDF5_TIMEOUT sets the limit)")
        case .tooLarge:
            throw ConvLensError(.absurdSize, file: source, "the file holds more than \(HDF5File.maxStreamBytes >> 20) MiB of weights and strings")
        case .readError(let code):
            throw ConvLensError(.unreadableFile, file: source, "cannot read from the HDF5 reader: \(String(cString: strerror(code)))")
        case .endOfStream:
            break
        }
        let signal = status & 0x7f
        if signal != 0 {
            throw ConvLensError(.malformedFile, file: source, "libhdf5 crashed reading the file (signal \(signal)): it is corrupt or not an HDF5 file ConvLens can read")
        }
        try decode(stream)
    }

    private enum StreamEnd: Equatable { case endOfStream, timeLimit, tooLarge, readError(Int32) }

    /// Reads the pipe to its end, until `seconds` have passed, or until more than `maxBytes` came.
    private static func drain(_ fd: Int32, seconds: Double, maxBytes: Int) -> ([UInt8], StreamEnd) {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { return (out, .timeLimit) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let wait = Int32(min(Double(deadline - now) / 1e6, 1000).rounded(.up))
            let r = poll(&p, 1, max(wait, 1))
            if r < 0 { if errno == EINTR { continue }; return (out, .readError(errno)) }
            if r == 0 { continue }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; return (out, .readError(errno)) }
            if n == 0 { return (out, .endOfStream) }
            guard out.count + n <= maxBytes else { return (out, .tooLarge) }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    private static func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let s else { return body(nil) }
        return s.withCString { body($0) }
    }

    /// Decodes the child's stream (`snapshot.h` describes it); the stream must end with its end
    /// record, so a child that died midway is reported, not half read.
    private func decode(_ b: [UInt8]) throws {
        var r = HDF5File.Reader(bytes: b)
        let corrupt = ConvLensError(.malformedFile, file: source, "libhdf5 stopped reading the file midway: it is corrupt")
        guard r.take(8).map({ Array($0) }) == Array("CLH5SNP1".utf8) else { throw corrupt }
        while let tag = r.byte() {
            switch tag {
            case UInt8(ascii: "G"):
                guard let p = r.path() else { throw corrupt }
                add(p, .group)
            case UInt8(ascii: "O"):
                guard let p = r.path() else { throw corrupt }
                add(p, .other)
            case UInt8(ascii: "X"):
                guard let p = r.path(), let code = r.byte(), let msg = r.string() else { throw corrupt }
                add(p, .unreadable(ConvLensError(code == 1 ? .absurdSize : .malformedFile, file: source, "\(p): \(msg)")))
            case UInt8(ascii: "B"):
                guard let p = r.path(), let msg = r.string() else { throw corrupt }
                brokenGroups[p] = fail(p, msg)
            case UInt8(ascii: "Y"):
                guard let p = r.path(), let name = r.string(), let msg = r.string() else { throw corrupt }
                attributeErrors[p, default: [:]][name] = fail(p, "the attribute '\(name)' \(msg)")
            case UInt8(ascii: "A"):
                guard let p = r.path(), let name = r.string(), let len = r.u64(), len <= UInt64(r.remaining),
                      let bytes = r.take(Int(len)) else { throw corrupt }
                attributes[p, default: [:]][name] = String(decoding: bytes, as: UTF8.self)
            case UInt8(ascii: "D"):
                guard let p = r.path(), let rank = r.u32(), rank <= 8 else { throw corrupt }
                var dims: [Int] = []
                for _ in 0..<rank {
                    guard let d = r.u64(), d <= UInt64(HDF5File.maxElements) else { throw corrupt }
                    dims.append(Int(d))
                }
                guard let count = r.u64(), let expected = Shape.checkedCount(dims), count == UInt64(expected),
                      expected <= HDF5File.maxElements, expected * 4 <= r.remaining,
                      let bytes = r.take(expected * 4) else { throw corrupt }
                var values = [Float](repeating: 0, count: expected)
                values.withUnsafeMutableBytes { dst in bytes.withUnsafeBytes { dst.copyMemory(from: $0) } }
                add(p, .dataset(Tensor(shape: Shape(dims), scalars: values)))
            case UInt8(ascii: "E"):
                guard let msg = r.string() else { throw corrupt }
                throw ConvLensError(.malformedFile, file: source, msg)
            case UInt8(ascii: "Z"):
                guard r.remaining == 0 else { throw corrupt }
                return
            default:
                throw corrupt
            }
        }
        throw corrupt
    }

    private func add(_ path: String, _ entry: Entry) {
        guard entries[path] == nil else { return }
        entries[path] = entry
        guard path != "/" else { return }
        let slash = path.lastIndex(of: "/")!
        let parent = slash == path.startIndex ? "/" : String(path[..<slash])
        children[parent, default: []].append(String(path[path.index(after: slash)...]))
    }

    /// A cursor over the stream; every read is bounds-checked.
    private struct Reader {
        let bytes: [UInt8]
        var at = 0
        var remaining: Int { bytes.count - at }

        mutating func take(_ n: Int) -> ArraySlice<UInt8>? {
            guard n >= 0, n <= remaining else { return nil }
            defer { at += n }
            return bytes[at..<(at + n)]
        }
        mutating func byte() -> UInt8? { take(1)?.first }
        /// Integers are in native order: the child is a fork of this process.
        mutating func u32() -> UInt32? {
            guard let s = take(4) else { return nil }
            return s.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        }
        mutating func u64() -> UInt64? {
            guard let s = take(8) else { return nil }
            return s.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        }
        mutating func string() -> String? {
            guard let n = u32(), let s = take(Int(n)) else { return nil }
            return String(decoding: s, as: UTF8.self)
        }
        /// An object path: absolute, as the child writes them.
        mutating func path() -> String? {
            guard let p = string(), p.hasPrefix("/") else { return nil }
            return p
        }
    }
}
