import ArgumentParser
import DollLua
import DollTensor
import DollWorkbench
import Foundation

struct Doll: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doll",
        abstract: "DoLL Workbench: explanation-driven pre-training for chest-radiograph segmentation.",
        discussion: "With no subcommand, starts the interactive workbench (a Lua REPL with the doll module).",
        version: (["doll \(Workbench.version)"] + EngineInfo.summary).joined(separator: "\n"),
        subcommands: [Run.self, Export.self, StudyCommand.self, PhantomsCommand.self, Bench.self]
    )

    @Option(
        help: ArgumentHelp(
            "Restore a saved session at start: --resume for the last one, --resume NAME for a named one.",
            valueName: "name"))
    var resume: String?

    @Flag(inversion: .prefixedNo, help: "Save the session as 'autosave' when leaving (also DOLL_AUTOSAVE=1).")
    var autosave: Bool?

    func run() throws {
        let lua = try Workbench.makeLuaState()
        let env = ProcessInfo.processInfo.environment["DOLL_AUTOSAVE"]
        let repl = REPL(lua: lua, autosave: autosave ?? (env == "1" || env == "on" || env == "true"))
        if let resume { repl.load(name: resume == Doll.lastSession ? nil : resume) }
        throw ExitCode(repl.run())
    }

    static let lastSession = "@last"

    /// `--resume` may stand alone (the last session): give it a value the parser accepts.
    static func normalized(_ args: [String]) -> [String] {
        var out: [String] = []
        let subcommand = args.first
        for (i, a) in args.enumerated() {
            if a == "--resume" && (subcommand == "run" || subcommand == "export") {
                out.append("--resume-training")  // for scripts: fits resume from their checkpoints
            } else if a == "--resume" && (i + 1 >= args.count || args[i + 1].hasPrefix("-")) {
                out.append("--resume=" + lastSession)
            } else {
                out.append(a)
            }
        }
        return out
    }
}
