import CDollSupport
import CLua
import DollData
import DollExplain
import DollNN
import DollTensor
import Foundation

/// DoLL labels and the dataset box of the images they were made from.
public final class LabelsBox {
    public let labels: DollLabelSet
    public let imagesBox: DatasetBox
    public var images: Dataset { imagesBox.ds }
    public init(_ l: DollLabelSet, imagesBox: DatasetBox) {
        labels = l
        self.imagesBox = imagesBox
    }
}

extension LabelsBox: LuaObject {
    static let luaName = "doll.Labels"

    var luaDescription: String {
        "DoLL labels: \(labels.ids.count) images × \(labels.classes.count) classes (explainer \(labels.config.explainer.rawValue))"
    }

    var workspaceDetail: (text: String, bytes: Int) {
        ("\(labels.ids.count) images", labels.masks.byteCount + labels.soft.byteCount)
    }
    var luaLength: Int? { labels.ids.count }

    /// `labels[i]` is `{id, mask, soft}`.
    func luaIndex(_ a: LuaArgs) throws -> Int32 {
        let i = try LuaTypes.index(a, count: labels.ids.count)
        lua_createtable(a.L, 0, 3)
        a.push(labels.ids[i - 1])
        a.setField("id")
        _ = LuaTensor.push(a, labels.masks[i - 1])
        a.setField("mask")
        _ = LuaTensor.push(a, labels.soft[i - 1])
        a.setField("soft")
        return 1
    }

    static func builders() -> [(String, Int32)] {
        [builder("labels") { a in try make(a) }]
    }

    /// `doll.labels({classifier, …}, dataset, {options})`.
    private static func make(_ a: LuaArgs) throws -> Int32 {
        let models = try a.list(1, "classifiers", limit: 64) {
            try a.object($0, ClassifierBox.self, "classifier").model
        }
        let dsBox = try a.object(2, DatasetBox.self, "dataset")
        let ds = dsBox.ds
        let o = try a.options(3)
        if ds.count > 0 {
            let image = try ds.sample(0).image
            for m in models { if let problem = m.sizeMismatch(image) { throw LuaBindingError(problem) } }
        }
        var cfg = DollLabelConfig()
        if let e = try o.choice("explainer", ["ig", "saliency", "smoothgrad", "gradcam", "occlusion"]) {
            cfg.explainer = .init(rawValue: e)!
        }
        if let s = try o.integer("steps", in: 1...10_000) { cfg.igSteps = s }
        if let s = try o.number("sigma") { cfg.smoothing = s > 0 ? .gaussian(sigma: Float(s)) : .none }
        if let t = try o.string("threshold") {
            do { cfg.threshold = try .init(parsing: t) } catch let e as DollError {
                throw LuaBindingError("option 'threshold': \(e.message)")
            }
        }
        if try o.choice("positives", ["labels", "predicted"]) == "predicted" {
            cfg.positives = .predicted(cutoff: Float(try o.number("cutoff") ?? 0.5))
        }
        if let mc = try o.integer("min_component", in: 0...1_000_000) { cfg.minComponent = mc }
        if let k = try o.integer("keep", in: 0...1000) { cfg.keepLargest = k == 0 ? nil : k }
        if let r = try o.string("restrict") { cfg.restrictTo = r }
        if let s = try o.choice("sign", ["absolute", "positive"]) { cfg.sign = .init(rawValue: s)! }
        guard ds.count >= 1 else { throw LuaBindingError("the dataset has no images to label") }
        let n = try o.integer("n", in: 1...ds.count) ?? ds.count
        let labeller = try DollLabeller(models: models, config: cfg)
        labeller.shouldStop = { doll_lua_interrupted() != 0 }
        // A bar on a terminal (labelling can take minutes), and a closing line.
        let bar = ProgressBar(enabled: DataParallel.isLeader, total: n)
        labeller.progress = { done, total in bar.update(step: done, text: "labelling \(done)/\(total) images") }
        defer { doll_lua_clear_interrupt() }
        let set = try labeller.label(ds, indices: Array(0..<n))
        bar.finish()
        a.push(object: LabelsBox(set, imagesBox: dsBox))
        return 1
    }

    static func methods() -> [String: Int32] {
        methodTable([
            method("write") { a in
                let box = try a.object(1, LabelsBox.self, "self")
                let bar = ProgressBar(enabled: DataParallel.isLeader, total: box.labels.ids.count)
                try box.labels.write(to: try a.string(2, "directory"), images: box.images) { done, total in
                    bar.update(step: done, text: "writing \(done)/\(total) images")
                }
                bar.finish()
                return 0
            },
            method("classes") { a in
                LuaModule.pushStrings(a.L, try a.object(1, LabelsBox.self, "self").labels.classes)
                return 1
            },
        ])
    }

    // MARK: sessions: masks and maps, and the image dataset by reference

    static let sessionType = "labels"

    func sessionRecord(
        _ session: inout LuaSession.Encoder, id: String, path: String,
        summary: inout LuaSession.Summary
    ) throws -> [String: Any]? {
        guard let images = try session.encodeObject(imagesBox, path: path + ".images", summary: &summary) else {
            summary.skipped.append("\(path) (DoLL labels whose image dataset cannot be saved)")
            return nil
        }
        guard let config = try? LuaSession.jsonObject(labels.config) else {
            summary.skipped.append("\(path) (DoLL labels whose settings are not finite numbers)")
            return nil
        }
        for (k, m) in labels.masks.enumerated() { session.tensors["\(id)/mask/\(k)"] = m }
        for (k, s) in labels.soft.enumerated() { session.tensors["\(id)/soft/\(k)"] = s }
        return [
            "classes": labels.classes, "ids": labels.ids, "source_indices": labels.sourceIndices,
            "config": config, "images": ["object": images], "tensors": id + "/",
        ]
    }

    static func restorer(_ record: LuaSession.Record) throws -> LuaSession.Restorer {
        let o = record.raw
        guard let classes = o["classes"] as? [String], let ids = o["ids"] as? [String],
            let src = o["source_indices"] as? [Int],
            ids.count == src.count, case .object(let images) = try record.value("images")
        else {
            throw record.error(" needs classes, ids, source_indices (as many as ids) and images")
        }
        let cfg = try record.decode(DollLabelConfig.self, "config")
        let parts = try record.weights("tensors", need: ids.indices.flatMap { ["mask/\($0)", "soft/\($0)"] })
        guard !classes.isEmpty, src.allSatisfy({ $0 >= 0 }) else {
            throw record.error(" needs classes and non-negative source_indices")
        }
        let masks = ids.indices.map { parts["mask/\($0)"]! }
        let soft = ids.indices.map { parts["soft/\($0)"]! }
        let shapes = zip(masks, soft).flatMap { [$0.shape, $1.shape] }
        let first = shapes.first ?? [classes.count, 1, 1]
        guard first.count == 3, first[0] == classes.count, shapes.allSatisfy({ $0 == first }) else {
            throw record.error(" masks must all be [\(classes.count), H, W]")
        }
        return LuaSession.Restorer(dependencies: [images]) { context in
            guard let imgBox = context.object(images) as? DatasetBox else {
                throw SessionError("its image dataset could not be restored")
            }
            guard src.allSatisfy({ $0 < imgBox.ds.count }) else {
                throw SessionError("its source indices exceed the image dataset (\(imgBox.ds.count) images)")
            }
            let set = DollLabelSet(
                classes: classes, ids: ids, masks: masks, soft: soft, config: cfg, sourceIndices: src)
            return LabelsBox(set, imagesBox: imgBox)
        }
    }
}
