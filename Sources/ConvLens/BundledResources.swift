import ConvLensCore
import Foundation

/// Finds the files bundled with ConvLens: the default model, sample images and labels.
///
/// Search order (DESIGN.md §3 "Installing"):
/// 1. the folder named by the `CONVLENS_RESOURCES` environment variable;
/// 2. `ConvLens_ConvLens.resources/Resources` beside the executable (where `swift build` puts it);
/// 3. `../share/convlens` relative to the executable's folder (where `make install` puts it).
public enum BundledResources {
    /// The relative path of the default model inside the resource folder.
    public static let defaultModel = "models/mobilenetv2.onnx"
    /// The relative path of the default sample image (a cat, CC0).
    public static let defaultImage = "images/chelsea.png"
    /// All sample images, relative to the resource folder.
    public static let sampleImages = ["images/chelsea.png", "images/coffee.png", "images/rocket.jpg"]

    /// The candidate resource folders, in search order.
    public static var searchPaths: [String] {
        var paths: [String] = []
        if let env = ProcessInfo.processInfo.environment["CONVLENS_RESOURCES"], !env.isEmpty {
            paths.append(env)
        }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let dirs = [exe] + (Bundle.main.executableURL.map { [$0.resolvingSymlinksInPath().deletingLastPathComponent()] } ?? [])
        for dir in dirs {
            paths.append(dir.appendingPathComponent("ConvLens_ConvLens.resources/Resources").path)
            paths.append(dir.deletingLastPathComponent().appendingPathComponent("share/convlens").path)
        }
        return paths
    }

    /// The first search path that exists as a folder.
    /// - Throws: `ConvLensError` with code `missingResource` listing the places searched.
    public static func directory() throws -> String {
        for p in searchPaths {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue { return p }
        }
        throw ConvLensError(.missingResource, "the bundled resources were not found (searched \(searchPaths.joined(separator: ", "))); set CONVLENS_RESOURCES or reinstall with `make install`")
    }

    /// The absolute path of a bundled file.
    /// - Throws: `ConvLensError` with code `missingResource` when the folder or the file is missing.
    public static func path(_ relative: String) throws -> String {
        let p = try directory() + "/" + relative
        guard FileManager.default.fileExists(atPath: p) else {
            throw ConvLensError(.missingResource, file: p, "bundled resource is missing; reinstall ConvLens (`make install`) or set CONVLENS_RESOURCES")
        }
        return p
    }
}
