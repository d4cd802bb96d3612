import Foundation
import XCTest

/// Keeps `Docs/CLI.md` in step with the tool: every option that `convlens <command> --help` lists
/// must be named in that command's entry of the reference (or in the shared option tables above
/// "## Commands"), and every command must have an entry.
final class CLIReferenceDriftTests: XCTestCase {
    /// Every subcommand `convlens --help` lists (so a new command cannot escape this test).
    func commands() throws -> [String] {
        let r = try runCLI(["--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let start = r.stdout.range(of: "SUBCOMMANDS:") else { XCTFail("`convlens --help` lists no SUBCOMMANDS"); return [] }
        // Each subcommand line starts with two spaces and the name; wrapped abstracts are indented deeper.
        return r.stdout[start.upperBound...].split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first,
                  name.first?.isLowercase == true, name.allSatisfy({ $0.isLetter || $0 == "-" }) else { return nil }
            return String(name)
        }
    }

    /// The reference: (text shared by every command, entry text per command).
    func reference() throws -> (shared: String, entries: [String: String]) {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("Docs/CLI.md"), encoding: .utf8)
        guard let split = text.range(of: "\n## Commands") else { XCTFail("Docs/CLI.md has no '## Commands' section"); return ("", [:]) }
        let shared = String(text[..<split.lowerBound])
        var entries: [String: String] = [:]
        var current: String?
        for line in text[split.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { current = nil; continue }
            if line.hasPrefix("- `convlens ") {
                let name = line.dropFirst("- `convlens ".count).prefix { $0 != " " && $0 != "`" }
                current = String(name)
            }
            if let current { entries[current, default: ""] += line + "\n" }
        }
        return (shared, entries)
    }

    /// The long option names `--help` lists for a command (`--help` and `--version` excepted).
    func helpOptions(_ command: String) throws -> [String] {
        let r = try runCLI([command, "--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var names: [String] = []
        var inOptions = false
        for line in r.stdout.split(separator: "\n") {
            if line.hasPrefix("OPTIONS:") || line.hasPrefix("ARGUMENTS:") { inOptions = true; continue }
            // Option lines are indented by two spaces; wrapped help text by more.
            guard inOptions, line.hasPrefix("  "), !line.hasPrefix("   ") else { continue }
            let head = line.drop { $0 == " " }
            guard head.hasPrefix("-") else { continue }
            // "-l, --layer <layer>", "--crop, --center-crop <center-crop>", "--relu/--no-relu": every long name.
            for word in head.split(whereSeparator: { $0 == " " || $0 == "/" }) {
                let w = word.trimmingCharacters(in: CharacterSet(charactersIn: ","))
                if w.hasPrefix("--"), w != "--help", w != "--version" { names.append(w) }
                if !w.hasPrefix("-") { break }
            }
        }
        return names
    }

    func testEveryCommandOptionIsDocumented() throws {
        let (shared, entries) = try reference()
        var missing: [String] = []
        let commands = try commands()
        XCTAssertEqual(commands.count, Set(commands).count)
        XCTAssertTrue(["inspect", "project", "scan", "scan-merge", "topk", "explore", "bench"].allSatisfy(commands.contains), "\(commands)")
        for command in commands {
            guard let entry = entries[command] else { missing.append("no entry for `convlens \(command)`"); continue }
            let options = try helpOptions(command)
            XCTAssertFalse(options.isEmpty || command == "inspect" && options.count < 2, "no options parsed from `convlens \(command) --help`")
            for o in options where !Self.mentions(entry, o) && !Self.mentions(shared, o) {
                missing.append("convlens \(command) \(o)")
            }
        }
        XCTAssertTrue(missing.isEmpty, "Docs/CLI.md does not document: \(missing.joined(separator: "; "))")
    }

    func testEveryDocumentedCommandExists() throws {
        let (_, entries) = try reference()
        let r = try runCLI(["--help"])
        for command in entries.keys {
            XCTAssertTrue(r.stdout.contains("  \(command) ") || r.stdout.contains("  \(command)\n"),
                          "Docs/CLI.md documents `convlens \(command)`, which `convlens --help` does not list")
        }
    }

    /// Whether `text` names the option as a whole word (`--crop` is not found in `--center-crop`).
    static func mentions(_ text: String, _ option: String) -> Bool {
        var search = text.startIndex..<text.endIndex
        while let r = text.range(of: option, range: search) {
            let before = r.lowerBound == text.startIndex ? " " : text[text.index(before: r.lowerBound)]
            let after = r.upperBound == text.endIndex ? " " : text[r.upperBound]
            let word: (Character) -> Bool = { $0.isLetter || $0.isNumber || $0 == "-" }
            if !word(before) && !word(after) { return true }
            search = r.upperBound..<text.endIndex
        }
        return false
    }
}
