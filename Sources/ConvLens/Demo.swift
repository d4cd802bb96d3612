import ConvLensCore
import ConvLensImaging
import Foundation

/// The `convlens demo` story on the bundled resources.
public enum Demo {
    /// Decodes the image (default: the bundled sample), writes it back as PNG and `.npy` under
    /// `out/image/`, and returns a printable report of what was done.
    /// - Throws: ``ConvLensError`` for unreadable input or unwritable output.
    public static func run(image: String?, out: String) throws -> String {
        let path = try image ?? BundledResources.path(BundledResources.defaultImage)
        let img = try Image.read(path)
        let dir = out + "/image"
        try AtomicFile.makeDirectory(dir)
        try img.writePNG(to: dir + "/input.png")
        let tensor = Tensor(shape: [img.height, img.width, img.channels], scalars: img.pixels)
        try NPY.write(tensor, to: dir + "/input.npy")
        return """
        decoded \(path): \(img.width)×\(img.height), \(img.channels) channel(s)
        wrote \(dir)/input.png and \(dir)/input.npy (H×W×C float32, values 0…255)
        """
    }
}
