import DollTensor
import Foundation

/// Reads a gray image from disk and fits it to `size × size`.
func loadImage(_ path: String, size: Int, mode: FitMode) throws -> Tensor {
    try ImageOps.fit(ImageIO.readGray(path: path), size: size, mode: mode, interpolation: .area)
}

/// Reads a mask PNG: 0 → 0, 255 → 1, 127/128 → 0.5 ("ignore"), fitted with nearest neighbour.
func loadMask(_ path: String, size: Int, mode: FitMode) throws -> Tensor {
    let raw = try ImageIO.readGray(path: path)
    let coded = Autograd.noGrad {
        Tensor.mapValues(raw) { v in
            let b = v * 255; return b > 191 ? 1 : (b > 63 ? 0.5 : 0)
        }
    }
    return try ImageOps.fit(coded, size: size, mode: mode, interpolation: .nearest)
}

extension Tensor {
    /// Applies a function to every value (no autodiff).
    static func mapValues(_ t: Tensor, _ f: (Float) -> Float) -> Tensor {
        var out = t.detached()
        out.withUnsafeMutableBufferPointer { b in for i in 0..<b.count { b[i] = f(b[i]) } }
        return out
    }
}

/// Joins a root and a relative path (absolute paths are kept).
func joinPath(_ root: String, _ rel: String) -> String {
    rel.hasPrefix("/") ? rel : (root as NSString).appendingPathComponent(rel)
}

/// CheXpert uncertainty policies for the `-1.0` (uncertain) label.
public enum UncertaintyPolicy: String, Codable, Sendable, CaseIterable {
    /// U-Ones: uncertain → positive.
    case ones
    /// U-Zeros: uncertain → negative.
    case zeros
    /// U-Ignore: uncertain entries are masked out of the loss and metrics.
    case ignore
}

/// The CheXpert label file (`train.csv` / `valid.csv` as distributed): `Path, Sex, Age,
/// Frontal/Lateral, AP/PA` then the 14 observations with `1.0`, `0.0`, `-1.0` or blank (blank =
/// not mentioned = negative). Images are read from `root` joined with `Path` (a leading
/// `CheXpert-v1.0-small/` or `CheXpert-v1.0/` component is dropped when `root` already is that folder).
public final class CheXpertDataset: Dataset {
    public struct Row: Sendable {
        public var path: String
        public var sex: String, age: String, view: String, projection: String
        /// Raw values per observation: 1, 0, −1, or nil (blank).
        public var raw: [Float?]
    }

    public let csvPath: String, root: String, policy: UncertaintyPolicy, frontalOnly: Bool, size: Int, mode: FitMode
    public let classes: [String]
    public let rows: [Row]
    public var structures: [String] { [] }

    public init(
        csv: String, root: String? = nil, policy: UncertaintyPolicy = .ones, frontalOnly: Bool = true,
        size: Int = 224, mode: FitMode = .squash
    ) throws {
        guard size >= 8 && size <= 2048 else { throw DataError("CheXpert: image size must be in 8…2048, got \(size)") }
        let (header, body) = try CSV.read(path: csv)
        let fixed = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA"]
        guard Array(header.prefix(5)) == fixed else {
            throw DataError(
                "\(csv): not a CheXpert label file (expected columns \(fixed.joined(separator: ",")) first, got \(CSV.describeColumns(header)))"
            )
        }
        let obs = Array(header.dropFirst(5))
        guard !obs.isEmpty else { throw DataError("\(csv): no observation columns") }
        var rows: [Row] = []
        for (i, r) in body.enumerated() {
            var raw: [Float?] = []
            for (j, v) in r.dropFirst(5).enumerated() {
                switch v.trimmingCharacters(in: .whitespaces) {
                case "": raw.append(nil)
                case "1.0", "1": raw.append(1)
                case "0.0", "0": raw.append(0)
                case "-1.0", "-1": raw.append(-1)
                default:
                    throw DataError(
                        "\(csv): line \(i + 2), column '\(obs[j])': unexpected label value '\(v)' (expected 1.0, 0.0, -1.0 or blank)"
                    )
                }
            }
            let row = Row(path: r[0], sex: r[1], age: r[2], view: r[3], projection: r[4], raw: raw)
            if frontalOnly && row.view != "Frontal" { continue }
            rows.append(row)
        }
        guard !rows.isEmpty else {
            throw DataError(
                body.isEmpty
                    ? "\(csv): the file has a header but no data rows"
                    : "\(csv): none of its \(body.count) rows is a frontal view (pass frontalOnly: false to use laterals)"
            )
        }
        self.csvPath = csv; self.root = root ?? parentDirectory(csv)
        self.policy = policy; self.frontalOnly = frontalOnly; self.size = size; self.mode = mode
        self.classes = obs; self.rows = rows
    }

    public var count: Int { rows.count }
    public var summary: String {
        "CheXpert \(csvPath) (\(count) \(frontalOnly ? "frontal " : "")images, U-\(policy.rawValue.capitalized), \(size)px)"
    }

    /// Labels and mask of one row under the policy.
    public func labels(of row: Row) -> (labels: [Float], mask: [Float]) {
        var l: [Float] = [], m: [Float] = []
        for v in row.raw {
            switch v {
            case nil: l.append(0); m.append(1)
            case .some(-1):
                switch policy {
                case .ones: l.append(1); m.append(1)
                case .zeros: l.append(0); m.append(1)
                case .ignore: l.append(0); m.append(0)
                }
            case let x?: l.append(x); m.append(1)
            }
        }
        return (l, m)
    }

    /// Counts of raw values per observation (as in the file, after the frontal filter).
    public func valueCounts() -> [String: (positive: Int, negative: Int, uncertain: Int, blank: Int)] {
        var out: [String: (Int, Int, Int, Int)] = [:]
        for (j, name) in classes.enumerated() {
            var c = (0, 0, 0, 0)
            for r in rows {
                switch r.raw[j] {
                case .some(1): c.0 += 1;
                case .some(0): c.1 += 1;
                case .some(-1): c.2 += 1;
                default: c.3 += 1
                }
            }
            out[name] = c
        }
        return out
    }

    /// The image path a row resolves to.
    public func imagePath(_ row: Row) -> String {
        let direct = joinPath(root, row.path)
        if FileManager.default.fileExists(atPath: direct) { return direct }
        let parts = row.path.split(separator: "/", maxSplits: 1)
        if parts.count == 2, (root as NSString).lastPathComponent == String(parts[0]) {
            return joinPath(root, String(parts[1]))
        }
        return direct
    }

    public func sample(_ i: Int) throws -> Sample {
        try checkIndex(i)
        let row = rows[i]
        let (l, m) = labels(of: row)
        return Sample(
            id: row.path, image: try loadImage(imagePath(row), size: size, mode: mode), labels: l,
            labelMask: policy == .ignore ? m : nil)
    }
}

/// A generic label CSV: a path column plus any set of 0/1 label columns, optionally filtered by a
/// split column (e.g. `../shared/data/nih64/labels.csv`).
public final class LabelCSVDataset: Dataset {
    public let csvPath: String, root: String, size: Int, mode: FitMode
    public let classes: [String]
    public let ids: [String]
    let labelRows: [[Float]]
    public var structures: [String] { [] }

    /// - Parameters:
    ///   - classes: label columns to use (default: every column whose values are all 0/1, except `exclude`).
    ///   - split: keep rows whose `splitColumn` equals this value.
    public init(
        csv: String, root: String? = nil, pathColumn: String = "Path", classes: [String]? = nil, exclude: [String] = [],
        splitColumn: String = "split", split: String? = nil, size: Int = 224, mode: FitMode = .squash
    ) throws {
        guard size >= 8 && size <= 2048 else { throw DataError("label CSV: image size must be in 8…2048, got \(size)") }
        let (header, body) = try CSV.read(path: csv)
        guard let pathIdx = header.firstIndex(of: pathColumn) else {
            throw DataError("\(csv): no '\(pathColumn)' column (columns: \(CSV.describeColumns(header)))")
        }
        var rows = body
        if let split {
            guard let s = header.firstIndex(of: splitColumn) else {
                throw DataError("\(csv): no split column '\(splitColumn)'")
            }
            rows = rows.filter { $0[s] == split }
            guard !rows.isEmpty else { throw DataError("\(csv): no rows with \(splitColumn) = '\(split)'") }
        }
        let names: [String]
        if let classes {
            for c in classes where !header.contains(c) { throw DataError("\(csv): no label column '\(c)'") }
            names = classes
        } else {
            names = header.enumerated().filter { j, name in
                j != pathIdx && !exclude.contains(name) && name != splitColumn
                    && body.allSatisfy { CSV.binary($0[j]) != nil }
            }.map(\.element)
            guard !names.isEmpty else {
                throw DataError(
                    "\(csv): no label column holds only 0/1 values (columns: \(CSV.describeColumns(header)))")
            }
        }
        guard !rows.isEmpty else { throw DataError("\(csv): the file has a header but no data rows") }
        let cols = names.map { header.firstIndex(of: $0)! }
        var labels: [[Float]] = []
        for (i, r) in rows.enumerated() {
            labels.append(
                try cols.map { j in
                    guard let v = CSV.binary(r[j]) else {
                        throw DataError("\(csv): row \(i + 2), column '\(header[j])': '\(r[j])' is not 0 or 1")
                    }
                    return v
                })
        }
        self.csvPath = csv; self.root = root ?? parentDirectory(csv)
        self.size = size; self.mode = mode; self.classes = names
        self.ids = rows.map { $0[pathIdx] }; self.labelRows = labels
    }

    public var count: Int { ids.count }
    public var summary: String { "label CSV \(csvPath) (\(count) images, \(classes.count) labels, \(size)px)" }
    public func sample(_ i: Int) throws -> Sample {
        try checkIndex(i)
        return Sample(
            id: ids[i], image: try loadImage(joinPath(root, ids[i]), size: size, mode: mode), labels: labelRows[i])
    }
}

/// A segmentation folder: `images/<id>.png` and `masks/<structure>/<id>.png` (JSRT/SCR and the
/// COVID layout in `../shared/data`). Structures are the `masks/` sub-folders plus derived unions
/// (default: `lungs` = left ∪ right lung, `clavicles` = left ∪ right clavicle where present).
/// An optional `split.csv` or `metadata.csv` with an `id` column selects samples by a column value.
public final class SegmentationFolder: Dataset {
    public let root: String, size: Int, mode: FitMode
    public let ids: [String]
    public let baseStructures: [String]
    public let derived: [String: [String]]
    public var classes: [String] { [] }
    public var structures: [String] { baseStructures + derived.keys.sorted() }

    public static let defaultUnions: [String: [String]] = [
        "lungs": ["left_lung", "right_lung"], "clavicles": ["left_clavicle", "right_clavicle"],
        "infection": ["ground_glass", "consolidation"],
    ]

    /// - Parameters:
    ///   - filter: `(column, value)` to keep rows of `split.csv`/`metadata.csv`, e.g. `("fold", "1")`.
    ///   - unions: derived structures; defaults to `defaultUnions` restricted to available parts.
    public init(
        root: String, size: Int = 256, mode: FitMode = .squash, filter: (String, String)? = nil,
        unions: [String: [String]]? = nil
    ) throws {
        guard size >= 8 && size <= 2048 else {
            throw DataError("segmentation folder: image size must be in 8…2048, got \(size)")
        }
        let fm = FileManager.default
        let imgDir = joinPath(root, "images"), maskDir = joinPath(root, "masks")
        guard let files = try? fm.contentsOfDirectory(atPath: imgDir) else {
            throw DataError("\(root): no images/ folder")
        }
        var ids = files.filter { $0.lowercased().hasSuffix(".png") || $0.lowercased().hasSuffix(".jpg") }.map {
            ($0 as NSString).deletingPathExtension
        }.sorted()
        guard !ids.isEmpty else { throw DataError("\(imgDir): no PNG or JPEG images") }
        let structs = ((try? fm.contentsOfDirectory(atPath: maskDir)) ?? []).filter {
            var dir: ObjCBool = false
            return fm.fileExists(atPath: joinPath(maskDir, $0), isDirectory: &dir) && dir.boolValue
        }.sorted()
        if let (column, value) = filter {
            let table = ["split.csv", "metadata.csv"].map { joinPath(root, $0) }.first { fm.fileExists(atPath: $0) }
            guard let table else { throw DataError("\(root): a filter needs split.csv or metadata.csv") }
            let (header, rows) = try CSV.read(path: table)
            guard let idc = header.firstIndex(of: "id"), let c = header.firstIndex(of: column) else {
                throw DataError("\(table): needs columns 'id' and '\(column)' (has \(CSV.describeColumns(header)))")
            }
            let keep = Set(rows.filter { $0[c] == value }.map { $0[idc] })
            ids = ids.filter { keep.contains($0) }
            guard !ids.isEmpty else { throw DataError("\(table): no images with \(column) = '\(value)'") }
        }
        let un = (unions ?? SegmentationFolder.defaultUnions).filter {
            !structs.contains($0.key) && $0.value.allSatisfy(structs.contains)
        }
        for (k, parts) in un where !parts.allSatisfy(structs.contains) {
            throw DataError("union '\(k)' needs masks \(parts)")
        }
        self.root = root; self.size = size; self.mode = mode; self.ids = ids
        self.baseStructures = structs; self.derived = un
    }

    public var count: Int { ids.count }
    public var summary: String {
        "segmentation folder \(root) (\(count) images, masks: \(structures.joined(separator: ", ")), \(size)px)"
    }

    func imagePath(_ id: String) -> String {
        let png = joinPath(root, "images/\(id).png")
        return FileManager.default.fileExists(atPath: png) ? png : joinPath(root, "images/\(id).jpg")
    }

    public func sample(_ i: Int) throws -> Sample {
        try checkIndex(i)
        let id = ids[i]
        var masks: [String: Tensor] = [:]
        for s in baseStructures {
            masks[s] = try loadMask(joinPath(root, "masks/\(s)/\(id).png"), size: size, mode: mode)
        }
        for (name, parts) in derived {
            var u = masks[parts[0]]!
            for p in parts.dropFirst() { u = try u.maximum(masks[p]!) }
            masks[name] = u
        }
        return Sample(id: id, image: try loadImage(imagePath(id), size: size, mode: mode), masks: masks)
    }
}

/// A plain folder of PNG and JPEG images of any sizes (no labels, no masks), each fitted to
/// `size`² like the other loaders: for exploring one's own radiographs. Sorted by file name.
public final class ImageFolder: Dataset {
    public let root: String, size: Int, mode: FitMode
    public let files: [String]
    public var classes: [String] { [] }
    public var structures: [String] { [] }
    public var count: Int { files.count }
    public var summary: String { "image folder \(root) (\(files.count) images, \(size)px)" }

    public init(root: String, size: Int = 256, mode: FitMode = .squash) throws {
        guard size >= 8 && size <= 2048 else {
            throw DataError("image folder: image size must be in 8…2048, got \(size)")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw DataError("no folder at '\(root)'")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        files = entries.filter { name in
            ["png", "jpg", "jpeg"].contains((name as NSString).pathExtension.lowercased()) && !name.hasPrefix(".")
        }.sorted()
        guard !files.isEmpty else { throw DataError("\(root): no PNG or JPEG images") }
        self.root = root; self.size = size; self.mode = mode
    }

    public func sample(_ i: Int) throws -> Sample {
        try checkIndex(i)
        return Sample(
            id: (files[i] as NSString).deletingPathExtension,
            image: try loadImage(joinPath(root, files[i]), size: size, mode: mode))
    }
}

/// The COVID-QU-Ex infection-segmentation layout: `<class>/images/<name>.png`,
/// `<class>/lung masks/<name>.png`, `<class>/infection masks/<name>.png`. Labels are the class
/// one-hot; structures `lungs` and `infection`.
public final class CovidQuExDataset: Dataset {
    public let root: String, size: Int, mode: FitMode
    public let classes: [String]
    let items: [(cls: Int, name: String)]
    public var structures: [String] { ["lungs", "infection"] }

    /// `root` is the folder holding the class folders (e.g. `.../Infection Segmentation Data/Test`),
    /// or the data set's top folder with `split` naming the sub-folder.
    public init(root: String, split: String = "Test", size: Int = 256, mode: FitMode = .squash) throws {
        let fm = FileManager.default
        var base = root
        let nested = joinPath(root, "Infection Segmentation Data/\(split)")
        if fm.fileExists(atPath: nested) { base = nested }
        guard let entries = try? fm.contentsOfDirectory(atPath: base) else {
            throw DataError("\(root): cannot list folder")
        }
        let classes = entries.filter { fm.fileExists(atPath: joinPath(base, "\($0)/images")) }.sorted()
        guard !classes.isEmpty else { throw DataError("\(base): no '<class>/images' folders (COVID-QU-Ex layout)") }
        var items: [(Int, String)] = []
        for (ci, c) in classes.enumerated() {
            let names = ((try? fm.contentsOfDirectory(atPath: joinPath(base, "\(c)/images"))) ?? []).filter {
                $0.hasSuffix(".png")
            }.sorted()
            items += names.map { (ci, $0) }
        }
        guard !items.isEmpty else { throw DataError("\(base): no images") }
        self.root = base; self.size = size; self.mode = mode; self.classes = classes; self.items = items
    }

    public var count: Int { items.count }
    public var summary: String {
        "COVID-QU-Ex \(root) (\(count) images, classes: \(classes.joined(separator: ", ")), \(size)px)"
    }
    public func sample(_ i: Int) throws -> Sample {
        try checkIndex(i)
        let (ci, name) = items[i]
        let dir = joinPath(root, classes[ci])
        var labels = [Float](repeating: 0, count: classes.count); labels[ci] = 1
        return Sample(
            id: "\(classes[ci])/\(name)", image: try loadImage(joinPath(dir, "images/\(name)"), size: size, mode: mode),
            labels: labels,
            masks: [
                "lungs": try loadMask(joinPath(dir, "lung masks/\(name)"), size: size, mode: mode),
                "infection": try loadMask(joinPath(dir, "infection masks/\(name)"), size: size, mode: mode),
            ])
    }
}
