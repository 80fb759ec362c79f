import CDollSupport
import CLua
import DollData
import DollExplain
import DollNN
import DollTensor
import Foundation

/// How a userdata object was made: a builder function (by registered name), its arguments
/// (objects by reference) and which of its results it is. Sessions rebuild datasets and
/// explainers from recipes instead of storing their pixels.
public struct LuaRecipe {
    public indirect enum Value {
        case none, boolean(Bool), integer(Int64), number(Double), string(String)
        case table([(Value, Value)])
        case object(AnyObject)
    }
    public let function: String
    public let args: [Value]
    public let result: Int
}

extension LuaArgs {
    /// This call's arguments as a recipe, or nil when an argument cannot be recorded (a
    /// function, a cyclic or very deep table, an object of an unknown kind).
    func recipe(result: Int = 1) -> LuaRecipe? {
        var args: [LuaRecipe.Value] = []
        for i in 1...Swift.max(count, 1) where count > 0 {
            guard let v = recipeValue(i, depth: 0) else { return nil }
            args.append(v)
        }
        while args.count > 0, case .none = args[args.count - 1] { args.removeLast() }
        return LuaRecipe(function: function, args: args, result: result)
    }

    private func recipeValue(_ i: Int32, depth: Int) -> LuaRecipe.Value? {
        let idx = lua_absindex(L, i)
        switch lua_type(L, idx) {
        case LUA_TBOOLEAN: return .boolean(lua_toboolean(L, idx) != 0)
        case LUA_TNUMBER:
            return lua_isinteger(L, idx) != 0
                ? .integer(lua_tointegerx(L, idx, nil)) : .number(lua_tonumberx(L, idx, nil))
        case LUA_TSTRING: return .string(String(cString: lua_tolstring(L, idx, nil)))
        case LUA_TNIL, LUA_TNONE: return LuaRecipe.Value.none
        case LUA_TUSERDATA:
            guard let obj = dollObject(idx) else { return nil }
            return .object(obj)
        case LUA_TTABLE:
            guard depth < 8, lua_checkstack(L, 4) != 0 else { return nil }
            var entries: [(LuaRecipe.Value, LuaRecipe.Value)] = []
            lua_pushnil(L)
            while lua_next(L, idx) != 0 {
                guard let k = recipeValue(-2, depth: depth + 1), let v = recipeValue(-1, depth: depth + 1) else {
                    lua_settop(L, -3); return nil
                }
                entries.append((k, v))
                lua_settop(L, -2)
                guard entries.count <= 100_000 else { lua_settop(L, -2); return nil }
            }
            return .table(entries)
        default: return nil
        }
    }
}

/// Saving and loading workspaces: every global that is data goes into `NAME.dollsession/`
/// (`manifest.json` + `tensors.safetensors`). Writes are atomic (temporary directory, fsync,
/// exchange); loading validates everything before touching the Lua state and runs no Lua code.
public enum LuaSession {
    public static let schema = 1
    static let tensorsFile = "tensors.safetensors"

    /// What a save or load did.
    public struct Summary: Sendable {
        public var path: String
        public var globals: [String] = []
        /// "name (reason)" for each value not saved or not restored.
        public var skipped: [String] = []
        public var bytes: Int = 0
    }

    // MARK: save

    /// Saves the data globals of `L` (those not present at start-up, see `LuaState.baseline`) to
    /// `path` (a `.dollsession` directory), replacing any previous session there atomically.
    public static func save(_ L: OpaquePointer, to path: String, skipNames: Set<String>) throws -> Summary {
        var enc = Encoder(L: L)
        var summary = Summary(path: path)
        try enc.encodeGlobals(skipNames: skipNames, summary: &summary)
        // One token in both files: a load can tell that they belong to the same save.
        let generation = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let manifest: [String: Any] = [
            "format": "doll.session", "schema": schema, "doll": dollVersion,
            "created": ISO8601DateFormatter().string(from: Date()),
            "generation": generation,
            "tensors": tensorsFile,
            "globals": enc.globals, "tables": enc.tables, "objects": enc.objects,
            "skipped": summary.skipped,
        ]
        let json = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        let tensorBytes = try SafeTensors.encode(
            enc.tensors, arrays: enc.arrays, metadata: ["doll.kind": "session", "doll.generation": generation])
        summary.bytes = json.count + tensorBytes.count
        try AtomicDirectory.replace(path) { tmp in
            for (name, data) in [("manifest.json", json), (tensorsFile, tensorBytes)] {
                try AtomicFile.write(data, to: tmp + "/" + name)
            }
        }
        return summary
    }

    struct WriteError: Error, CustomStringConvertible { let description: String; init(_ s: String) { description = s } }

    /// Walks globals and the tables and objects they reach without recursion (deep or cyclic
    /// structures are fine), giving each table and object an id.
    struct Encoder {
        let L: OpaquePointer
        var globals: [String: Any] = [:]
        var tables: [String: Any] = [:]
        var objects: [String: Any] = [:]
        var tensors: [String: Tensor] = [:]
        /// Bulk numbers of tables (`A/<table id>`), stored exactly beside the tensors.
        var arrays: [String: SafeTensors.NumberArray] = [:]
        private var tableIDs: [UnsafeRawPointer: String] = [:]
        private var objectIDs: [ObjectIdentifier: String] = [:]
        private var objectCount = 0
        /// Nesting of recipe arguments being encoded (recipes of recipes of …), capped.
        private var recipeDepth = 0
        static let maxRecipeDepth = 64
        private var queue: [(id: String, path: String)] = []
        private var anchor: Int32 = 0

        init(L: OpaquePointer) { self.L = L }

        mutating func encodeGlobals(skipNames: Set<String>, summary: inout Summary) throws {
            guard lua_checkstack(L, 16) != 0 else { throw WriteError("Lua stack exhausted") }
            lua_createtable(L, 0, 0)  // anchor: id → table, keeps the walk's tables reachable
            anchor = lua_gettop(L)
            defer { lua_settop(L, anchor - 1) }
            lua_rawgeti(L, DOLL_LUA_REGISTRYINDEX, lua_Integer(LUA_RIDX_GLOBALS))
            let g = lua_gettop(L)
            var names: [String] = []
            lua_pushnil(L)
            while lua_next(L, g) != 0 {
                if lua_type(L, -2) == LUA_TSTRING {
                    if let k = LuaState.cleanString(L, -2) {
                        names.append(k)
                    } else {
                        summary.skipped.append("a global whose name is not clean UTF-8")
                    }
                }
                lua_settop(L, -2)
            }
            for name in names.sorted() where !skipNames.contains(name) {
                lua_pushstring(L, name)
                lua_rawget(L, g)
                if let v = try encodeValue(-1, path: name, summary: &summary) {
                    globals[name] = v; summary.globals.append(name)
                }
                lua_settop(L, -2)
            }
            var next = 0
            while next < queue.count {
                let (id, path) = queue[next]; next += 1
                lua_getfield(L, anchor, id)
                let t = lua_gettop(L)
                var entries: [[Any]] = []
                var record: [String: Any] = [:]
                let bulk = bulkNumbers(t)
                if let bulk {
                    let name = "A/" + id
                    arrays[name] = bulk
                    record["array"] = ["numbers": name, "count": bulk.count]
                }
                lua_pushnil(L)
                while lua_next(L, t) != 0 {
                    if let bulk, lua_isinteger(L, -2) != 0, (1...Int64(bulk.count)).contains(lua_tointegerx(L, -2, nil))
                    {
                        lua_settop(L, -2)
                        continue
                    }
                    // deep chains keep a short path
                    let keyPath = path.count > 120 ? path : path + "[" + keyText(-2) + "]"
                    if let k = try encodeValue(-2, path: keyPath, summary: &summary, isKey: true),
                        let v = try encodeValue(-1, path: keyPath, summary: &summary)
                    {
                        entries.append([k, v])
                    }
                    lua_settop(L, -2)
                }
                lua_settop(L, -2)
                record["entries"] = entries
                tables[id] = record
            }
        }

        /// The values 1…n of the table at `t` when they are at least 16 numbers of one Lua
        /// subtype (all integers or all floats): they go to the tensors file, not the manifest.
        func bulkNumbers(_ t: Int32) -> SafeTensors.NumberArray? {
            let n = Int(lua_rawlen(L, t))
            guard n >= 16 else { return nil }
            lua_rawgeti(L, t, 1)
            let integers = lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1) != 0
            lua_settop(L, -2)
            var ints: [Int64] = []
            var doubles: [Double] = []
            if integers { ints.reserveCapacity(n) } else { doubles.reserveCapacity(n) }
            for k in 1...n {
                lua_rawgeti(L, t, lua_Integer(k))
                defer { lua_settop(L, -2) }
                guard lua_type(L, -1) == LUA_TNUMBER, (lua_isinteger(L, -1) != 0) == integers else { return nil }
                if integers {
                    ints.append(lua_tointegerx(L, -1, nil))
                } else {
                    doubles.append(lua_tonumberx(L, -1, nil))
                }
            }
            return integers ? .int64(ints) : .float64(doubles)
        }

        func keyText(_ i: Int32) -> String {
            switch lua_type(L, i) {
            case LUA_TSTRING: return "\"" + String(cString: lua_tolstring(L, i, nil)) + "\""
            case LUA_TNUMBER:
                return lua_isinteger(L, i) != 0 ? String(lua_tointegerx(L, i, nil)) : "\(lua_tonumberx(L, i, nil))"
            default: return String(cString: lua_typename(L, lua_type(L, i)))
            }
        }

        /// The JSON form of the value at `i`, or nil (and a `skipped` entry) when it is not data.
        mutating func encodeValue(_ i: Int32, path: String, summary: inout Summary, isKey: Bool = false) throws -> Any?
        {
            let idx = lua_absindex(L, i)
            switch lua_type(L, idx) {
            case LUA_TBOOLEAN: return ["b": lua_toboolean(L, idx) != 0]
            case LUA_TNUMBER:
                if lua_isinteger(L, idx) != 0 { return ["i": lua_tointegerx(L, idx, nil)] }
                return ["n": "\(lua_tonumberx(L, idx, nil))"]
            case LUA_TSTRING:
                var len = 0
                let p = lua_tolstring(L, idx, &len)!
                let bytes = Data(bytes: p, count: len)
                if let s = String(data: bytes, encoding: .utf8) { return ["s": s] }
                return ["bytes": bytes.base64EncodedString()]
            case LUA_TTABLE:
                let ptr = lua_topointer(L, idx)!
                if let id = tableIDs[ptr] { return ["table": id] }
                let id = "T\(tableIDs.count + 1)"
                tableIDs[ptr] = id
                lua_pushvalue(L, idx); lua_setfield(L, anchor, id)
                queue.append((id, path))
                return ["table": id]
            case LUA_TUSERDATA:
                guard let obj = LuaArgs(L, function: "session").dollObject(idx) else {
                    summary.skipped.append("\(path) (\(LuaArgs(L, function: "session").typeName(idx)))")
                    return nil
                }
                if let id = try encodeObject(obj, path: path, summary: &summary) { return ["object": id] }
                return nil
            default:
                summary.skipped.append("\(path) (\(String(cString: lua_typename(L, lua_type(L, idx)))))")
                return nil
            }
        }

        /// Records a Swift object (once) and returns its id, or nil when it cannot be saved. The
        /// object's type writes its own record (`LuaObject.sessionRecord`).
        mutating func encodeObject(_ obj: AnyObject, path: String, summary: inout Summary) throws -> String? {
            if let id = objectIDs[ObjectIdentifier(obj)] { return id }
            guard let object = obj as? LuaObject else {
                summary.skipped.append("\(path) (\(type(of: obj)))")
                return nil
            }
            objectCount += 1
            let id = "O\(objectCount)"
            objectIDs[ObjectIdentifier(obj)] = id  // before what it refers to (no self-reference possible)
            guard var record = try object.sessionRecord(&self, id: id, path: path, summary: &summary) else {
                objectIDs[ObjectIdentifier(obj)] = nil
                return nil
            }
            record["type"] = Swift.type(of: object).sessionType
            objects[id] = record
            return id
        }

        /// The record of a model: its configuration, and its weights under `<id>/` in the tensors file.
        mutating func modelRecord<C: Encodable>(_ model: Module, config: C, id: String) throws -> [String: Any] {
            for (k, v) in model.stateDict() { tensors["\(id)/\(k)"] = v }
            return ["config": try LuaSession.jsonObject(config), "weights": id + "/"]
        }

        /// The record of an object remade by its builder: `fields` plus the encoded recipe, or nil
        /// (skipped with `missing`) when there is none.
        mutating func recipeRecord(
            _ recipe: LuaRecipe?, _ fields: [String: Any], path: String, summary: inout Summary,
            missing: String
        ) throws -> [String: Any]? {
            guard let recipe else {
                summary.skipped.append("\(path) (\(missing))")
                return nil
            }
            guard let r = try encodeRecipe(recipe, path: path, summary: &summary) else { return nil }
            return fields.merging(["recipe": r]) { $1 }
        }

        mutating func encodeRecipe(_ r: LuaRecipe, path: String, summary: inout Summary) throws -> [String: Any]? {
            guard recipeDepth < Encoder.maxRecipeDepth else {
                summary.skipped.append("\(path) (made by more than \(Encoder.maxRecipeDepth) nested builders)")
                return nil
            }
            recipeDepth += 1
            defer { recipeDepth -= 1 }
            var args: [Any] = []
            for a in r.args {
                guard let v = try encodeRecipeValue(a, path: path, summary: &summary) else { return nil }
                args.append(v)
            }
            return ["function": r.function, "args": args, "result": r.result]
        }

        mutating func encodeRecipeValue(_ v: LuaRecipe.Value, path: String, summary: inout Summary) throws -> Any? {
            switch v {
            case .none: return ["nil": true]
            case .boolean(let b): return ["b": b]
            case .integer(let i): return ["i": i]
            case .number(let d): return ["n": "\(d)"]
            case .string(let s): return ["s": s]
            case .object(let o):
                guard let id = try encodeObject(o, path: path, summary: &summary) else { return nil }
                return ["object": id]
            case .table(let entries):
                var out: [[Any]] = []
                for (k, x) in entries {
                    guard let ke = try encodeRecipeValue(k, path: path, summary: &summary),
                        let xe = try encodeRecipeValue(x, path: path, summary: &summary)
                    else { return nil }
                    out.append([ke, xe])
                }
                return ["inline": out]
            }
        }

    }

    /// A Codable value as a JSON object for the manifest.
    static func jsonObject<T: Encodable>(_ v: T) throws -> Any {
        try JSONSerialization.jsonObject(with: try JSONEncoder().encode(v))
    }
}

extension LuaSession {
    static let baselineKey = "doll.session.baseline"

    /// Remembers the globals present at start-up (libraries, `doll`, `print`): they are not data
    /// and are never saved.
    static func recordBaseline(_ L: OpaquePointer) {
        lua_createtable(L, 0, 64)
        let set = lua_gettop(L)
        lua_rawgeti(L, DOLL_LUA_REGISTRYINDEX, lua_Integer(LUA_RIDX_GLOBALS))
        lua_pushnil(L)
        while lua_next(L, -2) != 0 {
            lua_settop(L, -2)
            if lua_type(L, -1) == LUA_TSTRING { lua_pushvalue(L, -1); lua_pushboolean(L, 1); lua_rawset(L, set) }
        }
        lua_settop(L, -2)
        lua_pushstring(L, "arg"); lua_pushboolean(L, 1); lua_rawset(L, set)
        lua_setfield(L, DOLL_LUA_REGISTRYINDEX, baselineKey)
    }

    /// Names of the start-up globals.
    public static func baselineNames(_ L: OpaquePointer) -> Set<String> {
        var out = Set<String>()
        lua_getfield(L, DOLL_LUA_REGISTRYINDEX, baselineKey)
        if lua_type(L, -1) == LUA_TTABLE {
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                lua_settop(L, -2)
                if lua_type(L, -1) == LUA_TSTRING { out.insert(String(cString: lua_tolstring(L, -1, nil))) }
            }
        }
        lua_settop(L, -2)
        return out
    }

    /// Where named sessions live: `$XDG_STATE_HOME/doll/sessions` or `~/.local/state/doll/sessions`.
    public static var directory: String {
        let env = ProcessInfo.processInfo.environment
        if let s = env["DOLL_STATE_DIR"], !s.isEmpty { return s + "/sessions" }
        if let x = env["XDG_STATE_HOME"], x.hasPrefix("/") { return x + "/doll/sessions" }
        return homeDirectory + "/.local/state/doll/sessions"
    }

    /// `$HOME` when it is an absolute path (as a shell user expects), else the account's home.
    public static var homeDirectory: String {
        if let h = ProcessInfo.processInfo.environment["HOME"], h.hasPrefix("/") { return h }
        return NSHomeDirectory()
    }

    /// A session name (`work`) maps into `directory`; anything with a `/` or the
    /// `.dollsession` suffix is a path.
    public static func path(for name: String) -> String {
        if name.hasSuffix(".dollsession") { return name }
        if name.contains("/") { return name + ".dollsession" }
        return directory + "/" + name + ".dollsession"
    }

    /// Names of the sessions in `directory`, sorted.
    public static func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".dollsession") && !$0.hasPrefix(".") }.map {
                String($0.dropLast(".dollsession".count))
            }.sorted()
    }

    /// The most recently saved session's path, if any.
    public static var last: String? {
        guard let s = try? String(contentsOfFile: directory + "/LAST", encoding: .utf8) else { return nil }
        let p = s.trimmingCharacters(in: .whitespacesAndNewlines)
        return p.isEmpty ? nil : p
    }

    /// Records a named session (one in `directory`) as the last one; a save to an explicit path
    /// elsewhere writes nothing in the state directory.
    static func rememberLast(_ path: String) {
        let abs = ((path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path) as NSString)
            .standardizingPath
        guard parentDirectory(abs) == (directory as NSString).standardizingPath else { return }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        AtomicDirectory.removeStaleTemporaries(parent: directory, base: "LAST")
        try? AtomicFile.write(Data(abs.utf8), to: directory + "/LAST")
    }

    /// Saves `L`'s data globals under a name or path and remembers it as the last session.
    public static func save(_ L: OpaquePointer, name: String) throws -> Summary {
        let p = path(for: name)
        let s = try save(L, to: p, skipNames: baselineNames(L))
        rememberLast(p)
        return s
    }

    /// `doll.session.save/load/list`.
    static func install(_ L: OpaquePointer) {
        let fns: [(String, LuaFunction)] = [
            (
                "save",
                { a in
                    let s = try save(a.L, name: try a.string(1, "name or path"))
                    pushSummary(a, s); return 1
                }
            ),
            (
                "load",
                { a in
                    let name = try a.optString(1, "name or path") ?? (last ?? "")
                    guard !name.isEmpty else { throw LuaBindingError("no session name given and no session saved yet") }
                    let s: Summary
                    do { s = try load(a.L, from: path(for: name)) } catch let e as SessionError {
                        throw LuaBindingError(e.message)
                    }
                    pushSummary(a, s); return 1
                }
            ),
            (
                "list",
                { a in
                    LuaModule.pushStrings(a.L, names()); return 1
                }
            ),
        ]
        lua_getglobal(L, "doll")
        lua_createtable(L, 0, Int32(fns.count))
        for (name, body) in fns {
            lua_pushstring(L, name)
            doll_lua_push_function(L, LuaModule.fn("doll.session.\(name)", body))
            lua_rawset(L, -3)
        }
        lua_setfield(L, -2, "session")
        lua_settop(L, -2)
    }

    static func pushSummary(_ a: LuaArgs, _ s: Summary) {
        lua_createtable(a.L, 0, 4)
        a.push(s.path); a.setField("path")
        LuaModule.pushStrings(a.L, s.globals); a.setField("globals")
        LuaModule.pushStrings(a.L, s.skipped); a.setField("skipped")
        a.push(s.bytes); a.setField("bytes")
    }
}
