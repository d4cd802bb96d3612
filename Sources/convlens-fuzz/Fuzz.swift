// The fuzz targets of Docs/Reliability.md: one binary, the target chosen by CONVLENS_FUZZ_TARGET.
//
// Built by `make fuzz` with `-sanitize=fuzzer,address -DCONVLENS_FUZZ`, libFuzzer
// (`LLVMFuzzerRunDriver`) feeds the selected target. Built plainly (as `swift build` does), the
// same binary replays files: `convlens-fuzz TARGET FILE...` runs each file through the target and prints one line per file.
//
// Every target feeds the bytes to the code a user's file reaches, and treats any error that is
// not a `ConvLensError` as a finding (ConvLens promises one line naming the file and the cause),
// so libFuzzer reports it like a crash.
import ConvLens
import ConvLensCore
import ConvLensExport
import ConvLensGraph
import ConvLensImaging
import CConvLensFuzz
import ConvLensProjection
import Foundation

enum FuzzTarget: String, CaseIterable {
    /// An ONNX model: import, the layer table (text and JSON), and, when the input is small, a forward pass and a
    /// deconvnet projection of the last 4-D layer's strongest unit.
    case onnx
    /// A Keras `.h5` model (libhdf5 in its child process, then the importer).
    case kerasH5 = "keras-h5"
    /// A Keras 3 `.keras` archive (the zip reader, config.json, the weights' HDF5 image).
    case kerasZip = "keras-zip"
    /// PNG and JPEG decoding (chosen by the first bytes, as for a user's image).
    case image
    /// `.npy` decoding.
    case npy
    /// The readers of files ConvLens wrote: `scan.json` (then a merge, as `scan-merge` does) and
    /// `manifest.json`.
    case scan

    /// Where inputs that must be files are written (one folder per process).
    static let folder: String = {
        let dir = NSTemporaryDirectory() + "convlens-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    func run(_ data: Data) throws {
        switch self {
        case .onnx:
            let model = try loadModel(data, ext: "onnx")
            try inspect(model)
            let input = model.graph.inputShape
            guard input.count > 0, input.count <= 1 << 16, model.graph.nodes.count <= 64 else { return }
            let trace = try model.graph.run(Tensor(shape: input, scalars: (0..<input.count).map { Float($0 % 7) / 7 }))
            guard let last = model.graph.layers.last(where: { trace.activation($0).shape.rank == 4 }) else { return }
            let seeds: [Seed] = [.unit(channel: 0)]
            _ = try Projector(trace: trace).project(layer: last, seeds: seeds, rule: .deconvnet)
        case .kerasH5:
            try inspect(try loadModel(data, ext: "h5"))
        case .kerasZip:
            try inspect(try loadModel(data, ext: "keras"))
        case .image:
            _ = try Image.decode(data, file: "fuzz-input")
        case .npy:
            _ = try NPY.decode(data, file: "fuzz-input")
        case .scan:
            // In memory: ScanResult.read(directory:) is this decode after reading the file.
            let result = try ScanResult.decode(data, file: "fuzz-input/scan.json")
            if result.shard != nil { _ = try ScanResult.merge([result], paths: ["fuzz-input"]) }
            _ = try? JSONDecoder().decode(Manifest.self, from: data)
        }
    }

    /// What `inspect` and `inspect --json` print.
    private func inspect(_ model: Model) throws {
        _ = model.layerTable()
        _ = try JSONEncoder().encode(model.layerSummaries())
    }

    private func loadModel(_ data: Data, ext: String) throws -> Model {
        let path = FuzzTarget.folder + "/input." + ext
        try data.write(to: URL(fileURLWithPath: path))
        return try Model.load(path)
    }

    /// Runs one input; an error that is not a `ConvLensError` stops the process.
    func check(_ data: Data) -> String {
        do {
            try run(data)
            return "ok"
        } catch let e as ConvLensError {
            return "error: \(e)"
        } catch {
            fatalError("\(rawValue): an error that is not a ConvLensError: \(error)")
        }
    }

    /// Read once: the fuzzer calls the target hundreds of times a second.
    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["CONVLENS_FUZZ_TARGET"] ?? ""
        guard let t = FuzzTarget(rawValue: name) else {
            fatalError("set CONVLENS_FUZZ_TARGET to one of: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return t
    }()
}

#if CONVLENS_FUZZ
/// libFuzzer's callback (its own `main` or ``FuzzMain`` starts the driver; either way it lands here).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    _ = FuzzTarget.selected.check(count == 0 ? Data() : Data(bytes: bytes!, count: count))
    return 0
}
#endif

@main
struct FuzzMain {
    static func main() {
        #if CONVLENS_FUZZ
        // libFuzzer drives the selected target (its flags are the command line's).
        _ = FuzzTarget.selected
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in fuzzOneInput(bytes, count) })
        #else
        replay()
        #endif
    }

    /// `convlens-fuzz TARGET FILE...`: each file through the target, one line per file.
    static func replay() {
        let args = CommandLine.arguments.dropFirst()
        guard let name = args.first, let target = FuzzTarget(rawValue: name), args.count > 1 else {
            print("usage: convlens-fuzz TARGET FILE...   (TARGET: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
            print("Replays files through a fuzz target; `make fuzz` builds the libFuzzer version (Docs/Reliability.md).")
            exit(64)
        }
        for file in args.dropFirst() {
            guard let data = FileManager.default.contents(atPath: file) else {
                print("\(file): cannot read"); continue
            }
            print("\(file): \(target.check(data))")
        }
        try? FileManager.default.removeItem(atPath: FuzzTarget.folder)
    }
}
