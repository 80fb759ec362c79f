import ArgumentParser
import DollLua
import Foundation

/// `doll run script.lua`: runs a Lua script with the `doll` module loaded.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a Lua script (or notebook) with the doll module loaded.")

    @Argument(help: "The Lua script to run.")
    var script: String

    @Argument(parsing: .captureForPassthrough, help: "Arguments for the script (available as the global `arg`).")
    var arguments: [String] = []

    func run() throws {
        let lua = try LuaState()
        lua.setArguments(script: script, arguments)
        do {
            try lua.runFile(script)
        } catch let e as LuaRunError {
            FileHandle.standardError.write(Data("doll: \(e.traceback ?? e.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}
