import DollLua
import DollData
import DollPipeline
import Foundation
import Testing
@testable import DollWorkbench

/// Defects a new user met first (issue 15), each checked the way the user saw it.
@Suite("What a user sees", .serialized)
struct UserDefectTests {
    /// Auto-print and print of tables: tensors inside tables on one line, strings quoted, keys
    /// sorted, `__tostring` of a table's metatable used, addresses as Lua prints them (defects 3–5).
    @Test func tablesPrintReadably() throws {
        let lua = try LuaState()
        /// What the REPL shows for an expression (the same call as its auto-print).
        func autoPrint(_ expression: String) throws -> String {
            guard lua.compile("return " + expression) == .ok else { return "did not compile" }
            return try lua.callCompiled().joined(separator: "\t")
        }
        try lua.run("ph = doll.phantoms{n = 1, size = 64}")
        let shown = try autoPrint("ph[1]")
        #expect(
            shown.split(separator: "\n").count < 20,
            "ph[1] printed \(shown.split(separator: "\n").count) lines:\n\(shown)")
        #expect(shown.contains("image = Tensor 1×64×64 [0, "), "\(shown)")
        #expect(shown.contains("id = \"phantom-000000\""), "\(shown)")
        #expect(try autoPrint("setmetatable({}, {__tostring = function() return 'my object' end})") == "my object")
        #expect(
            try autoPrint("{setmetatable({}, {__tostring = function() error('bad') end})}").contains(
                "__tostring failed"))
        var printed = ""
        lua.output = { printed += $0 }
        try lua.run("print({}, print)")
        #expect(
            printed.range(
                of: #"^table: 0x[0-9a-f]+\tfunction: (builtin: )?0x[0-9a-f]+\n$"#, options: .regularExpression) != nil,
            "\(printed)")
    }

    /// A session holding a table of tensors prints in under 20 lines (a PyTorch state dict of
    /// 102 tensors).
    @Test func stateDictPrintsShort() throws {
        let path = repositoryRoot + "/../shared/reference/resnet_ref.safetensors"
        guard FileManager.default.fileExists(atPath: path) else { return }
        let lua = try LuaState()
        guard lua.compile("return doll.load('\(path)')") == .ok else { Issue.record("did not compile"); return }
        let shown = try lua.callCompiled().joined()
        #expect(shown.split(separator: "\n").count < 20, "\(shown)")
        #expect(shown.contains("more"), "\(shown)")
    }

    /// Tab completion of a path inside a string goes on into a folder: the string stays open
    /// (defect 6; readline used to append the opening quote). Runs the REPL on a terminal.
    @Test func pathCompletionDescendsIntoFolders() throws {
        guard let exe = dollExecutable() else { return }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            Issue.record("util-linux 'script' is missing: cannot give the REPL a terminal")
            return
        }
        let dir = temporaryDirectory("tab")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "x = \"Sourc\tDollL\t\"\nprint('got', x)\n".write(toFile: dir + "/in", atomically: true, encoding: .utf8)
        let r = try runProcess(
            "/bin/sh", ["-c", "script -qec \"$0\" /dev/null < \"$1\"", exe, dir + "/in"],
            environment: ["HOME": dir], directory: repositoryRoot)
        #expect(r.output.contains("got\tSources/DollLua/"), "\(r.output)")
    }

    /// Piped input that fails exits non-zero with the message; an unfinished chunk at the end
    /// is reported (defect 7).
    @Test func pipedFailuresExitNonZero() throws {
        guard let exe = dollExecutable() else { return }
        let dir = temporaryDirectory("pipe")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (input, expected) in [("error('boom')\n", "boom"), ("x = 1\nfor i = 1, 2 do\n", "unfinished chunk")] {
            try input.write(toFile: dir + "/in", atomically: true, encoding: .utf8)
            let r = try runProcess("/bin/sh", ["-c", "\"$0\" < \"$1\"", exe, dir + "/in"], environment: ["HOME": dir])
            #expect(r.status == 1 && r.output.contains(expected), "\(input): status \(r.status), \(r.output)")
        }
        try "x = 1\nprint(x + 1)\n".write(toFile: dir + "/in", atomically: true, encoding: .utf8)
        let ok = try runProcess("/bin/sh", ["-c", "\"$0\" < \"$1\"", exe, dir + "/in"], environment: ["HOME": dir])
        #expect(ok.status == 0 && ok.output.contains("2"), "\(ok.output)")
    }

    /// A notebook that calls `doll.seed(7)` is reported with the seed it set (defect 9).
    @Test func reportNamesTheSeedSet() throws {
        let header = ReportHeader(
            title: "t", notebookPath: "n.lua", date: Date(), seedAtStart: 0, seedsSet: [7], versions: [], seconds: 0)
        #expect(header.seedText == "0 at start; doll.seed(7) in the notebook")
        let lua = try LuaState()
        try lua.run("doll.seed(7); local a = doll.rand{3}; local b = doll.randn{2}")
        #expect(lua.seedsSet == [7])
    }

    /// A classifier trained at 32 px refuses other sizes with a message naming both, and
    /// `Tensor:resize` gives the size it wants (defect 10).
    @Test func classifierRefusesOtherImageSizes() throws {
        let lua = try LuaState()
        try lua.run(
            """
            local ds = doll.phantoms{n = 4, size = 32}
            clf = doll.classifier{widths = {4}, blocks = {1}}
            clf:fit(ds, {epochs = 1})
            ok, err = pcall(clf.predict, clf, doll.zeros(1, 1, 64, 64))
            n = clf:predict(doll.zeros(1, 1, 64, 64):resize(32, 32)):shape()[1]
            ig = doll.ig(clf, {steps = 2})
            ok2, err2 = pcall(ig.attribute, ig, doll.zeros(1, 300, 200), 1)
            """)
        #expect(try lua.evaluate("ok") == "false")
        #expect(try lua.evaluate("err").contains("trained on 32×32 images, these are 64×64"))
        #expect(try lua.evaluate("n") == "1")
        #expect(try lua.evaluate("err2").contains("these are 300×200"))
    }

    /// The study report's HTML shows every figure of its Markdown, whatever the titles hold
    /// (defect 1: titles with parentheses lost their image), and renders code spans.
    @Test func studyReportHTMLEmbedsEveryFigure() throws {
        let md =
            "# R\n\n**Dice (test fold)**\n\n![Dice (test fold)](a.png)\n\n**overlay (x)**\n\n![overlay (x)](b.png)\n\nEvery run: `runs.csv`.\n"
        let dir = temporaryDirectory("rep")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let png = try Data(
            contentsOf: URL(
                fileURLWithPath: repositoryRoot + "/assets/"
                    + (try FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/assets").first {
                        $0.hasSuffix(".png")
                    } ?? "")))
        for f in ["a.png", "b.png"] { try png.write(to: URL(fileURLWithPath: dir + "/" + f)) }
        let html = StudyReport.html(
            markdown: md, figures: [("Dice (test fold)", "a.png"), ("overlay (x)", "b.png")], directory: dir)
        #expect(html.components(separatedBy: "src=\"data:image/png;base64,").count - 1 == 2, "\(html)")
        #expect(html.contains("<code>runs.csv</code>") && !html.contains("`"), "\(html)")
    }

    /// What trepl, IPython and Captum users expect: `print(clf)` lists the stages with shapes and
    /// parameter counts, `clf:parameters()` by name, IG baselines as a number or a tensor, and a
    /// notebook cell ending in a bare expression shows its value.
    @Test func inspectionBaselinesAndCellValues() throws {
        let lua = try LuaState()
        var printed = ""
        lua.output = { printed += $0 }
        try lua.run(
            """
            ds = doll.phantoms{n = 4, size = 32}
            clf = doll.classifier{widths = {4, 8}, blocks = {1, 1}}
            clf:fit(ds, {epochs = 1})
            print(clf)
            p = clf:parameters()
            ig1 = doll.ig(clf, {baseline = 0.25, steps = 4})
            ig2 = doll.ig(clf, {baseline = doll.full({1, 1, 32, 32}, 0.5), steps = 4})
            a1, d1 = ig1:attribute(ds[1].image, 1)
            a2, d2 = ig2:attribute(ds[1].image, 1)
            """)
        #expect(printed.contains("layer2  1 × BasicBlock 4→8 /2") && printed.contains("[8, 8, 8]"), "\(printed)")
        #expect(printed.contains("total") && printed.contains("parameters"), "\(printed)")
        #expect(try lua.evaluate("p['fc.weight']:shape()[2]") == "8")
        #expect(try lua.evaluate("(a1 - a2):abs():sum():item() > 0") == "true", "different baselines, different maps")
        let nb = Notebook(path: "/tmp/v.lua", text: "-- %% one\nx = 20\nx + 22\n-- %% two\nprint('plain')\n")
        let runs = NotebookRunner(lua: try LuaState()).run(nb, capture: true)
        #expect(runs[0].output == "42\n" && runs[0].error == nil, "\(runs[0].output) \(runs[0].error ?? "")")
        #expect(runs[1].output == "plain\n")
    }

    /// A dataset from a plain folder of images of any sizes; `:timeit`; `:help clf:fit` found by
    /// the object's type.
    @Test func folderTimeitAndHelpByType() throws {
        let dir = temporaryDirectory("folder")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lua = try LuaState()
        try lua.run(
            """
            doll.png.write(doll.rand({1, 40, 30}, {seed = 1}), '\(dir)/b.png')
            doll.png.write(doll.rand({1, 20, 50}, {seed = 2}), '\(dir)/a.jpg')
            ds = doll.folder{root = '\(dir)', size = 32}
            clf = doll.classifier{widths = {4}, blocks = {1}}
            """)
        #expect(try lua.evaluate("#ds") == "2")
        #expect(try lua.evaluate("ds[1].id .. ' ' .. ds[2].id") == "a b")
        #expect(try lua.evaluate("ds[2].image:shape()[3]") == "32")
        let repl = REPL(lua: lua, autosave: false, interactive: false)
        #expect(repl.help("clf:fit").contains("Classifier:fit"))
        #expect(repl.help("clf").contains("clf is a Classifier"))
        #expect(REPL.metaCommands.contains { $0.name == ":timeit" })
    }

    /// Figures: a heatmap of a 64 px image becomes a 256 px figure with a title strip and a
    /// colour bar; a log-y line plot; predictions with class names, most probable first.
    @Test func figuresAndNamedPredictions() throws {
        let dir = temporaryDirectory("fig")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lua = try LuaState()
        try lua.run(
            """
            s = doll.phantoms{n = 1, size = 64}[1]
            doll.png.heatmap(doll.randn({1, 64, 64}, {seed = 1}), '\(dir)/h.png', {over = s.image, title = 'IG', sign = 'all'})
            doll.png.heatmap(doll.randn({1, 64, 64}, {seed = 1}), '\(dir)/plain.png', {colorbar = false, scale = 1})
            doll.plot.line('\(dir)/l.png', {series = {{name = 'loss', y = {1, 0.1, 0.01}}}, logy = true})
            ok, err = pcall(doll.plot.line, '\(dir)/bad.png', {series = {{y = {1, 0, 2}}}, logy = true})
            doll.png.montage('\(dir)/m.png', {s.image, '\(dir)/plain.png'}, {titles = {'image', 'map'}, columns = 2})
            clf = doll.classifier{widths = {4}, blocks = {1}}
            named = clf:predict(s.image, {names = true})
            sorted = true
            for i = 2, #named do sorted = sorted and named[i - 1][2] >= named[i][2] end
            """)
        let h = try ImageIO.decodePNG(Data(contentsOf: URL(fileURLWithPath: dir + "/h.png")), gray: false)
        #expect(h.height == 256 + 18 && h.width > 256 + 20, "\(h.width)×\(h.height)")
        let plain = try ImageIO.decodePNG(Data(contentsOf: URL(fileURLWithPath: dir + "/plain.png")), gray: false)
        #expect(plain.width == 64 && plain.height == 64)
        #expect(FileManager.default.fileExists(atPath: dir + "/l.png"))
        let m = try ImageIO.decodePNG(Data(contentsOf: URL(fileURLWithPath: dir + "/m.png")), gray: false)
        #expect(m.width > 2 * 64 && m.height > 64, "montage \(m.width)×\(m.height)")
        #expect(try lua.evaluate("err").contains("log y axis needs y > 0"))
        #expect(try lua.evaluate("#named") == "14" && lua.evaluate("sorted") == "true")
        #expect(try lua.evaluate("type(named[1][1])") == "string")
    }
}
