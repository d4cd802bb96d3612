import ConvLensCore

/// How an image becomes a model input: resize, centre crop, scale, mean/std normalization and
/// channel order (DESIGN.md §3 "Model metadata").
///
/// The steps, in order:
/// 1. resize so the shorter side is ``resize`` pixels (Pillow's bilinear, antialiased, bit-exact —
///    see ``Image/resized8(width:height:)``; the longer side is
///    `floor(resize · long / short)`, as torchvision's `Resize(int)`); without ``resize``, the
///    image is scaled so that it just covers the crop box;
/// 2. centre crop to ``crop`` (`height × width`; default: the model's input size), with the offset
///    rounded half-to-even as torchvision's `CenterCrop`;
/// 3. per channel `(pixel / scale − mean[c]) / std[c]`, with mean and std given in the model's
///    channel order;
/// 4. RGB or BGR channel order; gray images are replicated to 3 channels, colour images reduced to
///    luma for 1-channel models.
public struct Preprocessing: Sendable, Equatable, Codable {
    /// The channel order the model expects.
    public enum ChannelOrder: String, Sendable, Codable {
        case rgb = "RGB", bgr = "BGR"
    }

    /// Pixels (0…255) are divided by this first.
    public var scale: Float = 255
    /// Per-channel mean subtracted after scaling (one value, or one per channel).
    public var mean: [Float] = [0]
    /// Per-channel standard deviation divided by after subtracting the mean.
    public var std: [Float] = [1]
    /// Target length of the shorter side, in pixels; `nil` scales the image to cover the crop.
    public var resize: Int?
    /// Centre-crop size `(height, width)`; `nil` means the model's input size.
    public var crop: (height: Int, width: Int)? {
        get { cropHeight.flatMap { h in cropWidth.map { (h, $0) } } }
        set { cropHeight = newValue?.height; cropWidth = newValue?.width }
    }
    private var cropHeight: Int?
    private var cropWidth: Int?
    /// The model's channel order.
    public var channelOrder: ChannelOrder = .rgb

    public init() {}

    /// The largest resize or crop side accepted (16,384 px).
    public static let maximumSize = 16_384

    public static func == (a: Preprocessing, b: Preprocessing) -> Bool {
        a.scale == b.scale && a.mean == b.mean && a.std == b.std && a.resize == b.resize
            && a.cropHeight == b.cropHeight && a.cropWidth == b.cropWidth && a.channelOrder == b.channelOrder
    }

    private enum CodingKeys: String, CodingKey {
        case scale, mean, std, resize, cropHeight = "crop_height", cropWidth = "crop_width", channelOrder = "channel_order"
    }

    /// Turns an image into a `[1, C, H, W]` input tensor.
    /// - Parameters:
    ///   - image: the decoded image.
    ///   - channels: `C`, the model's input channels (1 or 3).
    ///   - height: `H`, the model's input height.
    ///   - width: `W`, the model's input width.
    ///   - file: names the image in errors.
    /// - Returns: a tensor of shape `[1, C, H, W]`.
    /// - Throws: ``ConvLensError`` (`invalidArgument`) when the crop does not fit the resized image
    ///   or does not match the model's input size, or mean/std have the wrong length.
    public func apply(to image: Image, channels: Int, height: Int, width: Int, file: String = "<image>") throws -> Tensor {
        guard channels == 1 || channels == 3 else {
            throw ConvLensError(.unsupportedFeature, file: file, "the model takes \(channels) input channels; images can feed 1 or 3 (use a .npy input)")
        }
        for (name, v) in [("mean", mean), ("std", std)] where v.count != 1 && v.count != channels {
            throw ConvLensError(.invalidArgument, file: name, "has \(v.count) values; the model has \(channels) input channels")
        }
        if std.contains(0) {
            throw ConvLensError(.invalidArgument, file: "std", "contains 0")
        }
        let cropH = cropHeight ?? height, cropW = cropWidth ?? width
        guard cropH == height, cropW == width else {
            throw ConvLensError(.invalidArgument, file: "crop", "\(cropH)×\(cropW) does not match the model's input size \(height)×\(width)")
        }
        var img = channels == 3 ? image.rgb() : image.gray()
        // 1. Resize.
        let (newW, newH): (Int, Int)
        // Without an explicit resize a square input behaves as Resize(input size); a non-square
        // one scales the image to just cover the crop box.
        let shorter = resize ?? (cropH == cropW ? cropH : nil)
        if let r = shorter {
            guard r > 0, r <= Preprocessing.maximumSize else {
                throw ConvLensError(.invalidArgument, file: "resize", "\(r) must be between 1 and \(Preprocessing.maximumSize)")
            }
            if img.width <= img.height {
                (newW, newH) = (r, Int(Double(r) * Double(img.height) / Double(img.width)))
            } else {
                (newW, newH) = (Int(Double(r) * Double(img.width) / Double(img.height)), r)
            }
        } else {
            let s = max(Double(cropW) / Double(img.width), Double(cropH) / Double(img.height))
            (newW, newH) = (max(cropW, Int((Double(img.width) * s).rounded())), max(cropH, Int((Double(img.height) * s).rounded())))
        }
        guard newW >= cropW, newH >= cropH, newW <= Preprocessing.maximumSize * 8, newH <= Preprocessing.maximumSize * 8,
              newW * newH <= Image.maximumPixelCount else {
            throw ConvLensError(.invalidArgument, file: "resize", "the image resized to \(newW)×\(newH) is smaller than the \(cropW)×\(cropH) crop")
        }
        img = img.resized8(width: newW, height: newH)
        // 2. Centre crop (torchvision rounds the offset half to even).
        let top = Int((Double(newH - cropH) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(newW - cropW) / 2).rounded(.toNearestOrEven))
        img = img.cropped(top: top, left: left, width: cropW, height: cropH)
        // 3–4. Normalize into NCHW, in the model's channel order.
        let plane = height * width
        return Tensor(shape: [1, channels, height, width]) { out in
            for c in 0..<channels {
                let src = channelOrder == .bgr && channels == 3 ? 2 - c : c
                let m = mean.count == 1 ? mean[0] : mean[c]
                let s = std.count == 1 ? std[0] : std[c]
                for p in 0..<plane {
                    out[c * plane + p] = (img.pixels[p * channels + src] / scale - m) / s
                }
            }
        }
    }
}
