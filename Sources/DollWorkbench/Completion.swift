import DollLua
import Foundation

/// Tab completion for the REPL: globals and keywords, fields and methods after `.` and `:`,
/// option keys inside `{...}` of documented functions, file paths inside string literals, meta
/// commands and `:help` topics. Pure over the Lua state's contents (no Lua code runs).
public struct Completer {
    public struct Result: Equatable {
        public var items: [String]
        /// What to append after a single match (nil: nothing).
        public var append: Character?
    }

    let lua: LuaState

    public init(lua: LuaState) { self.lua = lua }

    /// Characters that end a completion word (`.`, `:`, and the `/`, `-`, `~` of paths stay inside words).
    public static let wordBreaks = " \t\n\"'`@$><=;|&{(,)[]+*%^#"

    /// Completions for the word `line[start..<end]` (UTF-8 byte offsets, as readline gives them).
    public func complete(line: String, start: Int, end: Int) -> Result {
        let bytes = Array(line.utf8)
        let s = min(max(start, 0), bytes.count), e = min(max(end, s), bytes.count)
        let prefix = String(decoding: bytes[..<s], as: UTF8.self)
        let text = String(decoding: bytes[s..<e], as: UTF8.self)
        let trimmed = prefix.drop { $0 == " " }
        if trimmed.hasPrefix(":") || (trimmed.isEmpty && text.hasPrefix(":")) {
            if trimmed.isEmpty { return Result(items: REPL.metaCommands.map(\.name).filter { $0.hasPrefix(text) }, append: " ") }
            let command = trimmed.split(separator: " ").first.map(String.init) ?? ""
            switch command {
            case ":help": return Result(items: helpTopics().filter { $0.hasPrefix(text) }, append: nil)
            case ":load", ":save":
                return Result(items: LuaSession.names().filter { $0.hasPrefix(text) }, append: nil)
            case ":time":
                return lua(prefix: String(trimmed.dropFirst(command.count)), text: text)
            default: return Result(items: [], append: nil)
            }
        }
        return lua(prefix: prefix, text: text)
    }

    func lua(prefix: String, text: String) -> Result {
        let scan = Scan(prefix)
        if scan.inString { return Result(items: paths(text), append: nil) }
        if let call = scan.optionCall, scan.atKeyPosition, let doc = docName(forCall: call) {
            let keys = LuaDocs.options(for: doc).filter { $0.hasPrefix(text) }.sorted()
            if !keys.isEmpty { return Result(items: keys.map { $0 + " = " }, append: nil) }
        }
        if let sep = text.lastIndex(where: { $0 == "." || $0 == ":" }) {
            let base = text[..<sep].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard base.allSatisfy(LuaState.isName) else { return Result(items: [], append: nil) }
            let partial = String(text[text.index(after: sep)...])
            let names = lua.members(of: base, methodsOnly: text[sep] == ":").filter { $0.hasPrefix(partial) && LuaState.isName($0) }
            let head = String(text[...sep])
            return Result(items: names.map { head + $0 }, append: nil)
        }
        let names = Set(lua.globalNames().filter(LuaState.isName)).union(LuaState.keywords)
        return Result(items: names.filter { $0.hasPrefix(text) }.sorted(), append: nil)
    }

    /// `doll.phantoms` → itself; `clf:fit` → `Classifier:fit` (by the object's doll type).
    func docName(forCall call: String) -> String? {
        if LuaDocs.doc(call) != nil { return call }
        guard let colon = call.lastIndex(of: ":") else { return nil }
        let base = call[..<colon].split(separator: ".").map(String.init)
        guard let type = lua.typeName(at: base), type.hasPrefix("doll.") else { return nil }
        let name = String(type.dropFirst(5)) + String(call[colon...])
        return LuaDocs.doc(name) != nil ? name : nil
    }

    /// `:help` topics: every documented name, plus its short form (`phantoms` for `doll.phantoms`).
    func helpTopics() -> [String] {
        var out = Set<String>()
        for d in LuaDocs.all {
            out.insert(d.name)
            if d.name.hasPrefix("doll.") { out.insert(String(d.name.dropFirst(5))) }
        }
        out.formUnion(REPL.metaCommands.map(\.name))
        return out.sorted()
    }

    /// Files and directories completing `text` (relative to the current directory; `~` expands).
    func paths(_ text: String) -> [String] {
        let typed = text == "~" ? "~/" : text
        let expanded = typed.hasPrefix("~/") ? LuaSession.homeDirectory + typed.dropFirst() : typed
        let slash = expanded.lastIndex(of: "/")
        let dir = slash.map { String(expanded[...$0]) } ?? ""
        let stem = slash.map { String(expanded[expanded.index(after: $0)...]) } ?? expanded
        let shownDir = typed.lastIndex(of: "/").map { String(typed[...$0]) } ?? ""
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir)) ?? []
        return entries.filter { $0.hasPrefix(stem) && (stem.hasPrefix(".") || !$0.hasPrefix(".")) }.sorted().map { name in
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: dir + name, isDirectory: &isDir)
            return shownDir + name + (isDir.boolValue ? "/" : "")
        }
    }
}

/// A left-to-right scan of the text before the cursor: open strings, and the innermost open
/// table constructor with the call it is an argument of.
struct Scan {
    private(set) var inString = false
    /// The called name (`doll.ig`, `clf:fit`) whose argument list holds the innermost open `{`.
    private(set) var optionCall: String?
    /// Whether the cursor is where a key goes (right after `{` or `,` in that table).
    private(set) var atKeyPosition = false

    init(_ prefix: String) {
        let c = Array(prefix)
        var stack: [(Character, Int)] = []   // open brackets and their positions
        var quote: Character? = nil
        var i = 0
        while i < c.count {
            let ch = c[i]
            if let q = quote {
                if ch == "\\" { i += 2; continue }
                if ch == q { quote = nil }
            } else if ch == "\"" || ch == "'" {
                quote = ch
            } else if ch == "-" && i + 1 < c.count && c[i + 1] == "-" {
                break                              // a comment runs to the end of the line
            } else if "({[".contains(ch) {
                stack.append((ch, i))
            } else if ")}]".contains(ch) {
                if !stack.isEmpty { stack.removeLast() }
            }
            i += 1
        }
        inString = quote != nil
        guard !inString, let brace = stack.last, brace.0 == "{" else { return }
        let before = c[..<i].reversed().first { $0 != " " && $0 != "\t" }
        atKeyPosition = before == "{" || before == ","
        // The call: a name right before `{`, or before the `(` that encloses this `{`.
        var j = brace.1 - 1
        while j >= 0 && c[j] == " " { j -= 1 }
        if j >= 0 && c[j] != "(" && c[j] != "," {
            optionCall = Scan.name(endingAt: j, in: c)
        } else if stack.count >= 2, stack[stack.count - 2].0 == "(" {
            optionCall = Scan.name(endingAt: stack[stack.count - 2].1 - 1, in: c)
        }
    }

    static func name(endingAt end: Int, in c: [Character]) -> String? {
        var j = end
        while j >= 0 && c[j] == " " { j -= 1 }
        let last = j
        while j >= 0, c[j].isLetter || c[j].isNumber || c[j] == "_" || c[j] == "." || c[j] == ":" { j -= 1 }
        guard last > j else { return nil }
        return String(c[(j + 1)...last])
    }
}
