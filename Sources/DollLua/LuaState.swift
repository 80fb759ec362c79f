import CDollSupport
import CLua
import DollTensor
import Foundation

/// One embedded Lua 5.4 interpreter with the `doll` module loaded. Not thread-safe: use it from
/// one thread.
public final class LuaState {
    public let L: OpaquePointer
    /// Where `print` output goes (default: C `stdout`, shared with Swift's `print` and Lua's
    /// `io.write`, so their order is kept).
    public var output: (String) -> Void = { s in doll_stdout_write(s) }
    /// Seeds set with `doll.seed(n)` in this state, in order (notebook reports name them).
    public internal(set) var seedsSet: [UInt64] = []

    /// Flushes C `stdout` (call before reading captured output or showing a prompt).
    public func flushOutput() { doll_stdio_flush() }

    public init() throws {
        guard let L = luaL_newstate() else { throw LuaBindingError("cannot create a Lua state (out of memory)") }
        self.L = L
        luaL_openlibs(L)
        doll_lua_set_dispatch(luaDispatch)
        LuaModule.install(into: self)
        LuaSession.install(L)
        LuaSession.recordBaseline(L)
        doll_lua_install_interrupt_hook(L)
    }

    deinit { LuaModule.forget(L); lua_close(L) }

    /// Runs a chunk of Lua source. Throws `LuaRunError` with the message and traceback on failure.
    /// Returns the number of results left on the stack (`nresults` = LUA_MULTRET keeps them all).
    @discardableResult
    public func run(_ code: String, name: String = "=(doll)", results: Int32 = 0) throws -> Int32 {
        try run(bytes: Array(code.utf8), name: name, results: results)
    }

    /// Runs a chunk given as bytes (Lua source need not be UTF-8 and may hold any byte).
    @discardableResult
    public func run(bytes: [UInt8], name: String, results: Int32 = 0) throws -> Int32 {
        let top = lua_gettop(L)
        let count = bytes.count
        let status = (bytes.isEmpty ? [0] : bytes).withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) {
                luaL_loadbufferx(L, $0, count, name, "t")
            }
        }
        if status != LUA_OK { throw LuaRunError(message: popString(), traceback: nil) }
        let rc = doll_lua_pcall_traceback(L, 0, results)
        if rc != LUA_OK {
            let full = popString()
            let firstLine = full.components(separatedBy: "\nstack traceback:").first ?? full
            throw LuaRunError(message: firstLine, traceback: full)
        }
        return lua_gettop(L) - top
    }

    /// Adds a function to a table of the `doll` module (e.g. `doll.study` from a higher layer),
    /// documented like the built-in ones (`:help`, completion, accepted options).
    public func addFunction(_ doc: LuaDoc, _ body: @escaping LuaFunction) {
        let parts = doc.name.split(separator: ".").map(String.init)
        guard parts.count >= 2, parts[0] == "doll" else { return }
        LuaDocs.addExtension(doc)
        lua_getglobal(L, "doll")
        for p in parts.dropFirst().dropLast() {
            lua_getfield(L, -1, p)
            if lua_type(L, -1) != LUA_TTABLE {
                lua_settop(L, -2); lua_createtable(L, 0, 4); lua_pushvalue(L, -1); lua_setfield(L, -3, p)
            }
            lua_rotate(L, -2, 1); lua_settop(L, -2)
        }
        doll_lua_push_function(L, LuaModule.fn(doc.name, body))
        lua_setfield(L, -2, parts.last!)
        lua_settop(L, -2)
    }

    /// Sets the global `arg` table like the `lua` command (`arg[0]` = script).
    public func setArguments(script: String, _ args: [String]) {
        lua_createtable(L, Int32(args.count), 1)
        lua_pushstring(L, script); lua_rawseti(L, -2, 0)
        for (i, s) in args.enumerated() { lua_pushstring(L, s); lua_rawseti(L, -2, lua_Integer(i + 1)) }
        lua_setglobal(L, "arg")
    }

    /// Runs a file as a script.
    public func runFile(_ path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LuaRunError(message: "cannot read script '\(path)'", traceback: nil)
        }
        var bytes = [UInt8](data)
        // A first line starting with '#' (a shebang) is skipped as `lua` does; line numbers stay.
        if bytes.first == UInt8(ascii: "#") {
            let end = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            bytes.removeSubrange(0..<end)
        }
        try run(bytes: bytes, name: "@" + path)
    }

    func popString() -> String {
        defer { lua_settop(L, -2) }
        if let s = lua_tolstring(L, -1, nil) { return String(cString: s) }
        return "(error object is a \(String(cString: lua_typename(L, lua_type(L, -1)))) value)"
    }

    /// Evaluates an expression and returns its `tostring` value (for tests and the REPL).
    public func evaluate(_ expression: String) throws -> String {
        try run("return tostring(\(expression))", results: 1)
        return popString()
    }

    /// The default seed of this state's `doll.*` random functions (what `doll.seed(n)` sets);
    /// each call without a `seed` option takes the next one.
    public var seed: UInt64 = 0

    /// Whether `fit` with a `checkpoint` directory resumes from it by default (`doll run --resume`).
    public var resumeTraining = false

    /// The seed for the next random call without its own.
    func nextSeed() -> UInt64 {
        seed &+= 1
        return seed
    }

    /// Lua's own memory use in KiB.
    public var memoryKiB: Int { Int(doll_lua_gc_kib(L)) }

    /// Runs a full garbage collection.
    public func collectGarbage() { doll_lua_gc_collect(L) }
}

/// A Lua error surfaced to Swift: the message (first line) and the full traceback.
public struct LuaRunError: Error, CustomStringConvertible {
    public let message: String
    public let traceback: String?
    public var description: String { message }
}

/// Requests an interrupt as Ctrl-C would (for tests and embedding hosts).
public func doll_lua_request_interrupt_forTests() { doll_lua_request_interrupt() }

/// Installs the Ctrl-C handler: SIGINT sets a flag that running Lua code and training loops poll.
public func installInterruptHandler() { doll_lua_install_sigint() }

/// Whether Ctrl-C was pressed since the last clear (for long Swift loops).
public func interruptRequested() -> Bool { doll_lua_interrupted() != 0 }
