import Foundation

extension BenchmarkReport {
    /// The report as the text table `convlens bench` prints: header lines (mode, threads, machine
    /// peak), one row per workload, and with a baseline its method, seconds, the ratio
    /// baseline / ConvLens (above 1: ConvLens faster), the target and whether it is met.
    /// - Parameter baseline: another tool's results for the same workloads, or `nil`.
    public func table(baseline: BenchmarkBaseline? = nil) -> String {
        var lines: [String] = []
        let runs = workloads.first?.runs ?? BenchmarkSuite.runs(quick: quick)
        lines.append("convlens bench — \(quick ? "quick" : "full") sizes; each workload: 1 warm-up run, then the median of \(runs)")
        let peak = machinePeakGFLOPS.map { String(format: "%.1f GFLOP/s", $0) } ?? "n/a"
        var machine = "threads: \(threads); machine peak (fp32 FMA loop, \(MachinePeak.instructions), \(threads) threads): \(peak)"
        if let loadAverage {
            machine += String(format: "; load average at start: %.2f", loadAverage)
            if loadAverage > Double(threads) * 0.75 { machine += " (other work shares the cores: times are inflated)" }
        }
        lines.append(machine)
        if let blas = versions["blas"] { lines.append("matrix products: \(blas)") }
        if let baseline {
            var b = "baseline: \(baseline.tool) (\(baseline.source))"
            if let t = baseline.threads { b += ", threads \(t)" }
            if let q = baseline.quick { b += q ? ", quick" : ", full" }
            if let t = baseline.threads, t != threads { b += " — WARNING: thread counts differ" }
            if let q = baseline.quick, q != quick { b += " — WARNING: sizes differ (quick vs full)" }
            lines.append(b)
            lines.append("ratio = \(baseline.tool) seconds / ConvLens seconds (> 1: ConvLens faster)")
        }
        var header = ["id", "what", "median s", "min s", "GFLOP/s", "algorithms", "peak RSS MB", "window work"]
        if baseline != nil { header += ["\(baseline!.tool) best", "s", "ratio", "target", "result"] }
        var rows: [[String]] = [header]
        for w in workloads {
            var row = [w.id, w.what, Self.seconds(w.seconds), Self.seconds(w.minSeconds),
                       w.gflops.map { String(format: "%.1f", $0) } ?? "n/a", w.algorithms,
                       w.peakRSSBytes.map { String(format: "%.0f", Double($0) / 1_048_576) } ?? "n/a",
                       w.windowWorkFraction.map { String(format: "%.1f%%", 100 * $0) } ?? "—"]
            if let baseline {
                let c = BenchmarkComparison(w, baseline: baseline)
                row += [c.baselineMethod ?? "—", Self.seconds(c.baselineSeconds),
                        c.ratio.map { String(format: "%.2f×", $0) } ?? "—", c.target,
                        (c.verdict?.rawValue ?? "—") + (c.detail.isEmpty ? "" : " (\(c.detail))")]
            }
            rows.append(row)
        }
        let widths = (0..<header.count).map { i in rows.map { $0[i].count }.max() ?? 0 }
        for (r, row) in rows.enumerated() {
            let cells = row.enumerated().map { i, cell -> String in
                // Numbers right-aligned, text left-aligned.
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return (i >= 2 && i <= 4 && r > 0) || ((i == 6 || i == 7) && r > 0) ? pad + cell : cell + pad
            }
            lines.append(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            if r == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        let notes = workloads.filter { $0.seconds == nil || BenchmarkSuite.explorerIds.contains($0.id) }.map { "\($0.id): \($0.note)" }
        lines += notes
        if let totalSeconds { lines.append(String(format: "total: %.1f s", totalSeconds)) }
        return lines.joined(separator: "\n")
    }

    static func seconds(_ s: Double?) -> String {
        guard let s else { return "n/a" }
        return s < 0.1 ? String(format: "%.4f", s) : s < 10 ? String(format: "%.3f", s) : String(format: "%.1f", s)
    }
}
