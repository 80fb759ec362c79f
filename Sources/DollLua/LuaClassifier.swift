import CLua
import DollData
import DollExplain
import DollNN
import DollTensor
import Foundation

/// A multi-label ResNet classifier.
public final class ClassifierBox {
    public let model: ResNetClassifier
    public init(_ m: ResNetClassifier) { model = m }
}

extension ClassifierBox: LuaObject {
    static let luaName = "doll.Classifier"

    var luaDescription: String {
        let cfg = model.config
        let trained = cfg.imageSize.map { ", trained on \($0[0])×\($0[1]) images" } ?? ""
        return "Classifier: ResNet widths \(cfg.widths), blocks \(cfg.blocks), \(cfg.classes.count) classes, "
            + "\(model.parameterCount) parameters, seed \(cfg.seed)\(trained)\n" + model.layerSummary
    }

    var workspaceDetail: (text: String, bytes: Int) { ("\(model.parameterCount) parameters", model.parameterCount * 4) }

    static func builders() -> [(String, Int32)] {
        [
            builder("classifier") { a in
                let o = try a.options(1)
                _ = try o.choice("arch", ["resnet"])
                var cfg = ResNetClassifier.Config(seed: UInt64(try o.integer("seed", in: 0...Int(Int32.max)) ?? 0))
                if let w = try o.integer("width", in: 1...512) { cfg.widths = [w, 2 * w, 4 * w, 8 * w] }
                if let ws = try o.numbers("widths") { cfg.widths = try ws.map { try positive($0, "widths") } }
                if let bs = try o.numbers("blocks") { cfg.blocks = try bs.map { try positive($0, "blocks") } }
                if cfg.blocks.count != cfg.widths.count {
                    cfg.blocks = Array(repeating: cfg.blocks.first ?? 2, count: cfg.widths.count)
                }
                if let c = try o.strings("classes") {
                    cfg.classes = c == ["nih"] ? LabelPreset.nih : (c == ["chexpert"] ? LabelPreset.chexpert : c)
                }
                if let ic = try o.integer("in_channels", in: 1...16) { cfg.inChannels = ic }
                a.push(object: ClassifierBox(try ResNetClassifier(cfg)))
                return 1
            }
        ]
    }

    /// A classifier saved by `Classifier:save` (`doll.kind` = classifier).
    static func fromFile(_ file: SafeTensors.File, path: String) throws -> ClassifierBox {
        ClassifierBox(
            try modelFromFile(file, path: path, check: ModelFileLimits.problem(_:values:), make: ResNetClassifier.init))
    }

    static func methods() -> [String: Int32] {
        methodTable(
            weightMethods(\.model) + [
                method("fit") { a in
                    let clf = try a.object(1, ClassifierBox.self, "self").model
                    let ds = try a.object(2, DatasetBox.self, "dataset").ds
                    let o = try a.options(3)
                    let val = try o.object("val", DatasetBox.self)?.ds
                    let n = try fit(
                        a, model: clf, task: .multiLabel(classes: clf.classes), train: ClassificationSource(ds),
                        val: val.map { ClassificationSource($0) }, config: trainerConfig(o))
                    if ds.count > 0 { clf.setTrainedImageSize(Array(try ds.sample(0).image.shape.suffix(2))) }
                    return n
                },
                method("evaluate") { a in
                    let clf = try a.object(1, ClassifierBox.self, "self").model
                    let ds = try a.object(2, DatasetBox.self, "dataset").ds
                    let r = try Trainer(model: clf, task: .multiLabel(classes: clf.classes)).evaluate(
                        ClassificationSource(ds))
                    a.push(record: r.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
                    return 1
                },
                method("predict") { a in try predict(a) },
                method("classes") { a in
                    LuaModule.pushStrings(a.L, try a.object(1, ClassifierBox.self, "self").model.classes)
                    return 1
                },
                method("save") { a in
                    try a.object(1, ClassifierBox.self, "self").model.saveModelFile(to: try a.string(2, "path"))
                    return 0
                },
            ])
    }

    /// `clf:predict(images or dataset, {names})`: probabilities `[N, classes]`, or for one image
    /// with `names = true` `{{class, probability}, …}` from the most to the least probable.
    private static func predict(_ a: LuaArgs) throws -> Int32 {
        let clf = try a.object(1, ClassifierBox.self, "self").model
        let x: Tensor
        if let ds = try? a.object(2, DatasetBox.self, "dataset") {
            x = try ds.ds.images(Array(0..<ds.ds.count))
        } else {
            let t = try LuaTensor.tensor(a, 2, "image")
            x = t.rank == 3 ? try t.unsqueezed(0) : t
        }
        guard x.rank == 4, x.shape[0] > 0 else {
            throw LuaBindingError(
                "predict needs images [N, C, H, W] or one image [C, H, W] (N ≥ 1), got \(shapeString(x.shape))")
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
        guard x.shape[0] == 1 else { throw LuaBindingError("option 'names' needs one image, got \(x.shape[0])") }
        let ranked = zip(clf.classes, p.scalars).sorted { $0.1 > $1.1 }
        lua_createtable(a.L, Int32(ranked.count), 0)
        for (i, (name, v)) in ranked.enumerated() {
            lua_createtable(a.L, 2, 0)
            a.push(name)
            lua_rawseti(a.L, -2, 1)
            a.push(Double(v))
            lua_rawseti(a.L, -2, 2)
            lua_rawseti(a.L, -2, lua_Integer(i + 1))
        }
        return 1
    }

    // MARK: sessions: configuration and weights

    static let sessionType = "classifier"

    func sessionRecord(
        _ session: inout LuaSession.Encoder, id: String, path: String,
        summary: inout LuaSession.Summary
    ) throws -> [String: Any]? {
        try session.modelRecord(model, config: model.config, id: id)
    }

    static func restorer(_ record: LuaSession.Record) throws -> LuaSession.Restorer {
        let cfg = try record.decode(ResNetClassifier.Config.self, "config")
        if let problem = ModelFileLimits.problem(cfg, values: record.totalValues) {
            throw record.error(".config \(problem)")
        }
        let names = try ResNetClassifier(cfg).stateDict().keys.sorted()
        let weights = try record.weights("weights", need: names)
        return LuaSession.Restorer { _ in
            let m = try ResNetClassifier(cfg)
            try m.loadStateDict(weights)
            m.eval()
            return ClassifierBox(m)
        }
    }
}
