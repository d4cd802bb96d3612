internal import SwiftProtobuf
import ConvLensCore
import Foundation

/// One image of a TensorBoard image summary: a PNG and its size.
public struct SummaryImage: Sendable, Equatable {
    /// The summary tag (TensorBoard's dashboard groups tags by their first `/` component).
    public var tag: String
    public var width: Int
    public var height: Int
    /// 1 gray, 3 RGB.
    public var colorspace: Int
    /// The PNG bytes.
    public var png: Data

    public init(tag: String, width: Int, height: Int, colorspace: Int, png: Data) {
        self.tag = tag
        self.width = width
        self.height = height
        self.colorspace = colorspace
        self.png = png
    }
}

/// One event read back from an event file.
public struct SummaryEvent: Sendable, Equatable {
    public var wallTime: Double
    public var step: Int64
    /// Set on the file-version event (`brain.Event:2`).
    public var fileVersion: String?
    /// The image values of the event's summary.
    public var images: [SummaryImage]
}

/// A TensorBoard event file (`events.out.tfevents.<time>.<host>`) built in memory and written
/// atomically: TFRecord framing (``TFRecord``) of `Event` protos, the first one the
/// `brain.Event:2` file version, the others summaries of `Summary.Image` values (PNG).
///
/// ```
/// var file = EventFile(wallTime: Date().timeIntervalSince1970)
/// file.add(images: [SummaryImage(tag: "conv1/grid", width: w, height: h, colorspace: 3, png: png)], step: 0, wallTime: t)
/// let path = try file.write(toLogdir: "runs/cat")
/// ```
public struct EventFile: Sendable {
    /// The version string TensorBoard expects in the first record.
    public static let fileVersion = "brain.Event:2"

    /// The framed records so far.
    public private(set) var data: Data
    /// The wall time of the file-version event (seconds since 1970); it also names the file.
    public let wallTime: Double

    /// A file holding only the file-version event.
    public init(wallTime: Double) {
        self.wallTime = wallTime
        var event = Tensorboard_Event()
        event.wallTime = wallTime
        event.fileVersion = EventFile.fileVersion
        data = TFRecord.frame(try! event.serializedData())
    }

    /// Appends one event whose summary holds `images`.
    public mutating func add(images: [SummaryImage], step: Int64, wallTime: Double) {
        var summary = Tensorboard_Summary()
        summary.value = images.map { im in
            var v = Tensorboard_Summary.Value()
            v.tag = im.tag
            var image = Tensorboard_Summary.Image()
            image.height = Int32(clamping: im.height)
            image.width = Int32(clamping: im.width)
            image.colorspace = Int32(clamping: im.colorspace)
            image.encodedImageString = im.png
            v.image = image
            return v
        }
        var event = Tensorboard_Event()
        event.wallTime = wallTime
        event.step = step
        event.summary = summary
        // Serializing a message built from plain values cannot fail.
        data.append(TFRecord.frame(try! event.serializedData()))
    }

    /// `events.out.tfevents.<10-digit seconds>.<host>`; characters of `host` other than letters,
    /// digits, `-`, `_` and `.` become `_`.
    public static func fileName(wallTime: Double, host: String) -> String {
        let safe = String(host.unicodeScalars.map { c -> Character in
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_" || c == "."
            return ok ? Character(c) : "_"
        })
        return String(format: "events.out.tfevents.%010lld.", Int64(wallTime)) + (safe.isEmpty ? "localhost" : safe)
    }

    /// Writes the file into `logdir` (created if missing) under ``fileName(wallTime:host:)``; if a
    /// file of that name exists (two runs in the same second), the time in the name is advanced a
    /// second at a time until the name is free, so files stay in run order and none is replaced.
    /// - Returns: the path written.
    /// - Throws: ``ConvLensError`` `unwritableOutput` (e.g. `logdir` is a file).
    public func write(toLogdir logdir: String, host: String = ProcessInfo.processInfo.hostName) throws -> String {
        try AtomicFile.makeDirectory(logdir)
        var t = wallTime
        var path = logdir + "/" + EventFile.fileName(wallTime: t, host: host)
        while FileManager.default.fileExists(atPath: path) {
            t += 1
            path = logdir + "/" + EventFile.fileName(wallTime: t, host: host)
        }
        try AtomicFile.write(data, to: path)
        return path
    }

    /// Reads an event file back: checks every record's CRCs and decodes the events.
    /// - Throws: ``ConvLensError`` `malformedFile` for bad framing, a CRC mismatch or an
    ///   undecodable event.
    public static func read(_ data: Data, file: String = "<events>") throws -> [SummaryEvent] {
        try TFRecord.payloads(in: data, file: file).enumerated().map { n, payload in
            let e: Tensorboard_Event
            do { e = try Tensorboard_Event(serializedBytes: payload) } catch {
                throw ConvLensError(.malformedFile, file: file, "record \(n) is not an Event protocol buffer")
            }
            var fileVersion: String? = nil
            var images: [SummaryImage] = []
            switch e.what {
            case .fileVersion(let v): fileVersion = v
            case .summary(let s):
                for v in s.value {
                    if case .image(let im) = v.value {
                        images.append(SummaryImage(tag: v.tag, width: Int(im.width), height: Int(im.height),
                                                   colorspace: Int(im.colorspace), png: im.encodedImageString))
                    }
                }
            case nil: break
            }
            return SummaryEvent(wallTime: e.wallTime, step: e.step, fileVersion: fileVersion, images: images)
        }
    }
}
