import CDollSupport
import CLua
import DollData
import DollExplain
import DollNN
import DollTensor
import Foundation

/// Builds the `doll` module: functions, presets and the metatables of the userdata types.
enum LuaModule {
    nonisolated(unsafe) private static var functionIDs: [String: Int32] = [:]
    /// Guards the process-wide tables here (states may be built on several threads).
    static let lock = NSLock()
    /// The Swift `LuaState` of each live `lua_State` (for `print`).
    nonisolated(unsafe) private static var states: [OpaquePointer: Weak] = [:]
    final class Weak { weak var state: LuaState?; init(_ s: LuaState) { state = s } }

    /// Registers (once per process) and returns the id of a named Swift function.
    static func fn(_ name: String, _ body: @escaping LuaFunction) -> Int32 {
        lock.lock(); defer { lock.unlock() }
        if let id = functionIDs[name] { return id }
        let id = LuaRegistry.shared.register(name, body)
        functionIDs[name] = id
        return id
    }

    /// Names of every registered function.
    static var registeredNames: Set<String> {
        lock.lock(); defer { lock.unlock() }
        return Set(functionIDs.keys)
    }

    /// The id of a function registered under `name`, if any.
    static func functionID(_ name: String) -> Int32? {
        lock.lock(); defer { lock.unlock() }
        return functionIDs[name]
    }

    static func state(of L: OpaquePointer) -> LuaState? {
        lock.lock(); defer { lock.unlock() }
        return states[L]?.state
    }

    static func forget(_ L: OpaquePointer) {
        lock.lock(); defer { lock.unlock() }
        states[L] = nil
    }

    static func install(into state: LuaState) {
        let L = state.L
        LuaTypes.register(L)
        lua_createtable(L, 0, 64)  // the doll table
        for (name, id) in moduleFunctions {
            lua_pushstring(L, name)
            doll_lua_push_function(L, id)
            lua_rawset(L, -3)
        }
        // presets
        pushStrings(L, LabelPreset.chexpert); setField(L, "observations")
        pushStrings(L, LabelPreset.nih); setField(L, "nih_findings")
        lua_pushstring(L, dollVersion); setField(L, "version")
        // sub-tables png / plot filled by LuaPictures
        LuaPictures.install(L)
        installMPI(L)
        lua_setglobal(L, "doll")
        // print → state.output (in C: a failing __tostring is a Lua error, as in stock Lua)
        doll_lua_push_print(L) { L, text, length in
            guard let L, let text else { return }
            let s = String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
            LuaModule.state(of: L)?.output(s)
        }
        lua_setglobal(L, "print")
        lock.lock(); states[L] = Weak(state); lock.unlock()
    }

    /// `doll.mpi`: the rank and size of the mpirun job (0 and 1 alone), a barrier, and a sum over
    /// the ranks of a number or tensor (the value itself alone).
    static func installMPI(_ L: OpaquePointer) {
        let fns: [(String, LuaFunction)] = [
            (
                "rank",
                { a in
                    a.push(DataParallel.rank)
                    return 1
                }
            ),
            (
                "size",
                { a in
                    a.push(DataParallel.group?.size ?? 1)
                    return 1
                }
            ),
            (
                "wtime",
                { a in
                    a.push(Date().timeIntervalSince1970)
                    return 1
                }
            ),
            (
                "seconds",
                { a in
                    a.push(DataParallel.group?.communicationSeconds ?? 0)
                    return 1
                }
            ),
            (
                "barrier",
                { _ in
                    try DataParallel.group?.barrier()
                    return 0
                }
            ),
            (
                "allreduce",
                { a in
                    if a.type(1) == LUA_TNUMBER {
                        var v = [try a.number(1, "value")]
                        try DataParallel.group?.allreduceSum(&v)
                        a.push(v[0])
                        return 1
                    }
                    let t = try LuaTensor.tensor(a, 1, "value (a number or Tensor)")
                    var v = t.scalars
                    try DataParallel.group?.allreduceSum(&v)
                    return LuaTensor.push(a, try Tensor(v, shape: t.shape))
                }
            ),
        ]
        lua_createtable(L, 0, Int32(fns.count))  // into the doll table at the top of the stack
        for (name, body) in fns {
            lua_pushstring(L, name)
            doll_lua_push_function(L, fn("doll.mpi.\(name)", body))
            lua_rawset(L, -3)
        }
        setField(L, "mpi")
    }

    static func setField(_ L: OpaquePointer, _ key: String) {
        lua_pushstring(L, key); lua_rotate(L, -2, 1); lua_rawset(L, -3)
    }

    static func pushStrings(_ L: OpaquePointer, _ list: [String]) {
        lua_createtable(L, Int32(list.count), 0)
        for (i, s) in list.enumerated() { lua_pushstring(L, s); lua_rawseti(L, -2, lua_Integer(i + 1)) }
    }

    /// `doll.*` functions by name: each type's builders, then functions over several types.
    static var moduleFunctions: [(String, Int32)] {
        LuaTypes.all.flatMap { $0.builders() } + LuaFunctions.moduleFunctions()
    }

    static func describe(_ a: LuaArgs, _ i: Int32) -> String { LuaTypes.describe(a, i) }
}

/// An address as Lua prints it (`0x55d0c2a4e2a0`).
func pointerText(_ p: UnsafeRawPointer?) -> String { "0x" + String(UInt(bitPattern: p), radix: 16) }

/// `tostring` of any Lua value without metamethod errors escaping (numbers, strings, booleans,
/// nil; other values by type and address).
func luaToString(_ L: OpaquePointer, _ i: Int32) -> String {
    switch lua_type(L, i) {
    case LUA_TNIL: return "nil"
    case LUA_TBOOLEAN: return lua_toboolean(L, i) != 0 ? "true" : "false"
    case LUA_TNUMBER:
        if lua_isinteger(L, i) != 0 { return String(lua_tointegerx(L, i, nil)) }
        // Lua's own float formatting: %.14g, plus ".0" when that looks like an integer.
        let v = lua_tonumberx(L, i, nil)
        let s = String(format: "%.14g", v)
        return s.contains(where: { $0 == "." || $0 == "e" || $0 == "n" || $0 == "i" }) ? s : s + ".0"
    case LUA_TSTRING: return String(cString: lua_tolstring(L, i, nil))
    case LUA_TUSERDATA:
        let a = LuaArgs(L, function: "tostring")
        if a.dollObject(i) != nil { return LuaModule.describe(a, i) }
        if let name = a.userdataTypeName(i) { return "\(name): \(pointerText(lua_topointer(L, i)))" }
        fallthrough
    default:
        return "\(String(cString: lua_typename(L, lua_type(L, i)))): \(pointerText(lua_topointer(L, i)))"
    }
}
