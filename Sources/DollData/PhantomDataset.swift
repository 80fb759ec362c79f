import DollTensor
import Foundation

/// The embedded default data: `count` synthetic chest radiographs from `PhantomGenerator`,
/// samples `first ..< first + count` of the generator (so train/validation sets made with the
/// same config and disjoint ranges never share images).
///
/// Labels are the 14 CheXpert observations; masks are the anatomy (`left_lung`, `right_lung`,
/// `heart`, `left_clavicle`, `right_clavicle`, derived `lungs`, `clavicles`), `infection`, and one
/// mask per observation (empty when the finding is absent).
public final class PhantomDataset: Dataset {
    public let generator: PhantomGenerator
    public let count: Int
    public let first: Int

    public init(count: Int, config: PhantomConfig = PhantomConfig(), first: Int = 0) throws {
        guard count >= 1 && count <= 10_000_000 else {
            throw DataError("phantoms: count must be in 1…10000000, got \(count)")
        }
        guard first >= 0 else { throw DataError("phantoms: first index must be ≥ 0, got \(first)") }
        do { generator = try PhantomGenerator(config: config) } catch let e as PhantomError {
            throw DataError("phantoms: \(e.message)")
        }
        self.count = count; self.first = first
    }

    public var config: PhantomConfig { generator.config }
    public var size: Int { config.size }
    public var classes: [String] { phantomObservations }
    /// Observations that can carry a mask (all but "No Finding").
    public static let findingStructures = Array(phantomObservations.dropFirst())
    public var structures: [String] {
        phantomAnatomy + ["lungs", "clavicles", "infection"] + PhantomDataset.findingStructures
    }
    public var summary: String {
        "phantoms (\(count) images \(first)…\(first + count - 1), \(size)px, seed \(config.seed), difficulty \(config.difficulty))"
    }

    public func sample(_ i: Int) throws -> Sample {
        try checkIndex(i)
        let p = generator.sample(first + i)
        let s = p.size
        func mask(_ name: String) throws -> Tensor {
            guard let m = p.masks[name] else { return try Tensor.zeros([1, s, s]) }
            return try Tensor(m.map(Float.init), shape: [1, s, s])
        }
        var masks: [String: Tensor] = [:]
        for name in phantomAnatomy + ["infection"] + PhantomDataset.findingStructures { masks[name] = try mask(name) }
        masks["lungs"] = try masks["left_lung"]!.maximum(masks["right_lung"]!)
        masks["clavicles"] = try masks["left_clavicle"]!.maximum(masks["right_clavicle"]!)
        return Sample(id: p.id, image: try Tensor(p.pixels, shape: [1, s, s]), labels: p.labels, masks: masks)
    }

    /// Writes the phantoms to disk in both real-data layouts, so the real loaders can read them:
    /// CheXpert (`train.csv` + `images/<id>.png`) and a segmentation folder (`images/`,
    /// `masks/<structure>/<id>.png` for the anatomy and `infection`, `split.csv`).
    public func write(to root: String) throws {
        let fm = FileManager.default
        let structs = phantomAnatomy + ["infection"]
        for d in ["images"] + structs.map({ "masks/\($0)" }) {
            try fm.createDirectory(atPath: joinPath(root, d), withIntermediateDirectories: true)
        }
        var csv = "Path,Sex,Age,Frontal/Lateral,AP/PA," + phantomObservations.joined(separator: ",") + "\n"
        var split = "id,fold\n"
        for i in 0..<count {
            let p = generator.sample(first + i)
            let s = p.size
            try ImageIO.writeGray(try Tensor(p.pixels, shape: [1, s, s]), to: joinPath(root, "images/\(p.id).png"))
            for name in structs {
                let m = p.masks[name] ?? [UInt8](repeating: 0, count: s * s)
                try AtomicFile.write(
                    try ImageIO.encodePNG(samples: m.map { $0 > 0 ? 255 : 0 }, width: s, height: s, channels: 1),
                    to: joinPath(root, "masks/\(name)/\(p.id).png"))
            }
            csv +=
                "images/\(p.id).png,Unknown,0,Frontal,PA,"
                + p.labels.map { $0 == 1 ? "1.0" : "0.0" }.joined(separator: ",") + "\n"
            split += "\(p.id),\(i % 2 + 1)\n"
        }
        try AtomicFile.write(Data(csv.utf8), to: joinPath(root, "train.csv"))
        try AtomicFile.write(Data(split.utf8), to: joinPath(root, "split.csv"))
    }
}
