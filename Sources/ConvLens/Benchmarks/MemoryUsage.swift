import Foundation

/// The process's peak resident set size (Linux `/proc/self`), for per-workload memory figures.
public enum MemoryUsage {
    /// Resets the peak (`VmHWM`) to the current resident size by writing `5` to
    /// `/proc/self/clear_refs`.
    /// - Returns: whether the kernel accepted it (false on other systems or without permission).
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        do {
            try h.write(contentsOf: Data("5".utf8))
            return true
        } catch {
            return false
        }
    }

    /// The peak resident set size since the start or the last ``resetPeak()``, in bytes
    /// (`VmHWM` of `/proc/self/status`); `nil` where that file does not exist.
    public static func peakBytes() -> Int? {
        field("VmHWM")
    }

    /// The current resident set size in bytes (`VmRSS`); `nil` where unavailable.
    public static func residentBytes() -> Int? {
        field("VmRSS")
    }

    private static func field(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kb = Int(parts[1]) else { return nil }
            return kb * 1024
        }
        return nil
    }
}
