import CDollSupport
import CLua
import DollData
import DollExplain
import DollNN
import DollTensor
import Foundation

/// A session file that cannot be loaded, with what is wrong and where.
public struct SessionError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension LuaSession {
    /// A manifest value, validated.
    indirect enum Value {
        case none, boolean(Bool), integer(Int64), number(Double), string(Data)
        case table(String), object(String), inline([(Value, Value)])
    }

    /// How to remake one object of a validated session: the objects it needs first (by id) and
    /// a function that makes it once they exist.
    struct Restorer {
        var dependencies: [String] = []
        let make: (RestoreContext) throws -> AnyObject
        init(dependencies: [String] = [], make: @escaping (RestoreContext) throws -> AnyObject) {
            self.dependencies = dependencies
            self.make = make
        }
    }

    /// What a restorer may use while loading: objects already made, and builder calls.
    struct RestoreContext {
        let L: OpaquePointer
        let objectAnchor: Int32

        /// The object made for `id`, if it was.
        func object(_ id: String) -> AnyObject? {
            lua_getfield(L, objectAnchor, id)
            defer { lua_settop(L, -2) }
            return LuaArgs(L, function: "doll.session.load").dollObject(-1)
        }

        /// Calls a registered builder with validated arguments and returns result number `result`.
        func call(_ function: String, args: [Value], result: Int) throws -> AnyObject {
            guard let fid = LuaModule.functionID(function) else {
                throw SessionError("builder '\(function)' is not available")
            }
            let top = lua_gettop(L)
            defer { lua_settop(L, top) }
            doll_lua_push_function(L, fid)
            for arg in args { try LuaSession.push(arg, L: L, objects: objectAnchor, tables: nil) }
            guard doll_lua_pcall_traceback(L, Int32(args.count), Int32(result)) == LUA_OK else {
                let msg =
                    lua_type(L, -1) == LUA_TSTRING
                    ? String(cString: lua_tolstring(L, -1, nil)) : "error in '\(function)'"
                throw SessionError(msg.components(separatedBy: "\nstack traceback:").first ?? msg)
            }
            // The wanted result is the last one.
            guard let object = LuaArgs(L, function: "doll.session.load").dollObject(-1) else {
                throw SessionError("builder '\(function)' returned no object")
            }
            return object
        }
    }

    /// One object's manifest record being validated, with helpers that name the place of a fault.
    struct Record {
        let raw: [String: Any]
        /// `objects.O3`
        let at: String
        let context: ValueContext
        let tensors: [String: Tensor]
        /// Values in the tensors file (model configurations may not describe more weights).
        let totalValues: Int

        func error(_ suffix: String) -> SessionError { SessionError("manifest.json: \(at)\(suffix)") }

        /// A Codable field.
        func decode<T: Decodable>(_ t: T.Type, _ key: String) throws -> T {
            guard let x = raw[key], JSONSerialization.isValidJSONObject(x) || x is [String: Any] else {
                throw error(".\(key) is missing")
            }
            do { return try JSONDecoder().decode(T.self, from: try JSONSerialization.data(withJSONObject: x)) } catch {
                throw self.error(".\(key) is not a valid \(T.self): \(error)")
            }
        }

        /// The tensors under the prefix named by `key`, by their names after it; each of `need`
        /// must be present.
        func weights(_ key: String, need: [String]) throws -> [String: Tensor] {
            guard let p = raw[key] as? String else { throw error(".\(key) is missing") }
            for n in need where tensors[p + n] == nil {
                throw error(" needs tensor '\(p + n)', which the tensors file lacks")
            }
            var out: [String: Tensor] = [:]
            for (k, t) in tensors where k.hasPrefix(p) { out[String(k.dropFirst(p.count))] = t }
            return out
        }

        /// A tagged manifest value.
        func value(_ key: String) throws -> Value { try context.value(raw[key] ?? [:], at: "\(at).\(key)") }

        /// A recipe record: the builder is called again with the same arguments.
        func recipeRestorer() throws -> Restorer {
            guard let r = raw["recipe"] as? [String: Any], let fn = r["function"] as? String,
                let args = r["args"] as? [Any]
            else {
                throw error(".recipe must be {function, args, result}")
            }
            guard LuaTypes.sessionBuilders.contains(fn) else {
                throw error(".recipe names '\(fn)', which is not a dataset or explainer builder")
            }
            let result = (r["result"] as? Int) ?? 1
            guard (1...2).contains(result) else { throw error(".recipe.result must be 1 or 2") }
            let values = try args.enumerated().map {
                try context.value($0.element, at: "\(at).recipe.args[\($0.offset + 1)]", allowInline: true)
            }
            var dependencies: [String] = []
            for case .object(let dep) in values.flatMap(LuaSession.flattened) { dependencies.append(dep) }
            return Restorer(dependencies: dependencies) { context in try context.call(fn, args: values, result: result)
            }
        }
    }

    /// A parsed and fully validated session.
    struct Validated {
        var globals: [(String, Value)] = []
        var tables: [String: [(Value, Value)]] = [:]
        /// Bulk numbers 1…n of tables, by table id.
        var arrays: [String: SafeTensors.NumberArray] = [:]
        var objects: [String: Restorer] = [:]
        var tensors: [String: Tensor] = [:]
        var skippedAtSave: [String] = []
    }

    /// The directory to read for `path`: the path itself, or the copy an interrupted
    /// non-atomic replace moved aside.
    static func resolve(_ path: String) -> String {
        let target = (path as NSString).standardizingPath
        if FileManager.default.fileExists(atPath: target) { return target }
        let parent = parentDirectory(target)
        let previous = (parent.isEmpty ? "." : parent) + "/.\((target as NSString).lastPathComponent).previous"
        return FileManager.default.fileExists(atPath: previous) ? previous : target
    }

    /// Reads and validates a session directory without touching any Lua state. A save running
    /// at the same time swaps whole directories; the files are opened through one descriptor of
    /// the directory, so they come from one generation, and a generation deleted under the
    /// reader is read again from the start.
    static func validate(path: String) throws -> Validated {
        var attempt = 0
        while true {
            do { return try validateOnce(path: path) } catch let e as Vanished {
                attempt += 1
                guard attempt < 50 else {
                    throw SessionError("session '\(path)' kept changing while it was read: \(e.file) vanished")
                }
                usleep(useconds_t(1000 * attempt))
            }
        }
    }

    /// A file of the generation being read was deleted (a concurrent save replaced it).
    struct Vanished: Error { let file: String }

    /// The bytes of `name`, a regular file (not a symlink) directly in the directory `dirFD`.
    static func readFile(_ name: String, in dirFD: Int32, session path: String, what: String) throws -> Data {
        let fd = openat(dirFD, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            switch errno {
            case ENOENT: throw Vanished(file: name)
            case ELOOP:
                throw SessionError(
                    "session '\(path)': \(what) '\(name)' is a symbolic link; a session holds its files itself")
            default:
                throw SessionError(
                    "session '\(path)': cannot open \(what) '\(name)': \(String(cString: strerror(errno)))")
            }
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw SessionError("session '\(path)': \(what) '\(name)' is not a regular file")
        }
        do { return try handle.readToEnd() ?? Data() } catch {
            throw SessionError("session '\(path)': cannot read \(what) '\(name)'")
        }
    }

    private static func validateOnce(path: String) throws -> Validated {
        let dir = resolve(path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) else {
            throw SessionError("no session at '\(path)'")
        }
        guard isDir.boolValue else { throw SessionError("'\(path)' is not a session directory") }
        let dirFD = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else {
            if errno == ENOENT { throw Vanished(file: dir) }
            throw SessionError("cannot open session '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(dirFD) }
        let data: Data
        do { data = try readFile("manifest.json", in: dirFD, session: path, what: "manifest") } catch is Vanished {
            // A directory without a manifest that nobody is replacing is simply not a session.
            if FileManager.default.fileExists(atPath: dir + "/manifest.json") { throw Vanished(file: "manifest.json") }
            throw SessionError("session '\(path)' has no readable manifest.json")
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw SessionError("session '\(path)': manifest.json is not valid JSON")
        }
        guard let m = json as? [String: Any] else {
            throw SessionError("session '\(path)': manifest.json is not a JSON object")
        }
        guard m["format"] as? String == "doll.session" else {
            throw SessionError(
                "session '\(path)': manifest.json is not a doll session (format must be \"doll.session\")")
        }
        guard let schemaValue = m["schema"] as? Int else {
            throw SessionError("session '\(path)': manifest.json has no integer schema version")
        }
        guard schemaValue == schema else {
            throw SessionError(
                "session '\(path)' has schema version \(schemaValue); this doll reads version \(schema)\(schemaValue > schema ? " (it was written by a newer doll)" : "")"
            )
        }
        var v = Validated()
        // Tensors file: a plain name inside the session directory, read through the same directory descriptor.
        guard let tf = m["tensors"] as? String else {
            throw SessionError("session '\(path)': manifest.json names no tensors file")
        }
        guard !tf.isEmpty, !tf.contains("/"), tf != "..", tf != "." else {
            throw SessionError("manifest.json: tensors file '\(tf)' escapes the session directory")
        }
        let tensorBytes: Data
        do { tensorBytes = try readFile(tf, in: dirFD, session: path, what: "tensors file") } catch is Vanished {
            if FileManager.default.fileExists(atPath: dir + "/manifest.json")
                && !FileManager.default.fileExists(atPath: dir + "/" + tf)
            {
                throw SessionError("session '\(path)': tensors file '\(tf)' is missing")
            }
            throw Vanished(file: tf)
        }
        let file: SafeTensors.File
        do { file = try SafeTensors.decode(tensorBytes, exactArrayPrefix: "A/") } catch {
            throw SessionError("session '\(path)': \(error)")
        }
        v.tensors = file.tensors
        if let generation = m["generation"] as? String, file.metadata["doll.generation"] != generation {
            throw SessionError(
                "session '\(path)': manifest.json and '\(tf)' come from different saves (generation \(generation) vs \(file.metadata["doll.generation"] ?? "none"))"
            )
        }
        guard let tables = m["tables"] as? [String: Any], let objects = m["objects"] as? [String: Any],
            let globals = m["globals"] as? [String: Any]
        else {
            throw SessionError("session '\(path)': manifest.json needs 'globals', 'tables' and 'objects' objects")
        }
        v.skippedAtSave = (m["skipped"] as? [String]) ?? []
        let ctx = ValueContext(tableIDs: Set(tables.keys), objectIDs: Set(objects.keys))
        for (name, raw) in globals.sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, !name.utf8.contains(0) else {
                throw SessionError("manifest.json: a global name is empty or contains a NUL byte")
            }
            v.globals.append((name, try ctx.value(raw, at: "globals.\(name)")))
        }
        for (id, raw) in tables {
            guard let t = raw as? [String: Any], let entries = t["entries"] as? [Any] else {
                throw SessionError("manifest.json: tables.\(id) must be {\"entries\": [[key, value], ...]}")
            }
            if let bulk = t["array"] {
                guard let b = bulk as? [String: Any], let name = b["numbers"] as? String, let array = file.arrays[name]
                else {
                    throw SessionError(
                        "manifest.json: tables.\(id).array must name exact numbers the tensors file holds")
                }
                v.arrays[id] = array
            }
            v.tables[id] = try entries.enumerated().map { k, e in
                guard let pair = e as? [Any], pair.count == 2 else {
                    throw SessionError("manifest.json: tables.\(id).entries[\(k)] must be a [key, value] pair")
                }
                let key = try ctx.value(pair[0], at: "tables.\(id).entries[\(k)] key")
                try checkKey(key, at: "tables.\(id).entries[\(k)]")
                return (key, try ctx.value(pair[1], at: "tables.\(id).entries[\(k)] value"))
            }
        }
        for (id, raw) in objects {
            v.objects[id] = try object(raw, id: id, ctx: ctx, tensors: v.tensors)
        }
        return v
    }

    /// Lua refuses nil and NaN table keys (with an error that must not happen outside pcall).
    static func checkKey(_ key: Value, at where_: String) throws {
        if case .none = key { throw SessionError("manifest.json: \(where_) has a nil key") }
        if case .number(let d) = key, d.isNaN { throw SessionError("manifest.json: \(where_) has a NaN key") }
    }

    struct ValueContext {
        let tableIDs: Set<String>, objectIDs: Set<String>

        func value(_ raw: Any, at where_: String, allowInline: Bool = false) throws -> Value {
            guard let d = raw as? [String: Any], d.count == 1, let (tag, x) = d.first else {
                throw SessionError(
                    "manifest.json: \(where_) must be an object with one tag (b, i, n, s, bytes, table, object)")
            }
            switch tag {
            case "nil": return .none
            case "b": guard let b = x as? Bool else { break }; return .boolean(b)
            // exact, no Double detour
            case "i": guard let n = x as? NSNumber, let i = Int64("\(n)") else { break }; return .integer(i)
            case "n": guard let s = x as? String, let f = Double(s) else { break }; return .number(f)
            case "s": guard let s = x as? String else { break }; return .string(Data(s.utf8))
            case "bytes": guard let s = x as? String, let b = Data(base64Encoded: s) else { break }; return .string(b)
            case "table":
                guard let id = x as? String else { break }
                guard tableIDs.contains(id) else {
                    throw SessionError("manifest.json: \(where_) refers to table '\(id)', which does not exist")
                }
                return .table(id)
            case "object":
                guard let id = x as? String else { break }
                guard objectIDs.contains(id) else {
                    throw SessionError("manifest.json: \(where_) refers to object '\(id)', which does not exist")
                }
                return .object(id)
            case "inline" where allowInline:
                guard let entries = x as? [Any] else { break }
                return .inline(
                    try entries.enumerated().map { k, e in
                        guard let pair = e as? [Any], pair.count == 2 else {
                            throw SessionError("manifest.json: \(where_)[\(k)] must be a [key, value] pair")
                        }
                        let key = try value(pair[0], at: "\(where_)[\(k)]", allowInline: true)
                        try LuaSession.checkKey(key, at: "\(where_)[\(k)]")
                        return (key, try value(pair[1], at: "\(where_)[\(k)]", allowInline: true))
                    })
            default:
                throw SessionError("manifest.json: \(where_) has unknown tag '\(tag)'")
            }
            throw SessionError("manifest.json: \(where_) has a malformed '\(tag)' value")
        }
    }

    /// Validates an object record by its type (`LuaObject.restorer`).
    static func object(_ raw: Any, id: String, ctx: ValueContext, tensors: [String: Tensor]) throws -> Restorer {
        let at = "objects.\(id)"
        guard let o = raw as? [String: Any], let type = o["type"] as? String else {
            throw SessionError("manifest.json: \(at) must be an object with a 'type'")
        }
        guard let luaType = LuaTypes.sessionType(type) else {
            throw SessionError("manifest.json: \(at) has unknown type '\(type)'")
        }
        let record = Record(
            raw: o, at: at, context: ctx, tensors: tensors, totalValues: tensors.values.reduce(0) { $0 + $1.count })
        return try luaType.restorer(record)
    }

    // MARK: load

    /// Loads a session into `L`'s globals (replacing same-named ones). Validation happens first,
    /// so a malformed session changes nothing. Objects that cannot be rebuilt (a dataset whose
    /// files moved) are reported as skipped and their globals left unset.
    public static func load(_ L: OpaquePointer, from path: String) throws -> Summary {
        let v = try validate(path: path)
        var summary = Summary(path: resolve(path))
        summary.skipped = v.skippedAtSave.map { "\($0), not saved" }
        guard lua_checkstack(L, 32) != 0 else { throw SessionError("Lua stack exhausted") }
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        lua_createtable(L, 0, 0); let objectAnchor = lua_gettop(L)
        lua_createtable(L, 0, 0); let tableAnchor = lua_gettop(L)
        let a = LuaArgs(L, function: "doll.session.load")
        let context = RestoreContext(L: L, objectAnchor: objectAnchor)

        // Objects (recipes may refer to other objects: depth-first with a cycle check).
        var failed: [String: String] = [:]
        var building: Set<String> = []
        func build(_ id: String, depth: Int = 0) {
            lua_getfield(L, objectAnchor, id)
            let exists = lua_type(L, -1) != LUA_TNIL
            lua_settop(L, -2)
            if exists || failed[id] != nil { return }
            guard !building.contains(id) else { failed[id] = "recipe cycle"; return }
            guard depth < 64 else { failed[id] = "made by more than 64 nested builders"; return }
            building.insert(id); defer { building.remove(id) }
            do {
                let restorer = v.objects[id]!
                for dep in restorer.dependencies { build(dep, depth: depth + 1) }
                a.push(object: try restorer.make(context))
                lua_setfield(L, objectAnchor, id)
            } catch {
                failed[id] = "\(error)"
            }
        }
        for id in v.objects.keys.sorted() { build(id) }

        // Tables: create them all, then fill (cycles and shared references come back as such).
        for id in v.tables.keys { lua_createtable(L, 0, 0); lua_setfield(L, tableAnchor, id) }
        for (id, entries) in v.tables {
            lua_getfield(L, tableAnchor, id)
            let t = lua_gettop(L)
            switch v.arrays[id] {
            case .int64(let values)?:
                for (k, x) in values.enumerated() { lua_pushinteger(L, x); lua_rawseti(L, t, lua_Integer(k + 1)) }
            case .float64(let values)?:
                for (k, x) in values.enumerated() { lua_pushnumber(L, x); lua_rawseti(L, t, lua_Integer(k + 1)) }
            case nil: break
            }
            for (k, x) in entries {
                if case .object(let o) = k, failed[o] != nil { continue }
                if case .object(let o) = x, failed[o] != nil { continue }
                try push(k, L: L, objects: objectAnchor, tables: tableAnchor)
                try push(x, L: L, objects: objectAnchor, tables: tableAnchor)
                lua_rawset(L, t)
            }
            lua_settop(L, t - 1)
        }
        let baseline = baselineNames(L)
        lua_rawgeti(L, DOLL_LUA_REGISTRYINDEX, lua_Integer(LUA_RIDX_GLOBALS))
        let g = lua_gettop(L)
        for (name, x) in v.globals {
            if baseline.contains(name) { summary.skipped.append("\(name) (a start-up name; not replaced)"); continue }
            if case .object(let o) = x, let why = failed[o] { summary.skipped.append("\(name) (\(why))"); continue }
            lua_pushstring(L, name)
            try push(x, L: L, objects: objectAnchor, tables: tableAnchor)
            lua_rawset(L, g)  // raw: a user's __newindex on _G never runs here
            summary.globals.append(name)
        }
        return summary
    }

    static func flattened(_ v: Value) -> [Value] {
        if case .inline(let e) = v { return e.flatMap { flattened($0.0) + flattened($0.1) } }
        return [v]
    }

    /// Pushes a validated value (objects and tables from their anchors).
    static func push(_ v: Value, L: OpaquePointer, objects: Int32, tables: Int32?) throws {
        guard lua_checkstack(L, 4) != 0 else { throw SessionError("Lua stack exhausted") }
        switch v {
        case .none: lua_pushnil(L)
        case .boolean(let b): lua_pushboolean(L, b ? 1 : 0)
        case .integer(let i): lua_pushinteger(L, lua_Integer(i))
        case .number(let d): lua_pushnumber(L, d)
        case .string(let s):
            if s.isEmpty {
                lua_pushstring(L, "")
            } else {
                s.withUnsafeBytes {
                    _ = lua_pushlstring(L, $0.baseAddress!.assumingMemoryBound(to: CChar.self), s.count)
                }
            }
        case .object(let id): lua_getfield(L, objects, id)
        case .table(let id):
            guard let tables else { throw SessionError("a recipe argument refers to a table") }
            lua_getfield(L, tables, id)
        case .inline(let entries):
            lua_createtable(L, 0, Int32(entries.count))
            let t = lua_gettop(L)
            for (k, x) in entries {
                try push(k, L: L, objects: objects, tables: tables);
                try push(x, L: L, objects: objects, tables: tables); lua_rawset(L, t)
            }
        }
    }
}

/// Model configurations read from files (sessions, `doll.load`) are checked before a model is
/// built: sizes in range, and no more weights than the file holds values (a 163-byte file must
/// not allocate gigabytes before failing).
enum ModelFileLimits {
    static let maxWeights = 50_000_000

    /// What is wrong with `cfg` for a file holding `values` numbers, or nil.
    static func problem(_ cfg: ResNetClassifier.Config, values: Int) -> String? {
        guard (1...16).contains(cfg.inChannels), (1...8).contains(cfg.widths.count),
            cfg.widths.count == cfg.blocks.count,
            cfg.widths.allSatisfy({ (1...1024).contains($0) }), cfg.blocks.allSatisfy({ (1...64).contains($0) }),
            (1...1000).contains(cfg.classes.count)
        else { return "has out-of-range sizes" }
        // The second 3×3 convolution of every block (width → width): a lower bound of the state dict.
        return check(weights: zip(cfg.widths, cfg.blocks).reduce(0) { $0 + $1.1 * 9 * $1.0 * $1.0 }, values: values)
    }

    static func problem(_ cfg: UNet.Config, values: Int) -> String? {
        guard (1...16).contains(cfg.inChannels), (1...64).contains(cfg.classes), (1...8).contains(cfg.widths.count),
            cfg.widths.allSatisfy({ (1...1024).contains($0) }), cfg.blocks.allSatisfy({ (1...64).contains($0) })
        else {
            return "has out-of-range sizes"
        }
        // One width → width 3×3 convolution per encoder stage: a lower bound of the state dict.
        return check(weights: cfg.widths.reduce(0) { $0 + 9 * $1 * $1 }, values: values)
    }

    private static func check(weights: Int, values: Int) -> String? {
        if weights > maxWeights { return "describes \(weights) weights, more than this doll loads (\(maxWeights))" }
        if weights > values { return "describes at least \(weights) weights, but the file holds only \(values) values" }
        return nil
    }
}
