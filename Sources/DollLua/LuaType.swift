import CDollSupport
import CLua
import Foundation

/// A Swift object that Lua holds as userdata. Each type describes itself in one file
/// (`Lua<Type>.swift`): its Lua name, the `doll.*` functions that make it, its methods, how it
/// prints, indexes and counts, how `:vars` lists it, and how a session saves and restores it.
/// `LuaTypes.all` is the one list of them; a new type is one file plus a line there and its
/// docs entries in `LuaDocs`.
protocol LuaObject: AnyObject {
    /// The metatable name (`doll.Tensor`).
    static var luaName: String { get }
    /// `doll.*` functions that make objects of this type, by name (`phantoms` for `doll.phantoms`).
    static func builders() -> [(String, Int32)]
    /// Methods by name.
    static func methods() -> [String: Int32]
    /// Metamethods beyond `__index`, `__len`, `__tostring` and `__gc` (tensor arithmetic), set on
    /// the metatable at the top of the stack.
    static func installMetamethods(_ L: OpaquePointer)
    /// What `tostring` shows.
    var luaDescription: String { get }
    /// What `:vars` shows beside the type, and the bytes it holds.
    var workspaceDetail: (text: String, bytes: Int) { get }
    /// Pushes `object[i]` (1-based), or throws when the type has no integer indexing.
    func luaIndex(_ a: LuaArgs) throws -> Int32
    /// `#object`, or nil when the type has no length.
    var luaLength: Int? { get }

    /// The manifest's `type` of this type's records (`tensor`, `dataset`, …).
    static var sessionType: String { get }
    /// Builders a session may call to remake objects of this type from their recipes.
    static var sessionBuilders: [String] { get }
    /// The manifest record of this object (its tensors added to `session`), or nil, with a
    /// `summary.skipped` entry, when it cannot be saved.
    func sessionRecord(
        _ session: inout LuaSession.Encoder, id: String, path: String,
        summary: inout LuaSession.Summary
    ) throws -> [String: Any]?
    /// Checks a manifest record and returns how to remake the object.
    static func restorer(_ record: LuaSession.Record) throws -> LuaSession.Restorer
}

extension LuaObject {
    static func builders() -> [(String, Int32)] { [] }
    static func installMetamethods(_ L: OpaquePointer) {}
    var workspaceDetail: (text: String, bytes: Int) { ("", 0) }
    func luaIndex(_ a: LuaArgs) throws -> Int32 {
        throw LuaBindingError("\(Self.luaName) cannot be indexed by number")
    }
    var luaLength: Int? { nil }
    static var sessionBuilders: [String] { [] }

    /// A `doll.<name>` builder.
    static func builder(_ name: String, _ body: @escaping LuaFunction) -> (String, Int32) {
        (name, LuaModule.fn("doll.\(name)", body))
    }

    /// A method registered as `Type:name` (the name `:help` and errors use).
    static func method(_ name: String, _ body: @escaping LuaFunction) -> (String, Int32) {
        (name, LuaModule.fn("\(luaName.dropFirst("doll.".count)):\(name)", body))
    }

    static func methodTable(_ list: [(String, Int32)]) -> [String: Int32] {
        Dictionary(list, uniquingKeysWith: { x, _ in x })
    }
}

/// The userdata types, and what is common to all of them.
enum LuaTypes {
    /// Every type Lua can hold.
    static let all: [LuaObject.Type] = [
        TensorBox.self,
        DatasetBox.self,
        ClassifierBox.self,
        UNetBox.self,
        ExplainerBox.self,
        LabelsBox.self,
        GeneratorBox.self,
    ]

    static func name(of t: AnyObject.Type) -> String {
        (t as? LuaObject.Type)?.luaName ?? "doll.\(t)"
    }

    /// The type whose session records have this `type`.
    static func sessionType(_ name: String) -> LuaObject.Type? { all.first { $0.sessionType == name } }

    /// Builders a session may call (nothing else is ever called when loading).
    static var sessionBuilders: Set<String> { Set(all.flatMap { $0.sessionBuilders }) }

    /// Creates the metatables: `__name`, `__gc`, `__tostring`, `__index` (methods, and integer
    /// indexing where the type has it), `__len`, and the type's own metamethods.
    static func register(_ L: OpaquePointer) {
        let gc = LuaModule.fn("__gc") { a in
            if a.dollObject(1) != nil, let raw = lua_touserdata(a.L, 1) {
                LuaRegistry.shared.release(raw.load(as: Int64.self))
            }
            return 0
        }
        let tostring = LuaModule.fn("tostring") { a in
            a.push(describe(a, 1))
            return 1
        }
        for type in all {
            let index = LuaModule.fn("\(type.luaName).__index") { a in try LuaTypes.index(a) }
            let len = LuaModule.fn("\(type.luaName).__len") { a in
                guard let obj = a.dollObject(1) as? LuaObject, let n = obj.luaLength else {
                    throw LuaBindingError("\(a.typeName(1)) has no length")
                }
                a.push(n)
                return 1
            }
            luaL_newmetatable(L, type.luaName)  // sets __name
            for (key, id) in [("__gc", gc), ("__tostring", tostring), ("__index", index), ("__len", len)] {
                doll_lua_push_function(L, id)
                LuaModule.setField(L, key)
            }
            let methods = type.methods()
            lua_createtable(L, 0, Int32(methods.count))
            for (m, id) in methods {
                lua_pushstring(L, m)
                doll_lua_push_function(L, id)
                lua_rawset(L, -3)
            }
            LuaModule.setField(L, "__methods")
            type.installMetamethods(L)
            lua_settop(L, -2)
        }
    }

    /// `obj.method` looks up the type's method table; `obj[i]` indexes where the type allows.
    static func index(_ a: LuaArgs) throws -> Int32 {
        let L = a.L
        if lua_type(L, 2) == LUA_TSTRING {
            guard lua_getmetatable(L, 1) != 0 else {
                a.pushNil()
                return 1
            }
            lua_pushstring(L, "__methods")
            lua_rawget(L, -2)
            lua_pushvalue(L, 2)
            lua_rawget(L, -2)
            return 1
        }
        guard lua_type(L, 2) == LUA_TNUMBER else {
            throw LuaBindingError("index must be a method name or an integer, got \(a.describe(2))")
        }
        guard let obj = a.dollObject(1) as? LuaObject else {
            throw LuaBindingError("\(a.typeName(1)) cannot be indexed by number")
        }
        return try obj.luaIndex(a)
    }

    /// The 1-based index at argument 2, checked against `count`.
    static func index(_ a: LuaArgs, count: Int) throws -> Int {
        let i = try a.integer(2, "index", in: 1...Swift.max(count, 1))
        guard i <= count else { throw LuaBindingError("index \(i) out of range 1…\(count)") }
        return i
    }

    static func describe(_ a: LuaArgs, _ i: Int32) -> String {
        guard let obj = a.dollObject(i) else { return luaToString(a.L, i) }
        return (obj as? LuaObject)?.luaDescription ?? "\(obj)"
    }
}
