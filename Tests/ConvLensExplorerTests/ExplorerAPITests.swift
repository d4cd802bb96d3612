import ConvLens
import Foundation
import TestSupport
import XCTest
@testable import ConvLensExplorer

/// The explorer's API against a real server on port 0 (bundled MobileNetV2), spoken to over a
/// plain socket so that Host and Origin can be set as an attacker's page would.
final class ExplorerAPITests: XCTestCase {
    /// One server for the class: loading the model and the first traces is the slow part.
    nonisolated(unsafe) static var server: (task: Task<Void, Error>, port: Int, explorer: Explorer, out: String)?

    override class func setUp() {
        super.setUp()
        let out = NSTemporaryDirectory() + "convlens-explorer-tests-\(getpid())"
        // A scan of layer #30 over the three bundled photographs, for the top-K pane.
        let photos = out + "/photos", scanFolder = out + "/scan"
        try! FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        for p in BundledResources.sampleImages {
            try! FileManager.default.copyItem(atPath: try! BundledResources.path(p), toPath: photos + "/" + (p as NSString).lastPathComponent)
        }
        let model = try! Model.load(nil)
        try! model.scan(ScanRequest(layers: ["#30"]), source: try! ScanSource.open(photos), to: scanFolder, parameters: [:])
        var c = ExplorerConfiguration()
        c.scanFolder = scanFolder
        c.outputFolder = out
        c.uploadLimit = 1 << 20
        c.uploadCount = 2
        let explorer = try! Explorer(configuration: c)
        let ready = DispatchSemaphore(value: 0)
        let port = PortBox()
        let task = Task {
            try await explorer.run(signals: false) { url in
                port.set(Int(url.split(separator: ":").last!.dropLast())!)
                ready.signal()
            }
        }
        XCTAssertEqual(ready.wait(timeout: .now() + 120), .success, "the server did not start")
        server = (task, port.get(), explorer, out)
    }

    override class func tearDown() {
        if let s = server {
            s.task.cancel()
            try? FileManager.default.removeItem(atPath: s.out)
        }
        server = nil
        super.tearDown()
    }

    var port: Int { Self.server!.port }
    var model: Model { Self.server!.explorer.engine.model }

    // MARK: Documents

    func testModelDocumentDescribesEveryLayerAndItsGrid() throws {
        let r = try HTTP.get(port, "/api/model")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("content-type"), "application/json")
        let doc = try JSONDecoder().decode(ModelDocument.self, from: r.body)
        XCTAssertTrue(doc.bundled)
        XCTAssertEqual(doc.input, [1, 3, 224, 224])
        XCTAssertEqual(doc.layers.count, model.graph.layers.count)
        XCTAssertEqual(doc.rules, ["deconvnet", "guided", "backprop"])
        // #0 is the first convolution: 32 maps of 112 × 112, 6 columns of 114-pixel cells.
        let first = doc.layers[0]
        XCTAssertEqual(first.op, "Conv")
        XCTAssertEqual(first.shape, [1, 32, 112, 112])
        XCTAssertTrue(first.hasFilters)
        XCTAssertEqual(first.grid, GridDocument(columns: 6, rows: 6, zoom: 1, padding: 1, cellWidth: 114, cellHeight: 114, width: 684, height: 684))
        XCTAssertEqual(first.receptiveField?.size, [3, 3])
        // The grid document is the layout of the PNG the API serves.
        let png = try HTTP.get(port, "/api/activations.png?image=b0&layer=%230")
        let image = try Image.decode(png.body)
        XCTAssertEqual([image.width, image.height], [first.grid.width, first.grid.height])
    }

    func testImagesListsTheBundledPhotographs() throws {
        let r = try HTTP.get(port, "/api/images")
        let images = try JSONDecoder().decode([ImageDocument].self, from: r.body)
        XCTAssertEqual(Array(images.prefix(3)).map(\.id), ["b0", "b1", "b2"])
        XCTAssertEqual(images[0].name, "chelsea.png")
    }

    func testPredictionsAreTheCLIClassification() throws {
        let r = try HTTP.get(port, "/api/predictions?image=b0&top=3")
        let doc = try JSONDecoder().decode(PredictionsDocument.self, from: r.body)
        XCTAssertEqual(doc.predictions.map(\.index), [285, 282, 281])
        let expected = try model.classify(try model.run(try model.input(from: nil)), top: 3)
        XCTAssertEqual(doc.predictions, expected)
    }

    // MARK: Views equal the library's (and so the CLI's) outputs

    func testActivationGridEqualsTheGridTheCLIWrites() throws {
        let dir = try temporaryDirectory(self)
        let input = try model.input(from: nil)
        var grid = ActivationGridRequest()
        grid.tiles = ActivationTiles(scale: .tile, boost: 0.5, gamma: 2, colormap: .viridis)
        try model.writeActivations(["#20"], trace: try model.run(input), input: input, to: dir, parameters: [:], grid: grid)
        let written = try Image.read(dir + "/" + fileStem(forLayer: try model.graph.layer(matching: "#20").name) + "-grid.png")
        let r = try HTTP.get(port, "/api/activations.png?image=b0&layer=%2320&scale=tile&boost=0.5&gamma=2&colormap=viridis")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("content-type"), "image/png")
        XCTAssertNotNil(r.header("server-timing"))
        XCTAssertTrue(try Image.decode(r.body) == written)   // (not XCTAssertEqual: it would print every pixel)
    }

    func testProjectionEqualsTheSessionProjectionBitForBit() async throws {
        let session = try await Session()
        var request = ProjectionRequest(layer: "#40")
        request.channels = [5]
        request.rules = [.guided]
        request.at = (3, 4)
        let expected = try await session.project(request)[0].tensor
        let r = try HTTP.get(port, "/api/projection.npy?image=b0&layer=%2340&unit=5&rule=guided&y=3&x=4")
        XCTAssertEqual(r.status, 200)
        let got = try NPY.decode(r.body)
        XCTAssertEqual(got.shape, expected.shape)
        XCTAssertEqual(got.scalars, expected.scalars)
        // The PNG is that tensor in the display mode asked for.
        let png = try HTTP.get(port, "/api/projection.png?image=b0&layer=%2340&unit=5&rule=guided&y=3&x=4&display=heat")
        XCTAssertTrue(try Image.decode(png.body) == Image.decode(Display(mode: .heat).render(expected).pngData()))
    }

    func testSignalAtALowerLayerHasThatLayersGridAndMustComeFromAbove() throws {
        let doc = try JSONDecoder().decode(ModelDocument.self, from: try HTTP.get(port, "/api/model").body)
        let r = try HTTP.get(port, "/api/signal.png?image=b0&layer=%2310&from=%2340&unit=5&rule=backprop")
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let image = try Image.decode(r.body)
        XCTAssertEqual([image.width, image.height], [doc.layers[10].grid.width, doc.layers[10].grid.height])
        let wrong = try HTTP.get(port, "/api/signal.png?image=b0&layer=%2340&from=%2310&unit=5")
        XCTAssertEqual(wrong.status, 400)
        let message = try wrong.error()
        XCTAssertTrue(message.contains("comes after"), message)
        XCTAssertTrue(message.hasPrefix("layer: "), message)
        // A unit the `from` layer does not have is an error about `unit` on `from`.
        let unit = try HTTP.get(port, "/api/signal.png?image=b0&layer=%2310&from=%2340&unit=100000")
        XCTAssertEqual(unit.status, 400)
        let unitMessage = try unit.error()
        XCTAssertTrue(unitMessage.hasPrefix("unit: "), unitMessage)
    }

    func testTopKPaneIsTheMontageTopKWrites() throws {
        let doc = try JSONDecoder().decode(ModelDocument.self, from: try HTTP.get(port, "/api/model").body)
        let name = try model.graph.layer(matching: "#30").name
        XCTAssertEqual(doc.scannedLayers, [name])
        let r = try HTTP.get(port, "/api/topk.png?layer=%2330&unit=2&rule=guided&display=norm")
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let dir = try temporaryDirectory(self)
        var request = TopKRequest(layer: "#30")
        request.channels = [2]
        request.rules = [.guided]
        request.display = Display(mode: .norm)
        let (manifest, _) = try model.writeTopK(request, scan: try ScanResult.read(directory: Self.server!.out + "/scan"), to: dir, parameters: [:])
        let montage = try XCTUnwrap(manifest.outputs.first { $0.view == "montage" }?.png)
        XCTAssertTrue(try Image.decode(r.body) == Image.read(dir + "/" + montage))
        let unscanned = try HTTP.get(port, "/api/topk.png?layer=%2331&unit=2")
        XCTAssertEqual(unscanned.status, 404)
        let message = try unscanned.error()
        XCTAssertTrue(message.contains("was not scanned"), message)
    }

    func testUnitAndFilterViews() throws {
        let unit = try Image.decode(try HTTP.get(port, "/api/unit.png?image=b0&layer=%230&unit=3").body)
        XCTAssertEqual([unit.width, unit.height], [224, 224])   // 112 × 112 zoomed 2× to reach 192
        let filters = try HTTP.get(port, "/api/filters.png?layer=%230&unit=3")
        XCTAssertEqual(filters.status, 200)
        XCTAssertEqual(try Image.decode(filters.body).width, 3 * 32 + 2)   // one RGB 3 × 3 tile zoomed to ≥ 96 px
        let relu = try HTTP.get(port, "/api/filters.png?layer=%231&unit=3")
        XCTAssertEqual(relu.status, 400)
        let message = try relu.error()
        XCTAssertTrue(message.hasPrefix("layer: "), message)
    }

    // MARK: Uploads

    func testUploadIsDecodedLikeTheCLIAndBadFilesAreRefusedWithOneLine() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try BundledResources.path(BundledResources.defaultImage)))
        let r = try HTTP.request(port, "POST", "/api/images?name=my%20cat.png", body: bytes)
        XCTAssertEqual(r.status, 201, String(decoding: r.body, as: UTF8.self))
        let doc = try JSONDecoder().decode(ImageDocument.self, from: r.body)
        XCTAssertEqual(doc.source, "upload")
        XCTAssertEqual(doc.name, "my cat.png")
        let a = try HTTP.get(port, "/api/activations.npy?image=\(doc.id)&layer=%2330").body
        let b = try HTTP.get(port, "/api/activations.npy?image=b0&layer=%2330").body
        XCTAssertEqual(a, b)

        let bad = try HTTP.request(port, "POST", "/api/images?name=x.png", body: Data("not an image".utf8))
        XCTAssertEqual(bad.status, 400)
        XCTAssertEqual(try bad.error(), "x.png: not a PNG or JPEG file")
        var truncated = bytes.prefix(4000)
        truncated.append(contentsOf: [UInt8](repeating: 0, count: 10))
        let cut = try HTTP.request(port, "POST", "/api/images?name=cut.png", body: Data(truncated))
        XCTAssertEqual(cut.status, 400)
        let message = try cut.error()
        XCTAssertTrue(message.hasPrefix("cut.png: "), message)
        XCTAssertFalse(message.contains("\n"))
        let big = try HTTP.request(port, "POST", "/api/images?name=big.png", body: Data(count: (1 << 20) + 1))
        XCTAssertEqual(big.status, 413)
        // Without Content-Length (chunked), the body is cut at the limit as it arrives.
        let chunked = try HTTP.request(port, "POST", "/api/images?name=big.png", body: Data(count: (1 << 20) + 1), chunked: true)
        XCTAssertEqual(chunked.status, 413)
        XCTAssertEqual(try chunked.error(), "the upload is larger than 1048576 bytes")
        // A name is shown, never used as a path.
        let sneaky = try HTTP.request(port, "POST", "/api/images?name=..%2F..%2Fetc%2Fpasswd", body: bytes)
        XCTAssertEqual(try JSONDecoder().decode(ImageDocument.self, from: sneaky.body).name, "passwd")
        // Only the last two uploads are kept (uploadCount = 2).
        let images = try JSONDecoder().decode([ImageDocument].self, from: try HTTP.get(port, "/api/images").body)
        XCTAssertLessThanOrEqual(images.filter { $0.source == "upload" }.count, 2)
    }

    // MARK: Security and errors

    func testForeignHostOrOriginIsRefused() throws {
        XCTAssertEqual(try HTTP.get(port, "/api/model", headers: ["Host": "attacker.example:\(port)"]).status, 403)
        XCTAssertEqual(try HTTP.get(port, "/", headers: ["Host": "127.0.0.1:1"]).status, 403)
        XCTAssertEqual(try HTTP.get(port, "/api/model", headers: ["Origin": "http://attacker.example"]).status, 403)
        XCTAssertEqual(try HTTP.request(port, "POST", "/api/save?view=filters&layer=%230", headers: ["Origin": "https://attacker.example"]).status, 403)
        XCTAssertEqual(try HTTP.get(port, "/api/model", headers: ["Origin": "null"]).status, 403)
        XCTAssertEqual(try HTTP.get(port, "/api/model", headers: ["Host": ""]).status, 403)
        XCTAssertEqual(try HTTP.get(port, "/api/model", headers: ["Host": "127.0.0.1"]).status, 403)   // the port is part of it
        XCTAssertEqual(try HTTP.get(port, "/api/model", headers: ["Host": "LOCALHOST:\(port)"]).status, 200)
        XCTAssertEqual(try HTTP.get(port, "/api/model", headers: ["Host": "[::1]:\(port)"]).status, 200)
        XCTAssertEqual(try HTTP.get(port, "/api/model", headers: ["Host": "localhost:\(port)", "Origin": "http://localhost:\(port)"]).status, 200)
        let page = try HTTP.get(port, "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(String(decoding: page.body, as: UTF8.self).contains("<script src=\"/app.js\">"))
        XCTAssertEqual(try HTTP.get(port, "/app.js").header("content-type"), "text/javascript; charset=utf-8")
    }

    func testBadParametersGetOneLineNamingTheParameter() throws {
        let cases: [(String, Int, String)] = [
            ("/api/activations.png?image=b0&layer=%2320&boost=nan", 400, "parameter 'boost': 'nan' is not a number in 0.0...1.0"),
            ("/api/activations.png?image=b0&layer=%2320&gamma=1e400", 400, "parameter 'gamma': '1e400' is not a number in 0.01...100.0"),
            ("/api/projection.png?image=b0&layer=%2320&unit=99999", 400, "out of range"),
            ("/api/projection.png?image=b0&layer=%2320&unit=-1", 400, "parameter 'unit'"),
            ("/api/projection.png?image=b0&layer=%2320&unit=1&y=3", 400, "parameter 'x': y and x go together"),
            ("/api/projection.png?image=b0&layer=%2320&unit=1&rule=magic", 400, "parameter 'rule': 'magic' is not one of deconvnet, guided, backprop"),
            ("/api/projection.png?image=b0&layer=%2320", 400, "parameter 'unit': is required"),
            ("/api/activations.png?image=b0&layer=nope", 404, "no layer named 'nope'"),
            ("/api/activations.png?image=..%2F..%2Fetc%2Fpasswd&layer=%2320", 404, "no image '../../etc/passwd'"),
            ("/api/activations.png?image=b0&layer=" + String(repeating: "x", count: 5000), 400, "parameter 'layer': is longer than 4096 bytes"),
            ("/api/activations.png?image=b%0Ax&layer=%2320", 400, "parameter 'image': contains control characters"),
            ("/api/activations.png?image=b0&layer=%2320&lane=grid&client=a%20b", 400, "parameter 'client': must be 1 to 64 letters"),
            ("/api/projection.png?image=b0&layer=%2320&unit=1&y=500&x=0", 400, "y/x: "),
            ("/api/projection.png?image=b0&layer=%2320&unit=99999", 400, "unit: "),
        ]
        for (path, status, message) in cases {
            let r = try HTTP.get(port, path)
            XCTAssertEqual(r.status, status, path)
            let e = try r.error()
            XCTAssertTrue(e.contains(message), "\(path): \(e)")
            XCTAssertFalse(e.contains("\n"))
            XCTAssertLessThan(e.count, 1000)
        }
    }

    // MARK: Save and command

    func testSaveWritesWhatTheCommandWouldAndNamesIt() throws {
        let r = try HTTP.request(port, "POST", "/api/save?view=projection&image=b1&layer=%2330&unit=7&rule=deconvnet&display=gray")
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let doc = try JSONDecoder().decode(CommandDocument.self, from: r.body)
        let folder = try XCTUnwrap(doc.folder)
        XCTAssertTrue(folder.hasPrefix(Self.server!.out + "/"))
        XCTAssertTrue(doc.files?.contains("manifest.json") ?? false)
        let stem = fileStem(forLayer: try model.graph.layer(matching: "#30").name)
        let arrays = doc.files?.filter { $0.hasSuffix(".npy") } ?? []
        XCTAssertEqual(arrays.count, 1)
        let array = try XCTUnwrap(arrays.first)
        XCTAssertTrue(array.hasPrefix("\(stem)_c7_y") && array.hasSuffix("_deconvnet.npy"), array)   // the argmax's position
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json"))) as! [String: Any]
        XCTAssertEqual(manifest["command"] as? String, "project")
        let image = try BundledResources.path("images/coffee.png")
        XCTAssertEqual(doc.command, "convlens project --image \(image) --layer \(try model.graph.layer(matching: "#30").name) --channel 7 --rule deconvnet --display gray --out \(folder)")
        // The saved array is the API's.
        let saved = try NPY.read(folder + "/" + array)
        let served = try NPY.decode(try HTTP.get(port, "/api/projection.npy?image=b1&layer=%2330&unit=7").body)
        XCTAssertEqual(saved.scalars, served.scalars)

        let command = try HTTP.get(port, "/api/command?view=activations&image=b0&layer=%2330&unit=7&scale=tile&boost=0.5")
        XCTAssertEqual(try JSONDecoder().decode(CommandDocument.self, from: command.body).command,
                       "convlens activations --layer \(try model.graph.layer(matching: "#30").name) --scale tile --colormap gray --boost 0.5 --out out-\(stem)-c7")
    }

    func testShellQuoting() {
        XCTAssertEqual(ExplorerEngine.shellQuoted("/a/b.png"), "/a/b.png")
        XCTAssertEqual(ExplorerEngine.shellQuoted("my cat's.png"), "'my cat'\\''s.png'")
        XCTAssertEqual(ExplorerEngine.shellQuoted(""), "''")
    }

    // MARK: Latest wins

    func testANewerRequestOfTheSameLaneSupersedesAWaitingOne() {
        let lanes = Lanes()
        let first = lanes.enter("c/back"), other = lanes.enter("c/grid")
        XCTAssertTrue(lanes.isLatest(first))
        let second = lanes.enter("c/back")
        XCTAssertFalse(lanes.isLatest(first))
        XCTAssertTrue(lanes.isLatest(second))
        XCTAssertTrue(lanes.isLatest(other))
        XCTAssertTrue(lanes.isLatest(lanes.enter(nil)))
        XCTAssertTrue(lanes.admit(limit: 1))
        XCTAssertFalse(lanes.admit(limit: 1))
        lanes.leave()
        XCTAssertTrue(lanes.admit(limit: 1))
    }
}

/// A minimal HTTP/1.1 client over a POSIX socket (`Connection: close`), so tests choose every header.
enum HTTP {
    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        func header(_ name: String) -> String? { headers[name.lowercased()] }
        func error() throws -> String {
            try XCTUnwrap((try JSONSerialization.jsonObject(with: body) as? [String: Any])?["error"] as? String)
        }
    }

    static func get(_ port: Int, _ path: String, headers: [String: String] = [:]) throws -> Reply {
        try request(port, "GET", path, headers: headers)
    }

    static func request(_ port: Int, _ method: String, _ path: String, headers: [String: String] = [:], body: Data = Data(),
                        chunked: Bool = false) throws -> Reply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { throw POSIXError(.ECONNREFUSED) }
        var h = ["Host": "127.0.0.1:\(port)", "Connection": "close"]
        h[chunked ? "Transfer-Encoding" : "Content-Length"] = chunked ? "chunked" : "\(body.count)"
        h.merge(headers) { _, new in new }
        var text = "\(method) \(path) HTTP/1.1\r\n"
        for (k, v) in h.sorted(by: { $0.key < $1.key }) where !(k == "Host" && v.isEmpty) { text += "\(k): \(v)\r\n" }
        var out = Data((text + "\r\n").utf8)
        if chunked {
            for start in stride(from: 0, to: body.count, by: 65536) {
                let piece = body[start..<min(body.count, start + 65536)]
                out.append(Data((String(piece.count, radix: 16) + "\r\n").utf8))
                out.append(piece)
                out.append(Data("\r\n".utf8))
            }
            out.append(Data("0\r\n\r\n".utf8))
        } else {
            out.append(body)
        }
        try out.withUnsafeBytes { p in
            var sent = 0
            while sent < p.count {
                let n = send(fd, p.baseAddress! + sent, p.count - sent, Int32(MSG_NOSIGNAL))
                if n <= 0 { break }   // the server may answer (413) before reading everything
                sent += n
            }
        }
        shutdown(fd, Int32(SHUT_WR))
        var reply = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            reply.append(contentsOf: buffer[0..<n])
        }
        guard let end = reply.range(of: Data("\r\n\r\n".utf8)) else { throw POSIXError(.EBADMSG) }
        let head = String(decoding: reply[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(head[0].split(separator: " ")[1])!
        var fields: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var payload = Data(reply[end.upperBound...])
        if fields["transfer-encoding"] == "chunked" { payload = dechunk(payload) }
        return Reply(status: status, headers: fields, body: payload)
    }

    static func dechunk(_ data: Data) -> Data {
        var out = Data(), i = data.startIndex
        while let lineEnd = data[i...].range(of: Data("\r\n".utf8)) {
            guard let size = Int(String(decoding: data[i..<lineEnd.lowerBound], as: UTF8.self), radix: 16), size > 0 else { break }
            out.append(data[lineEnd.upperBound..<(lineEnd.upperBound + size)])
            i = lineEnd.upperBound + size + 2
        }
        return out
    }
}
