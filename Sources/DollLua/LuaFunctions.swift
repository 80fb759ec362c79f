import CDollSupport
import CLua
import DollData
import DollExplain
import DollNN
import DollTensor
import Foundation

/// `doll.*` functions that belong to no single type (`load`, the localisation scores).
enum LuaFunctions {
    static func fn(_ n: String, _ b: @escaping LuaFunction) -> (String, Int32) { (n, LuaModule.fn("doll.\(n)", b)) }

    static func moduleFunctions() -> [(String, Int32)] {
        [
            fn("load") { a in
                let path = try a.string(1, "path")
                let file = try SafeTensors.read(path: path)
                switch file.metadata["doll.kind"] {
                case "classifier": a.push(object: try ClassifierBox.fromFile(file, path: path))
                case "unet": a.push(object: try UNetBox.fromFile(file, path: path))
                default:
                    lua_createtable(a.L, 0, Int32(file.tensors.count))
                    for name in file.names {
                        _ = LuaTensor.push(a, file.tensors[name]!)
                        a.setField(name)
                    }
                }
                return 1
            },
            fn("pointing") { a in
                let (map, mask) = try mapAndMask(a)
                let w = map.shape[map.rank - 1]
                let tolerance = try a.isNil(3) ? 0 : a.integer(3, "tolerance", in: 0...1000)
                a.push(Localization.pointingHit(map: map.scalars, mask: mask.scalars, width: w, tolerance: tolerance))
                return 1
            },
            fn("localization") { a in
                let (map, mask) = try mapAndMask(a)
                let w = map.shape[map.rank - 1]
                let mv = map.scalars
                let kv = mask.scalars
                let q = try map.quantile(0.95)
                let ov = Localization.overlap(prediction: mv.map { $0 > q ? 1 : 0 }, mask: kv)
                a.push(record: [
                    ("pointing", Localization.pointingHit(map: mv, mask: kv, width: w) ? 1 : 0),
                    ("auprc", Localization.auprc(map: mv, mask: kv)),
                    ("energy", Localization.energyInMask(map: mv, mask: kv)),
                    ("dice", ov.dice), ("iou", ov.iou), ("chance", Localization.coverage(kv)),
                ])
                return 1
            },
        ]
    }

    /// Arguments 1 and 2: an attribution map and a mask of the same `[H, W]` size.
    private static func mapAndMask(_ a: LuaArgs) throws -> (Tensor, Tensor) {
        let map = try LuaTensor.tensor(a, 1, "map")
        let mask = try LuaTensor.tensor(a, 2, "mask")
        guard map.count == mask.count, map.rank >= 2 else {
            throw LuaBindingError("map and mask must have the same [H, W] size")
        }
        return (map, mask)
    }
}

// MARK: helpers the model types share

/// An integer entry of a size list (`widths`, `blocks`).
func positive(_ v: Double, _ what: String) throws -> Int {
    guard v == v.rounded(), v >= 1, v <= 4096 else {
        throw LuaBindingError("\(what) entries must be integers in 1…4096, got \(v)")
    }
    return Int(v)
}

/// Trainer settings from a `fit` options table.
func trainerConfig(_ o: LuaOptions) throws -> Trainer.Config {
    var c = Trainer.Config()
    if let e = try o.integer("epochs", in: 1...100_000) { c.epochs = e }
    if let b = try o.integer("batch", in: 1...4096) { c.batchSize = b }
    if let lr = try o.number("lr") {
        guard lr > 0, lr < 10 else { throw LuaBindingError("option 'lr' must be in (0, 10)") }
        c.learningRate = Float(lr)
    }
    if let opt = try o.choice("optimizer", ["adam", "adamw", "sgd"]) { c.optimizer = .init(rawValue: opt)! }
    if let s = try o.integer("seed", in: 0...Int(Int32.max)) { c.seed = UInt64(s) }
    if let wd = try o.number("weight_decay") {
        guard wd >= 0 else { throw LuaBindingError("option 'weight_decay' must be ≥ 0") }
        c.weightDecay = Float(wd)
    }
    if let p = try o.integer("patience", in: 1...100_000) { c.patience = p }
    if let s = try o.choice("schedule", ["constant", "cosine"]) {
        c.schedule = s == "cosine" ? .cosine(minFactor: 0.01) : .constant
    }
    if let w = try o.integer("warmup", in: 0...1_000_000) { c.warmupSteps = w }
    if let m = try o.integer("micro_batches", in: 1...4096) { c.microBatches = m }
    if let d = try o.string("checkpoint") { c.checkpointDirectory = d }
    // `doll run --resume` makes every fit with a checkpoint resume unless it says otherwise.
    let resume =
        try o.bool("resume") ?? (c.checkpointDirectory != nil && LuaModule.state(of: o.args.L)?.resumeTraining == true)
    guard !resume || c.checkpointDirectory != nil else {
        throw LuaBindingError("option 'resume' needs option 'checkpoint' (a directory)")
    }
    c.resume = resume
    if let cl = try o.number("clip") {
        guard cl > 0 else { throw LuaBindingError("option 'clip' must be > 0") }
        c.clipNorm = Float(cl)
    }
    return c
}

/// The training history as a list of per-epoch records plus `best_epoch` and `stopped_early`.
func pushHistory(_ a: LuaArgs, _ h: TrainingHistory) {
    lua_createtable(a.L, Int32(h.epochs.count), 2)
    for (i, e) in h.epochs.enumerated() {
        var rec: [(String, Double)] = [
            ("epoch", Double(e.epoch)), ("loss", e.trainLoss), ("lr", e.learningRate), ("seconds", e.seconds),
        ]
        rec += e.validation.sorted { $0.key < $1.key }.map { ("val_" + $0.key, $0.value) }
        a.push(record: rec)
        lua_rawseti(a.L, -2, lua_Integer(i + 1))
    }
    if let b = h.bestEpoch {
        a.push(b)
        a.setField("best_epoch")
    }
    a.push(h.stoppedEarly)
    a.setField("stopped_early")
}

/// Trains `model` (Ctrl-C stops between steps) and pushes the history.
func fit(
    _ a: LuaArgs, model: Module, task: TrainingTask, train: BatchSource, val: BatchSource?, config: Trainer.Config
) throws -> Int32 {
    let trainer = try Trainer(model: model, task: task, config: config)
    trainer.shouldStop = { doll_lua_interrupted() != 0 }
    defer { doll_lua_clear_interrupt() }
    do {
        pushHistory(a, try trainer.fit(train: train, validation: val))
    } catch let e as TrainingInterrupted {
        model.eval()
        throw LuaBindingError(e.description)
    }
    return 1
}

extension LuaObject {
    /// `:parameters()` and `:load(path)` of a type that holds a model.
    static func weightMethods(_ model: @escaping (Self) -> Module) -> [(String, Int32)] {
        [
            method("parameters") { a in
                pushParameters(a, model(try a.object(1, Self.self, "self")))
                return 1
            },
            method("load") { a in
                try loadWeights(model(try a.object(1, Self.self, "self")), from: try a.string(2, "path"))
                lua_settop(a.L, 1)
                return 1
            },
        ]
    }
}

/// A table `{name = Tensor}` of a model's trainable parameters (copies), PyTorch names.
func pushParameters(_ a: LuaArgs, _ model: Module) {
    let named = model.namedParameters().filter(\.1.trainable)
    lua_createtable(a.L, 0, Int32(named.count))
    for (name, p) in named {
        _ = LuaTensor.push(a, p.value)
        a.setField(name)
    }
}

/// Reads a safetensors state dict (a doll file or a plain PyTorch `state_dict`: the names are
/// PyTorch's) into `model`, all or nothing; a missing, extra or misshapen tensor is named.
/// PyTorch's `num_batches_tracked` counters are ignored.
func loadWeights(_ model: Module, from path: String) throws {
    let file = try SafeTensors.read(path: path)
    let dict = file.tensors.filter { !$0.key.hasSuffix(".num_batches_tracked") }
    do { try model.loadStateDict(dict) } catch { throw LuaBindingError("'\(path)': \(error)") }
}

/// The model a doll model file describes: its configuration (`doll.config` metadata) is checked
/// against the file's size before the model is built (`check` names a problem), then the weights
/// are loaded, all or nothing.
func modelFromFile<C: Decodable, M: Module>(
    _ file: SafeTensors.File, path: String, check: (C, Int) -> String?,
    make: (C) throws -> M
) throws -> M {
    let cfg: C
    do { cfg = try JSONDecoder().decode(C.self, from: Data((file.metadata["doll.config"] ?? "").utf8)) } catch {
        throw LuaBindingError("'\(path)': its doll.config metadata is not a valid model configuration")
    }
    if let problem = check(cfg, file.valueCount) { throw LuaBindingError("'\(path)': the configuration \(problem)") }
    let m = try make(cfg)
    try m.loadStateDict(file.tensors)
    return m
}

extension SafeTensors.File {
    /// Numbers held by all tensors.
    var valueCount: Int { tensors.values.reduce(0) { $0 + $1.count } }
}
