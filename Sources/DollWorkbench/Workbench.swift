import CLua
import DollLua
import DollTensor
import Foundation

/// Facts about this build, shown by `doll --version`, report headers and `:help`.
public enum Workbench {
    public static let version = dollVersion

    /// Name/value pairs: doll, Lua, BLAS kernel and threads, OS, CPU.
    public static func versions(lua: LuaState? = nil) -> [(String, String)] {
        var v: [(String, String)] = [("doll", version)]
        if let lua, let lv = try? lua.evaluate("_VERSION") { v.append(("Lua", lv)) }
        v.append(("Convolutions", EngineInfo.convolutions))
        v.append(
            (
                "BLAS",
                "OpenBLAS \(BLAS.coreName) kernel, \(BLAS.threads) worker threads (\(BLAS.config.trimmingCharacters(in: .whitespaces)))"
            ))
        if let note = EngineInfo.blasNote { v.append(("Note", note)) }
        #if compiler(>=6.3)
            v.append(("Swift compiler", "6.3 or newer"))
        #else
            v.append(("Swift compiler", "older than 6.3"))
        #endif
        v.append(("OS", ProcessInfo.processInfo.operatingSystemVersionString))
        if let cpu = cpuModel { v.append(("CPU", "\(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores")) }
        return v
    }

    static var cpuModel: String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
}
