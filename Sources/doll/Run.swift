import ArgumentParser
import DollLua
import DollTensor
import DollWorkbench
import Foundation

/// `doll run script.lua`: runs a Lua script, or a notebook cell by cell under headers.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Lua script, or a percent-format notebook cell by cell.",
        discussion:
            "A file with `-- %%` cell markers runs as a notebook: each code cell prints under a header, and an error names the cell and line and stops the run (unless --keep-going)."
    )

    @OptionGroup var options: NotebookOptions

    @Argument(help: "The Lua script or notebook to run.")
    var script: String

    @Argument(parsing: .allUnrecognized, help: "Arguments for the script (available as the global `arg`).")
    var arguments: [String] = []

    func run() throws {
        let lua = try Workbench.makeLuaState()
        if let seed = options.seed { lua.seed = seed }
        lua.resumeTraining = options.resumeTraining
        lua.setArguments(script: script, arguments)
        guard let data = FileManager.default.contents(atPath: script) else {
            var isDir: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: script, isDirectory: &isDir)
            throw ValidationError(
                !exists
                    ? "no such file: '\(script)'"
                    : isDir.boolValue
                        ? "'\(script)' is a folder, not a script" : "cannot read '\(script)' (permission denied?)")
        }
        // Lua reads any bytes; only a notebook (cells, report) needs UTF-8 text.
        let text = String(data: data, encoding: .utf8)
        guard let text, Notebook.isNotebook(text) else {
            if text == nil, Notebook.isNotebook(String(decoding: data, as: UTF8.self)) {
                throw ValidationError("'\(script)' looks like a notebook but is not UTF-8 text; save it as UTF-8")
            }
            guard options.cells == nil else {
                throw ValidationError("--cells needs a notebook (a file with `-- %%` cell markers)")
            }
            do { try lua.runFile(script) } catch let e as LuaRunError {
                lua.flushOutput()
                FileHandle.standardError.write(Data("doll: \(e.traceback ?? e.message)\n".utf8))
                throw ExitCode(1)
            }
            return
        }
        let nb = Notebook(path: script, text: text)
        let selection = try options.cells.map {
            try Notebook.parseSelection($0, count: nb.cells.filter { $0.kind == .code }.count)
        }
        let start = Date()
        let runs = NotebookRunner(lua: lua).run(
            nb, selection: selection, keepGoing: options.keepGoing,
            willRun: { cell in
                let title = cell.title.isEmpty ? "" : " \(cell.title)"
                print(
                    "── [\(cell.number)] \(script):\(cell.firstLine)\(title) "
                        + String(repeating: "─", count: max(4, 60 - title.count - script.count)))
                lua.flushOutput()
            },
            didRun: { r in
                guard r.ran, let err = r.error else { return }
                lua.flushOutput()
                FileHandle.standardError.write(Data("doll: error in \(err)\n".utf8))
            })
        let ran = runs.filter { $0.ran && $0.cell.kind == .code }
        let failed = ran.filter { $0.error != nil }
        print(
            String(
                format: "── %d of %d code cells ran in %.1f s", ran.count, nb.codeCells.count,
                Date().timeIntervalSince(start))
                + (failed.isEmpty
                    ? ""
                    : "; \(failed.count) failed (cell \(failed.map { String($0.cell.number) }.joined(separator: ", ")))")
        )
        if !failed.isEmpty { throw ExitCode(1) }
    }
}

/// `doll export notebook.lua --html out.html [--md out.md]`: runs a notebook and writes a report.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a notebook and write a self-contained report (HTML with inline PNGs, and/or Markdown).")

    @Argument(help: "The notebook (.lua with `-- %%` cell markers).")
    var notebook: String

    @Option(help: "Write a self-contained HTML report here.")
    var html: String?

    @Option(help: "Write a Markdown report here (PNGs linked relative to it).")
    var md: String?

    @OptionGroup var options: NotebookOptions

    func validate() throws {
        guard html != nil || md != nil else { throw ValidationError("give --html PATH and/or --md PATH") }
    }

    func run() throws {
        let nb = try Notebook(contentsOf: notebook)
        let lua = try Workbench.makeLuaState()
        if let seed = options.seed { lua.seed = seed }
        lua.resumeTraining = options.resumeTraining
        lua.setArguments(script: notebook, [])
        let seedAtStart = lua.seed
        let selection = try options.cells.map {
            try Notebook.parseSelection($0, count: nb.cells.filter { $0.kind == .code }.count)
        }
        let start = Date()
        let total = nb.cells.filter { $0.kind == .code && (selection?.contains($0.number) ?? true) }.count
        var done = 0
        let runs = NotebookRunner(lua: lua).run(
            nb, selection: selection, keepGoing: options.keepGoing, capture: true,
            didRun: { r in
                guard r.ran, r.cell.kind == .code else { return }
                done += 1
                let status =
                    r.error.map { "FAILED: \($0)" } ?? String(format: "%.1f s, %d PNG", r.seconds, r.images.count)
                FileHandle.standardError.write(Data("[\(done)/\(total)] cell \(r.cell.number): \(status)\n".utf8))
            })
        let header = ReportHeader(
            title: NotebookReport.title(of: nb), notebookPath: notebook, date: start, seedAtStart: seedAtStart,
            seedsSet: lua.seedsSet, versions: Workbench.versions(lua: lua), seconds: Date().timeIntervalSince(start))
        let report = NotebookReport(notebook: nb, runs: runs, header: header)
        if let html {
            try Data(report.html().utf8).write(to: URL(fileURLWithPath: html), options: .atomic)
            print("wrote \(html)")
        }
        if let md {
            let dir = parentDirectory(md)
            try Data(report.markdown(relativeTo: dir.isEmpty ? "." : dir).utf8).write(
                to: URL(fileURLWithPath: md), options: .atomic)
            print("wrote \(md)")
        }
        if runs.contains(where: { $0.error != nil }) { throw ExitCode(1) }
    }
}

/// Options shared by `doll run` and `doll export`.
struct NotebookOptions: ParsableArguments {
    @Option(help: "Notebook cells to run, e.g. 2-4 or 1,3-5 (default: all).")
    var cells: String?

    @Flag(help: "After a failing notebook cell, run the next ones anyway.")
    var keepGoing = false

    @Option(help: "Default seed of doll's random functions (as doll.seed(n)).")
    var seed: UInt64?

    @Flag(
        help:
            "Every fit with a checkpoint directory continues from its last.safetensors (after a crash or a killed rank); --resume for short."
    )
    var resumeTraining = false
}
