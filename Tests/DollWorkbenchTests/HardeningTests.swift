import Foundation
import Testing

/// Inputs that used to trap or corrupt memory (issue 17, items 1–2), each run by the real
/// binary in a child process: it must end with a Lua error message (or succeed), never a signal.
@Suite("No trap from Lua", .serialized)
struct HardeningTests {
    /// Runs a script with `doll run`; returns (exited normally, status, output).
    func run(_ script: String) throws -> (exited: Bool, status: Int32, output: String)? {
        guard let exe = dollExecutable() else { return nil }
        let dir = temporaryDirectory("hard")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/case.lua"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runProcess(exe, ["run", path])
        return (r.exited, r.status, r.output)
    }

    @Test func errorsInsteadOfTraps() throws {
        let cases: [(String, String)] = [
            ("print(doll.tensor(1):size(1))", "has no axes"),
            ("print(doll.tensor(1):slice(1, 1, 1))", "has no axes"),
            ("print(doll.arange(0, 10, 1e-30))", "would produce"),
            ("local clf = doll.classifier{widths = {4}, blocks = {1}}\nlocal ig = doll.ig(clf, {steps = 2})\n"
                + "print(ig:attribute(doll.zeros(0, 1, 32, 32), 1))", "no images"),
        ]
        for (code, expected) in cases {
            guard let r = try run(code) else { return }
            #expect(r.exited, "\(code): killed by a signal; output: \(r.output)")
            #expect(r.status != 0 && r.output.contains(expected), "\(code): status \(r.status), output: \(r.output)")
        }
    }

    /// `totable` of tensors of rank 40 and 1000, read from a safetensors file (files and sessions
    /// can hold any rank; Lua's stack grows one slot per nesting level).
    @Test func deepTensorsBecomeNestedTables() throws {
        for rank in [40, 1000] {
            let dir = temporaryDirectory("deep")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let shape = Array(repeating: "1", count: rank).joined(separator: ",")
            let header = Data("{\"t\":{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[0,4]}}".utf8)
            var file = Data()
            withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
            file.append(header)
            withUnsafeBytes(of: Float(7).bitPattern.littleEndian) { file.append(contentsOf: $0) }
            try file.write(to: URL(fileURLWithPath: dir + "/deep.safetensors"))
            let script = """
                local t = doll.load('\(dir)/deep.safetensors').t
                local x, depth = t:totable(), 0
                while type(x) == 'table' do x = x[1]; depth = depth + 1 end
                print('depth', depth, x)
                """
            guard let r = try run(script) else { return }
            #expect(r.exited && r.status == 0 && r.output.contains("depth\t\(rank)\t7"), "rank \(rank): \(r.output)")
        }
    }

    /// A model saved by separate processes is the same bytes (configuration JSON with sorted
    /// keys; Swift's per-process hash seed used to reorder them).
    @Test func savedModelsAreByteReproducibleAcrossProcesses() throws {
        let dir = temporaryDirectory("repro")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for kind in ["classifier{widths = {4, 8}, blocks = {1, 1}, seed = 2}", "unet{widths = {4, 8}, classes = 2}"] {
            var files: [Data?] = []
            for i in 0..<3 {
                guard let r = try run("doll.\(kind):save('\(dir)/m\(i).safetensors')") else { return }
                #expect(r.exited && r.status == 0, "\(r.output)")
                files.append(FileManager.default.contents(atPath: "\(dir)/m\(i).safetensors"))
            }
            #expect(files[0] != nil && files.allSatisfy { $0 == files[0] }, "doll.\(kind) saved different bytes")
        }
    }

    /// `HOME` decides where named sessions go; a save to an explicit path writes nothing into
    /// the state directory (issue 17, item 12).
    @Test func sessionsRespectHomeAndWriteOnlyWhereAsked() throws {
        guard let exe = dollExecutable() else { return }
        let home = temporaryDirectory("home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let script = home + "/save.lua"
        try "x = 42\ndoll.session.save('\(home)/elsewhere/mine')\n".write(toFile: script, atomically: true, encoding: .utf8)
        let env = ["HOME": home, "XDG_STATE_HOME": "", "DOLL_STATE_DIR": ""]
        let r1 = try runProcess(exe, ["run", script], environment: env)
        #expect(r1.exited && r1.status == 0, "\(r1.output)")
        let sessions = home + "/.local/state/doll/sessions"
        #expect(FileManager.default.fileExists(atPath: home + "/elsewhere/mine.dollsession"))
        #expect(!FileManager.default.fileExists(atPath: sessions + "/LAST"), "an explicit path must not touch the state directory")
        try "x = 42\ndoll.session.save('work')\n".write(toFile: script, atomically: true, encoding: .utf8)
        let r2 = try runProcess(exe, ["run", script], environment: env)
        #expect(r2.exited && r2.status == 0, "\(r2.output)")
        #expect(FileManager.default.fileExists(atPath: sessions + "/work.dollsession"), "named session under $HOME")
        let last = try? String(contentsOfFile: sessions + "/LAST", encoding: .utf8)
        #expect(last?.hasSuffix("/work.dollsession") == true, "LAST is \(last ?? "missing")")
    }
}
