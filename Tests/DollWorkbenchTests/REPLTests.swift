import DollLua
import Foundation
import Testing
@testable import DollWorkbench

@Suite("REPL")
struct REPLTests {
    func complete(_ c: Completer, _ line: String) -> [String] {
        // The word starts after the last break character, as readline splits it.
        let bytes = Array(line.utf8)
        var start = bytes.count
        while start > 0, !Completer.wordBreaks.utf8.contains(bytes[start - 1]) { start -= 1 }
        return c.complete(line: line, start: start, end: bytes.count).items
    }

    @Test func completesNamesMethodsOptionsPathsAndCommands() throws {
        let lua = try LuaState()
        try lua.run("clf = doll.classifier{widths = {4}, blocks = {1}}; myvalue = 3; tbl = {alpha = 1, beta = 2}")
        let c = Completer(lua: lua)
        #expect(complete(c, "doll.ph") == ["doll.phantoms"])
        #expect(complete(c, "doll.png.he") == ["doll.png.heatmap"])
        #expect(complete(c, "x = myv") == ["myvalue"])
        #expect(complete(c, "tbl.") == ["tbl.alpha", "tbl.beta"])
        #expect(complete(c, "clf:pr") == ["clf:predict"])
        #expect(complete(c, "clf:fit(train, {epo") == ["epochs = "])
        #expect(complete(c, "doll.phantoms{n = 3, si") == ["size = "])
        #expect(complete(c, "doll.ig(clf, {st") == ["steps = "])
        #expect(complete(c, "fun") == ["function"])
        #expect(complete(c, ":he") == [":help"])
        #expect(complete(c, ":help phan") == ["phantoms"])
        let dir = temporaryDirectory("paths")
        FileManager.default.createFile(atPath: dir + "/scan_a.png", contents: Data())
        try FileManager.default.createDirectory(atPath: dir + "/scans", withIntermediateDirectories: true)
        #expect(complete(c, "doll.png.read(\"\(dir)/sca") == ["\(dir)/scan_a.png", "\(dir)/scans/"])
        _ = complete(c, "doll.load(\"~")  // a bare ~ completes in the home directory
        #expect(complete(c, "doll.load(\"~/").allSatisfy { $0.hasPrefix("~/") })
    }

    @Test func evaluatesExpressionsStatementsAndMetaCommands() throws {
        let lua = try LuaState()
        var out = ""
        lua.output = { out += $0 }
        let repl = REPL(lua: lua, autosave: false, interactive: false)
        #expect(repl.evaluate("function sq(x)") == false, "an unfinished chunk asks for more")
        #expect(repl.evaluate("function sq(x)\n return x * x\nend") == true)
        #expect(repl.evaluate("sq(12)"))
        #expect(try lua.evaluate("_") == "144")
        #expect(repl.evaluate("_ + 1"))
        #expect(try lua.evaluate("_") == "145")
        #expect(repl.help("phantoms").hasPrefix("doll.phantoms"))
        #expect(repl.help("fit").contains("Classifier:fit"))
        #expect(repl.help("").contains(":vars"))
        try lua.run("big = doll.zeros{10, 10}")
        #expect(repl.vars().contains("big") && repl.vars().contains("[10, 10]"))
        lua.resetUserGlobals()
        #expect(try lua.evaluate("big") == "nil")
    }

    @Test func studyRunsFromLuaWithSettings() throws {
        let lua = try Workbench.makeLuaState()
        let dir = temporaryDirectory("study")
        try lua.run(
            "r = doll.study{preset = 'tiny', out = '\(dir)', quiet = true, seeds = {1, 2}, threshold = 'p90', encoder_lr_scale = 0.5}"
        )
        #expect(try lua.evaluate("#r.runs") == "12", "2 fractions × 2 seeds × 3 initialisations")
        #expect(try lua.evaluate("r.runs[1].init") == "random")
        #expect(
            FileManager.default.fileExists(atPath: dir + "/report.md")
                && FileManager.default.fileExists(atPath: dir + "/runs.csv"))
        let config = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
        #expect(
            config.contains("\"encoderLearningRateScale\" : 0.5") || config.contains("\"encoderLearningRateScale\":0.5")
        )
        #expect(throws: LuaRunError.self) { try lua.run("doll.study{preset = 'tiny', treshold = 'p90'}") }
        #expect(Completer(lua: lua).complete(line: "doll.stu", start: 0, end: 8).items == ["doll.study"])
        #expect(REPL(lua: lua, autosave: false, interactive: false).help("study").hasPrefix("doll.study{"))
    }

    /// The real thing: `doll` on a pseudo-terminal, typed at like a person would.
    @Test(.timeLimit(.minutes(3))) func interactiveSessionOnAPseudoTerminal() throws {
        guard let doll = dollExecutable() else { return }
        let state = temporaryDirectory("pty")
        let term = try PseudoTerminal(
            executable: doll, arguments: [],
            environment: ["DOLL_STATE_DIR": state, "TERM": "xterm", "INPUTRC": "/dev/null", "HOME": state])
        defer { term.terminate() }
        try term.expect("doll> ")
        // Tab completion: `doll.ph<TAB>` becomes `doll.phantoms` (so the comparison is true).
        term.send("doll.ph\t")
        try term.expect("doll.phantoms")
        term.send(" ~= nil\r")
        try term.expect("true")
        // Auto-print and `_`.
        term.send("6 * 7\r"); try term.expect("42")
        term.send("_ + 1000\r"); try term.expect("1042")
        // A multi-line function.
        term.send("function sq(x)\r"); try term.expect("...")
        term.send("return x * x\r")
        term.send("end\r")
        term.send("sq(111)\r"); try term.expect("12321")
        // Ctrl-C while typing drops the line.
        term.send("this is not lua")
        term.send("\u{03}"); try term.expect("^C")
        term.send("1 + 2\r"); try term.expect("3")
        // Ctrl-C during a long fit returns to the prompt.
        term.send("ph = doll.phantoms{n = 256, size = 64}; clf = doll.classifier{widths = {8, 16}, blocks = {1, 1}}\r")
        term.send("clf:fit(ph, {epochs = 100000, batch = 8})\r")
        usleep(2_500_000)
        term.send("\u{03}")
        try term.expect("interrupted", timeout: 60)
        term.send("100 + 23\r"); try term.expect("123")
        // :save / :reset / :load with a cyclic table.
        term.send("t = {name = 'cyc'}; t.self = t\r")
        term.send(":save ptytest\r"); try term.expect("saved")
        term.send(":reset\r"); try term.expect("cleared")
        term.send("t == nil\r"); try term.expect("true")
        term.send(":load ptytest\r"); try term.expect("loaded")
        term.send("t.self.self.name\r"); try term.expect("cyc")
        term.send("\u{04}")
        #expect(term.waitForExit(timeout: 20) == 0)
        // History persisted across runs.
        let history = try String(contentsOfFile: state + "/history", encoding: .utf8)
        #expect(history.contains("sq(111)"))
    }
    /// Completion of option values and after indexed objects (issue 15).
    @Test func completesOptionValuesAndIndexedObjects() throws {
        let lua = try LuaState()
        try lua.run("val = doll.phantoms{n = 2, size = 32}; t = doll.zeros(2, 3)")
        let c = Completer(lua: lua)
        #expect(complete(c, "doll.png.heatmap(a, 'p.png', {cmap = \"inf") == ["inferno"])
        #expect(complete(c, "doll.ig(clf, {method = \"gauss") == ["gausslegendre"])
        #expect(complete(c, "val[1].ima") == [".image"])
        #expect(complete(c, "val[1].image:si") == [".image:sigmoid", ".image:size"])
        #expect(complete(c, "t[2]:sq").contains(":sqrt"))
        #expect(complete(c, "print(\"Cardio") == ["Cardiomegaly"])
    }
}

/// A child process on a pseudo-terminal it owns as its controlling terminal (so Ctrl-C raises
/// SIGINT as on a real terminal).
final class PseudoTerminal {
    let master: Int32
    let pid: pid_t
    private var output: [UInt8] = []
    private var mark = 0
    private var exited: Int32?

    init(executable: String, arguments: [String], environment: [String: String]) throws {
        // posix_openpt/unlockpt/ptsname are hidden from Swift's Glibc; their Linux ioctls are not.
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0, number: UInt32 = 0
        guard master >= 0, ioctl(master, UInt(0x4004_5431), &unlock) == 0,  // TIOCSPTLCK
            ioctl(master, UInt(0x8004_5430), &number) == 0
        else {  // TIOCGPTN
            throw WorkbenchError("cannot open a pseudo-terminal")
        }
        let slave = "/dev/pts/\(number)"
        var size = winsize(ws_row: 50, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addclose(&actions, master)
        // after setsid: becomes the controlling terminal
        posix_spawn_file_actions_addopen(&actions, 0, slave, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // POSIX_SPAWN_SETSID (glibc 0x80) | SETSIGMASK | SETSIGDEF: a session of its own, and none
        // of the test thread's blocked signals (libdispatch workers block SIGINT).
        posix_spawnattr_setflags(&attr, Int16(0x80 | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none); sigemptyset(&defaults); sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attr, argv, envp)
        guard rc == 0 else { throw WorkbenchError("posix_spawn failed: \(rc)") }
        pid = child
    }

    func send(_ s: String) {
        let bytes = Array(s.utf8)
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
        usleep(50_000)
    }

    /// Text seen so far, with terminal escape sequences removed.
    var text: String { PseudoTerminal.strip(output) }

    /// Waits until `needle` appears after the previous match.
    func expect(_ needle: String, timeout: Double = 20, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let t = Array(text.utf8)
            if let r = find(Array(needle.utf8), in: t, from: mark) { mark = r; return }
            pump(timeoutMs: 100)
        }
        let tail = String(text.suffix(600))
        Issue.record(
            "timed out waiting for \(needle.debugDescription); terminal shows: \(tail.debugDescription)",
            sourceLocation: sourceLocation)
        throw WorkbenchError("expect failed")
    }

    private func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard needle.count <= hay.count, from <= hay.count - needle.count else { return nil }
        for i in from...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) {
            return i + needle.count
        }
        return nil
    }

    private func pump(timeoutMs: Int32) {
        var fds = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        guard poll(&fds, 1, timeoutMs) > 0 else { return }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
        if n > 0 { output += buf[0..<n] }
    }

    static func strip(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x1B {
                i += 1
                if i < bytes.count && bytes[i] == UInt8(ascii: "[") {
                    i += 1
                    while i < bytes.count && !(0x40...0x7E).contains(bytes[i]) { i += 1 }
                }
                i += 1
                continue
            }
            if bytes[i] != UInt8(ascii: "\r") { out.append(bytes[i]) }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while Date() < deadline {
            pump(timeoutMs: 50)
            if waitpid(pid, &status, WNOHANG) == pid {
                exited = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                return exited
            }
        }
        return nil
    }

    func terminate() {
        if exited == nil { kill(pid, SIGKILL); var s: Int32 = 0; waitpid(pid, &s, 0); exited = -1 }
        close(master)
    }
}
