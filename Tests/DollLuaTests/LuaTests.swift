import Foundation
import Testing
@testable import DollLua
@testable import DollTensor

func tempDirectory(_ name: String) throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("doll-lua-\(name)-\(getpid())").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// Runs code and returns what it printed.
func capture(_ lua: LuaState, _ code: String) throws -> String {
    var out = ""
    lua.output = { out += $0 }
    try lua.run(code)
    return out
}

@Suite("Lua scripting layer", .serialized)
struct LuaTests {
    @Test func tensorArithmeticAndPrinting() throws {
        let lua = try LuaState()
        let out = try capture(
            lua,
            """
            local a = doll.tensor{{1, 2}, {3, 4}}
            local b = a * 2 + 1
            print(b[2][1], (a - b):sum():item(), (-a):max():item(), #a)
            local s = a:shape(); print(s[1], s[2])
            print(a:gt(2):sum():item(), a:reshape(4)[3], a:transpose()[1][2])
            local z = doll.zeros(2, 3); z = z + 0.5; print(z:mean():item())
            local r1, r2 = doll.randn({3}, {seed = 4}), doll.randn({3}, {seed = 4})
            print((r1 - r2):abs():sum():item())
            print(tostring(a):find("[Tensor 2×2]", 1, true) ~= nil)
            """)
        #expect(out == "7.0\t-14.0\t-1.0\t2\n2\t2\n2.0\t3.0\t3.0\n0.5\n0.0\ntrue\n")
    }

    @Test func errorsNameTheFunctionAndTheProblem() throws {
        let lua = try LuaState()
        let cases: [(String, String)] = [
            ("doll.zeros('x')", "doll.zeros: expected a shape"),
            ("doll.tensor{{1,2},{3}}", "ragged table"),
            ("local x = doll.tensor{1,2} + doll.tensor{1,2,3}", "cannot be broadcast"),
            ("doll.phantoms{n=4, sise=32}", "unknown option 'sise' (did you mean 'size'?)"),
            ("doll.ig(5)", "must be a doll.Classifier, got number"),
            ("doll.classifier{arch='vgg'}", "option 'arch' must be one of resnet"),
            ("doll.zeros(1e12)", "must be in"),
            ("doll.load('/nonexistent.safetensors')", "cannot read file"),
        ]
        for (code, expected) in cases {
            do {
                try lua.run(code)
                Issue.record("\(code) did not fail")
            } catch let e as LuaRunError {
                #expect(e.message.contains(expected), "\(code): \(e.message)")
            }
        }
        // the state is still usable
        #expect(try lua.evaluate("1 + 1") == "2")
    }

    @Test func tinyPipelineFromLua() throws {
        let dir = try tempDirectory("pipeline")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lua = try LuaState()
        let out = try capture(
            lua,
            """
            local ds = doll.phantoms{n = 24, size = 32, seed = 3}
            local train, val = ds:split(0.75, 1)
            local clf = doll.classifier{widths = {4, 8}, blocks = {1, 1}, seed = 2}
            local hist = clf:fit(train, {epochs = 2, batch = 8, lr = 3e-3, val = val})
            print(#hist, hist[2].loss < 10, hist[2].val_auroc_mean ~= nil)
            local s = ds[1]
            local ig = doll.ig(clf, {steps = 8, batch = 8})
            local attr, delta = ig:attribute(s.image, "Cardiomegaly")
            local shape = attr:shape()
            print(shape[1], shape[2], shape[3], type(delta[1]))
            doll.png.heatmap(attr, "\(dir)/heat.png", {over = s.image})
            doll.png.write(s.image, "\(dir)/image.png")
            clf:save("\(dir)/clf.safetensors")
            local again = doll.load("\(dir)/clf.safetensors")
            print((again:predict(s.image) - clf:predict(s.image)):abs():max():item())
            local labels = doll.labels({clf}, val, {steps = 4, n = 2})
            print(#labels, labels[1].mask:shape()[1])
            """)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines[0] == "2\ttrue\ttrue")
        #expect(lines[1] == "1\t32\t32\tnumber")
        #expect(lines[2] == "0.0")
        #expect(lines[3] == "2\t14")
        // the PNGs exist and decode
        for f in ["heat.png", "image.png"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(f)"))
            #expect(data.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "\(f) is a PNG")
        }
    }

    /// Calls every exported function and method with seeded random wrong arguments; each call
    /// must return a Lua error (or succeed) without trapping, and the state must stay usable.
    /// Input × Gradient is x times the signed saliency, for a classifier and a U-Net alike.
    @Test func inputXGradientIsInputTimesSignedGradient() throws {
        let lua = try LuaState()
        try lua.run(
            """
            local ds = doll.phantoms{n = 2, size = 32, seed = 5}
            local x = ds[1].image
            local clf = doll.classifier{widths = {4, 8}, blocks = {1, 1}, seed = 2}
            local seg = doll.unet{width = 4, structures = {"lungs"}, seed = 3}
            d1 = (doll.input_x_gradient(clf):attribute(x, 2) - x * doll.saliency(clf, {absolute = false}):attribute(x, 2)):abs():max():item()
            d2 = (doll.input_x_gradient(seg):attribute(x, "lungs") - x * doll.saliency(seg, {absolute = false}):attribute(x, 1)):abs():max():item()
            n = doll.input_x_gradient(clf):attribute(x, 2):abs():sum():item()
            """)
        #expect(try lua.evaluate("d1") == "0.0")
        #expect(try lua.evaluate("d2") == "0.0")
        #expect((Double(try lua.evaluate("n")) ?? 0) > 0)
    }

    @Test func fuzzEveryBindingWithWrongArguments() throws {
        // doll.session.save("x") would write into the user's sessions directory.
        setenv("DOLL_STATE_DIR", NSTemporaryDirectory() + "doll-fuzz-state-\(getpid())", 1)
        let lua = try LuaState()
        let out = try capture(
            lua,
            """
            local seed = 12345
            local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n + 1 end
            local ds = doll.phantoms{n = 2, size = 32, seed = 1}
            local clf = doll.classifier{widths = {2, 4}, blocks = {1, 1}, seed = 1}
            local pool = {
              function() return nil end, function() return true end, function() return "x" end,
              function() return -1 end, function() return 0 end, function() return 1e12 end, function() return 2.5 end,
              function() return 2^40 end, function() return {} end, function() return {1, -2, 3} end,
              function() return {size = -5, n = "a", steps = 0, epochs = 0, foo = 1} end,
              function() return doll.zeros(2, 2) end, function() return doll.zeros(1, 5, 7) end,
              function() return ds end, function() return clf end, function() return print end,
              function() return "/nonexistent/dir/file.png" end, function() return {{1, 2}, {3}} end,
            }
            local targets = {}
            for name, f in pairs(doll) do
              if type(f) == "function" then targets[#targets + 1] = {"doll." .. name, f} end
              if type(f) == "table" then
                for n2, g in pairs(f) do if type(g) == "function" then targets[#targets + 1] = {"doll." .. name .. "." .. n2, g} end end
              end
            end
            local objects = {doll.zeros(3), ds, clf, doll.ig(clf, {steps = 2}), doll.unet{widths = {2, 4}, classes = 1}}
            for _, o in ipairs(objects) do
              local mt = getmetatable(o)
              for n, g in pairs(mt.__methods) do targets[#targets + 1] = {mt.__name .. ":" .. n, g, o} end
            end
            table.sort(targets, function(a, b) return a[1] < b[1] end)
            local calls, errors = 0, 0
            for round = 1, 40 do
              for _, t in ipairs(targets) do
                local args = {}
                local nargs = rnd(4) - 1
                for i = 1, nargs do args[i] = pool[rnd(#pool)]() end
                if t[3] and rnd(2) == 1 then table.insert(args, 1, t[3]) end
                local ok, err = pcall(t[2], table.unpack(args, 1, nargs + 1))
                calls = calls + 1
                if not ok then
                  errors = errors + 1
                  assert(type(err) == "string" and #err > 0, t[1] .. " raised a non-string error")
                end
              end
            end
            print(#targets, calls, errors)
            """)
        let parts = out.split(separator: "\t").map { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
        #expect(parts.count == 3 && parts[0] > 40, "functions fuzzed: \(out)")
        #expect(parts[1] >= 2000, "calls: \(out)")
        #expect(parts[2] > parts[1] / 2, "most random calls must be rejected: \(out)")
        #expect(try lua.evaluate("(doll.tensor{1, 2} + 1):sum():item()") == "5.0")
    }

    @Test func memoryStaysBoundedOverCreateDropCycles() throws {
        let lua = try LuaState()
        lua.collectGarbage()
        let baseline = LuaRegistry.shared.liveObjects
        try lua.run(
            """
            for i = 1, 3000 do
              local t = doll.randn({64, 64}, {seed = i})
              local u = t * 2 + t:abs()
              local d = doll.phantoms{n = 3, size = 32}
              if i % 100 == 0 then collectgarbage() end
            end
            collectgarbage(); collectgarbage()
            """)
        lua.collectGarbage()
        #expect(
            LuaRegistry.shared.liveObjects <= baseline + 5,
            "live Swift objects \(LuaRegistry.shared.liveObjects) vs \(baseline)")
        #expect(lua.memoryKiB < 4096, "Lua heap \(lua.memoryKiB) KiB")
    }

    @Test func interruptStopsALoopAndTheStateSurvives() throws {
        let lua = try LuaState()
        doll_lua_request_interrupt_forTests()
        do {
            try lua.run("local x = 0; while true do x = x + 1 end")
            Issue.record("the loop was not interrupted")
        } catch let e as LuaRunError {
            #expect(e.message.contains("interrupted"))
        }
        #expect(try lua.evaluate("40 + 2") == "42")
    }
}

@Suite("doll run")
struct DollRunTests {
    /// The `doll` binary built next to the test bundle.
    func dollBinary() -> String? {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let p = dir.appendingPathComponent("doll").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    func run(_ script: String) throws -> (Int32, String, String) {
        guard let bin = dollBinary() else {
            throw LuaBindingError("doll binary not found next to \(CommandLine.arguments[0])")
        }
        let dir = try tempDirectory("run")
        let path = dir + "/script.lua"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["run", path, "hello"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, o, e)
    }

    @Test func runsAScriptAndReportsFailuresWithATraceback() throws {
        let (ok, out, _) = try run("print(arg[1], (doll.ones(3) * 2):sum():item())")
        #expect(ok == 0 && out == "hello\t6.0\n")
        let (bad, _, err) = try run("local function f() return doll.zeros('oops') end\nf()")
        #expect(bad != 0)
        #expect(err.contains("doll.zeros: expected a shape") && err.contains("stack traceback"), "stderr: \(err)")
    }
}
