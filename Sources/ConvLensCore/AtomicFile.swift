import Foundation

/// Writes output files so that a reader never sees a partial file.
///
/// Every writer in ConvLens (PNG, `.npy`, JSON, event files, notebooks) goes through
/// ``AtomicFile/write(_:to:)``: the bytes go to a temporary file in the destination folder, which
/// is then renamed over the destination. An interrupted run leaves at most a hidden temporary file,
/// never a truncated output under its final name.
public enum AtomicFile {
    /// Writes `data` to `path` atomically (temporary name in the same folder, then `rename`).
    /// - Throws: ``ConvLensError`` with code `unwritableOutput` naming the path and the cause.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ConvLensError(.unwritableOutput, file: path, "the folder \(dir) does not exist")
        }
        let tmp = dir + "/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else {
            throw ConvLensError(.unwritableOutput, file: path, "cannot create a file in \(dir) (\(String(cString: strerror(errno))))")
        }
        if rename(tmp, path) != 0 {
            let cause = String(cString: strerror(errno))
            unlink(tmp)
            throw ConvLensError(.unwritableOutput, file: path, "cannot rename the temporary file into place (\(cause))")
        }
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
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ConvLensError(.unreadableFile, file: path, "no such file")
        }
        guard !isDir.boolValue else {
            throw ConvLensError(.unreadableFile, file: path, "is a folder, not a file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConvLensError(.unreadableFile, file: path, "cannot read the file (\(String(cString: strerror(errno))))")
        }
        return data
    }
}
