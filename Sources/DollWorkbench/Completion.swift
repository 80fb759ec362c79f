import DollExplain
import DollLua
import DollNN
import DollTensor
import DollViz
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
            if trimmed.isEmpty {
                return Result(items: REPL.metaCommands.map(\.name).filter { $0.hasPrefix(text) }, append: " ")
            }
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
        if scan.inString {
            // `{cmap = "inf<TAB>`: the option's values; elsewhere paths, then class names.
            if let key = scan.stringKey, let values = Completer.optionValues[key] {
                return Result(items: values.filter { $0.hasPrefix(text) }, append: "\"")
            }
            let files = paths(text)
            if !files.isEmpty || text.contains("/") { return Result(items: files, append: nil) }
            return Result(items: LabelPreset.chexpert.filter { $0.hasPrefix(text) }, append: "\"")
        }
        if let call = scan.optionCall, scan.atKeyPosition, let doc = docName(forCall: call) {
            let keys = LuaDocs.options(for: doc).filter { $0.hasPrefix(text) }.sorted()
            if !keys.isEmpty { return Result(items: keys.map { $0 + " = " }, append: nil) }
        }
        if let r = afterIndex(prefix: prefix, text: text) { return r }
        if let sep = text.lastIndex(where: { $0 == "." || $0 == ":" }) {
            let base = text[..<sep].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard base.allSatisfy(LuaState.isName) else { return Result(items: [], append: nil) }
            let partial = String(text[text.index(after: sep)...])
            let names = lua.members(of: base, methodsOnly: text[sep] == ":").filter {
                $0.hasPrefix(partial) && LuaState.isName($0)
            }
            let head = String(text[...sep])
            return Result(items: names.map { head + $0 }, append: nil)
        }
        let names = Set(lua.globalNames().filter(LuaState.isName)).union(LuaState.keywords)
        return Result(items: names.filter { $0.hasPrefix(text) }.sorted(), append: nil)
    }

    /// Completion after an indexed doll object, `val[1].image:<TAB>` or `t[2]:<TAB>` (readline
    /// breaks the word at `]`, so `text` is `.image:` and the prefix ends in `val[1]`). What an
    /// element is follows from the object's type (a Dataset's sample, a Labels entry, a Tensor
    /// row), so nothing is evaluated.
    func afterIndex(prefix: String, text: String) -> Result? {
        guard text.first == "." || text.first == ":", prefix.hasSuffix("]") else { return nil }
        var p = Substring(prefix)
        var indexes = 0
        while p.hasSuffix("]"), let open = p.lastIndex(of: "["),
            p[p.index(after: open)..<p.index(before: p.endIndex)].allSatisfy(\.isNumber)
        {
            p = p[..<open]
            indexes += 1
        }
        let base = p.reversed().prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
        let path = String(base.reversed()).split(separator: ".").map(String.init)
        guard indexes >= 1, !path.isEmpty, path.allSatisfy(LuaState.isName), let type = lua.typeName(at: path) else {
            return nil
        }
        // The element's fields (and what each field is), by the indexed object's type.
        let tensorMethods = lua.methodNames(ofType: "doll.Tensor")
        let fields: [String: [String]]
        switch (type, indexes) {
        case ("doll.Dataset", 1): fields = ["id": [], "image": tensorMethods, "labels": tensorMethods, "masks": []]
        case ("doll.Labels", 1): fields = ["id": [], "mask": tensorMethods, "soft": tensorMethods]
        case ("doll.Tensor", _):
            let partial = text.dropFirst()
            return Result(
                items: tensorMethods.filter { $0.hasPrefix(partial) }.map { String(text.prefix(1)) + $0 }, append: nil)
        default: return nil
        }
        // "", "image:me" → ["image:me"]
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).dropFirst()
        if parts.count == 1, let colon = parts.first!.firstIndex(of: ":") {
            let field = String(parts.first![..<colon]), partial = parts.first![parts.first!.index(after: colon)...]
            let head = "." + field + ":"
            return Result(items: (fields[field] ?? []).filter { $0.hasPrefix(partial) }.map { head + $0 }, append: nil)
        }
        guard parts.count == 1 else { return Result(items: [], append: nil) }
        return Result(items: fields.keys.sorted().filter { $0.hasPrefix(parts.first!) }.map { "." + $0 }, append: nil)
    }

    /// The values of options that take one of a few strings.
    static let optionValues: [String: [String]] = [
        "cmap": Colormap.builtins.map(\.name), "sign": AttributionSign.allCases.map(\.rawValue),
        "method": IGMethod.allCases.map(\.rawValue),
        "explainer": ["ig", "saliency", "smoothgrad", "gradcam", "occlusion"],
        "output": ["logit", "probability"], "schedule": ["constant", "cosine"], "optimizer": ["adam", "adamw", "sgd"],
        "preset": ["quick", "full", "tiny"], "layout": ["folder", "covidquex"], "policy": ["ones", "zeros", "ignore"],
        "positives": ["labels", "predicted"], "mode": ["bilinear", "nearest"], "baseline": ["zeros", "blur", "noise"],
        "kind": ["smoothgrad", "smoothgrad_sq", "vargrad"],
    ]

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
        return entries.filter { $0.hasPrefix(stem) && (stem.hasPrefix(".") || !$0.hasPrefix(".")) }.sorted().map {
            name in
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
    /// Inside a string that is an option's value (`cmap = "inf`): the option's name.
    private(set) var stringKey: String?

    init(_ prefix: String) {
        let c = Array(prefix)
        var stack: [(Character, Int)] = []  // open brackets and their positions
        var quote: Character? = nil
        var quoteStart: Int? = nil
        var i = 0
        while i < c.count {
            let ch = c[i]
            if let q = quote {
                if ch == "\\" { i += 2; continue }
                if ch == q { quote = nil }
            } else if ch == "\"" || ch == "'" {
                quote = ch
                quoteStart = i
            } else if ch == "-" && i + 1 < c.count && c[i + 1] == "-" {
                break  // a comment runs to the end of the line
            } else if "({[".contains(ch) {
                stack.append((ch, i))
            } else if ")}]".contains(ch) {
                if !stack.isEmpty { stack.removeLast() }
            }
            i += 1
        }
        inString = quote != nil
        if inString, let open = quoteStart {
            // `key = "…`: the option whose value is being typed.
            var j = open - 1
            while j >= 0 && c[j] == " " { j -= 1 }
            if j >= 0 && c[j] == "=" && (j == 0 || c[j - 1] != "=") {
                j -= 1
                while j >= 0 && c[j] == " " { j -= 1 }
                let end = j
                while j >= 0, c[j].isLetter || c[j].isNumber || c[j] == "_" { j -= 1 }
                if end > j { stringKey = String(c[(j + 1)...end]) }
            }
        }
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
