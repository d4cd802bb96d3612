import ConvLensCore
import ConvLensImaging
import Foundation
import TestSupport
import XCTest

final class PreprocessingTests: XCTestCase {
    func testResizeMatchesPillowBilinearWithin1Level() throws {
        let src = try Image.read(fixture("imaging/resize_source.png"))
        for (w, h) in [(16, 11), (50, 40), (37, 9)] {
            let exp = try NPY.read(fixture("imaging/resize_\(w)x\(h).expected.npy"))
            let out = src.resized(width: w, height: h)
            XCTAssertEqual([out.height, out.width, out.channels], exp.shape.dimensions)
            var worst: Float = 0
            for (a, b) in zip(out.pixels, exp.scalars) { worst = max(worst, abs(a.rounded() - b)) }
            XCTAssertLessThanOrEqual(worst, 1, "resize to \(w)×\(h): worst difference \(worst)/255")
            // The 8-bit path reproduces Pillow exactly.
            XCTAssertEqual(src.resized8(width: w, height: h).pixels, exp.scalars, "resized8 to \(w)×\(h)")
        }
    }

    func testPreprocessingMatchesTorchvisionOnTheSamplePhotograph() throws {
        // Resize(64) → CenterCrop(56) → ToTensor → Normalize(ImageNet), computed by torchvision.
        let img = try Image.read(fixturesDirectory + "/../../Sources/ConvLens/Resources/images/chelsea.png")
        var p = Preprocessing()
        p.resize = 64
        p.mean = [0.485, 0.456, 0.406]
        p.std = [0.229, 0.224, 0.225]
        let t = try p.apply(to: img, channels: 3, height: 56, width: 56)
        let exp = try NPY.read(fixture("imaging/chelsea_torchvision.npy"))
        XCTAssertEqual(t.shape, exp.shape)
        var worst: Float = 0
        for (a, b) in zip(t.scalars, exp.scalars) { worst = max(worst, abs(a - b)) }
        XCTAssertLessThan(worst, 1e-5, "worst difference \(worst)")
    }

    func testNormalizationCropAndChannelOrder() throws {
        // A 4×6 RGB image whose pixel value encodes its position.
        var px: [Float] = []
        for y in 0..<4 { for x in 0..<6 { px += [Float(10 * y + x), 100, 200] } }
        let img = Image(width: 6, height: 4, channels: 3, pixels: px)
        var p = Preprocessing()
        p.mean = [0.5, 0, 0]
        p.std = [2, 1, 1]
        p.resize = 4 // no-op: shorter side is already 4
        let t = try p.apply(to: img, channels: 3, height: 4, width: 4)
        XCTAssertEqual(t.shape, [1, 3, 4, 4])
        // Centre crop starts at column 1; red of (0, 0) is (1/255 − 0.5)/2.
        XCTAssertEqual(t[0, 0, 0, 0], (1 / 255 - 0.5) / 2, accuracy: 1e-6)
        XCTAssertEqual(t[0, 2, 3, 3], 200 / 255, accuracy: 1e-6)
        p.channelOrder = .bgr
        let b = try p.apply(to: img, channels: 3, height: 4, width: 4)
        XCTAssertEqual(b[0, 0, 0, 0], (200 / 255 - 0.5) / 2, accuracy: 1e-6)
        XCTAssertEqual(b[0, 2, 1, 0], Float(11) / 255, accuracy: 1e-6)
    }

    func testGrayImagesFeedRGBModelsAndCropMismatchIsAnError() throws {
        let img = Image(width: 3, height: 3, channels: 1, pixels: [Float](repeating: 51, count: 9))
        let t = try Preprocessing().apply(to: img, channels: 3, height: 3, width: 3)
        XCTAssertEqual(t.scalars, [Float](repeating: 0.2, count: 27))
        var p = Preprocessing()
        p.crop = (2, 2)
        assertThrowsConvLensError(.invalidArgument, mentioning: "crop") { try p.apply(to: img, channels: 3, height: 3, width: 3) }
        p = Preprocessing()
        p.mean = [1, 2]
        assertThrowsConvLensError(.invalidArgument, mentioning: "mean") { try p.apply(to: img, channels: 3, height: 3, width: 3) }
    }
}
