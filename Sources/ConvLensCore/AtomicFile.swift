internal import CConvLensKernels
import Foundation

/// Writes output files so that a reader never sees a partial file.
///
/// Every writer in ConvLens (PNG, `.npy`, JSON, event files, notebooks) goes through
/// ``AtomicFile/write(_:to:sync:)``: the bytes go to a temporary file in the destination folder,
/// which is then renamed over the destination. An interrupted run (a kill, a crash, a full disk)
/// leaves at most a hidden temporary file, never a truncated output under its final name.
///
/// Durability policy (Docs/FileFormats.md "Writing"): output files are not `fsync`ed one by one —
/// that cost more than the math on jobs writing hundreds of files. The manifest is written last,
/// so its presence means every output it lists was renamed into place. With `CONVLENS_SYNC=1`
/// in the environment (``syncRequested``) the manifest also becomes a durable commit record
/// against power loss: one `syncfs` of the folder's file system before it, then the manifest
/// itself and its folder are `fsync`ed.
public enum AtomicFile {
    /// Whether `CONVLENS_SYNC=1` asks for a durable commit (``commit(folder:)``).
    public static let syncRequested = ProcessInfo.processInfo.environment["CONVLENS_SYNC"] == "1"

    /// Writes `data` to `path` atomically (temporary name in the same folder, then `rename`).
    /// - Parameter sync: `fsync` the file before the rename.
    /// - Throws: ``ConvLensError`` with code `unwritableOutput` naming the path and the cause.
    public static func write(_ data: Data, to path: String, sync: Bool = false) throws {
        try write(to: path, sync: sync) { put in try data.withUnsafeBytes { try put($0) } }
    }

    /// Writes the bytes `body` hands to `put`, in order, to `path` atomically, without gathering
    /// them in one buffer first (an `.npy` header, then the tensor's own storage).
    /// - Parameter sync: `fsync` the file before the rename.
    /// - Throws: ``ConvLensError`` with code `unwritableOutput` naming the path and the cause, or
    ///   what `body` throws; the temporary file is removed either way.
    public static func write(to path: String, sync: Bool = false,
                             _ body: (_ put: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ConvLensError(.unwritableOutput, file: path, "the folder \(dir) does not exist")
        }
        let tmp = dir + "/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            throw ConvLensError(.unwritableOutput, file: path, "cannot create a file in \(dir) (\(String(cString: strerror(errno))))")
        }
        var open = true
        defer { if open { close(fd) } }
        do {
            try body { bytes in
                var done = 0
                while done < bytes.count {
                    let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw ConvLensError(.unwritableOutput, file: path, "cannot write (\(String(cString: strerror(errno))))")
                    }
                    done += n
                }
            }
            if sync, fsync(fd) != 0 {
                throw ConvLensError(.unwritableOutput, file: path, "cannot flush to disk (\(String(cString: strerror(errno))))")
            }
            open = false
            if close(fd) != 0 {
                throw ConvLensError(.unwritableOutput, file: path, "cannot write (\(String(cString: strerror(errno))))")
            }
        } catch {
            unlink(tmp)
            throw error
        }
        if rename(tmp, path) != 0 {
            let cause = String(cString: strerror(errno))
            unlink(tmp)
            throw ConvLensError(.unwritableOutput, file: path, "cannot rename the temporary file into place (\(cause))")
        }
    }

    /// With ``syncRequested``: flushes the file system holding `folder` (one `syncfs`), so that
    /// everything written there so far survives a power loss; otherwise nothing.
    /// - Throws: ``ConvLensError`` `unwritableOutput`.
    public static func commit(folder: String) throws {
        guard syncRequested else { return }
        try withFolder(folder) { fd in
            if convlens_syncfs(fd) != 0 {
                throw ConvLensError(.unwritableOutput, file: folder, "cannot flush to disk (\(String(cString: strerror(errno))))")
            }
        }
    }

    /// With ``syncRequested``: `fsync`s the folder itself (its entries: the renames into it).
    /// - Throws: ``ConvLensError`` `unwritableOutput`.
    public static func syncEntries(of folder: String) throws {
        guard syncRequested else { return }
        try withFolder(folder) { fd in
            if fsync(fd) != 0 {
                throw ConvLensError(.unwritableOutput, file: folder, "cannot flush to disk (\(String(cString: strerror(errno))))")
            }
        }
    }

    private static func withFolder(_ folder: String, _ body: (Int32) throws -> Void) throws {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ConvLensError(.unwritableOutput, file: folder, "cannot open the folder (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        try body(fd)
    }

    /// Creates `path` and its parents if missing.
    /// - Throws: ``ConvLensError`` with code `unwritableOutput` when `path` exists as a file or
    ///   cannot be created.
    public static func makeDirectory(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw ConvLensError(.unwritableOutput, file: path, "exists and is not a folder")
            }
            guard access(path, W_OK) == 0 else {
                throw ConvLensError(.unwritableOutput, file: path, "the folder is not writable")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ConvLensError(.unwritableOutput, file: path, "cannot create the folder (\(error.localizedDescription))")
        }
    }

    /// Reads a whole file.
    /// - Throws: ``ConvLensError`` with code `unreadableFile`.
    public static func read(_ path: String) throws -> Data {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ConvLensError(.unreadableFile, file: path, errno == ENOENT ? "no such file" : "cannot read the file (\(String(cString: strerror(errno))))")
        }
        // Only regular files: a device or a pipe has no end to read to (`/dev/zero`) or blocks.
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw ConvLensError(.unreadableFile, file: path, "is a folder, not a file")
        case S_IFCHR: throw ConvLensError(.unreadableFile, file: path, "is a character device, not a regular file")
        case S_IFBLK: throw ConvLensError(.unreadableFile, file: path, "is a block device, not a regular file")
        case S_IFIFO: throw ConvLensError(.unreadableFile, file: path, "is a pipe, not a regular file")
        default: throw ConvLensError(.unreadableFile, file: path, "is not a regular file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConvLensError(.unreadableFile, file: path, "cannot read the file (\(String(cString: strerror(errno))))")
        }
        return data
    }
}
