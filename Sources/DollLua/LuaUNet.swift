import CLua
import DollData
import DollExplain
import DollNN
import DollTensor
import Foundation

/// A U-Net segmenter and the names of its output channels.
public final class UNetBox {
    public let model: UNet
    public var structures: [String] = []
    public init(_ m: UNet) { model = m }
}

extension UNetBox: LuaObject {
    static let luaName = "doll.UNet"

    var luaDescription: String {
        let cfg = model.config
        let names = structures.isEmpty ? "" : " (" + structures.joined(separator: ", ") + ")"
        return
            "UNet: \(cfg.encoder.rawValue) encoder, widths \(cfg.widths), \(cfg.classes) output channels\(names), \(model.parameterCount) parameters"
    }

    var workspaceDetail: (text: String, bytes: Int) { ("\(model.parameterCount) parameters", model.parameterCount * 4) }

    static func builders() -> [(String, Int32)] {
        [builder("unet") { a in try make(a) }]
    }

    /// `doll.unet{classes, structures, width | widths, encoder = classifier | from = unet, seed}`.
    private static func make(_ a: LuaArgs) throws -> Int32 {
        let o = try a.options(1)
        let structures = try o.strings("structures") ?? []
        let classes = try o.integer("classes", in: 1...64) ?? Swift.max(structures.count, 1)
        let seed = UInt64(try o.integer("seed", in: 0...Int(Int32.max)) ?? 0)
        let upsampling = UNet.Upsampling(
            rawValue: try o.choice("upsampling", ["transposed", "bilinear"]) ?? "transposed")!
        let model: UNet
        // A pre-trained U-Net (e.g. on DoLL labels): everything but a new head for these structures.
        if let pre = try o.object("from", UNetBox.self)
            ?? (a.type(1) == LUA_TTABLE ? try? o.object("encoder", UNetBox.self) : nil)
        {
            var c = pre.model.config
            c.classes = classes
            c.seed = seed
            model = try UNet(c)
            try model.loadAllButHead(from: pre.model)
        } else if let clf = try o.object("encoder", ClassifierBox.self)?.model {
            model = try UNet(
                UNet.Config(
                    inChannels: clf.config.inChannels, classes: classes, encoder: .resnet,
                    widths: clf.config.widths, blocks: clf.config.blocks, seed: seed, upsampling: upsampling))
            try model.loadEncoder(from: clf)
        } else {
            var cfg = UNet.Config(classes: classes, seed: seed, upsampling: upsampling)
            if let w = try o.integer("width", in: 1...256) { cfg.widths = [w, 2 * w, 4 * w, 8 * w] }
            if let ws = try o.numbers("widths") { cfg.widths = try ws.map { try positive($0, "widths") } }
            model = try UNet(cfg)
        }
        let box = UNetBox(model)
        box.structures = structures
        a.push(object: box)
        return 1
    }

    /// A U-Net saved by `UNet:save` (`doll.kind` = unet).
    static func fromFile(_ file: SafeTensors.File, path: String) throws -> UNetBox {
        let box = UNetBox(
            try modelFromFile(file, path: path, check: ModelFileLimits.problem(_:values:), make: UNet.init))
        box.structures = (file.metadata["doll.structures"] ?? "").split(separator: ",").map(String.init)
        return box
    }

    /// The structures a call segments: the `structures` option, the U-Net's names, or the first
    /// of the dataset's; they must match the output channels.
    func structures(_ o: LuaOptions, _ ds: Dataset) throws -> [String] {
        if let s = try o.strings("structures") { structures = s }
        if structures.isEmpty { structures = Array(ds.structures.prefix(model.config.classes)) }
        guard structures.count == model.config.classes else {
            throw LuaBindingError(
                "the U-Net has \(model.config.classes) output channels but \(structures.count) structures were given; "
                    + "for other structures make a U-Net with a new head: doll.unet{from = seg, structures = {...}}")
        }
        return structures
    }

    static func methods() -> [String: Int32] {
        methodTable(
            weightMethods(\.model) + [
                method("fit") { a in try fit(a) },
                method("evaluate") { a in
                    let box = try a.object(1, UNetBox.self, "self")
                    let ds = try a.object(2, DatasetBox.self, "dataset").ds
                    let s = try box.structures(try a.options(3), ds)
                    let r = try Trainer(model: box.model, task: .segmentation(channels: s)).evaluate(
                        SegmentationSource(ds, structures: s))
                    a.push(record: r.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
                    return 1
                },
                method("predict") { a in
                    let box = try a.object(1, UNetBox.self, "self")
                    let t = try LuaTensor.tensor(a, 2, "image")
                    box.model.eval()
                    return LuaTensor.push(
                        a, try Autograd.noGrad { try box.model(t.rank == 3 ? t.unsqueezed(0) : t).sigmoid() })
                },
                method("save") { a in
                    let box = try a.object(1, UNetBox.self, "self")
                    try box.model.saveModelFile(to: try a.string(2, "path"), structures: box.structures)
                    return 0
                },
            ])
    }

    /// `seg:fit(labels | dataset, {fraction, seed, structures, val, …trainer options})`.
    private static func fit(_ a: LuaArgs) throws -> Int32 {
        let box = try a.object(1, UNetBox.self, "self")
        let o = try a.options(3)
        let seed = UInt64(try o.integer("seed", in: 0...Int(Int32.max)) ?? 0)
        let augment = try o.bool("augment") == true ? AugmentConfig() : nil
        if let labels = try? a.object(2, LabelsBox.self, "labels") {
            guard labels.labels.classes.count == box.model.config.classes else {
                throw LuaBindingError(
                    "DoLL labels have \(labels.labels.classes.count) channels, the U-Net \(box.model.config.classes)")
            }
            box.structures = labels.labels.classes
            return try DollLua.fit(
                a, model: box.model, task: .segmentation(channels: labels.labels.classes),
                train: try DollLabelSource(labels: labels.labels, images: labels.images, augment: augment, seed: seed),
                val: nil, config: trainerConfig(o)
            )
        }
        var ds = try a.object(2, DatasetBox.self, "dataset or labels").ds
        if let f = try o.number("fraction") {
            ds = try ds.subset(fraction: f, seed: seed)
        }
        let s = try box.structures(o, ds)
        if let augment { ds = try AugmentedDataset(ds, config: augment, seed: seed) }
        let val = try o.object("val", DatasetBox.self)?.ds
        return try DollLua.fit(
            a, model: box.model, task: .segmentation(channels: s), train: SegmentationSource(ds, structures: s),
            val: val.map { SegmentationSource($0, structures: s) }, config: trainerConfig(o))
    }

    // MARK: sessions: configuration, structure names and weights

    static let sessionType = "unet"

    func sessionRecord(
        _ session: inout LuaSession.Encoder, id: String, path: String,
        summary: inout LuaSession.Summary
    ) throws -> [String: Any]? {
        try session.modelRecord(model, config: model.config, id: id).merging(["structures": structures]) { a, _ in a }
    }

    static func restorer(_ record: LuaSession.Record) throws -> LuaSession.Restorer {
        let cfg = try record.decode(UNet.Config.self, "config")
        if let problem = ModelFileLimits.problem(cfg, values: record.totalValues) {
            throw record.error(".config \(problem)")
        }
        let names = try UNet(cfg).stateDict().keys.sorted()
        let weights = try record.weights("weights", need: names)
        let structures = (record.raw["structures"] as? [String]) ?? []
        return LuaSession.Restorer { _ in
            let m = try UNet(cfg)
            try m.loadStateDict(weights)
            m.eval()
            let box = UNetBox(m)
            box.structures = structures
            return box
        }
    }
}
