import DollLua
import DollWorkbench
import Foundation
import DollTestSupport
import Testing

/// The DoLL story in Lua (issue 15): every stage is a Lua call, PyTorch weights come in and go
/// out, and the story notebook exports with every figure.
@Suite("The DoLL story in Lua", .serialized)
struct StoryTests {
    static let reference = sharedDirectory() + "/reference"

    /// A U-Net pre-trained on 14 DoLL channels gives a U-Net for 3 structures with every weight
    /// but the head; fitting the 14-channel one on 3 structures says how to get one.
    @Test func newHeadFromAPretrainedUNet() throws {
        let lua = try LuaState()
        try lua.run(
            """
            clf = doll.classifier{widths = {4, 8}, blocks = {1, 1}, seed = 1}
            seg = doll.unet{encoder = clf, classes = 14, seed = 2}
            a = doll.unet{from = seg, structures = {"lungs", "heart", "clavicles"}, seed = 3}
            b = doll.unet{encoder = seg, structures = {"lungs", "heart"}}
            ds = doll.phantoms{n = 4, size = 32}
            ok, err = pcall(seg.fit, seg, ds, {structures = {"lungs", "heart", "clavicles"}, epochs = 1})
            a:fit(ds, {epochs = 1})
            """)
        #expect(try lua.evaluate("ok") == "false")
        #expect(try lua.evaluate("err").contains("doll.unet{from = seg"))
        #expect(try lua.evaluate("tostring(a)").contains("3 output channels (lungs, heart, clavicles)"))
        #expect(try lua.evaluate("tostring(b)").contains("2 output channels"))
    }

    /// `clf:load` reads the plain PyTorch state dict of the reference ResNetCXR into a default
    /// classifier, which then gives the fixture's logits.
    @Test func pytorchStateDictLoadsFromLua() throws {
        guard FileManager.default.fileExists(atPath: Self.reference + "/resnet_ref.safetensors") else {
            Issue.record("../shared/reference is missing"); return
        }
        let lua = try LuaState()
        try lua.run(
            """
            clf = doll.classifier{}
            clf:load('\(Self.reference)/resnet_ref.safetensors')
            local ref = doll.load('\(Self.reference)/ig_ref.safetensors')
            local p = clf:predict(ref.input)
            diff = (p - ref.logits:sigmoid()):abs():max():item()
            ok, err = pcall(doll.classifier{widths = {16}, blocks = {1}}.load, doll.classifier{widths = {16}, blocks = {1}},
                            '\(Self.reference)/resnet_ref.safetensors')
            """)
        let diff = Double(try lua.evaluate("diff")) ?? 1
        #expect(diff < 1e-4, "largest difference from the fixture's probabilities: \(diff)")
        #expect(try lua.evaluate("err").contains("safetensors"), "a mismatch names the file and tensor")
    }

    /// Explainers take any model (issue 14): the same `doll.ig` call explains a classifier loaded
    /// from a PyTorch state dict (checked against Captum's fixture) and a U-Net's structure (its
    /// logits summed over the region it segments; checked by completeness against the sum
    /// computed here from `seg:predict`).
    @Test func igExplainsAPytorchClassifierAndAUNetStructure() throws {
        guard FileManager.default.fileExists(atPath: Self.reference + "/resnet_ref.safetensors") else {
            Issue.record("../shared/reference is missing"); return
        }
        let lua = try LuaState()
        try lua.run(
            """
            local ref = doll.load('\(Self.reference)/ig_ref.safetensors')
            clf = doll.classifier{}
            clf:load('\(Self.reference)/resnet_ref.safetensors')
            local attr, delta = doll.ig(clf, {method = "riemann_trapezoid", captum_trapezoid = true}):attribute(ref.input, 1)
            igdiff = (attr - ref.ig_riemann_trapezoid_fp64):abs():max():item()
            cdelta = math.abs(delta[1] - ref.delta_riemann_trapezoid_fp64[1])

            ds = doll.phantoms{n = 6, size = 32, seed = 3}
            seg = doll.unet{width = 4, structures = {"lungs", "heart"}, seed = 1}
            seg:fit(ds, {epochs = 3, batch = 2, lr = 0.01})
            local x = ds[1].image
            local ex = doll.ig(seg, {steps = 64})
            local a, d = ex:attribute(x, "heart")
            -- F(x) − F(0) by hand: heart logits summed over the pixels the U-Net calls heart.
            local function logits(img) local p = seg:predict(img)[1][2]; return (p / (1 - p)):log() end
            local region = seg:predict(x)[1][2]:gt(0.5)
            if region:sum():item() == 0 then region = region + 1 end
            local gain = (logits(x) * region):sum():item() - (logits(x * 0) * region):sum():item()
            completeness = math.abs(a:sum():item() - gain) / math.max(1e-6, math.abs(gain))
            reported = math.abs(d[1]) / math.max(1e-6, math.abs(gain))
            shape = table.concat(a:shape(), "x")
            described = tostring(ex)
            ok, err = pcall(doll.gradcam, seg)
            ok2, err2 = pcall(ex.attribute, ex, x, "ribs")
            sal = doll.saliency(seg):attribute(x, 1):abs():sum():item()
            """)
        let igDiff = Double(try lua.evaluate("igdiff")) ?? 1
        #expect(igDiff <= 1e-4, "IG of the PyTorch-loaded ResNetCXR vs Captum fp64: \(igDiff)")
        #expect((Double(try lua.evaluate("cdelta")) ?? 1) < 2e-4, "the completeness delta is Captum's")
        let completeness = Double(try lua.evaluate("completeness")) ?? 1
        #expect(completeness < 0.02, "U-Net IG: |Σattr − (F(x) − F(0))| / |F(x) − F(0)| = \(completeness)")
        #expect((Double(try lua.evaluate("reported")) ?? 1) < 0.02, "the reported delta agrees")
        #expect(try lua.evaluate("shape") == "1x32x32")
        #expect(try lua.evaluate("described").contains("ig on a U-Net with 2 structures (lungs, heart)"))
        #expect(try lua.evaluate("err").contains("Grad-CAM needs a classifier"))
        #expect(try lua.evaluate("err2").contains("unknown structure 'ribs'"))
        #expect((Double(try lua.evaluate("sal")) ?? 0) > 0)
    }

    /// A classifier saved by doll loads in PyTorch with `load_state_dict` and predicts the same
    /// (needs the PyTorch venv of ../shared/reference/bench_torch.py).
    @Test(.enabled(if: StoryTests.torchPython != nil, "no PyTorch venv at ../.venv-torch or DOLL_TORCH_PYTHON"))
    func dollModelLoadsInPyTorch() throws {
        guard let exe = dollExecutable(), let python = Self.torchPython else { return }
        let dir = temporaryDirectory("torch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
        local clf = doll.classifier{seed = 4}
        clf:fit(doll.phantoms{n = 8, size = 64}, {epochs = 1})
        clf:save('\(dir)/m.safetensors')
        local x = doll.rand({2, 1, 64, 64}, {seed = 5})
        doll.save('\(dir)/io.safetensors', {x = x, p = clf:predict(x)})
        """.write(toFile: dir + "/save.lua", atomically: true, encoding: .utf8)
        let saved = try runProcess(exe, ["run", dir + "/save.lua"])
        #expect(saved.status == 0, "\(saved.output)")
        let r = try runProcess(
            python, [repositoryRoot + "/scripts/torch_check.py", dir + "/m.safetensors", dir + "/io.safetensors"])
        #expect(r.status == 0 && r.output.contains("largest difference"), "\(r.output)")
    }

    static var torchPython: String? {
        let candidates = [
            ProcessInfo.processInfo.environment["DOLL_TORCH_PYTHON"], repositoryRoot + "/../.venv-torch/bin/python",
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `notebooks/doll_story.lua` runs under `doll export --html`, and its report embeds every
    /// PNG the notebook wrote.
    @Test func storyNotebookExportsEveryFigure() throws {
        guard let exe = dollExecutable() else { return }
        let dir = temporaryDirectory("story")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runProcess(
            exe, ["export", repositoryRoot + "/notebooks/doll_story.lua", "--html", dir + "/story.html"],
            environment: ["DOLL_DATA": repositoryRoot + "/../shared/data", "HOME": dir], directory: dir)
        #expect(r.status == 0, "\(r.output.suffix(3000))")
        let html = (try? String(contentsOfFile: dir + "/story.html", encoding: .utf8)) ?? ""
        let pngs = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/out/story")) ?? []).filter {
            $0.hasSuffix(".png")
        }
        #expect(pngs.count == 6, "\(pngs)")
        #expect(
            html.components(separatedBy: "src=\"data:image/png;base64,").count - 1 == pngs.count,
            "figures in the report vs PNGs written")
        #expect(html.contains("mean Dice") && html.contains("DoLL pre-training"))
    }

    /// The study's stages called one by one from Lua give exactly the runs of `doll.study`
    /// (they are the same functions).
    @Test func studyStagesOneByOneMatchTheWholeStudy() throws {
        let dir = temporaryDirectory("stages")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lua = try Workbench.makeLuaState()
        try lua.run(
            """
            local settings = {preset = "tiny", out = "\(dir)/a", quiet = true}
            local ct, cv, st, sv = doll.stage.data(settings)
            local clfs, auroc = doll.stage.classifiers(settings, ct, cv)
            local labels = doll.stage.labels(settings, clfs, ct)
            local pre = doll.stage.pretrain(settings, labels, clfs[1])
            runs = doll.stage.finetune(settings, pre, clfs[1], st, sv)
            whole = doll.study{preset = "tiny", out = "\(dir)/b", quiet = true}
            same = #runs == #whole.runs and #runs > 0 and auroc[1] == whole.auroc[1]
            for i, r in ipairs(runs) do
              same = same and r.init == whole.runs[i].init and r.mean_dice == whole.runs[i].mean_dice
            end
            """)
        #expect(try lua.evaluate("same") == "true")
    }
}
