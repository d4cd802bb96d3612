import ConvLensCore
import Foundation

/// Another tool's results for the same workloads (the JSON of `Tests/Benchmarks/pytorch_baseline.py`),
/// read leniently: only `id`, `seconds`, `method` and `methods` of each workload are used.
public struct BenchmarkBaseline: Sendable {
    /// One workload of the baseline.
    public struct Entry: Sendable, Equatable {
        public var id: String
        /// The best method's median seconds.
        public var seconds: Double?
        /// The best method's name (`batched-64`, `onnxruntime`, …).
        public var method: String?
        /// Every method's median seconds.
        public var methods: [String: Double]
        public var note: String?
    }

    /// The `tool` field (`pytorch`).
    public var tool: String
    /// The baseline's thread count, if recorded.
    public var threads: Int?
    /// Whether the baseline ran the quick sizes, if recorded.
    public var quick: Bool?
    /// The baseline's workloads by id.
    public var entries: [String: Entry]
    /// Where it was read from.
    public var source: String

    /// Reads a baseline JSON file.
    /// - Throws: ``ConvLensError`` (`unreadableFile`, `malformedFile`) naming the file.
    public init(contentsOf path: String) throws {
        let data = try AtomicFile.read(path)
        try self.init(json: data, source: path)
    }

    /// Parses baseline JSON.
    /// - Throws: ``ConvLensError`` (`malformedFile`) when it is not an object with a `workloads` array.
    public init(json data: Data, source: String) throws {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let workloads = root["workloads"] as? [[String: Any]] else {
            throw ConvLensError(.malformedFile, file: source, "not a benchmark JSON file (expected an object with a \"workloads\" array)")
        }
        self.source = source
        tool = root["tool"] as? String ?? "baseline"
        threads = (root["threads"] as? NSNumber)?.intValue
        quick = root["quick"] as? Bool
        var entries: [String: Entry] = [:]
        for w in workloads {
            guard let id = w["id"] as? String else { continue }
            var methods: [String: Double] = [:]
            for (k, v) in w["methods"] as? [String: Any] ?? [:] {
                if let n = v as? NSNumber { methods[k] = n.doubleValue }
            }
            entries[id] = Entry(id: id, seconds: (w["seconds"] as? NSNumber)?.doubleValue, method: w["method"] as? String,
                                methods: methods, note: w["note"] as? String)
        }
        self.entries = entries
    }
}

/// One row of the comparison with a baseline: the baseline's time, the ratio and the target.
public struct BenchmarkComparison: Sendable, Equatable {
    /// Whether a target is met.
    public enum Verdict: String, Sendable { case met, missed }

    public var id: String
    /// The baseline method compared with (`per-seed`, `batched-64`, `onnxruntime`, …).
    public var baselineMethod: String?
    /// The baseline's seconds for that method.
    public var baselineSeconds: Double?
    /// `baselineSeconds / convlensSeconds`: above 1 ConvLens is faster.
    public var ratio: Double?
    /// The target as text (`≥3×`).
    public var target: String
    /// `nil` where the issue sets no pass/fail target (E: the ratio is shown only) or data is missing.
    public var verdict: Verdict?
    /// Extra detail (F: the ratio to Captum).
    public var detail: String

    /// Compares a ConvLens result with the baseline's entry of the same id, against the targets of
    /// issue 7: A, B ≥ 3×; C ≥ 1×; F ≥ 1× the best PyTorch method and ≥ 8× `F-captum`; D ConvLens ≤ 1.5× ONNX
    /// Runtime's time (stretch); E the ratio only (issue 6's target is FFT ≥ 2× GEMM for k ≥ 5).
    public init(_ result: BenchmarkResult, baseline: BenchmarkBaseline) {
        id = result.id
        detail = ""
        let entry = baseline.entries[result.id]
        if result.id.hasPrefix("D"), let entry,
           let ort = entry.methods.first(where: { $0.key.lowercased().contains("onnxruntime") || $0.key.lowercased() == "ort" }) {
            baselineMethod = ort.key
            baselineSeconds = ort.value
        } else {
            baselineMethod = entry?.method
            baselineSeconds = entry?.seconds ?? entry?.methods.values.min()
        }
        if let b = baselineSeconds, let s = result.seconds, s > 0 { ratio = b / s }
        func check(_ minimum: Double) -> Verdict? { ratio.map { $0 >= minimum ? .met : .missed } }
        switch result.id {
        case "A", "B":
            target = "≥3×"
            verdict = check(3)
        case "C":
            target = "≥1×"
            verdict = check(1)
        case "D1", "D16":
            target = "≤1.5× ORT (stretch)"
            verdict = check(1 / 1.5)
        case "O":
            target = "≥5× captum"
            verdict = check(5)
        case "M1", "M16":
            target = "≥2× lucent"
            verdict = check(2)
        case "JR50", "JD121", "JEB0", "JMV2":
            target = "≥3× best"
            verdict = check(3)
        case "F":
            target = "≥1×, ≥8× captum"
            let captum = baseline.entries["F-captum"]?.seconds
            var v = check(1)
            if let captum, let s = result.seconds, s > 0 {
                let r = captum / s
                detail = String(format: "captum %.1f s, %.1f×", captum, r)
                if v == .met && r < 8 { v = .missed }
            } else {
                detail = "no F-captum in the baseline"
            }
            verdict = v
        default:
            target = "ratio only (issue 6)"
            verdict = nil
        }
    }
}
