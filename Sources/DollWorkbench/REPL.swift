import CDollSupport
import DollLua
import DollTensor
import Foundation

/// The interactive workbench (`doll` with no arguments): Lua with the `doll` module, auto-print
/// of expression values (the first one kept in `_`), multi-line input while a chunk is
/// incomplete, meta commands (`:help`, `:vars`, `:time`, `:save`, `:load`, `:reset`, `:quit`),
/// readline history and completion on a terminal.
public final class REPL {
    public struct MetaCommand: Sendable { public let name: String, usage: String, summary: String }

    public static let metaCommands: [MetaCommand] = [
        MetaCommand(
            name: ":help", usage: ":help [function|topic]",
            summary: "documentation of doll functions (from the same source as completion)"),
        MetaCommand(name: ":vars", usage: ":vars", summary: "your globals with type, shape and memory"),
        MetaCommand(
            name: ":time", usage: ":time <expression or statement>", summary: "run it and print wall and CPU time"),
        MetaCommand(
            name: ":timeit", usage: ":timeit [runs] <statement>",
            summary: "run it repeatedly (default: for about a second, at least 3 times); mean ± sd wall time"),
        MetaCommand(
            name: ":save", usage: ":save [name|path]",
            summary: "save the data globals as a session (default name: default)"),
        MetaCommand(name: ":load", usage: ":load [name|path]", summary: "load a session (default: the last one saved)"),
        MetaCommand(name: ":reset", usage: ":reset", summary: "remove all your globals"),
        MetaCommand(name: ":autosave", usage: ":autosave [on|off]", summary: "save the session as 'autosave' on exit"),
        MetaCommand(name: ":quit", usage: ":quit", summary: "leave (Ctrl-D too)"),
    ]

    public let lua: LuaState
    public var autosave: Bool
    let editor: LineEditor
    let color: Bool
    var pending: [String] = []

    /// Where history lives: `$DOLL_STATE_DIR`, `$XDG_STATE_HOME/doll` or `~/.local/state/doll`.
    public static var stateDirectory: String { parentDirectory(LuaSession.directory) }

    public init(lua: LuaState, autosave: Bool, interactive: Bool = isatty(0) != 0) {
        self.lua = lua
        self.autosave = autosave
        self.color = interactive && isatty(1) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        let completer = Completer(lua: lua)
        editor = LineEditor(
            interactive: interactive, historyPath: REPL.stateDirectory + "/history",
            completer: { completer.complete(line: $0, start: $1, end: $2) })
    }

    var prompt: String {
        let text = pending.isEmpty ? "doll> " : "  ... "
        // \u{1} … \u{2} tell readline the colour codes take no room.
        return color ? "\u{1}\u{1B}[1;36m\u{2}\(text)\u{1}\u{1B}[0m\u{2}" : (editor.interactive ? text : "")
    }

    /// Runs until `:quit` or end of input; returns the exit status.
    public func run(banner: Bool = true) -> Int32 {
        installInterruptHandler()
        if banner && editor.interactive {
            say(
                "DoLL Workbench \(Workbench.version) · Lua 5.4 · BLAS \(BLAS.coreName) · :help for help, Ctrl-D to leave"
            )
        }
        loop: while true {
            switch editor.read(prompt: prompt) {
            case .eof:
                if editor.interactive { say("") }
                if !pending.isEmpty {
                    sayError("unfinished chunk at the end of input: \(pending.first ?? "")…")
                    failures += 1
                }
                break loop
            case .interrupted:
                pending = []
            case .line(let line):
                editor.remember(line)
                if pending.isEmpty, line.trimmingCharacters(in: .whitespaces).hasPrefix(":") {
                    if !meta(line.trimmingCharacters(in: .whitespaces)) { break loop }
                    continue
                }
                pending.append(line)
                if evaluate(pending.joined(separator: "\n")) { pending = [] }
            }
        }
        finish()
        // Piped input behaves like a script: any failure makes the exit status non-zero.
        return !editor.interactive && failures > 0 ? 1 : 0
    }

    /// Chunks that failed to compile or run (the exit status of non-interactive input).
    public private(set) var failures = 0

    func finish() {
        if autosave { save(name: "autosave") }
        editor.close()
        lua.flushOutput()
    }

    func say(_ s: String) { lua.flushOutput(); print(s); doll_stdio_flush() }

    func sayError(_ s: String) {
        lua.flushOutput()
        let text = color ? "\u{1B}[31m\(s)\u{1B}[0m" : s
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Evaluates a chunk. Returns false while the chunk is incomplete (more lines needed).
    @discardableResult
    public func evaluate(_ chunk: String, timed: Bool = false) -> Bool {
        defer { Tensor.releaseCachedMemory() }  // idle at the prompt: cached buffers go back
        var code = chunk
        if code.hasPrefix("=") { code = "return " + code.dropFirst() }
        // An expression is printed; otherwise the chunk runs as statements.
        var status = lua.compile("return " + code)
        if status != .ok { status = lua.compile(code) }
        switch status {
        case .incomplete: return false
        case .error(let msg): sayError(msg); failures += 1; return true
        case .ok: break
        }
        doll_lua_clear_interrupt()
        let wall = DispatchTime.now().uptimeNanoseconds
        let cpu = clock()
        do {
            let shown = try lua.callCompiled()
            lua.flushOutput()
            if !shown.isEmpty { say(shown.joined(separator: "\t")) }
        } catch let e as LuaRunError {
            sayError(e.message.hasSuffix("interrupted") ? "interrupted" : e.message)
            failures += 1
        } catch {
            sayError("\(error)")
            failures += 1
        }
        doll_lua_clear_interrupt()
        if timed {
            let w = Double(DispatchTime.now().uptimeNanoseconds - wall) / 1e9,
                c = Double(clock() - cpu) / Double(CLOCKS_PER_SEC)
            say(String(format: "time: %.3f s wall, %.3f s CPU", w, c))
        }
        return true
    }

    /// `:timeit [runs] chunk`: the chunk compiled once per run and called without printing its
    /// value; mean ± standard deviation of the wall time (like IPython's %timeit).
    func timeit(_ arg: String) {
        var text = arg.trimmingCharacters(in: .whitespaces)
        var runs: Int? = nil
        if let first = text.split(separator: " ").first, let n = Int(first), n > 0 {
            runs = min(n, 1_000_000)
            text = String(text.dropFirst(first.count)).trimmingCharacters(in: .whitespaces)
        }
        guard !text.isEmpty else { sayError("usage: :timeit [runs] <statement>"); return }
        var times: [Double] = []
        let budget = DispatchTime.now().uptimeNanoseconds + 1_000_000_000
        doll_lua_clear_interrupt()
        while times.count < (runs ?? 3)
            || (runs == nil && DispatchTime.now().uptimeNanoseconds < budget && times.count < 100_000)
        {
            var status = lua.compile("return " + text)
            if status != .ok { status = lua.compile(text) }
            guard status == .ok else {
                if case .error(let msg) = status {
                    sayError(msg)
                } else {
                    sayError(":timeit needs a complete chunk on one line")
                }
                failures += 1
                return
            }
            let t0 = DispatchTime.now().uptimeNanoseconds
            do { _ = try lua.callCompiled(keepFirst: false) } catch let e as LuaRunError {
                sayError(e.message.hasSuffix("interrupted") ? "interrupted" : e.message)
                failures += 1
                return
            } catch { sayError("\(error)"); failures += 1; return }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let mean = times.reduce(0, +) / Double(times.count)
        let sd =
            times.count > 1
            ? (times.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(times.count - 1)).squareRoot() : 0
        func unit(_ t: Double) -> String {
            t >= 1
                ? String(format: "%.3f s", t)
                : t >= 1e-3 ? String(format: "%.3f ms", t * 1e3) : String(format: "%.1f µs", t * 1e6)
        }
        lua.flushOutput()
        say("\(unit(mean)) ± \(unit(sd)) per run (mean ± sd of \(times.count) runs)")
        Tensor.releaseCachedMemory()
    }

    /// Runs a meta command; returns false to leave the REPL.
    func meta(_ line: String) -> Bool {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        let arg = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        switch parts[0] {
        case ":quit", ":q", ":exit": return false
        case ":help", ":h", ":?": say(help(arg))
        case ":vars": say(vars())
        case ":time":
            guard !arg.isEmpty else { sayError("usage: :time <expression or statement>"); break }
            if !evaluate(arg, timed: true) { sayError(":time needs a complete chunk on one line") }
        case ":timeit": timeit(arg)
        case ":save": save(name: arg.isEmpty ? "default" : arg)
        case ":load": load(name: arg.isEmpty ? nil : arg)
        case ":reset":
            lua.resetUserGlobals()
            say("cleared your globals (Lua now uses \(lua.memoryKiB) KiB)")
        case ":autosave":
            if arg == "on" || arg == "off" {
                autosave = arg == "on"
            } else if !arg.isEmpty {
                sayError("usage: :autosave [on|off]"); break
            }
            say("autosave on exit is \(autosave ? "on" : "off")")
        default:
            let names = REPL.metaCommands.map(\.name)
            let hint = names.first { $0.hasPrefix(parts[0]) }.map { " (did you mean \($0)?)" } ?? ""
            sayError("unknown command \(parts[0])\(hint); :help lists them")
        }
        return true
    }

    func save(name: String) {
        do {
            let s = try LuaSession.save(lua.L, name: name)
            say("saved \(s.globals.count) globals to \(s.path) (\(byteText(s.bytes)))")
            if !s.skipped.isEmpty { say("skipped (not data): " + s.skipped.joined(separator: ", ")) }
        } catch {
            sayError("could not save the session: \(error)")
        }
    }

    /// Loads a session by name or path (nil: the last saved).
    public func load(name: String?) {
        guard let path = name.map(LuaSession.path(for:)) ?? LuaSession.last else {
            sayError("no session saved yet"); return
        }
        do {
            let s = try LuaSession.load(lua.L, from: path)
            say(
                "loaded \(s.globals.count) globals from \(s.path)"
                    + (s.globals.isEmpty ? "" : ": " + s.globals.joined(separator: ", ")))
            if !s.skipped.isEmpty { say("not restored: " + s.skipped.joined(separator: ", ")) }
        } catch {
            sayError("could not load the session: \(error)")
        }
    }

    func vars() -> String {
        let vs = lua.userVariables()
        guard !vs.isEmpty else { return "(no globals of yours yet)" }
        let w = max(4, vs.map(\.name.count).max()!), tw = max(4, vs.map(\.type.count).max()!)
        var out = [pad("name", w) + "  " + pad("type", tw) + "  " + pad("memory", 9) + "  detail"]
        for v in vs {
            out.append(
                pad(v.name, w) + "  " + pad(v.type, tw) + "  " + pad(v.bytes > 0 ? byteText(v.bytes) : "", 9) + "  "
                    + v.detail)
        }
        out.append(
            "Lua heap: \(lua.memoryKiB) KiB; tensor and weight data: \(byteText(vs.reduce(0) { $0 + $1.bytes }))")
        return out.joined(separator: "\n")
    }

    /// `:help` text: an overview, or one function's documentation.
    public func help(_ topic: String) -> String {
        if topic.isEmpty {
            var out = [
                "Type Lua: expressions print their value (kept in _), statements run; unfinished chunks continue on the next line.",
                "Tab completes names, methods after : and ., option keys inside {…}, and paths inside strings. Ctrl-C interrupts, Ctrl-R searches history.",
                "", "Commands:",
            ]
            for m in REPL.metaCommands { out.append("  " + pad(m.usage, 34) + m.summary) }
            out.append("")
            out.append("doll functions (:help NAME for one):")
            let groups = Dictionary(grouping: LuaDocs.all.map(\.name)) { name -> String in
                if let c = name.firstIndex(of: ":") { return String(name[..<c]) + " methods" }
                return name.split(separator: ".").count > 2 ? "doll." + name.split(separator: ".")[1] : "doll"
            }
            for g in groups.keys.sorted() {
                let names = groups[g]!.sorted().map { n -> String in
                    if let c = n.firstIndex(of: ":") { return String(n[n.index(after: c)...]) }
                    return String(n.split(separator: ".").last!)
                }
                out.append("  " + pad(g, 20) + names.joined(separator: " "))
            }
            return out.joined(separator: "\n")
        }
        if let m = REPL.metaCommands.first(where: { $0.name == topic || $0.name == ":" + topic }) {
            return "\(m.usage)\n  \(m.summary)"
        }
        let candidates = [topic, "doll." + topic, "doll.png." + topic, "doll.plot." + topic, "doll.session." + topic]
        if let d = candidates.lazy.compactMap(LuaDocs.doc).first { return format(d) }
        // `clf:fit` → `Classifier:fit` by the object's type; `clf` → its type's methods.
        if let name = Completer(lua: lua).docName(forCall: topic), let d = LuaDocs.doc(name) { return format(d) }
        if LuaState.isName(topic), let type = lua.typeName(at: [topic]), type.hasPrefix("doll.") {
            let kind = String(type.dropFirst(5))
            let methods = LuaDocs.all.filter { $0.name.hasPrefix(kind + ":") }
            if !methods.isEmpty { return "\(topic) is a \(kind):\n\n" + methods.map(format).joined(separator: "\n\n") }
        }
        let matches = LuaDocs.all.filter { $0.name.hasSuffix(":" + topic) || $0.name.hasSuffix("." + topic) }
        if !matches.isEmpty { return matches.map(format).joined(separator: "\n\n") }
        let close = LuaDocs.all.map(\.name).filter { $0.localizedCaseInsensitiveContains(topic) }
        return "no documentation for '\(topic)'" + (close.isEmpty ? "" : "; related: " + close.joined(separator: ", "))
    }

    func format(_ d: LuaDoc) -> String {
        var out = d.signature + "\n  " + d.summary
        if !d.options.isEmpty { out += "\n  options: " + d.options.joined(separator: ", ") }
        return out
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

    func byteText(_ n: Int) -> String {
        n >= 1 << 20
            ? String(format: "%.1f MB", Double(n) / 1048576)
            : n >= 1024 ? String(format: "%.1f KB", Double(n) / 1024) : "\(n) B"
    }
}
