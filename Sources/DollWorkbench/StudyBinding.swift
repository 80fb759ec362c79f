import CLua
import DollLua
import DollPipeline
import Foundation

/// `doll.study{...}`: the DoLL study from Lua, with the same settings as `doll study --set`.
enum StudyBinding {
    static let doc = LuaDoc(
        "doll.study",
        "doll.study{preset=\"quick\", out=\"reports/study\", quiet=false, seed, seeds, fractions, downstream, data, threshold, ig_steps, pretrain_epochs, boost, encoder_lr_scale, …} → {report, seconds, auroc, runs}",
        "Runs the DoLL study (classifiers → DoLL labels → U-Net pre-training → fine-tuning sweep) and writes its report directory. Settings override the preset; lists (seeds, fractions) are Lua arrays. Returns the report path, the run time in seconds, the classifiers' mean AUROC and one {init, fraction, seed, mean_dice, dice = {structure = value}, steps, best_step, cross_dice} per fine-tuning run. Ctrl-C stops it.",
        options: settingsKeys)

    static let settingsKeys = ["preset", "out", "quiet"] + StudyConfig.settableKeys

    /// The study a settings table describes (`{preset, out, quiet, <setting> = value, …}`).
    static func study(_ a: LuaArgs, _ i: Int32) throws -> Study {
        let o = try a.options(i)
        var cfg = try StudyConfig.preset(try o.choice("preset", ["quick", "full", "tiny"]) ?? "quick")
        for key in StudyConfig.settableKeys where o.present.contains(key) {
            let text: String
            if let list = try? o.numbers(key) {
                text = list.map(number).joined(separator: ",")
            } else if let n = try? o.number(key) {
                text = number(n)
            } else if case let b?? = try? o.bool(key) {
                text = b ? "true" : "false"
            } else {
                text = try o.string(key) ?? ""
            }
            do { try cfg.set(key, text) } catch { throw LuaBindingError("\(error)") }
        }
        let study = Study(config: cfg, outputDirectory: try o.string("out") ?? "reports/study")
        if try o.bool("quiet") == true { study.log = { _ in } }
        study.shouldStop = interruptRequested
        return study
    }

    static func pushRuns(_ a: LuaArgs, _ runs: [FinetuneRun]) {
        lua_createtable(a.L, Int32(runs.count), 0)
        for (i, run) in runs.enumerated() {
            lua_createtable(a.L, 0, 8)
            a.push(run.initialization); a.setField("init")
            a.push(run.fraction); a.setField("fraction")
            a.push(Int(run.seed)); a.setField("seed")
            a.push(run.meanDice); a.setField("mean_dice")
            a.push(record: run.dice.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }); a.setField("dice")
            a.push(run.steps); a.setField("steps")
            a.push(run.bestStep); a.setField("best_step")
            if !run.crossImageDice.isEmpty {
                a.push(record: run.crossDice.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
                a.setField("cross_dice")
            }
            lua_rawseti(a.L, -2, lua_Integer(i + 1))
        }
    }

    /// The study's stages one by one (`doll.stage.*`): the same functions `doll.study` and
    /// `doll study` run, on the same settings table.
    static var stageDocs: [(LuaDoc, LuaFunction)] {
        [
            (
                LuaDoc(
                    "doll.stage.data", "doll.stage.data(settings) → cls_train, cls_val, seg_train, seg_test",
                    "The study's data sets: classification train/validation and downstream segmentation train/test.",
                    options: settingsKeys),
                { a in
                    let (ct, cv) = try study(a, 1).classificationData()
                    let (dt, dv) = try study(a, 1).downstreamData()
                    for d in [ct, cv, dt, dv] { a.push(object: DatasetBox(d)) }
                    return 4
                }
            ),
            (
                LuaDoc(
                    "doll.stage.classifiers",
                    "doll.stage.classifiers(settings, train, val) → {Classifier, …}, {auroc, …}",
                    "Stage 1: the study's classifiers and their best validation mean AUROC.", options: settingsKeys),
                { a in
                    let s = try study(a, 1)
                    let c = try s.trainClassifiers(
                        train: try a.object(2, DatasetBox.self, "train").ds,
                        val: try a.object(3, DatasetBox.self, "val").ds)
                    lua_createtable(a.L, Int32(c.models.count), 0)
                    for (i, m) in c.models.enumerated() {
                        a.push(object: ClassifierBox(m)); lua_rawseti(a.L, -2, lua_Integer(i + 1))
                    }
                    a.push(array: c.auroc)
                    return 2
                }
            ),
            (
                LuaDoc(
                    "doll.stage.labels", "doll.stage.labels(settings, {Classifier, …}, images) → Labels",
                    "Stage 2: DoLL labels of the images with the study's label settings (also written to out/doll_labels).",
                    options: settingsKeys),
                { a in
                    let s = try study(a, 1)
                    let models = try a.list(2, "classifiers", limit: 64) {
                        try a.object($0, ClassifierBox.self, "classifier").model
                    }
                    let images = try a.object(3, DatasetBox.self, "images")
                    a.push(object: LabelsBox(try s.label(with: models, images: images.ds), imagesBox: images))
                    return 1
                }
            ),
            (
                LuaDoc(
                    "doll.stage.pretrain", "doll.stage.pretrain(settings, labels, encoder) → UNet",
                    "Stage 3: a U-Net with the encoder's trunk pre-trained on the DoLL labels (one output per label channel).",
                    options: settingsKeys),
                { a in
                    let s = try study(a, 1)
                    let labels = try a.object(2, LabelsBox.self, "labels")
                    let pre = try s.pretrain(
                        on: labels.labels, images: labels.images,
                        encoder: try a.object(3, ClassifierBox.self, "encoder").model)
                    let box = UNetBox(pre.model)
                    box.structures = labels.labels.classes
                    a.push(object: box)
                    return 1
                }
            ),
            (
                LuaDoc(
                    "doll.stage.finetune", "doll.stage.finetune(settings, pretrained, classifier, train, test) → runs",
                    "Stage 4: the fine-tuning sweep (fractions × seeds × random, classifier and DoLL initialisation); one {init, fraction, seed, mean_dice, dice} per run.",
                    options: settingsKeys),
                { a in
                    let s = try study(a, 1)
                    let sweep = try s.finetuneSweep(
                        pretrained: try a.object(2, UNetBox.self, "pretrained").model,
                        classifier: try a.object(3, ClassifierBox.self, "classifier").model,
                        train: try a.object(4, DatasetBox.self, "train").ds,
                        test: try a.object(5, DatasetBox.self, "test").ds)
                    pushRuns(a, sweep.runs)
                    return 1
                }
            ),
        ]
    }

    static func install(_ lua: LuaState) {
        for (doc, body) in stageDocs { lua.addFunction(doc, body) }
        lua.addFunction(doc) { a in
            let study = try study(a, 1)
            let r = try study.run()
            lua_createtable(a.L, 0, 4)
            a.push(r.reportPath); a.setField("report")
            a.push(r.seconds); a.setField("seconds")
            a.push(array: r.classifierAUROC); a.setField("auroc")
            pushRuns(a, r.runs)
            a.setField("runs")
            return 1
        }
    }

    static func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }
}

extension Workbench {
    /// A Lua state with the `doll` module and the workbench's additions (`doll.study`).
    public static func makeLuaState() throws -> LuaState {
        let lua = try LuaState()
        StudyBinding.install(lua)
        return lua
    }
}
