import CLua
import DollLua
import DollPipeline
import Foundation

/// `doll.study{...}`: the DoLL study from Lua, with the same settings as `doll study --set`.
enum StudyBinding {
    static let doc = LuaDoc(
        "doll.study", "doll.study{preset=\"quick\", out=\"reports/study\", quiet=false, seed, seeds, fractions, downstream, data, threshold, ig_steps, pretrain_epochs, boost, encoder_lr_scale, …} → {report, seconds, auroc, runs}",
        "Runs the DoLL study (classifiers → DoLL labels → U-Net pre-training → fine-tuning sweep) and writes its report directory. Settings override the preset; lists (seeds, fractions) are Lua arrays. Returns the report path, the run time in seconds, the classifiers' mean AUROC and one {init, fraction, seed, mean_dice, dice = {structure = value}} per fine-tuning run. Ctrl-C stops it.",
        options: ["preset", "out", "quiet"] + StudyConfig.settableKeys)

    static func install(_ lua: LuaState) {
        lua.addFunction(doc) { a in
            let o = try a.options(1)
            var cfg = try StudyConfig.preset(try o.choice("preset", ["quick", "full", "tiny"]) ?? "quick")
            for key in StudyConfig.settableKeys where o.present.contains(key) {
                let text: String
                if let list = try? o.numbers(key) { text = list.map(number).joined(separator: ",") }
                else if let n = try? o.number(key) { text = number(n) }
                else { text = try o.string(key) ?? "" }
                do { try cfg.set(key, text) } catch { throw LuaBindingError("\(error)") }
            }
            let study = Study(config: cfg, outputDirectory: try o.string("out") ?? "reports/study")
            if try o.bool("quiet") == true { study.log = { _ in } }
            study.shouldStop = interruptRequested
            let r = try study.run()
            lua_createtable(a.L, 0, 4)
            a.push(r.reportPath); a.setField("report")
            a.push(r.seconds); a.setField("seconds")
            a.push(array: r.classifierAUROC); a.setField("auroc")
            lua_createtable(a.L, Int32(r.runs.count), 0)
            for (i, run) in r.runs.enumerated() {
                lua_createtable(a.L, 0, 5)
                a.push(run.initialization); a.setField("init")
                a.push(run.fraction); a.setField("fraction")
                a.push(Int(run.seed)); a.setField("seed")
                a.push(run.meanDice); a.setField("mean_dice")
                a.push(record: run.dice.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }); a.setField("dice")
                lua_rawseti(a.L, -2, lua_Integer(i + 1))
            }
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
