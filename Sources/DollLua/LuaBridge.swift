import CDollSupport
import CLua
import DollData
import DollTensor
import Foundation

/// An error raised inside a binding: becomes a Lua error "<function>: <message>".
public struct LuaBindingError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A Swift function callable from Lua. It reads its arguments through `LuaArgs` (which never
/// raises Lua errors) and returns the number of values it pushed.
public typealias LuaFunction = (LuaArgs) throws -> Int32

/// Process-wide table of Swift functions and objects reachable from Lua states. Lua sees
/// functions as C closures carrying an integer id, and Swift objects as full userdata holding an
/// integer handle; `__gc` releases the handle.
final class LuaRegistry: @unchecked Sendable {
    static let shared = LuaRegistry()
    private let lock = NSLock()
    private var functions: [(name: String, body: LuaFunction)] = []
    private var objects: [Int64: AnyObject] = [:]
    private var nextHandle: Int64 = 1

    func register(_ name: String, _ body: @escaping LuaFunction) -> Int32 {
        lock.lock(); defer { lock.unlock() }
        functions.append((name, body))
        return Int32(functions.count - 1)
    }

    func function(_ id: Int32) -> (name: String, body: LuaFunction)? {
        lock.lock(); defer { lock.unlock() }
        return id >= 0 && Int(id) < functions.count ? functions[Int(id)] : nil
    }

    func store(_ object: AnyObject) -> Int64 {
        lock.lock(); defer { lock.unlock() }
        let h = nextHandle; nextHandle += 1
        objects[h] = object
        return h
    }

    func object(_ handle: Int64) -> AnyObject? { lock.lock(); defer { lock.unlock() }; return objects[handle] }
    func release(_ handle: Int64) { lock.lock(); defer { lock.unlock() }; objects[handle] = nil }
    var liveObjects: Int { lock.lock(); defer { lock.unlock() }; return objects.count }
}

/// The C-callable dispatcher: runs the Swift function `id`, converting thrown errors into a
/// pushed message and `DOLL_LUA_ERROR_CODE` (the C trampoline then raises the Lua error).
let luaDispatch: doll_lua_dispatch_fn = { state, id in
    guard let L = state else { return DOLL_LUA_ERROR_CODE }
    guard let f = LuaRegistry.shared.function(id) else {
        lua_pushstring(L, "doll: unknown function id \(id)")
        return DOLL_LUA_ERROR_CODE
    }
    do {
        return try f.body(LuaArgs(L, function: f.name))
    } catch let e as LuaBindingError {
        lua_pushstring(L, "\(f.name): \(e.message)")
    } catch let e as DollError {
        lua_pushstring(L, "\(f.name): \(e.message)")
    } catch {
        lua_pushstring(L, "\(f.name): \(fileErrorMessage(error))")
    }
    return DOLL_LUA_ERROR_CODE
}

/// Typed, non-raising access to a binding's arguments and result pushing.
public struct LuaArgs {
    public let L: OpaquePointer
    public let function: String

    init(_ L: OpaquePointer, function: String) { self.L = L; self.function = function }

    /// Number of arguments.
    public var count: Int32 { lua_gettop(L) }

    public func type(_ i: Int32) -> Int32 { lua_type(L, i) }

    /// "argument #2 (size)" for an argument; just "size" for a value read from inside a table
    /// (a negative stack index), whose caller names the path (`shape[1]: size …`).
    func label(_ i: Int32, _ what: String) -> String { i > 0 ? "argument #\(i) (\(what))" : what }
    public func isNil(_ i: Int32) -> Bool { lua_type(L, i) <= LUA_TNIL }

    public func typeName(_ i: Int32) -> String {
        if let name = userdataTypeName(i) { return name }
        return String(cString: lua_typename(L, lua_type(L, i)))
    }

    func userdataTypeName(_ i: Int32) -> String? {
        guard lua_type(L, i) == LUA_TUSERDATA, lua_getmetatable(L, i) != 0 else { return nil }
        lua_pushstring(L, "__name")
        lua_rawget(L, -2)
        defer { lua_settop(L, -3) }
        guard lua_type(L, -1) == LUA_TSTRING, let s = lua_tolstring(L, -1, nil) else { return nil }
        return String(cString: s)
    }

    func describe(_ i: Int32) -> String { i > count ? "nothing" : typeName(i) }

    public func number(_ i: Int32, _ what: String) throws -> Double {
        guard lua_type(L, i) == LUA_TNUMBER else {
            throw LuaBindingError("\(label(i, what)) must be a number, got \(describe(i))")
        }
        return lua_tonumberx(L, i, nil)
    }

    public func optNumber(_ i: Int32, _ what: String) throws -> Double? { isNil(i) ? nil : try number(i, what) }

    /// An integer (a number with no fractional part) within `range`.
    public func integer(_ i: Int32, _ what: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        let v = try number(i, what)
        guard v.isFinite, v == v.rounded(), v >= -9.0e15, v <= 9.0e15 else {
            throw LuaBindingError("\(label(i, what)) must be an integer, got \(v)")
        }
        let n = Int(v)
        guard range.contains(n) else {
            throw LuaBindingError("\(label(i, what)) must be in \(range.lowerBound)…\(range.upperBound), got \(n)")
        }
        return n
    }

    public func string(_ i: Int32, _ what: String) throws -> String {
        guard lua_type(L, i) == LUA_TSTRING, let s = lua_tolstring(L, i, nil) else {
            throw LuaBindingError("\(label(i, what)) must be a string, got \(describe(i))")
        }
        return String(cString: s)
    }

    public func optString(_ i: Int32, _ what: String) throws -> String? { isNil(i) ? nil : try string(i, what) }

    public func boolean(_ i: Int32, _ what: String) throws -> Bool {
        guard lua_type(L, i) == LUA_TBOOLEAN else {
            throw LuaBindingError("\(label(i, what)) must be a boolean, got \(describe(i))")
        }
        return lua_toboolean(L, i) != 0
    }

    /// The Swift object behind a doll userdata at `i` (nil for anything else, including
    /// userdata of other libraries such as io files).
    func dollObject(_ i: Int32) -> AnyObject? {
        guard lua_type(L, i) == LUA_TUSERDATA, userdataTypeName(i)?.hasPrefix("doll.") == true,
            lua_rawlen(L, i) == MemoryLayout<Int64>.size, let raw = lua_touserdata(L, i)
        else { return nil }
        return LuaRegistry.shared.object(raw.load(as: Int64.self))
    }

    /// The Swift object behind a userdata argument of the given class.
    public func object<T: AnyObject>(_ i: Int32, _ type: T.Type, _ what: String) throws -> T {
        guard let obj = dollObject(i) as? T else {
            throw LuaBindingError("\(label(i, what)) must be a \(LuaTypes.name(of: T.self)), got \(describe(i))")
        }
        return obj
    }

    public func optObject<T: AnyObject>(_ i: Int32, _ type: T.Type, _ what: String) throws -> T? {
        isNil(i) ? nil : try object(i, type, what)
    }

    /// The options table of this function: the keys its `LuaDocs` entry lists are allowed.
    public func options(_ i: Int32) throws -> LuaOptions {
        guard let doc = LuaDocs.doc(function) else {
            throw LuaBindingError("\(function) has no LuaDocs entry, so its options are unknown")
        }
        return try options(i, allowed: doc.options)
    }

    /// A table argument read as an options table: string keys only, each in `allowed` (unknown
    /// keys are an error with a "did you mean" hint).
    public func options(_ i: Int32, allowed: [String]) throws -> LuaOptions {
        if isNil(i) { return LuaOptions(args: self, index: 0, present: []) }
        guard lua_type(L, i) == LUA_TTABLE else {
            throw LuaBindingError("\(label(i, "options")) must be a table, got \(describe(i))")
        }
        let idx = lua_absindex(L, i)
        var keys: [String] = []
        var badKey: String? = nil
        lua_pushnil(L)
        while lua_next(L, idx) != 0 {
            if lua_type(L, -2) == LUA_TSTRING, let k = lua_tolstring(L, -2, nil) {
                keys.append(String(cString: k))
                lua_settop(L, -2)  // pop the value, keep the key for lua_next
            } else {
                badKey = String(cString: lua_typename(L, lua_type(L, -2)))
                lua_settop(L, -3)  // pop value and key: iteration ends here
                break
            }
        }
        if let badKey { throw LuaBindingError("options table keys must be strings (got a \(badKey) key)") }
        for k in keys where !allowed.contains(k) {
            let hint = didYouMean(k, allowed).map { " (did you mean '\($0)'?)" } ?? ""
            throw LuaBindingError(
                "unknown option '\(k)'\(hint); options are: \(allowed.sorted().joined(separator: ", "))")
        }
        return LuaOptions(args: self, index: idx, present: Set(keys))
    }

    // MARK: pushing results

    public func push(_ v: Double) { lua_pushnumber(L, v) }
    public func push(_ v: Int) { lua_pushinteger(L, lua_Integer(v)) }
    public func push(_ v: Bool) { lua_pushboolean(L, v ? 1 : 0) }
    public func push(_ s: String) { lua_pushstring(L, s) }
    public func pushNil() { lua_pushnil(L) }

    /// Pushes a Swift object as userdata with the metatable registered for its type.
    public func push(object: AnyObject) {
        let handle = LuaRegistry.shared.store(object)
        let ud = lua_newuserdatauv(L, MemoryLayout<Int64>.size, 0)!
        ud.storeBytes(of: handle, as: Int64.self)
        lua_getfield(L, DOLL_LUA_REGISTRYINDEX, LuaTypes.name(of: Swift.type(of: object)))
        lua_setmetatable(L, -2)
    }

    /// Pushes a Lua array of numbers.
    public func push(array: [Double]) {
        lua_createtable(L, Int32(array.count), 0)
        for (i, v) in array.enumerated() { lua_pushnumber(L, v); lua_rawseti(L, -2, lua_Integer(i + 1)) }
    }

    /// Pushes a Lua array of integers.
    public func push(integers: [Int]) {
        lua_createtable(L, Int32(integers.count), 0)
        for (i, v) in integers.enumerated() {
            lua_pushinteger(L, lua_Integer(v)); lua_rawseti(L, -2, lua_Integer(i + 1))
        }
    }

    /// Pushes a table with string keys and number values.
    public func push(record: [(String, Double)]) {
        lua_createtable(L, 0, Int32(record.count))
        for (k, v) in record { lua_pushstring(L, k); lua_pushnumber(L, v); lua_rawset(L, -3) }
    }

    /// Sets `t[key] = value-on-top` for the table just below the top (pops the value).
    public func setField(_ key: String) { lua_pushstring(L, key); lua_rotate(L, -2, 1); lua_rawset(L, -3) }
}

/// Options table access (`{steps=50, method="gausslegendre"}`); every getter type-checks.
public struct LuaOptions {
    let args: LuaArgs
    let index: Int32
    public let present: Set<String>

    private func get<T>(_ key: String, _ read: (Int32) throws -> T) throws -> T? {
        guard present.contains(key) else { return nil }
        let L = args.L
        lua_pushstring(L, key)
        lua_rawget(L, index)
        defer { lua_settop(L, -2) }
        do { return try read(-1) } catch let e as LuaBindingError {
            throw LuaBindingError("option '\(key)': " + (e.message.components(separatedBy: ") ").last ?? e.message))
        }
    }

    /// The Lua type of an option's value (`LUA_TNIL` when absent).
    public func type(_ key: String) -> Int32 {
        guard present.contains(key) else { return LUA_TNIL }
        lua_pushstring(args.L, key)
        lua_rawget(args.L, index)
        defer { lua_settop(args.L, -2) }
        return lua_type(args.L, -1)
    }

    public func number(_ key: String) throws -> Double? { try get(key) { try args.number($0, key) } }
    public func integer(_ key: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int? {
        try get(key) { try args.integer($0, key, in: range) }
    }
    public func string(_ key: String) throws -> String? { try get(key) { try args.string($0, key) } }
    public func bool(_ key: String) throws -> Bool? { try get(key) { try args.boolean($0, key) } }
    public func object<T: AnyObject>(_ key: String, _ type: T.Type) throws -> T? {
        try get(key) { try args.object($0, type, key) }
    }

    /// A list of strings (`{"a", "b"}`) or a single string.
    public func strings(_ key: String) throws -> [String]? {
        try get(key) { i in
            if lua_type(args.L, i) == LUA_TSTRING { return [try args.string(i, key)] }
            return try args.list(i, key) { try args.string($0, key) }
        }
    }

    /// A list of numbers.
    public func numbers(_ key: String) throws -> [Double]? {
        try get(key) { i in try args.list(i, key) { try args.number($0, key) } }
    }

    /// One of the allowed string values.
    public func choice(_ key: String, _ allowed: [String]) throws -> String? {
        guard let v = try string(key) else { return nil }
        guard allowed.contains(v) else {
            let hint = didYouMean(v, allowed).map { " (did you mean '\($0)'?)" } ?? ""
            throw LuaBindingError(
                "option '\(key)' must be one of \(allowed.joined(separator: ", ")), got '\(v)'\(hint)")
        }
        return v
    }
}

extension LuaArgs {
    /// Reads a Lua sequence at `i` with `read` applied to each element (at the stack top).
    public func list<T>(_ i: Int32, _ what: String, limit: Int = 1 << 24, _ read: (Int32) throws -> T) throws -> [T] {
        guard lua_type(L, i) == LUA_TTABLE else {
            throw LuaBindingError("\(what) must be a table (list), got \(describe(i))")
        }
        let idx = lua_absindex(L, i)
        let n = Int(lua_rawlen(L, idx))
        guard n <= limit else { throw LuaBindingError("\(what) has \(n) elements, more than the limit \(limit)") }
        var out: [T] = []
        out.reserveCapacity(n)
        for k in 1...Swift.max(n, 1) where n > 0 {
            lua_rawgeti(L, idx, lua_Integer(k))
            defer { lua_settop(L, -2) }
            do { out.append(try read(-1)) } catch let e as LuaBindingError {
                throw LuaBindingError("\(what)[\(k)]: \(e.message)")
            }
        }
        return out
    }
}

/// Levenshtein-closest candidate within distance 3.
func didYouMean(_ s: String, _ candidates: [String]) -> String? {
    func dist(_ a: [Character], _ b: [Character]) -> Int {
        var prev = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var cur = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, cb) in b.enumerated() {
                cur[j + 1] = Swift.min(prev[j + 1] + 1, cur[j] + 1, prev[j] + (ca == cb ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
    let a = Array(s.lowercased())
    let best = candidates.map { ($0, dist(a, Array($0.lowercased()))) }.min { $0.1 < $1.1 }
    return best.flatMap { $0.1 <= 3 ? $0.0 : nil }
}
