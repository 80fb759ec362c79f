import DollLua
import DollPipeline
import Foundation
import Testing
@testable import DollWorkbench

/// Serialized: output capture redirects the process's file descriptors 1 and 2, so two cells
/// captured at once would read each other's output.
@Suite("Notebooks", .serialized)
struct NotebookTests {
    static let sample = """
        -- a preamble comment
        x0 = 1

        -- %% [markdown]
        -- # Title here
        -- Some *text* <b>raw</b>.

        -- %% first cell
        a = 40 + x0
        print("a is", a)

        -- %%
        local y = a + 1
        print("y", y)
        error("boom at line 15")

        -- %% third
        print("third sees a =", a)
        doll.png.write(doll.ones{1, 4, 4}, OUT .. "/white.png")
        """

    /// CRLF, lone-CR and BOM-prefixed notebooks are notebooks with the same cells and line
    /// numbers as the LF original (issue 17, item 10).
    @Test func everyLineEndingParsesAlike() {
        let lf = Notebook(path: "nb.lua", text: Self.sample)
        for (name, text) in [
            ("CRLF", Self.sample.replacingOccurrences(of: "\n", with: "\r\n")),
            ("CR", Self.sample.replacingOccurrences(of: "\n", with: "\r")),
            ("BOM", "\u{FEFF}" + Self.sample),
        ] {
            #expect(Notebook.isNotebook(text), "\(name)")
            let nb = Notebook(path: "nb.lua", text: text)
            #expect(nb.cells.map(\.firstLine) == lf.cells.map(\.firstLine), "\(name)")
            #expect(nb.cells.map(\.source) == lf.cells.map(\.source), "\(name)")
            #expect(nb.cells.map(\.kind) == lf.cells.map(\.kind), "\(name)")
        }
    }

    @Test func parsesCellsLinesAndTitles() {
        let nb = Notebook(path: "nb.lua", text: Self.sample)
        #expect(nb.cells.count == 5)
        #expect(nb.cells.map(\.kind) == [.code, .markdown, .code, .code, .code])
        #expect(nb.cells[0].firstLine == 1 && nb.cells[0].source.contains("x0 = 1"))
        #expect(nb.cells[1].source == "# Title here\nSome *text* <b>raw</b>.")
        #expect(nb.cells[2].title == "first cell" && nb.cells[2].firstLine == 9)
        #expect(nb.cells[3].firstLine == 13)
        #expect(nb.cells[4].title == "third")
        #expect(Notebook.isNotebook(Self.sample))
        #expect(!Notebook.isNotebook("print(1)\n-- a comment %% not a marker\n"))
        #expect(NotebookReport.title(of: nb) == "Title here")
    }

    @Test func cellSelections() throws {
        #expect(try Notebook.parseSelection("2-4", count: 5) == [2, 3, 4])
        #expect(try Notebook.parseSelection("1,3-", count: 5) == [1, 3, 4, 5])
        #expect(try Notebook.parseSelection("5", count: 5) == [5])
        for bad in ["0", "6", "4-2", "x", "1-2-3", ""] {
            #expect(throws: WorkbenchError.self) { try Notebook.parseSelection(bad, count: 5) }
        }
    }

    @Test func runnerStopsAtTheFailingCellNamingItsLine() throws {
        let dir = temporaryDirectory("nb")
        let lua = try LuaState()
        try lua.run("OUT = '\(dir)'")
        let nb = Notebook(path: dir + "/nb.lua", text: Self.sample)
        let runs = NotebookRunner(lua: lua).run(nb, capture: true)
        #expect(runs.count == 5)
        #expect(runs[2].output == "a is\t41\n")
        let failed = runs[3]
        #expect(failed.ran && failed.output == "y\t42\n")
        #expect(failed.errorLine == 15)
        #expect(
            failed.error?.hasPrefix("cell 3, line 15: ") == true,
            "code cells are counted: preamble, first cell, this one")
        #expect(failed.error?.contains("boom at line 15") == true)
        #expect(!runs[4].ran, "cells after a failure do not run")
    }

    @Test func keepGoingRunsLaterCellsAndCollectsPNGs() throws {
        let dir = temporaryDirectory("nbk")
        let lua = try LuaState()
        try lua.run("OUT = '\(dir)'")
        let nb = Notebook(path: dir + "/nb.lua", text: Self.sample)
        let runs = NotebookRunner(lua: lua).run(nb, keepGoing: true, capture: true)
        #expect(runs[4].ran && runs[4].error == nil)
        #expect(runs[4].output == "third sees a =\t41\n", "cells share globals")
        #expect(runs[4].images.count == 1 && runs[4].images[0].path.hasSuffix("white.png"))
        #expect(runs[4].images[0].data.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        // Only the selected cells run.
        let lua2 = try LuaState()
        try lua2.run("OUT = '\(dir)'; a = 1")
        let some = NotebookRunner(lua: lua2).run(nb, selection: [4], capture: true)
        #expect(some.filter { $0.ran && $0.cell.kind == .code }.map(\.cell.number) == [4])
        #expect(some[4].output.hasPrefix("third sees a =\t1\n"))
    }

    @Test func reportsEmbedEveryCellAndImage() throws {
        let dir = temporaryDirectory("nbr")
        let lua = try LuaState()
        try lua.run("OUT = '\(dir)'")
        let nb = Notebook(path: dir + "/nb.lua", text: Self.sample)
        let runs = NotebookRunner(lua: lua).run(nb, keepGoing: true, capture: true)
        let header = ReportHeader(
            title: "T", notebookPath: "nb.lua", date: Date(), seedAtStart: 0, seedsSet: [],
            versions: Workbench.versions(lua: lua), seconds: 1)
        let report = NotebookReport(notebook: nb, runs: runs, header: header)
        let html = report.html()
        for c in nb.cells where c.kind == .code { #expect(html.contains(Markdown.escape(c.source))) }
        #expect(html.contains("<h1>Title here</h1>"))
        #expect(html.contains("&lt;b&gt;raw&lt;/b&gt;"), "raw HTML in markdown is escaped")
        #expect(html.components(separatedBy: "src=\"data:image/png;base64,").count - 1 == 1)
        #expect(html.contains("cell 3, line 15"))
        #expect(html.contains("Lua 5.4"))
        let md = report.markdown(relativeTo: dir + "/report")
        #expect(md.contains("](../white.png)"))
        #expect(md.contains("```lua\na = 40 + x0"))
    }

    @Test func shippedNotebooksParseAndCompile() throws {
        let lua = try LuaState()
        for name in ["quickstart", "ig_tour", "jsrt_finetune"] {
            let nb = try Notebook(contentsOf: repositoryRoot + "/notebooks/\(name).lua")
            #expect(nb.codeCells.count >= 3, "\(name) has code cells")
            #expect(nb.cells.contains { $0.kind == .markdown }, "\(name) has text cells")
            for c in nb.codeCells {
                let status = lua.compile(String(repeating: "\n", count: c.firstLine - 1) + c.source, name: "@" + name)
                #expect(status == .ok, "\(name) cell \(c.number) compiles: \(status)")
                if status == .ok { lua.discardCompiled() }
            }
        }
    }

    /// The quickstart notebook exported by the CLI: every cell and every PNG it writes is in the HTML.
    @Test func quickstartExportsToHTML() throws {
        guard let doll = dollExecutable() else { return }
        let dir = temporaryDirectory("export")
        let nbPath = repositoryRoot + "/notebooks/quickstart.lua"
        let r = try runProcess(
            doll, ["export", nbPath, "--html", dir + "/q.html", "--md", dir + "/q.md"], directory: dir)
        #expect(r.status == 0, "export failed: \(r.output)")
        let html = try String(contentsOfFile: dir + "/q.html", encoding: .utf8)
        let nb = try Notebook(contentsOf: nbPath)
        for c in nb.codeCells { #expect(html.contains(Markdown.escape(c.source)), "cell \(c.number) is in the report") }
        let pngs = (try FileManager.default.subpathsOfDirectory(atPath: dir + "/out")).filter { $0.hasSuffix(".png") }
        #expect(pngs.count >= 4)
        let embedded = html.components(separatedBy: "src=\"data:image/png;base64,").count - 1
        #expect(embedded >= pngs.count, "every PNG written is embedded (\(embedded) of \(pngs.count))")
        #expect(html.contains("validation mean AUROC"))
        let md = try String(contentsOfFile: dir + "/q.md", encoding: .utf8)
        #expect(md.contains("](out/cardiomegaly_ig.png)"))
    }
}
