import DollLua
import DollTensor
import Foundation
import Testing
@testable import DollWorkbench

/// Seeded fuzzing (issue 17): every reader and every Lua function and method, with wrong and
/// near-valid inputs, must end in an error message, never a signal. Bounded for CI; the README's
/// "Robustness" section gives the long runs and their counts (`DOLL_FUZZ_SCALE` multiplies the
/// counts here).
@Suite("Fuzzing", .serialized)
struct FuzzTests {
    static let scale = ProcessInfo.processInfo.environment["DOLL_FUZZ_SCALE"].flatMap { Int($0) } ?? 1

    /// `scripts/fuzz.lua` in the real binary under a 4 GB address-space limit: Lua calls of every
    /// `doll` function, method and metamethod, then mutated PNG, JPEG, safetensors, label CSV,
    /// CheXpert CSV, session manifest and session tensors files.
    @Test func luaSurfaceAndFileReaders() throws {
        guard let exe = dollExecutable() else { return }
        let dir = temporaryDirectory("fuzz")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let calls = 3000 * Self.scale, files = 150 * Self.scale
        let r = try runProcess(
            "/bin/sh",
            [
                "-c", "ulimit -v 4000000; exec \"$0\" run \"$1\" seed=7 calls=\(calls) files=\(files) dir=\"$2\"",
                exe, repositoryRoot + "/scripts/fuzz.lua", dir,
            ],
            environment: ["HOME": dir], directory: dir)
        let trace = (try? String(contentsOfFile: dir + "/trace", encoding: .utf8)) ?? ""
        let last = trace.split(separator: "\n").last.map(String.init) ?? "none"
        #expect(
            r.exited && r.status == 0 && r.output.contains("no signal"), "last case: \(last)\n\(r.output.suffix(4000))")
        #expect(r.output.contains("fuzz calls: \(calls) "), "\(r.output.suffix(2000))")
        for format in ["png", "jpeg", "safetensors", "labelcsv", "chexpert", "manifest", "sessiontensors"] {
            #expect(r.output.contains("\(format) \(files)"), "\(format): \(r.output.suffix(500))")
        }
    }

    /// Mutated notebooks (bytes, cell markers, line endings, NUL, BOM) parse and render to HTML
    /// and Markdown reports without trapping.
    @Test func notebookReader() throws {
        var seeds = [NotebookTests.sample]
        for name in ["quickstart.lua", "ig_tour.lua", "jsrt_finetune.lua"] {
            if let s = try? String(contentsOfFile: repositoryRoot + "/notebooks/" + name, encoding: .utf8) {
                seeds.append(s)
            }
        }
        let lua = try LuaState()
        var rng = RandomGenerator(seed: 11)
        let pieces = [
            "-- %%", "-- %% [markdown]", "\r", "\r\n", "\n", "\u{FEFF}", "\0", "```", "**", "<script>", "![a](b.png)",
            "# ", "-- ", String(repeating: "x", count: 10_000), "\u{200B}", "é", "\u{1F600}", "[", "](", "`",
        ]
        let count = 2000 * Self.scale
        for i in 0..<count {
            var bytes = Array(seeds[rng.nextInt(below: seeds.count)].utf8)
            for _ in 0..<(1 + rng.nextInt(below: 4)) {
                let at = bytes.isEmpty ? 0 : rng.nextInt(below: bytes.count)
                switch rng.nextInt(below: 4) {
                case 0: if !bytes.isEmpty { bytes[at] = UInt8(rng.nextInt(below: 256)) }
                case 1: bytes.insert(contentsOf: Array(pieces[rng.nextInt(below: pieces.count)].utf8), at: at)
                case 2: bytes.removeSubrange(at..<Swift.min(bytes.count, at + rng.nextInt(below: 200)))
                default: bytes = Array(bytes[at...]) + Array(bytes[..<at])
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let nb = Notebook(path: "/tmp/fuzz\(i).lua", text: text)
            let runs = NotebookRunner(lua: lua).run(nb, selection: [])
            let header = ReportHeader(
                title: NotebookReport.title(of: nb), notebookPath: "fuzz.lua", date: Date(timeIntervalSince1970: 0),
                seedAtStart: 0, seedsSet: [], versions: [], seconds: 0)
            let report = NotebookReport(notebook: nb, runs: runs, header: header)
            #expect(!report.html().isEmpty)
            _ = report.markdown(relativeTo: "/tmp")
        }
    }
}
