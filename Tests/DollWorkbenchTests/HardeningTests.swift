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
            (
                "local clf = doll.classifier{widths = {4}, blocks = {1}}\nlocal ig = doll.ig(clf, {steps = 2})\n"
                    + "print(ig:attribute(doll.zeros(0, 1, 32, 32), 1))", "no images"
            ),
            // Foundation's deletingLastPathComponent traps on a one-character path.
            ("print(doll.labelcsv{csv = 'x'})", "x"),
            ("print(doll.classifier{widths = {2}, blocks = {1}}:predict(doll.tensor(1)))", "predict needs images"),
            (
                "local t = setmetatable({}, {__tostring = function() error('bad tostring') end})\nprint(t)",
                "bad tostring"
            ),
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
        try "x = 42\ndoll.session.save('\(home)/elsewhere/mine')\n".write(
            toFile: script, atomically: true, encoding: .utf8)
        let env = ["HOME": home, "XDG_STATE_HOME": "", "DOLL_STATE_DIR": ""]
        let r1 = try runProcess(exe, ["run", script], environment: env)
        #expect(r1.exited && r1.status == 0, "\(r1.output)")
        let sessions = home + "/.local/state/doll/sessions"
        #expect(FileManager.default.fileExists(atPath: home + "/elsewhere/mine.dollsession"))
        #expect(
            !FileManager.default.fileExists(atPath: sessions + "/LAST"),
            "an explicit path must not touch the state directory")
        try "x = 42\ndoll.session.save('work')\n".write(toFile: script, atomically: true, encoding: .utf8)
        // A temporary LAST left by a save that was killed (its process is gone) is cleaned up.
        try FileManager.default.createDirectory(atPath: sessions, withIntermediateDirectories: true)
        let stale = sessions + "/.LAST.tmp-999999999-1"
        try "stale".write(toFile: stale, atomically: false, encoding: .utf8)
        let r2 = try runProcess(exe, ["run", script], environment: env)
        #expect(!FileManager.default.fileExists(atPath: stale), "a dead save's temporary LAST is removed")
        #expect(r2.exited && r2.status == 0, "\(r2.output)")
        #expect(FileManager.default.fileExists(atPath: sessions + "/work.dollsession"), "named session under $HOME")
        let last = try? String(contentsOfFile: sessions + "/LAST", encoding: .utf8)
        #expect(last?.hasSuffix("/work.dollsession") == true, "LAST is \(last ?? "missing")")
    }

    /// Under a 4.5 GB address-space limit, tensors that need more are Lua errors naming the size
    /// (item 3), and `doll.arange(2^31)` no longer builds a Swift array first.
    @Test func hugeTensorsAreErrorsNotAborts() throws {
        guard let exe = dollExecutable() else { return }
        let dir = temporaryDirectory("oom")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
        for _, f in ipairs{function() return doll.zeros(1 << 30, 2) end, function() return doll.full({2^30, 2}, 1) end,
                           function() return doll.arange(0, 2^31, 1) end, function() return doll.randn(1 << 30, 2) end} do
          local ok, e = pcall(f)
          print(ok, e)
        end
        print('still here')
        """.write(toFile: dir + "/oom.lua", atomically: true, encoding: .utf8)
        let r = try runProcess("/bin/sh", ["-c", "ulimit -v 4500000; exec \"$0\" run \"$1\"", exe, dir + "/oom.lua"])
        #expect(r.exited && r.status == 0, "\(r.output)")
        #expect(r.output.components(separatedBy: "out of memory").count - 1 == 4, "\(r.output)")
        #expect(r.output.contains("still here"))
    }

    /// What a script printed before the process died is in the output (stdout is line-buffered
    /// even into a pipe; item 2).
    @Test func outputBeforeACrashIsKept() throws {
        guard let r = try run("print('printed before')\nos.execute('kill -KILL $PPID')\nprint('never')") else { return }
        #expect(!r.exited, "the script was meant to die by SIGKILL: \(r.output)")
        #expect(r.output.contains("printed before"), "\(r.output)")
    }

    /// A 163-byte model file describing a huge network fails at once, before allocating (item 5);
    /// a CSV error does not echo a file that is not CSV (item 13).
    @Test func smallFilesCannotAskForMuch() throws {
        let dir = temporaryDirectory("small")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func safetensors(_ config: String, kind: String) throws -> String {
            let meta =
                "{\"doll.kind\":\"\(kind)\",\"doll.config\":\"\(config.replacingOccurrences(of: "\"", with: "\\\""))\"}"
            let header = Data("{\"__metadata__\":\(meta)}".utf8)
            var file = Data()
            withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
            file.append(header)
            let path = dir + "/\(kind)\(abs(config.hashValue)).safetensors"
            try file.write(to: URL(fileURLWithPath: path))
            return path
        }
        let big = try safetensors(
            "{\"inChannels\":1,\"widths\":[1000],\"blocks\":[1],\"classes\":[\"a\"],\"seed\":0}", kind: "classifier")
        let wide = try safetensors(
            "{\"inChannels\":1,\"widths\":[6000],\"blocks\":[1],\"classes\":[\"a\"],\"seed\":0}", kind: "classifier")
        let unet = try safetensors(
            "{\"inChannels\":1,\"classes\":1,\"encoder\":\"doubleConv\",\"widths\":[512,1024],\"blocks\":[2,2],\"seed\":0}",
            kind: "unet")
        try "root:x:0:0:root:/root:/bin/bash\nsecret line\n".write(
            toFile: dir + "/passwd", atomically: true, encoding: .utf8)
        let script = """
            for _, p in ipairs{'\(big)', '\(wide)', '\(unet)'} do print(pcall(doll.load, p)) end
            print(pcall(doll.labelcsv, '\(dir)/passwd'))
            for line in io.lines('/proc/self/status') do if line:match('^VmHWM') then print(line) end end
            """
        let start = Date()
        guard let r = try run(script) else { return }
        #expect(Date().timeIntervalSince(start) < 10, "took \(Date().timeIntervalSince(start)) s")
        #expect(r.exited && r.status == 0, "\(r.output)")
        #expect(r.output.components(separatedBy: "holds only 0 values").count - 1 == 2, "\(r.output)")
        #expect(r.output.contains("out-of-range sizes"), "\(r.output)")
        #expect(!r.output.contains("root:x") && !r.output.contains("secret"), "\(r.output)")
        let hwm = r.output.split(separator: "\n").first { $0.hasPrefix("VmHWM") }.flatMap {
            Int($0.split(separator: " ").dropFirst().first ?? "")
        }
        #expect((hwm ?? .max) < 100_000, "peak RSS \(hwm ?? -1) kB")
    }

    /// A table of numbers is kept exactly in the tensors file, not the manifest (item 6).
    @Test func bulkNumbersGoToTheTensorsFile() throws {
        let dir = temporaryDirectory("bulk")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard
            let w = try run(
                """
                xs = {} for i = 1, 200000 do xs[i] = i / 7 end
                ks = {} for i = 1, 1000 do ks[i] = i * 3 - (1 << 40) end
                ks.label = 'kept'
                mixed = {1, 2.5, 'three'}
                doll.session.save('\(dir)/s')
                """)
        else { return }
        #expect(w.exited && w.status == 0, "\(w.output)")
        let manifest = (try? Data(contentsOf: URL(fileURLWithPath: dir + "/s.dollsession/manifest.json"))) ?? Data()
        #expect(manifest.count < 4000, "manifest is \(manifest.count) bytes")
        guard
            let r = try run(
                """
                doll.session.load('\(dir)/s')
                local ok = #xs == 200000 and #ks == 1000 and ks.label == 'kept' and mixed[3] == 'three'
                for i = 1, 200000 do ok = ok and xs[i] == i / 7 and math.type(xs[i]) == 'float' end
                for i = 1, 1000 do ok = ok and ks[i] == i * 3 - (1 << 40) and math.type(ks[i]) == 'integer' end
                print('exact', ok)
                """)
        else { return }
        #expect(r.exited && r.output.contains("exact\ttrue"), "\(r.output)")
    }

    /// A manifest that is a symbolic link (to anywhere) is refused (item 13).
    @Test func symlinkedManifestIsRefused() throws {
        let dir = temporaryDirectory("link")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let w = try run("x = 1\ndoll.session.save('\(dir)/a')\ndoll.session.save('\(dir)/b')") else { return }
        #expect(w.exited && w.status == 0, "\(w.output)")
        try FileManager.default.removeItem(atPath: dir + "/b.dollsession/manifest.json")
        try FileManager.default.createSymbolicLink(
            atPath: dir + "/b.dollsession/manifest.json", withDestinationPath: dir + "/a.dollsession/manifest.json")
        guard let r = try run("print(pcall(doll.session.load, '\(dir)/b'))") else { return }
        #expect(r.output.contains("false") && r.output.contains("symbolic link"), "\(r.output)")
    }

    /// One process saves in a loop while another loads 1000 times: every load is one whole
    /// generation (item 4; the manifest and the tensors file used to be opened by path apart).
    @Test func loadsDuringSavesSeeOneGeneration() throws {
        guard let exe = dollExecutable() else { return }
        let dir = temporaryDirectory("race")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
        local g = 0
        while not io.open('\(dir)/stop') do
          g = g + 1
          gen = g
          t = doll.full({64, 64}, g)
          doll.session.save('\(dir)/s')
        end
        print('saves', g)
        """.write(toFile: dir + "/writer.lua", atomically: true, encoding: .utf8)
        try """
        while not io.open('\(dir)/s.dollsession/manifest.json') do end
        local ok, mixed, failed, seen = 0, 0, 0, 0
        while (ok + mixed + failed < 1000 or seen < 300) and ok + mixed + failed < 200000 do
          local good, err = pcall(doll.session.load, '\(dir)/s')
          if not good then failed = failed + 1; print(err)
          elseif t:max():item() ~= gen or t:min():item() ~= gen then mixed = mixed + 1
          else ok = ok + 1; seen = gen end
        end
        print('loads', ok >= 1000, 'mixed', mixed, 'failed', failed, 'generations', seen)
        io.open('\(dir)/stop', 'w'):close()
        """.write(toFile: dir + "/reader.lua", atomically: true, encoding: .utf8)
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: exe)
        writer.arguments = ["run", dir + "/writer.lua"]
        let wout = Pipe()
        writer.standardOutput = wout
        writer.standardError = wout
        try writer.run()
        let r = try runProcess(exe, ["run", dir + "/reader.lua"])
        FileManager.default.createFile(atPath: dir + "/stop", contents: nil)
        let wtext = String(decoding: wout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        writer.waitUntilExit()
        #expect(r.exited && r.output.contains("loads\ttrue\tmixed\t0\tfailed\t0"), "\(r.output)")
        let saves =
            wtext.split(separator: "\t").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        #expect(saves >= 300, "the writer saved only \(saves) times; the race was not exercised: \(wtext)")
    }

    /// Smaller items: `doll run` of a missing file says so; a Latin-1 script runs (Lua reads
    /// bytes); `os.exit` in a notebook cell under `doll export` still writes the report;
    /// `Tensor:min` names itself.
    @Test func smallerDefects() throws {
        guard let exe = dollExecutable() else { return }
        let dir = temporaryDirectory("small2")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = try runProcess(exe, ["run", dir + "/nonexist.lua"])
        #expect(missing.status != 0 && missing.output.contains("no such file"), "\(missing.output)")
        try Data(Array("print('latin', #'caf".utf8) + [0xE9] + Array("')\n".utf8)).write(
            to: URL(fileURLWithPath: dir + "/latin.lua"))
        let latin = try runProcess(exe, ["run", dir + "/latin.lua"])
        #expect(latin.status == 0 && latin.output.contains("latin\t4"), "\(latin.output)")
        try "-- %% one\nprint('first cell')\n-- %% two\nos.exit(0)\n-- %% three\nprint('never')\n"
            .write(toFile: dir + "/nb.lua", atomically: true, encoding: .utf8)
        let export = try runProcess(exe, ["export", dir + "/nb.lua", "--html", dir + "/nb.html"], directory: dir)
        let html = (try? String(contentsOfFile: dir + "/nb.html", encoding: .utf8)) ?? ""
        #expect(export.exited && html.contains("first cell") && html.contains("os.exit(0) called"), "\(export.output)")
        guard
            let r = try run(
                "print(pcall(doll.zeros(0).min, doll.zeros(0)))\nprint(doll.tensor({3, 1, 2}):min(1):item())")
        else { return }
        #expect(r.output.contains("min() of an empty tensor") && r.output.contains("\n1.0"), "\(r.output)")
    }
}
