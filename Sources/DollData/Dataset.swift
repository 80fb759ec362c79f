import DollTensor
import Foundation

/// One example: an image, optional multi-label targets and optional masks by structure name.
///
/// Mask tensors are `[1, H, W]` with values 0 (background), 1 (structure) and 0.5 ("ignore",
/// from the 127 value of segmentation PNGs).
public struct Sample: Sendable {
    public var id: String
    /// `[1, H, W]` in [0, 1].
    public var image: Tensor
    /// Multi-label targets in the dataset's `classes` order (nil for unlabelled sets).
    public var labels: [Float]?
    /// 1 where the label is known, 0 where it is to be ignored (CheXpert U-Ignore); nil = all known.
    public var labelMask: [Float]?
    public var masks: [String: Tensor]

    public init(
        id: String, image: Tensor, labels: [Float]? = nil, labelMask: [Float]? = nil, masks: [String: Tensor] = [:]
    ) {
        self.id = id; self.image = image; self.labels = labels; self.labelMask = labelMask; self.masks = masks
    }
}

/// An indexable collection of samples, all images resized to the same square size.
public protocol Dataset: AnyObject {
    var count: Int { get }
    /// Label names (may be empty).
    var classes: [String] { get }
    /// Mask names every sample provides (may be empty).
    var structures: [String] { get }
    /// Side of the square images in pixels.
    var size: Int { get }
    /// A one-line description (source and options) for printing and for reports.
    var summary: String { get }
    /// The `i`-th sample (0-based).
    func sample(_ i: Int) throws -> Sample
    /// The samples at `indices`, in order (a dataset may prepare them in parallel).
    func samples(_ indices: [Int]) throws -> [Sample]
}

extension Dataset {
    public func samples(_ indices: [Int]) throws -> [Sample] { try indices.map(sample) }

    func checkIndex(_ i: Int) throws {
        guard i >= 0 && i < count else { throw DataError("sample index \(i) is out of range 0..<\(count)") }
    }

    /// Images of the given samples stacked into `[B, 1, size, size]`.
    public func images(_ indices: [Int]) throws -> Tensor {
        try Tensor.stack(indices.map { try sample($0).image })
    }

    /// Stacks images, labels `[B, C]` and a label mask `[B, C]` (1 = known) for classification.
    public func classificationBatch(_ indices: [Int]) throws -> (images: Tensor, labels: Tensor, mask: Tensor) {
        guard !classes.isEmpty else { throw DataError("\(summary) has no labels") }
        var imgs: [Tensor] = [], labels: [Float] = [], mask: [Float] = []
        for i in indices {
            let s = try sample(i)
            guard let l = s.labels, l.count == classes.count else { throw DataError("sample '\(s.id)' has no labels") }
            imgs.append(s.image); labels += l; mask += s.labelMask ?? [Float](repeating: 1, count: l.count)
        }
        let shape = [indices.count, classes.count]
        return (try Tensor.stack(imgs), try Tensor(labels, shape: shape), try Tensor(mask, shape: shape))
    }

    /// Stacks images, mask targets `[B, S, H, W]` (0/1) and a validity mask `[B, S, H, W]`
    /// (0 where the mask said "ignore") for the named structures.
    public func segmentationBatch(
        _ indices: [Int], structures names: [String]
    ) throws -> (images: Tensor, targets: Tensor, valid: Tensor) {
        for n in names where !structures.contains(n) {
            throw DataError("unknown structure '\(n)'; \(summary) has: \(structures.joined(separator: ", "))")
        }
        var imgs: [Tensor] = [], targets: [Float] = [], valid: [Float] = []
        for s in try samples(indices) {
            imgs.append(s.image)
            for n in names {
                guard let m = s.masks[n] else { throw DataError("sample '\(s.id)' has no '\(n)' mask") }
                for v in m.scalars {
                    let ignore = Swift.abs(v - 0.5) < 0.25
                    targets.append(!ignore && v > 0.5 ? 1 : 0); valid.append(ignore ? 0 : 1)
                }
            }
        }
        let shape = [indices.count, names.count, size, size]
        return (try Tensor.stack(imgs), try Tensor(targets, shape: shape), try Tensor(valid, shape: shape))
    }

    /// A deterministic random split into (first, second) with `fraction` of the samples in the first.
    public func split(fraction: Double, seed: UInt64) throws -> (Subset, Subset) {
        guard fraction > 0 && fraction < 1 else { throw DataError("split fraction must be in (0, 1), got \(fraction)") }
        var rng = RandomGenerator(seed: seed)
        let order = rng.permutation(count)
        let k = Int((Double(count) * fraction).rounded())
        return (
            try Subset(self, indices: Array(order[..<k]).sorted(), name: "split \(fraction)"),
            try Subset(self, indices: Array(order[k...]).sorted(), name: "split rest")
        )
    }

    /// A deterministic random subset with `fraction` of the samples (at least one).
    public func subset(fraction: Double, seed: UInt64) throws -> Subset {
        guard fraction > 0 && fraction <= 1 else {
            throw DataError("subset fraction must be in (0, 1], got \(fraction)")
        }
        var rng = RandomGenerator(seed: seed)
        let k = Swift.max(1, Int((Double(count) * fraction).rounded()))
        return try Subset(
            self, indices: Array(rng.permutation(count).prefix(k)).sorted(), name: "\(Int(fraction * 100))%")
    }
}

/// A view of some samples of another dataset.
public final class Subset: Dataset {
    public let base: Dataset
    public let indices: [Int]
    let name: String

    public init(_ base: Dataset, indices: [Int], name: String = "subset") throws {
        for i in indices where i < 0 || i >= base.count {
            throw DataError("subset index \(i) out of range 0..<\(base.count)")
        }
        self.base = base; self.indices = indices; self.name = name
    }
    public var count: Int { indices.count }
    public var classes: [String] { base.classes }
    public var structures: [String] { base.structures }
    public var size: Int { base.size }
    public var summary: String { "\(name) (\(count) samples) of \(base.summary)" }
    public func sample(_ i: Int) throws -> Sample { try checkIndex(i); return try base.sample(indices[i]) }
}

/// Keeps the most recently used decoded samples of another dataset in memory.
public final class CachedDataset: Dataset {
    public let base: Dataset
    public let capacity: Int
    private var cache: [Int: Sample] = [:]
    private var order: [Int] = []
    private let lock = NSLock()

    public init(_ base: Dataset, capacity: Int = 2048) { self.base = base; self.capacity = Swift.max(1, capacity) }
    public var count: Int { base.count }
    public var classes: [String] { base.classes }
    public var structures: [String] { base.structures }
    public var size: Int { base.size }
    public var summary: String { base.summary }

    public func sample(_ i: Int) throws -> Sample {
        lock.lock()
        if let s = cache[i] {
            if let k = order.firstIndex(of: i) { order.remove(at: k) }
            order.append(i)
            lock.unlock()
            return s
        }
        lock.unlock()
        let s = try base.sample(i)
        lock.lock()
        cache[i] = s; order.append(i)
        while order.count > capacity { cache[order.removeFirst()] = nil }
        lock.unlock()
        return s
    }
}

/// Minimal CSV reading: comma-separated, optional double quotes (with `""` escapes), LF or CRLF.
public enum CSV {
    /// A header's columns for an error message; a first line that is not a comma-separated
    /// header (any other file, e.g. one a tampered session points at) is not echoed.
    public static func describeColumns(_ header: [String]) -> String {
        guard header.count > 1 else { return "the first line is not a comma-separated header" }
        let shown = header.prefix(40).map { $0.count > 40 ? String($0.prefix(40)) + "…" : $0 }.joined(separator: ", ")
        return header.count > 40 ? shown + ", … (\(header.count) columns)" : shown
    }

    /// A label written as 0 or 1 in any numeric spelling (`1`, `1.0`, ` 0 `), else nil.
    public static func binary(_ field: String) -> Float? {
        guard let v = Float(field.trimmingCharacters(in: .whitespaces)), v == 0 || v == 1 else { return nil }
        return v
    }

    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var inQuotes = false, pendingQuote = false
        for ch in text {
            if inQuotes {
                if pendingQuote {
                    pendingQuote = false
                    if ch == "\"" { field.append("\""); continue }
                    inQuotes = false
                } else if ch == "\"" {
                    pendingQuote = true; continue
                } else {
                    field.append(ch); continue
                }
            }
            switch ch {
            case "\"" where field.isEmpty: inQuotes = true
            case ",": row.append(field); field = ""
            case "\n", "\r\n", "\r":  // LF, CRLF (one Character in Swift) or a lone CR end a row
                row.append(field); field = ""
                if !(row.count == 1 && row[0].isEmpty) { rows.append(row) }
                row = []
            default: field.append(ch)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    /// Reads a CSV file with a header row; returns the header and the data rows, checking that
    /// every row has the header's number of fields.
    public static func read(path: String) throws -> (header: [String], rows: [[String]]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError("cannot read CSV file '\(path)'")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw DataError("\(path): not valid UTF-8 text") }
        let all = parse(text)
        guard let header = all.first, !header.isEmpty else { throw DataError("\(path): empty CSV (no header row)") }
        var seen = Set<String>()
        for name in header where !seen.insert(name).inserted {
            throw DataError("\(path): the header names column '\(name)' twice")
        }
        for (i, r) in all.dropFirst().enumerated() where r.count != header.count {
            throw DataError("\(path): line \(i + 2) has \(r.count) fields, the header has \(header.count)")
        }
        return (header, Array(all.dropFirst()))
    }
}
