import CDollSupport
import CLua
import DollTensor
import Foundation

/// Introspection for the REPL: compiling without running, showing values, listing globals and
/// members for completion and `:vars`. Nothing here runs Lua code or metamethods other than
/// doll's own `__tostring` (which cannot fail).
extension LuaState {
    public enum Compiled: Equatable { case ok, incomplete, error(String) }

    /// Compiles `code`; on `.ok` the chunk is left on the stack for `callCompiled`.
    /// `.incomplete` means the chunk ended early (`<eof>`): more lines may complete it.
    public func compile(_ code: String, name: String = "=stdin") -> Compiled {
        let status = code.withCString { luaL_loadbufferx(L, $0, strlen($0), name, "t") }
        if status == LUA_OK { return .ok }
        let msg = popString()
        if status == LUA_ERRSYNTAX && msg.hasSuffix("<eof>") { return .incomplete }
        return .error(msg)
    }

    /// Drops the chunk `compile` left on the stack without running it.
    public func discardCompiled() { lua_settop(L, -2) }

    /// Calls the chunk `compile` left on the stack and returns its results, shown for printing.
    /// With `keepFirst`, the global `_` is set to the first result (when there is one).
    public func callCompiled(keepFirst: Bool = true) throws -> [String] {
        let base = lua_gettop(L) - 1
        let rc = doll_lua_pcall_traceback(L, 0, LUA_MULTRET)
        if rc != LUA_OK {
            let full = popString()
            let first = full.components(separatedBy: "\nstack traceback:").first ?? full
            throw LuaRunError(message: first, traceback: full)
        }
        defer { lua_settop(L, base) }
        let n = lua_gettop(L) - base
        guard n > 0 else { return [] }
        if keepFirst { lua_checkstack(L, 4); lua_pushvalue(L, base + 1); setGlobalRaw("_") }
        return (1...n).map { show(base + $0) }
    }

    /// `_G[name] = value on top` without metamethods (a user's `__newindex` on `_G` must not run
    /// outside a protected call); pops the value.
    func setGlobalRaw(_ name: String) {
        lua_rawgeti(L, DOLL_LUA_REGISTRYINDEX, lua_Integer(LUA_RIDX_GLOBALS))
        lua_pushstring(L, name)
        lua_rotate(L, -3, -1)  // value, G, key → G, key, value
        lua_rawset(L, -3)
        lua_settop(L, -2)
    }

    /// Pushes `_G[name]` without metamethods.
    func getGlobalRaw(_ name: String) {
        lua_rawgeti(L, DOLL_LUA_REGISTRYINDEX, lua_Integer(LUA_RIDX_GLOBALS))
        lua_pushstring(L, name)
        lua_rawget(L, -2)
        lua_rotate(L, -2, 1); lua_settop(L, -2)
    }

    /// A readable one-value rendering: strings as they are, tables as `{1, 2, x = "a"}` up to two
    /// levels and 24 entries (strings quoted, tensors as one line `Tensor 1×64×64 [min, max]`),
    /// a table with a `__tostring` metamethod by it (run protected), doll objects by their
    /// description.
    public func show(_ index: Int32, depth: Int = 0) -> String {
        let i = lua_absindex(L, index)
        if depth > 0 {
            if lua_type(L, i) == LUA_TSTRING { return Self.quoted(luaToString(L, i)) }
            if lua_type(L, i) == LUA_TNUMBER, lua_isinteger(L, i) == 0 {
                // Inside tables, floats to 6 significant digits (a fit history stays readable).
                let text = String(format: "%.6g", lua_tonumberx(L, i, nil))
                return text.contains(where: { $0 == "." || $0 == "e" || $0 == "n" || $0 == "i" }) ? text : text + ".0"
            }
            if let box = LuaArgs(L, function: "show").dollObject(i) as? TensorBox { return box.t.summary }
            // one line inside a table
            if lua_type(L, i) == LUA_TUSERDATA { return String(luaToString(L, i).prefix { $0 != "\n" }) }
        }
        guard lua_type(L, i) == LUA_TTABLE else { return luaToString(L, i) }
        guard lua_checkstack(L, 6) != 0 else { return "{...}" }
        if luaL_getmetafield(L, i, "__tostring") != LUA_TNIL {
            lua_settop(L, -2)
            let failed = doll_lua_tolstring_protected(L, i) != LUA_OK
            let text = luaToString(L, -1)
            lua_settop(L, -2)
            return failed ? "<__tostring failed: \(text)>" : text
        }
        if depth >= 2 { return "{...}" }
        guard lua_checkstack(L, 4) != 0 else { return "{...}" }
        var parts: [String] = []
        let n = Int(lua_rawlen(L, i))
        for k in 0..<min(n, 24) {
            lua_rawgeti(L, i, lua_Integer(k + 1))
            parts.append(show(-1, depth: depth + 1)); lua_settop(L, -2)
        }
        // Other keys sorted by name (hash order would change from run to run), 24 entries in all.
        var named: [(key: String, value: String)] = []
        var total = min(n, 24), more = max(0, n - 24)
        lua_pushnil(L)
        while lua_next(L, i) != 0 {
            let isArrayKey = n > 0 && lua_isinteger(L, -2) != 0 && (1...n).contains(Int(lua_tointegerx(L, -2, nil)))
            if !isArrayKey {
                if named.count < 200 {
                    let key: String
                    if lua_type(L, -2) == LUA_TSTRING, let k = Self.cleanString(L, -2), Self.isIdentifier(k) {
                        key = k
                    } else {
                        key =
                            "["
                            + (lua_type(L, -2) == LUA_TSTRING ? Self.quoted(luaToString(L, -2)) : luaToString(L, -2))
                            + "]"
                    }
                    named.append((key, show(-1, depth: depth + 1)))
                } else {
                    more += 1
                }
            }
            lua_settop(L, -2)
        }
        named.sort { $0.key < $1.key }
        for e in named {
            if total < 24 { parts.append("\(e.key) = \(e.value)"); total += 1 } else { more += 1 }
        }
        let line = "{" + parts.joined(separator: ", ") + (more > 0 ? ", … \(more) more}" : "}")
        guard line.count > 100, !parts.isEmpty else { return line }
        if depth > 0 {
            // Nested: one line of about 100 characters, the rest counted.
            var kept: [String] = []
            var length = 2
            for p in parts where length + p.count + 2 <= 100 || kept.isEmpty { kept.append(p); length += p.count + 2 }
            return "{" + kept.joined(separator: ", ") + ", … \(more + parts.count - kept.count) more}"
        }
        // Top level: one entry per line, at most 16.
        let shown = parts.prefix(16).map { "  " + $0 }
        let rest = more + parts.count - shown.count
        return "{\n" + shown.joined(separator: ",\n") + (rest > 0 ? ",\n  … \(rest) more" : "") + "\n}"
    }

    /// A string as Lua source would write it: `"a\"b\n"`.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": out += "\\0"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// The string at `i` when it is valid UTF-8 without NUL bytes (so it round-trips through
    /// C strings), else nil.
    static func cleanString(_ L: OpaquePointer, _ i: Int32) -> String? {
        var n = 0
        guard let p = lua_tolstring(L, i, &n) else { return nil }
        let bytes = UnsafeRawBufferPointer(start: p, count: n)
        guard !bytes.contains(0), let s = String(bytes: bytes, encoding: .utf8) else { return nil }
        return s
    }

    /// A Lua name: letters, digits and `_`, not starting with a digit (keywords included).
    public static func isName(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f == "_" || (f.isASCII && CharacterSet.letters.contains(f)) else {
            return false
        }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }

    /// A name usable as an identifier (not a keyword).
    static func isIdentifier(_ s: String) -> Bool { isName(s) && !keywords.contains(s) }

    public static let keywords: Set<String> = [
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
        "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    ]

    /// All global names (strings keys of `_G`).
    public func globalNames() -> [String] {
        lua_rawgeti(L, DOLL_LUA_REGISTRYINDEX, lua_Integer(LUA_RIDX_GLOBALS))
        defer { lua_settop(L, -2) }
        return keys(of: -1)
    }

    private func keys(of index: Int32) -> [String] {
        let t = lua_absindex(L, index)
        var out: [String] = []
        lua_pushnil(L)
        while lua_next(L, t) != 0 {
            if lua_type(L, -2) == LUA_TSTRING, let s = LuaState.cleanString(L, -2) { out.append(s) }
            lua_settop(L, -2)
        }
        return out.sorted()
    }

    /// Pushes the value at a dotted path of plain field reads from the globals (no metamethods);
    /// returns false (pushing nothing) when a step is missing or not a table.
    private func pushPath(_ path: [String]) -> Bool {
        lua_rawgeti(L, DOLL_LUA_REGISTRYINDEX, lua_Integer(LUA_RIDX_GLOBALS))
        for name in path {
            guard lua_type(L, -1) == LUA_TTABLE else { lua_settop(L, -2); return false }
            lua_pushstring(L, name)
            lua_rawget(L, -2)
            lua_rotate(L, -2, 1); lua_settop(L, -2)
        }
        if lua_type(L, -1) == LUA_TNIL { lua_settop(L, -2); return false }
        return true
    }

    /// Names reachable after `path.` or `path:` — table keys (only functions after `:`), or a doll
    /// object's methods.
    /// Method names of a doll userdata type (`doll.Tensor`), sorted.
    public func methodNames(ofType name: String) -> [String] {
        guard lua_checkstack(L, 4) != 0 else { return [] }
        lua_getfield(L, DOLL_LUA_REGISTRYINDEX, name)
        defer { lua_settop(L, -2) }
        guard lua_type(L, -1) == LUA_TTABLE else { return [] }
        lua_pushstring(L, "__methods")
        lua_rawget(L, -2)
        defer { lua_settop(L, -2) }
        guard lua_type(L, -1) == LUA_TTABLE else { return [] }
        var out: [String] = []
        lua_pushnil(L)
        while lua_next(L, -2) != 0 {
            if lua_type(L, -2) == LUA_TSTRING { out.append(String(cString: lua_tolstring(L, -2, nil))) }
            lua_settop(L, -2)
        }
        return out.sorted()
    }

    public func members(of path: [String], methodsOnly: Bool) -> [String] {
        guard !path.isEmpty, pushPath(path) else { return [] }
        defer { lua_settop(L, -2) }
        switch lua_type(L, -1) {
        case LUA_TTABLE:
            let t = lua_gettop(L)
            var out: [String] = []
            lua_pushnil(L)
            while lua_next(L, t) != 0 {
                if lua_type(L, -2) == LUA_TSTRING, !methodsOnly || lua_type(L, -1) == LUA_TFUNCTION {
                    out.append(String(cString: lua_tolstring(L, -2, nil)))
                }
                lua_settop(L, -2)
            }
            return out.sorted()
        case LUA_TUSERDATA:
            guard lua_getmetatable(L, -1) != 0 else { return [] }
            defer { lua_settop(L, -2) }
            lua_pushstring(L, "__methods")
            lua_rawget(L, -2)
            defer { lua_settop(L, -2) }
            return lua_type(L, -1) == LUA_TTABLE ? keys(of: -1) : []
        default: return []
        }
    }

    /// The doll type name (`doll.Classifier`) or Lua type name of the value at `path`.
    public func typeName(at path: [String]) -> String? {
        guard pushPath(path) else { return nil }
        defer { lua_settop(L, -2) }
        return LuaArgs(L, function: "inspect").typeName(-1)
    }

    /// One user global for `:vars`.
    public struct Variable: Sendable {
        public let name: String, type: String, detail: String
        /// Bytes of tensor or weight data held (0 for plain Lua values).
        public let bytes: Int
    }

    /// Globals that are not start-up names, with type, shape and memory.
    public func userVariables() -> [Variable] {
        let baseline = LuaSession.baselineNames(L)
        var out: [Variable] = []
        for name in globalNames() where !baseline.contains(name) {
            getGlobalRaw(name)
            defer { lua_settop(L, -2) }
            let a = LuaArgs(L, function: "vars")
            var detail = "", bytes = 0
            let type = a.typeName(-1)
            switch lua_type(L, -1) {
            case LUA_TUSERDATA:
                if let obj = a.dollObject(-1) as? LuaObject { (detail, bytes) = obj.workspaceDetail }
            case LUA_TTABLE:
                var n = 0
                lua_pushnil(L)
                while lua_next(L, -2) != 0 { n += 1; lua_settop(L, -2) }
                detail = "\(n) entries"
            case LUA_TSTRING: var n = 0; _ = lua_tolstring(L, -1, &n); detail = "\(n) bytes"; bytes = n
            case LUA_TNUMBER, LUA_TBOOLEAN: detail = luaToString(L, -1)
            default: break
            }
            out.append(Variable(name: name, type: type, detail: detail, bytes: bytes))
        }
        return out
    }

    /// Removes every global that is not a start-up name, then collects garbage.
    public func resetUserGlobals() {
        let baseline = LuaSession.baselineNames(L)
        for name in globalNames() where !baseline.contains(name) { lua_pushnil(L); setGlobalRaw(name) }
        collectGarbage()
    }
}
