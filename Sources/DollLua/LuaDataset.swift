import CLua
import DollData
import DollTensor
import Foundation

/// A dataset and, when known, the recipe that rebuilds it (sessions save the recipe, not pixels).
public final class DatasetBox {
    public let ds: Dataset
    let recipe: LuaRecipe?
    public convenience init(_ d: Dataset) { self.init(d, recipe: nil) }
    init(_ d: Dataset, recipe: LuaRecipe?) {
        ds = d
        self.recipe = recipe
    }
}

extension DatasetBox: LuaObject {
    static let luaName = "doll.Dataset"
    var luaDescription: String { "Dataset: \(ds.summary)" }
    var workspaceDetail: (text: String, bytes: Int) { ("\(ds.count) samples", 0) }
    var luaLength: Int? { ds.count }

    func luaIndex(_ a: LuaArgs) throws -> Int32 {
        let i = try LuaTypes.index(a, count: ds.count)
        Self.pushSample(a, try ds.sample(i - 1))
        return 1
    }

    /// A sample as `{id=, image=, labels=, masks={name=tensor}}`.
    static func pushSample(_ a: LuaArgs, _ s: Sample) {
        lua_createtable(a.L, 0, 4)
        a.push(s.id)
        a.setField("id")
        _ = LuaTensor.push(a, s.image)
        a.setField("image")
        if let l = s.labels {
            _ = LuaTensor.push(a, Tensor(l))
            a.setField("labels")
        }
        lua_createtable(a.L, 0, Int32(s.masks.count))
        for k in s.masks.keys.sorted() {
            _ = LuaTensor.push(a, s.masks[k]!)
            a.setField(k)
        }
        a.setField("masks")
    }

    static func builders() -> [(String, Int32)] {
        [
            builder("phantoms") { a in
                let o = try a.options(1)
                var cfg = PhantomConfig(
                    size: try o.integer("size", in: 32...1024) ?? 128,
                    seed: UInt64(try o.integer("seed", in: 0...Int(Int32.max)) ?? 1))
                if let d = try o.number("difficulty") { cfg.difficulty = d }
                if let nz = try o.number("noise") { cfg.noise = nz }
                if let inf = try o.number("infection") { cfg.infectionPrevalence = inf }
                let ds = try PhantomDataset(
                    count: try o.integer("n", in: 1...1_000_000) ?? 256, config: cfg,
                    first: try o.integer("first", in: 0...Int(Int32.max)) ?? 0)
                return push(a, CachedDataset(ds, capacity: 4096))
            },
            builder("chexpert") { a in
                let o = try a.options(1)
                guard let csv = try o.string("csv") else {
                    throw LuaBindingError("option 'csv' (path of train.csv/valid.csv) is required")
                }
                let policy = UncertaintyPolicy(
                    rawValue: try o.choice("policy", ["ones", "zeros", "ignore"]) ?? "ones")!
                let ds = try CheXpertDataset(
                    csv: csv, root: try o.string("root"), policy: policy, frontalOnly: try o.bool("frontal") ?? true,
                    size: try o.integer("size", in: 8...2048) ?? 224)
                return push(a, CachedDataset(ds))
            },
            builder("labelcsv") { a in
                let o = try a.options(1)
                guard let csv = try o.string("csv") else { throw LuaBindingError("option 'csv' is required") }
                let ds = try LabelCSVDataset(
                    csv: csv, root: try o.string("root"), pathColumn: try o.string("path_column") ?? "Path",
                    classes: try o.strings("classes"), exclude: try o.strings("exclude") ?? [],
                    split: try o.string("split"), size: try o.integer("size", in: 8...2048) ?? 224)
                return push(a, CachedDataset(ds))
            },
            builder("folder") { a in
                let o = try a.options(1)
                guard let root = try o.string("root") else { throw LuaBindingError("option 'root' is required") }
                return push(
                    a, CachedDataset(try ImageFolder(root: root, size: try o.integer("size", in: 8...2048) ?? 256)))
            },
            builder("segdata") { a in
                let o = try a.options(1)
                guard let root = try o.string("root") else { throw LuaBindingError("option 'root' is required") }
                let size = try o.integer("size", in: 8...2048) ?? 256
                if try o.choice("layout", ["folder", "covidquex"]) == "covidquex" {
                    return push(
                        a,
                        CachedDataset(
                            try CovidQuExDataset(root: root, split: try o.string("split") ?? "Test", size: size)))
                }
                var filter: (String, String)? = nil
                if let f = try o.integer("fold", in: 1...10) { filter = ("fold", "\(f)") }
                if let f = try o.strings("filter") {
                    guard f.count == 2 else { throw LuaBindingError("option 'filter' must be {column, value}") }
                    filter = (f[0], f[1])
                }
                return push(a, CachedDataset(try SegmentationFolder(root: root, size: size, filter: filter)))
            },
        ]
    }

    /// Pushes a dataset made by the running builder (its call is the recipe).
    private static func push(_ a: LuaArgs, _ ds: Dataset) -> Int32 {
        a.push(object: DatasetBox(ds, recipe: a.recipe()))
        return 1
    }

    static func methods() -> [String: Int32] {
        func seed(_ a: LuaArgs) throws -> UInt64 {
            UInt64(try a.isNil(3) ? 0 : a.integer(3, "seed", in: 0...Int(Int32.max)))
        }
        return methodTable([
            method("classes") { a in
                LuaModule.pushStrings(a.L, try a.object(1, DatasetBox.self, "self").ds.classes)
                return 1
            },
            method("structures") { a in
                LuaModule.pushStrings(a.L, try a.object(1, DatasetBox.self, "self").ds.structures)
                return 1
            },
            method("size") { a in
                a.push(try a.object(1, DatasetBox.self, "self").ds.size)
                return 1
            },
            method("split") { a in
                let ds = try a.object(1, DatasetBox.self, "self").ds
                let (x, y) = try ds.split(fraction: try a.number(2, "fraction"), seed: try seed(a))
                let first = a.recipe(result: 1)
                let second = a.recipe(result: 2)  // before pushing results
                a.push(object: DatasetBox(x, recipe: first))
                a.push(object: DatasetBox(y, recipe: second))
                return 2
            },
            method("subset") { a in
                let ds = try a.object(1, DatasetBox.self, "self").ds
                a.push(
                    object: DatasetBox(
                        try ds.subset(fraction: try a.number(2, "fraction"), seed: try seed(a)), recipe: a.recipe()))
                return 1
            },
            method("images") { a in
                let ds = try a.object(1, DatasetBox.self, "self").ds
                let first = try a.integer(2, "first", in: 1...Swift.max(ds.count, 1))
                let last = try a.integer(3, "last", in: first...Swift.max(ds.count, first))
                return LuaTensor.push(a, try ds.images(Array((first - 1)..<last)))
            },
        ])
    }

    // MARK: sessions: the recipe, not the pixels

    static let sessionType = "dataset"
    static let sessionBuilders = [
        "doll.phantoms", "doll.chexpert", "doll.labelcsv", "doll.segdata", "doll.folder", "Dataset:split",
        "Dataset:subset",
    ]

    func sessionRecord(
        _ session: inout LuaSession.Encoder, id: String, path: String,
        summary: inout LuaSession.Summary
    ) throws -> [String: Any]? {
        try session.recipeRecord(
            recipe, ["summary": ds.summary], path: path, summary: &summary,
            missing: "dataset without a recipe: \(ds.summary)")
    }

    static func restorer(_ record: LuaSession.Record) throws -> LuaSession.Restorer { try record.recipeRestorer() }
}
