import CDollSupport
import CLua
import DollData
import DollExplain
import DollNN
import DollTensor
import Foundation

/// Bindings for datasets, models, explainers and DoLL labels.
enum LuaObjects {
    static func fn(_ n: String, _ b: @escaping LuaFunction) -> (String, Int32) { (n, LuaModule.fn("doll.\(n)", b)) }
    static func m(_ type: String, _ n: String, _ b: @escaping LuaFunction) -> (String, Int32) { (n, LuaModule.fn("\(type):\(n)", b)) }

    // MARK: __index / __len for every userdata type

    /// `obj.method` looks up the type's method table; `ds[i]` and `t[i]` index (1-based).
    static func index(_ a: LuaArgs) throws -> Int32 {
        let L = a.L
        if lua_type(L, 2) == LUA_TSTRING {
            guard lua_getmetatable(L, 1) != 0 else { a.pushNil(); return 1 }
            lua_pushstring(L, "__methods"); lua_rawget(L, -2)
            lua_pushvalue(L, 2); lua_rawget(L, -2)
            return 1
        }
        guard lua_type(L, 2) == LUA_TNUMBER else { throw LuaBindingError("index must be a method name or an integer, got \(a.describe(2))") }
        if let box = try? a.object(1, TensorBox.self, "self") {
            let t = box.t
            guard t.rank >= 1 else { throw LuaBindingError("cannot index a scalar tensor") }
            let i = try a.integer(2, "index", in: 1...Swift.max(t.shape[0], 1))
            guard i <= t.shape[0] else { throw LuaBindingError("index \(i) out of range 1…\(t.shape[0])") }
            if t.rank == 1 { a.push(Double(try t.value(at: [i - 1]))); return 1 }
            return LuaTensor.push(a, try t.slice(axis: 0, start: i - 1, end: i).squeezed(0))
        }
        if let box = try? a.object(1, DatasetBox.self, "self") {
            let i = try a.integer(2, "index", in: 1...Swift.max(box.ds.count, 1))
            guard i <= box.ds.count else { throw LuaBindingError("index \(i) out of range 1…\(box.ds.count)") }
            pushSample(a, try box.ds.sample(i - 1), classes: box.ds.classes)
            return 1
        }
        if let box = try? a.object(1, LabelsBox.self, "self") {
            let n = box.labels.ids.count
            let i = try a.integer(2, "index", in: 1...Swift.max(n, 1))
            guard i <= n else { throw LuaBindingError("index \(i) out of range 1…\(n)") }
            lua_createtable(L, 0, 3)
            a.push(box.labels.ids[i - 1]); a.setField("id")
            _ = LuaTensor.push(a, box.labels.masks[i - 1]); a.setField("mask")
            _ = LuaTensor.push(a, box.labels.soft[i - 1]); a.setField("soft")
            return 1
        }
        throw LuaBindingError("\(a.typeName(1)) cannot be indexed by number")
    }

    static func length(_ a: LuaArgs) throws -> Int32 {
        if let t = try? a.object(1, TensorBox.self, "self") { a.push(t.t.shape.first ?? 1); return 1 }
        if let d = try? a.object(1, DatasetBox.self, "self") { a.push(d.ds.count); return 1 }
        if let l = try? a.object(1, LabelsBox.self, "self") { a.push(l.labels.ids.count); return 1 }
        throw LuaBindingError("\(a.typeName(1)) has no length")
    }

    /// A sample as `{id=, image=, labels=, masks={name=tensor}}`.
    static func pushSample(_ a: LuaArgs, _ s: Sample, classes: [String]) {
        lua_createtable(a.L, 0, 4)
        a.push(s.id); a.setField("id")
        _ = LuaTensor.push(a, s.image); a.setField("image")
        if let l = s.labels { _ = LuaTensor.push(a, Tensor(l)); a.setField("labels") }
        lua_createtable(a.L, 0, Int32(s.masks.count))
        for k in s.masks.keys.sorted() { _ = LuaTensor.push(a, s.masks[k]!); a.setField(k) }
        a.setField("masks")
    }

    // MARK: module functions

    static func moduleFunctions() -> [(String, Int32)] {
        [
            fn("phantoms") { a in
                let o = try a.options(1)
                var cfg = PhantomConfig(size: try o.integer("size", in: 32...1024) ?? 128, seed: UInt64(try o.integer("seed", in: 0...Int(Int32.max)) ?? 1))
                if let d = try o.number("difficulty") { cfg.difficulty = d }
                if let nz = try o.number("noise") { cfg.noise = nz }
                if let inf = try o.number("infection") { cfg.infectionPrevalence = inf }
                let ds = try PhantomDataset(count: try o.integer("n", in: 1...1_000_000) ?? 256, config: cfg, first: try o.integer("first", in: 0...Int(Int32.max)) ?? 0)
                a.push(object: DatasetBox(CachedDataset(ds, capacity: 4096), recipe: a.recipe())); return 1
            },
            fn("chexpert") { a in
                let o = try a.options(1)
                guard let csv = try o.string("csv") else { throw LuaBindingError("option 'csv' (path of train.csv/valid.csv) is required") }
                let policy = UncertaintyPolicy(rawValue: try o.choice("policy", ["ones", "zeros", "ignore"]) ?? "ones")!
                let ds = try CheXpertDataset(csv: csv, root: try o.string("root"), policy: policy, frontalOnly: try o.bool("frontal") ?? true,
                                             size: try o.integer("size", in: 8...2048) ?? 224)
                a.push(object: DatasetBox(CachedDataset(ds), recipe: a.recipe())); return 1
            },
            fn("labelcsv") { a in
                let o = try a.options(1)
                guard let csv = try o.string("csv") else { throw LuaBindingError("option 'csv' is required") }
                let ds = try LabelCSVDataset(csv: csv, root: try o.string("root"), pathColumn: try o.string("path_column") ?? "Path",
                                             classes: try o.strings("classes"), exclude: try o.strings("exclude") ?? [],
                                             split: try o.string("split"), size: try o.integer("size", in: 8...2048) ?? 224)
                a.push(object: DatasetBox(CachedDataset(ds), recipe: a.recipe())); return 1
            },
            fn("folder") { a in
                let o = try a.options(1)
                guard let root = try o.string("root") else { throw LuaBindingError("option 'root' is required") }
                let ds = try ImageFolder(root: root, size: try o.integer("size", in: 8...2048) ?? 256)
                a.push(object: DatasetBox(CachedDataset(ds), recipe: a.recipe())); return 1
            },
            fn("segdata") { a in
                let o = try a.options(1)
                guard let root = try o.string("root") else { throw LuaBindingError("option 'root' is required") }
                let size = try o.integer("size", in: 8...2048) ?? 256
                let ds: Dataset
                if try o.choice("layout", ["folder", "covidquex"]) == "covidquex" {
                    ds = try CovidQuExDataset(root: root, split: try o.string("split") ?? "Test", size: size)
                } else {
                    var filter: (String, String)? = nil
                    if let f = try o.integer("fold", in: 1...10) { filter = ("fold", "\(f)") }
                    if let f = try o.strings("filter") {
                        guard f.count == 2 else { throw LuaBindingError("option 'filter' must be {column, value}") }
                        filter = (f[0], f[1])
                    }
                    ds = try SegmentationFolder(root: root, size: size, filter: filter)
                }
                a.push(object: DatasetBox(CachedDataset(ds), recipe: a.recipe())); return 1
            },
            fn("classifier") { a in
                let o = try a.options(1)
                _ = try o.choice("arch", ["resnet"])
                var cfg = ResNetClassifier.Config(seed: UInt64(try o.integer("seed", in: 0...Int(Int32.max)) ?? 0))
                if let w = try o.integer("width", in: 1...512) { cfg.widths = [w, 2 * w, 4 * w, 8 * w] }
                if let ws = try o.numbers("widths") { cfg.widths = try ws.map { try positive($0, "widths") } }
                if let bs = try o.numbers("blocks") { cfg.blocks = try bs.map { try positive($0, "blocks") } }
                if cfg.blocks.count != cfg.widths.count { cfg.blocks = Array(repeating: cfg.blocks.first ?? 2, count: cfg.widths.count) }
                if let c = try o.strings("classes") { cfg.classes = c == ["nih"] ? LabelPreset.nih : (c == ["chexpert"] ? LabelPreset.chexpert : c) }
                if let ic = try o.integer("in_channels", in: 1...16) { cfg.inChannels = ic }
                a.push(object: ClassifierBox(try ResNetClassifier(cfg))); return 1
            },
            fn("unet") { a in
                let o = try a.options(1)
                var structures = try o.strings("structures") ?? []
                let classes = try o.integer("classes", in: 1...64) ?? Swift.max(structures.count, 1)
                if structures.isEmpty { structures = [] }
                var cfg = UNet.Config(classes: classes, seed: UInt64(try o.integer("seed", in: 0...Int(Int32.max)) ?? 0))
                var encoderModel: ResNetClassifier? = nil
                // A pre-trained U-Net (e.g. on DoLL labels): everything but a new head for these structures.
                let fromUNet = try o.object("from", UNetBox.self) ?? (a.type(1) == LUA_TTABLE ? try? o.object("encoder", UNetBox.self) : nil)
                if let pre = fromUNet {
                    var c = pre.model.config
                    c.classes = classes
                    c.seed = cfg.seed
                    let model = try UNet(c)
                    try model.loadAllButHead(from: pre.model)
                    let box = UNetBox(model); box.structures = structures
                    a.push(object: box); return 1
                }
                if let clf = try o.object("encoder", ClassifierBox.self) {
                    encoderModel = clf.model
                    cfg = UNet.Config(inChannels: clf.model.config.inChannels, classes: classes, encoder: .resnet,
                                      widths: clf.model.config.widths, blocks: clf.model.config.blocks, seed: cfg.seed)
                } else if let w = try o.integer("width", in: 1...256) {
                    cfg.widths = [w, 2 * w, 4 * w, 8 * w]
                }
                if let ws = try o.numbers("widths"), encoderModel == nil { cfg.widths = try ws.map { try positive($0, "widths") } }
                let model = try UNet(cfg)
                if let encoderModel { try model.loadEncoder(from: encoderModel) }
                let box = UNetBox(model); box.structures = structures
                a.push(object: box); return 1
            },
            fn("load") { a in
                let path = try a.string(1, "path")
                let file = try SafeTensors.read(path: path)
                let values = file.tensors.values.reduce(0) { $0 + $1.count }
                func config<C: Decodable>(_ type: C.Type) throws -> C {
                    do { return try JSONDecoder().decode(C.self, from: Data((file.metadata["doll.config"] ?? "").utf8)) } catch {
                        throw LuaBindingError("'\(path)': its doll.config metadata is not a valid model configuration")
                    }
                }
                switch file.metadata["doll.kind"] {
                case "classifier":
                    let cfg = try config(ResNetClassifier.Config.self)
                    if let problem = ModelFileLimits.problem(cfg, values: values) { throw LuaBindingError("'\(path)': the configuration \(problem)") }
                    let m = try ResNetClassifier(cfg); try m.loadStateDict(file.tensors)
                    a.push(object: ClassifierBox(m)); return 1
                case "unet":
                    let cfg = try config(UNet.Config.self)
                    if let problem = ModelFileLimits.problem(cfg, values: values) { throw LuaBindingError("'\(path)': the configuration \(problem)") }
                    let m = try UNet(cfg); try m.loadStateDict(file.tensors)
                    let box = UNetBox(m); box.structures = (file.metadata["doll.structures"] ?? "").split(separator: ",").map(String.init)
                    a.push(object: box); return 1
                default:
                    lua_createtable(a.L, 0, Int32(file.tensors.count))
                    for name in file.names { _ = LuaTensor.push(a, file.tensors[name]!); a.setField(name) }
                    return 1
                }
            },
            fn("ig") { a in
                let clf = try a.object(1, ClassifierBox.self, "classifier")
                let o = try a.options(2)
                var opt = IntegratedGradients.Options()
                if let s = try o.integer("steps", in: 1...10_000) { opt.steps = s }
                if let mth = try o.choice("method", IGMethod.allCases.map(\.rawValue)) { opt.method = IGMethod(rawValue: mth)! }
                if let b = try o.integer("batch", in: 1...4096) { opt.internalBatch = b }
                if let out = try o.choice("output", ["logit", "probability"]) { opt.output = AttributionOutput(rawValue: out)! }
                if let c = try o.bool("captum_trapezoid") { opt.captumTrapezoid = c }
                switch o.type("baseline") {
                case LUA_TNIL: break
                case LUA_TNUMBER: opt.baselines = [.constant(Float(try o.number("baseline")!))]
                case LUA_TUSERDATA: opt.baselines = [.tensor(try o.object("baseline", TensorBox.self)!.t)]
                default:
                    switch try o.string("baseline")! {
                    case "zeros": opt.baselines = [.zeros]
                    case "blur": opt.baselines = [.blurred(sigma: 8)]
                    case "noise": opt.baselines = [.uniformNoise(low: 0, high: 1, seed: 0)]
                    case let b: throw LuaBindingError("option 'baseline' must be a number, a Tensor, or zeros, blur or noise; got '\(b)'")
                    }
                }
                a.push(object: ExplainerBox(IntegratedGradients(model: clf.model, options: opt), kind: "ig", recipe: a.recipe())); return 1
            },
            fn("saliency") { a in
                let clf = try a.object(1, ClassifierBox.self, "classifier")
                _ = try a.options(2)
                a.push(object: ExplainerBox(Saliency(model: clf.model), kind: "saliency", recipe: a.recipe())); return 1
            },
            fn("smoothgrad") { a in
                let clf = try a.object(1, ClassifierBox.self, "classifier")
                let o = try a.options(2)
                let kind = NoiseTunnel.Kind(rawValue: try o.choice("kind", ["smoothgrad", "smoothgrad_sq", "vargrad"]) ?? "smoothgrad")!
                let nt = try NoiseTunnel(Saliency(model: clf.model), kind: kind, samples: try o.integer("samples", in: 1...10_000) ?? 20,
                                         sigma: Float(try o.number("sigma") ?? 0.1), seed: UInt64(try o.integer("seed", in: 0...Int(Int32.max)) ?? 0),
                                         batch: try o.integer("batch", in: 1...4096) ?? 10)
                a.push(object: ExplainerBox(nt, kind: kind.rawValue, recipe: a.recipe())); return 1
            },
            fn("gradcam") { a in
                let clf = try a.object(1, ClassifierBox.self, "classifier")
                let o = try a.options(2)
                a.push(object: ExplainerBox(try GradCAM(model: clf.model, layer: try o.string("layer") ?? clf.model.stageNames.last!), kind: "gradcam", recipe: a.recipe())); return 1
            },
            fn("occlusion") { a in
                let clf = try a.object(1, ClassifierBox.self, "classifier")
                let o = try a.options(2)
                let occ = try Occlusion(model: clf.model, window: try o.integer("window", in: 1...4096) ?? 16, stride: try o.integer("stride", in: 1...4096) ?? 8,
                                        baseline: Float(try o.number("baseline") ?? 0), batch: try o.integer("batch", in: 1...4096) ?? 16)
                a.push(object: ExplainerBox(occ, kind: "occlusion", recipe: a.recipe())); return 1
            },
            fn("labels") { a in
                let models = try a.list(1, "classifiers", limit: 64) { try a.object($0, ClassifierBox.self, "classifier").model }
                let dsBox = try a.object(2, DatasetBox.self, "dataset")
                let ds = dsBox.ds
                let o = try a.options(3)
                if ds.count > 0 {
                    let image = try ds.sample(0).image
                    for m in models { if let problem = m.sizeMismatch(image) { throw LuaBindingError(problem) } }
                }
                var cfg = DollLabelConfig()
                if let e = try o.choice("explainer", ["ig", "saliency", "smoothgrad", "gradcam", "occlusion"]) { cfg.explainer = .init(rawValue: e)! }
                if let s = try o.integer("steps", in: 1...10_000) { cfg.igSteps = s }
                if let s = try o.number("sigma") { cfg.smoothing = s > 0 ? .gaussian(sigma: Float(s)) : .none }
                if let t = try o.string("threshold") {
                    do { cfg.threshold = try .init(parsing: t) } catch let e as TensorError { throw LuaBindingError("option 'threshold': \(e.message)") }
                }
                if try o.choice("positives", ["labels", "predicted"]) == "predicted" { cfg.positives = .predicted(cutoff: Float(try o.number("cutoff") ?? 0.5)) }
                if let mc = try o.integer("min_component", in: 0...1_000_000) { cfg.minComponent = mc }
                if let k = try o.integer("keep", in: 0...1000) { cfg.keepLargest = k == 0 ? nil : k }
                if let r = try o.string("restrict") { cfg.restrictTo = r }
                if let s = try o.choice("sign", ["absolute", "positive"]) { cfg.sign = .init(rawValue: s)! }
                guard ds.count >= 1 else { throw LuaBindingError("the dataset has no images to label") }
                let n = try o.integer("n", in: 1...ds.count) ?? ds.count
                let labeller = try DollLabeller(models: models, config: cfg)
                labeller.shouldStop = { doll_lua_interrupted() != 0 }
                // A bar on a terminal (labelling can take minutes), and a closing line.
                let bar = ProgressBar(enabled: true, total: n)
                labeller.progress = { done, total in bar.update(step: done, text: "labelling \(done)/\(total) images") }
                defer { doll_lua_clear_interrupt() }
                let set = try labeller.label(ds, indices: Array(0..<n))
                bar.finish()
                a.push(object: LabelsBox(set, imagesBox: dsBox)); return 1
            },
            fn("pointing") { a in
                let map = try LuaTensor.tensor(a, 1, "map"), mask = try LuaTensor.tensor(a, 2, "mask")
                guard map.count == mask.count, map.rank >= 2 else { throw LuaBindingError("map and mask must have the same [H, W] size") }
                let w = map.shape[map.rank - 1]
                a.push(Localization.pointingHit(map: map.scalars, mask: mask.scalars, width: w, tolerance: try a.isNil(3) ? 0 : a.integer(3, "tolerance", in: 0...1000)))
                return 1
            },
            fn("localization") { a in
                let map = try LuaTensor.tensor(a, 1, "map"), mask = try LuaTensor.tensor(a, 2, "mask")
                guard map.count == mask.count, map.rank >= 2 else { throw LuaBindingError("map and mask must have the same [H, W] size") }
                let w = map.shape[map.rank - 1], mv = map.scalars, kv = mask.scalars
                let q = try map.quantile(0.95)
                let ov = Localization.overlap(prediction: mv.map { $0 > q ? 1 : 0 }, mask: kv)
                a.push(record: [("pointing", Localization.pointingHit(map: mv, mask: kv, width: w) ? 1 : 0),
                                ("auprc", Localization.auprc(map: mv, mask: kv)), ("energy", Localization.energyInMask(map: mv, mask: kv)),
                                ("dice", ov.dice), ("iou", ov.iou), ("chance", Localization.coverage(kv))])
                return 1
            },
        ]
    }

    static func positive(_ v: Double, _ what: String) throws -> Int {
        guard v == v.rounded(), v >= 1, v <= 4096 else { throw LuaBindingError("\(what) entries must be integers in 1…4096, got \(v)") }
        return Int(v)
    }

    // MARK: methods

    static func datasetMethods() -> [String: Int32] {
        let t = "Dataset"
        return Dictionary([
            m(t, "classes") { a in LuaModule.pushStrings(a.L, try a.object(1, DatasetBox.self, "self").ds.classes); return 1 },
            m(t, "structures") { a in LuaModule.pushStrings(a.L, try a.object(1, DatasetBox.self, "self").ds.structures); return 1 },
            m(t, "size") { a in a.push(try a.object(1, DatasetBox.self, "self").ds.size); return 1 },
            m(t, "split") { a in
                let ds = try a.object(1, DatasetBox.self, "self").ds
                let (x, y) = try ds.split(fraction: try a.number(2, "fraction"), seed: UInt64(try a.isNil(3) ? 0 : a.integer(3, "seed", in: 0...Int(Int32.max))))
                let first = a.recipe(result: 1), second = a.recipe(result: 2)   // before pushing results
                a.push(object: DatasetBox(x, recipe: first)); a.push(object: DatasetBox(y, recipe: second)); return 2
            },
            m(t, "subset") { a in
                let ds = try a.object(1, DatasetBox.self, "self").ds
                a.push(object: DatasetBox(try ds.subset(fraction: try a.number(2, "fraction"), seed: UInt64(try a.isNil(3) ? 0 : a.integer(3, "seed", in: 0...Int(Int32.max)))),
                                          recipe: a.recipe()))
                return 1
            },
            m(t, "images") { a in
                let ds = try a.object(1, DatasetBox.self, "self").ds
                let first = try a.integer(2, "first", in: 1...Swift.max(ds.count, 1)), last = try a.integer(3, "last", in: first...Swift.max(ds.count, first))
                return LuaTensor.push(a, try ds.images(Array((first - 1)..<last)))
            },
        ], uniquingKeysWith: { x, _ in x })
    }

    static func trainerConfig(_ o: LuaOptions) throws -> Trainer.Config {
        var c = Trainer.Config()
        if let e = try o.integer("epochs", in: 1...100_000) { c.epochs = e }
        if let b = try o.integer("batch", in: 1...4096) { c.batchSize = b }
        if let lr = try o.number("lr") { guard lr > 0, lr < 10 else { throw LuaBindingError("option 'lr' must be in (0, 10)") }; c.learningRate = Float(lr) }
        if let opt = try o.choice("optimizer", ["adam", "adamw", "sgd"]) { c.optimizer = .init(rawValue: opt)! }
        if let s = try o.integer("seed", in: 0...Int(Int32.max)) { c.seed = UInt64(s) }
        if let wd = try o.number("weight_decay") { guard wd >= 0 else { throw LuaBindingError("option 'weight_decay' must be ≥ 0") }; c.weightDecay = Float(wd) }
        if let p = try o.integer("patience", in: 1...100_000) { c.patience = p }
        if let s = try o.choice("schedule", ["constant", "cosine"]) { c.schedule = s == "cosine" ? .cosine(minFactor: 0.01) : .constant }
        if let w = try o.integer("warmup", in: 0...1_000_000) { c.warmupSteps = w }
        if let cl = try o.number("clip") { guard cl > 0 else { throw LuaBindingError("option 'clip' must be > 0") }; c.clipNorm = Float(cl) }
        return c
    }

    static func pushHistory(_ a: LuaArgs, _ h: TrainingHistory) {
        lua_createtable(a.L, Int32(h.epochs.count), 2)
        for (i, e) in h.epochs.enumerated() {
            var rec: [(String, Double)] = [("epoch", Double(e.epoch)), ("loss", e.trainLoss), ("lr", e.learningRate), ("seconds", e.seconds)]
            rec += e.validation.sorted { $0.key < $1.key }.map { ("val_" + $0.key, $0.value) }
            a.push(record: rec)
            lua_rawseti(a.L, -2, lua_Integer(i + 1))
        }
        if let b = h.bestEpoch { a.push(b); a.setField("best_epoch") }
        a.push(h.stoppedEarly); a.setField("stopped_early")
    }

    static func fit(_ a: LuaArgs, model: Module, task: TrainingTask, train: BatchSource, val: BatchSource?, config: Trainer.Config) throws -> Int32 {
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

    static func classifierMethods() -> [String: Int32] {
        let t = "Classifier"
        return Dictionary([
            m(t, "fit") { a in
                let clf = try a.object(1, ClassifierBox.self, "self").model
                let ds = try a.object(2, DatasetBox.self, "dataset").ds
                let o = try a.options(3)
                let val = try o.object("val", DatasetBox.self)?.ds
                let n = try fit(a, model: clf, task: .multiLabel(classes: clf.classes), train: ClassificationSource(ds),
                                val: val.map { ClassificationSource($0) }, config: trainerConfig(o))
                if ds.count > 0 { clf.setTrainedImageSize(Array(try ds.sample(0).image.shape.suffix(2))) }
                return n
            },
            m(t, "evaluate") { a in
                let clf = try a.object(1, ClassifierBox.self, "self").model
                let ds = try a.object(2, DatasetBox.self, "dataset").ds
                let r = try Trainer(model: clf, task: .multiLabel(classes: clf.classes)).evaluate(ClassificationSource(ds))
                a.push(record: r.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }); return 1
            },
            m(t, "predict") { a in
                let clf = try a.object(1, ClassifierBox.self, "self").model
                let x: Tensor
                if let ds = try? a.object(2, DatasetBox.self, "dataset") { x = try ds.ds.images(Array(0..<ds.ds.count)) }
                else { let t = try LuaTensor.tensor(a, 2, "image"); x = t.rank == 3 ? try t.unsqueezed(0) : t }
                guard x.rank == 4, x.shape[0] > 0 else {
                    throw LuaBindingError("predict needs images [N, C, H, W] or one image [C, H, W] (N ≥ 1), got \(shapeString(x.shape))")
                }
                if let problem = clf.sizeMismatch(x) { throw LuaBindingError(problem) }
                clf.eval()
                var out: [Tensor] = []
                for s in stride(from: 0, to: x.shape[0], by: 32) {
                    let chunk = try x.slice(axis: 0, start: s, end: Swift.min(s + 32, x.shape[0]))
                    out.append(try Autograd.noGrad { try clf(chunk).sigmoid() })
                }
                let p = try Tensor.concat(out, axis: 0)
                guard try a.options(3).bool("names") == true else { return LuaTensor.push(a, p) }
                // One image: {{class, probability}, …} from the most to the least probable.
                guard x.shape[0] == 1 else { throw LuaBindingError("option 'names' needs one image, got \(x.shape[0])") }
                let ranked = zip(clf.classes, p.scalars).sorted { $0.1 > $1.1 }
                lua_createtable(a.L, Int32(ranked.count), 0)
                for (i, (name, v)) in ranked.enumerated() {
                    lua_createtable(a.L, 2, 0)
                    a.push(name); lua_rawseti(a.L, -2, 1)
                    a.push(Double(v)); lua_rawseti(a.L, -2, 2)
                    lua_rawseti(a.L, -2, lua_Integer(i + 1))
                }
                return 1
            },
            m(t, "classes") { a in LuaModule.pushStrings(a.L, try a.object(1, ClassifierBox.self, "self").model.classes); return 1 },
            m(t, "parameters") { a in pushParameters(a, try a.object(1, ClassifierBox.self, "self").model); return 1 },
            m(t, "load") { a in
                let box = try a.object(1, ClassifierBox.self, "self")
                try loadWeights(box.model, from: try a.string(2, "path"))
                lua_settop(a.L, 1); return 1
            },
            m(t, "save") { a in
                let clf = try a.object(1, ClassifierBox.self, "self").model
                let cfg = try canonicalJSON(clf.config)
                try clf.save(to: try a.string(2, "path"), metadata: ["doll.kind": "classifier", "doll.config": cfg])
                return 0
            },
        ], uniquingKeysWith: { x, _ in x })
    }

    static func unetMethods() -> [String: Int32] {
        let t = "UNet"
        func structures(_ box: UNetBox, _ o: LuaOptions, _ ds: Dataset) throws -> [String] {
            if let s = try o.strings("structures") { box.structures = s }
            if box.structures.isEmpty { box.structures = Array(ds.structures.prefix(box.model.config.classes)) }
            guard box.structures.count == box.model.config.classes else {
                throw LuaBindingError("the U-Net has \(box.model.config.classes) output channels but \(box.structures.count) structures were given; "
                    + "for other structures make a U-Net with a new head: doll.unet{from = seg, structures = {...}}")
            }
            return box.structures
        }
        return Dictionary([
            m(t, "fit") { a in
                let box = try a.object(1, UNetBox.self, "self")
                let o = try a.options(3)
                if let labels = try? a.object(2, LabelsBox.self, "labels") {
                    guard labels.labels.classes.count == box.model.config.classes else {
                        throw LuaBindingError("DoLL labels have \(labels.labels.classes.count) channels, the U-Net \(box.model.config.classes)")
                    }
                    box.structures = labels.labels.classes
                    return try fit(a, model: box.model, task: .segmentation(channels: labels.labels.classes),
                                   train: DollLabelSource(labels: labels.labels, images: labels.images), val: nil, config: trainerConfig(o))
                }
                var ds = try a.object(2, DatasetBox.self, "dataset or labels").ds
                if let f = try o.number("fraction") { ds = try ds.subset(fraction: f, seed: UInt64(try o.integer("seed", in: 0...Int(Int32.max)) ?? 0)) }
                let s = try structures(box, o, ds)
                let val = try o.object("val", DatasetBox.self)?.ds
                return try fit(a, model: box.model, task: .segmentation(channels: s), train: SegmentationSource(ds, structures: s),
                               val: val.map { SegmentationSource($0, structures: s) }, config: trainerConfig(o))
            },
            m(t, "evaluate") { a in
                let box = try a.object(1, UNetBox.self, "self")
                let ds = try a.object(2, DatasetBox.self, "dataset").ds
                let o = try a.options(3)
                let s = try structures(box, o, ds)
                let r = try Trainer(model: box.model, task: .segmentation(channels: s)).evaluate(SegmentationSource(ds, structures: s))
                a.push(record: r.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }); return 1
            },
            m(t, "predict") { a in
                let box = try a.object(1, UNetBox.self, "self")
                let t = try LuaTensor.tensor(a, 2, "image")
                box.model.eval()
                return LuaTensor.push(a, try Autograd.noGrad { try box.model(t.rank == 3 ? t.unsqueezed(0) : t).sigmoid() })
            },
            m(t, "parameters") { a in pushParameters(a, try a.object(1, UNetBox.self, "self").model); return 1 },
            m(t, "load") { a in
                let box = try a.object(1, UNetBox.self, "self")
                try loadWeights(box.model, from: try a.string(2, "path"))
                lua_settop(a.L, 1); return 1
            },
            m(t, "save") { a in
                let box = try a.object(1, UNetBox.self, "self")
                let cfg = try canonicalJSON(box.model.config)
                try box.model.save(to: try a.string(2, "path"), metadata: ["doll.kind": "unet", "doll.config": cfg, "doll.structures": box.structures.joined(separator: ",")])
                return 0
            },
        ], uniquingKeysWith: { x, _ in x })
    }

    static func explainerMethods() -> [String: Int32] {
        Dictionary([
            m("Explainer", "attribute") { a in
                let ex = try a.object(1, ExplainerBox.self, "self")
                let x = try LuaTensor.tensor(a, 2, "image")
                if let problem = ex.attributor.model.sizeMismatch(x) { throw LuaBindingError(problem) }
                let target: AttributionTarget
                if a.type(3) == LUA_TSTRING { target = .name(try a.string(3, "target")) }
                else { target = .index(try a.integer(3, "target (1-based class index or name)", in: 1...ex.attributor.model.classes.count) - 1) }
                if let ig = ex.attributor as? IntegratedGradients {
                    let (attr, delta) = try ig.attribute(x, target: target)
                    _ = LuaTensor.push(a, x.rank == 3 ? try attr.squeezed(0) : attr)
                    a.push(array: delta.map(Double.init)); return 2
                }
                let attr = try ex.attributor.attributions(x, target: target)
                return LuaTensor.push(a, x.rank == 3 ? try attr.squeezed(0) : attr)
            },
        ], uniquingKeysWith: { x, _ in x })
    }

    static func labelsMethods() -> [String: Int32] {
        Dictionary([
            m("Labels", "write") { a in
                let box = try a.object(1, LabelsBox.self, "self")
                let bar = ProgressBar(enabled: true, total: box.labels.ids.count)
                try box.labels.write(to: try a.string(2, "directory"), images: box.images) { done, total in
                    bar.update(step: done, text: "writing \(done)/\(total) images")
                }
                bar.finish()
                return 0
            },
            m("Labels", "classes") { a in LuaModule.pushStrings(a.L, try a.object(1, LabelsBox.self, "self").labels.classes); return 1 },
        ], uniquingKeysWith: { x, _ in x })
    }
}

/// A table `{name = Tensor}` of a model's trainable parameters (copies), PyTorch names.
func pushParameters(_ a: LuaArgs, _ model: Module) {
    let named = model.namedParameters().filter(\.1.trainable)
    lua_createtable(a.L, 0, Int32(named.count))
    for (name, p) in named { _ = LuaTensor.push(a, p.value); a.setField(name) }
}

/// Reads a safetensors state dict (a doll file or a plain PyTorch `state_dict`: the names are
/// PyTorch's) into `model`, all or nothing; a missing, extra or misshapen tensor is named.
/// PyTorch's `num_batches_tracked` counters are ignored.
func loadWeights(_ model: Module, from path: String) throws {
    let file = try SafeTensors.read(path: path)
    let dict = file.tensors.filter { !$0.key.hasSuffix(".num_batches_tracked") }
    do { try model.loadStateDict(dict) } catch { throw LuaBindingError("'\(path)': \(error)") }
}

/// JSON with sorted keys, so that a saved model file is the same bytes every time.
func canonicalJSON<T: Encodable>(_ value: T) throws -> String {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys]
    return String(decoding: try enc.encode(value), as: UTF8.self)
}
