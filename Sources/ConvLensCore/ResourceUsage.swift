#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Process memory: the peak resident set (for manifests and `convlens bench`) and the allocator
/// setting that keeps freed buffers for reuse.
public enum ResourceUsage {
    /// The peak resident set size of this process in bytes (Linux `VmHWM`; `ru_maxrss` elsewhere),
    /// since the start or the last ``resetPeak()``.
    public static func peakResidentBytes() -> Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
                let kb = line.dropFirst(6).split(separator: " ").first.flatMap { Int($0) }
                if let kb { return kb * 1024 }
            }
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }

    /// Starts a new peak (Linux: writes `5` to `/proc/self/clear_refs`).
    /// - Returns: whether the kernel accepted it (otherwise the peak stays the process's peak).
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        do { try h.write(contentsOf: Data("5".utf8)) } catch { return false }
        return true
    }

    /// Keeps freed buffers up to 32 MiB (glibc's limit) in the heap for reuse instead of returning
    /// them to the kernel.
    ///
    /// Back-projection allocates and frees tensors of tens to hundreds of megabytes per layer; with
    /// glibc's defaults each one is a fresh `mmap` whose pages the kernel faults in and zeroes
    /// (a fifth of the CPU time of a whole-layer projection on MobileNetV2). The command-line tool
    /// calls this once at start-up; a library user may.
    public static func retainFreedMemory() {
        #if os(Linux)
        // <malloc.h>: M_TRIM_THRESHOLD −1, M_TOP_PAD −2, M_MMAP_THRESHOLD −3.
        _ = glibcMallopt(-3, 32 << 20)  // glibc's largest mmap threshold on 64-bit
        _ = glibcMallopt(-1, Int32.max)
        _ = glibcMallopt(-2, 64 << 20)
        #endif
    }
}

#if os(Linux)
/// glibc's `mallopt` (declared in `<malloc.h>`, which the Glibc module does not export).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
