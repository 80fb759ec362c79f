import DollData
import DollNN
import DollTensor
import Foundation

/// Settings of DoLL labelling (distill attributions of K classifiers into masks). Every number is
/// a user setting; all are recorded in the manifest.
public struct DollLabelConfig: Codable, Equatable, Sendable {
    public enum Explainer: String, Codable, Sendable { case ig, saliency, smoothgrad, gradcam, occlusion }
    public enum Positives: Codable, Equatable, Sendable {
        /// Observations whose label is 1.
        case labels
        /// Observations whose mean predicted probability over the K models exceeds the cut-off.
        case predicted(cutoff: Float)
    }
    public enum Sign: String, Codable, Sendable { case absolute, positive }
    public enum Smooth: Codable, Equatable, Sendable { case none, box(radius: Int), gaussian(sigma: Float) }
    public enum Threshold: Codable, Equatable, Sendable {
        /// Keep pixels above this percentile (0–100) of the consensus map.
        case percentile(Double)
        /// Otsu's threshold on the consensus map (256 bins over [0, 1]).
        case otsu
        /// Keep pixels above this fraction of the map's maximum.
        case fractionOfMax(Float)

        /// `"otsu"`, `"pNN"` (percentile NN) or a fraction of the maximum like `"0.5"`.
        public init(parsing s: String) throws {
            if s == "otsu" {
                self = .otsu
            } else if s.hasPrefix("p"), let p = Double(s.dropFirst()), p >= 0, p < 100 {
                self = .percentile(p)
            } else if let f = Float(s), f > 0, f < 1 {
                self = .fractionOfMax(f)
            } else {
                throw ExplainError(
                    "threshold must be \"otsu\", \"pNN\" (percentile) or a fraction of the max like \"0.5\", got '\(s)'"
                )
            }
        }
    }

    public var explainer = Explainer.ig
    public var igSteps = 32
    public var igMethod = IGMethod.gaussLegendre
    public var internalBatch = 32
    public var positives = Positives.labels
    public var sign = Sign.absolute
    /// Each model's map is divided by this percentile of its values and clipped to [0, 1].
    public var normalizePercentile: Double = 99
    public var smoothing = Smooth.gaussian(sigma: 2)
    public var threshold = Threshold.percentile(95)
    /// Connected components (4-neighbour) smaller than this many pixels are removed.
    public var minComponent = 4
    /// Keep only this many largest components (nil: all that pass `minComponent`).
    public var keepLargest: Int? = 2
    /// Restrict masks to this dataset structure (e.g. "lungs"), when the sample has it.
    public var restrictTo: String? = nil
    /// Classes never labelled (no localisation), by name.
    public var skip: [String] = ["No Finding"]
    public init() {}
}

/// DoLL labels for a dataset: a binary `[C, H, W]` mask and a soft `[C, H, W]` consensus map per
/// image (C = the classifiers' classes; channels of negative observations are empty). Masks are
/// kept one bit per pixel and soft maps 16 bits per pixel, so thousands of images at 256 px fit
/// in memory (about 1.9 MB per image with 14 classes instead of 7.3 MB).
public struct DollLabelSet {
    public var classes: [String]
    public var ids: [String]
    public var masks: PackedMasks
    public var soft: QuantizedMaps
    public var config: DollLabelConfig
    /// Indices into the source dataset, in order.
    public var sourceIndices: [Int]

    public init(
        classes: [String], ids: [String], masks: [Tensor], soft: [Tensor], config: DollLabelConfig, sourceIndices: [Int]
    ) {
        self.classes = classes; self.ids = ids; self.masks = PackedMasks(masks); self.soft = QuantizedMaps(soft)
        self.config = config; self.sourceIndices = sourceIndices
    }

    /// Writes `images/<id>.png` (the source image), `masks/<class>/<id>.png` (0/255) and
    /// `manifest.json` (config, classes, ids, source), readable back with `SegmentationFolder`.
    /// All or nothing: a failed write (a full disk) leaves the folder as it was.
    /// `progress` is called after each image with (done, total).
    public func write(to root: String, images: Dataset, progress: ((Int, Int) -> Void)? = nil) throws {
        try AtomicDirectory.replace(root) { try writeContents(to: $0, images: images, progress: progress) }
    }

    private func writeContents(to root: String, images: Dataset, progress: ((Int, Int) -> Void)?) throws {
        let fm = FileManager.default
        for d in ["images"] + classes.map({ "masks/\(safeName($0))" }) {
            try fm.createDirectory(
                atPath: (root as NSString).appendingPathComponent(d), withIntermediateDirectories: true)
        }
        for (k, id) in ids.enumerated() {
            let name = safeName(id)
            try ImageIO.writeGray(try images.sample(sourceIndices[k]).image, to: root + "/images/\(name).png")
            let m = masks[k], hw = m.count / classes.count, s = m.scalars
            for (c, cls) in classes.enumerated() {
                let bytes = (0..<hw).map { UInt16(s[c * hw + $0] > 0.5 ? 255 : 0) }
                let side = m.shape[1]
                try AtomicFile.write(
                    try ImageIO.encodePNG(samples: bytes, width: m.shape[2], height: side, channels: 1),
                    to: root + "/masks/\(safeName(cls))/\(name).png")
            }
            progress?(k + 1, ids.count)
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct Manifest: Encodable {
            let schema = 1, kind = "doll-labels"
            let classes: [String], ids: [String], config: DollLabelConfig, source: String
        }
        try AtomicFile.write(
            try enc.encode(Manifest(classes: classes, ids: ids, config: config, source: images.summary)),
            to: root + "/manifest.json")
    }

    /// Dataset structure name for a class (file-system safe).
    public func safeName(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }
}

/// Produces DoLL labels from K classifiers.
public final class DollLabeller {
    public let models: [ResNetClassifier]
    public let config: DollLabelConfig
    /// Polled between images; returning true stops with an error.
    public var shouldStop: (() -> Bool)?
    /// Called after each image with (done, total).
    public var progress: ((Int, Int) -> Void)?

    public init(models: [ResNetClassifier], config: DollLabelConfig = DollLabelConfig()) throws {
        guard let first = models.first else { throw ExplainError("DoLL labelling needs at least one classifier") }
        for m in models where m.classes != first.classes {
            throw ExplainError("all classifiers must share the same classes")
        }
        guard config.normalizePercentile > 0 && config.normalizePercentile <= 100 else {
            throw ExplainError("normalizePercentile must be in (0, 100]")
        }
        if case let .percentile(p) = config.threshold, !(p >= 0 && p < 100) {
            throw ExplainError("threshold percentile must be in [0, 100)")
        }
        if case let .fractionOfMax(f) = config.threshold, !(f > 0 && f < 1) {
            throw ExplainError("threshold fraction must be in (0, 1)")
        }
        guard config.igSteps >= 1, config.internalBatch >= 1, config.minComponent >= 0 else {
            throw ExplainError("igSteps and internalBatch must be ≥ 1, minComponent ≥ 0")
        }
        self.models = models; self.config = config
    }

    public var classes: [String] { models[0].classes }

    func attributor(_ m: ResNetClassifier) throws -> Attributor {
        switch config.explainer {
        case .ig:
            return IntegratedGradients(
                model: m,
                options: .init(steps: config.igSteps, method: config.igMethod, internalBatch: config.internalBatch))
        case .saliency: return Saliency(model: m)
        case .smoothgrad:
            return try NoiseTunnel(Saliency(model: m), kind: .smoothgrad, samples: 16, sigma: 0.1, seed: 0)
        case .gradcam: return try GradCAM(model: m)
        case .occlusion: return try Occlusion(model: m, window: Swift.max(4, m.config.widths.count * 2), stride: 4)
        }
    }

    /// Labels the samples `indices` (default: all) of `dataset`.
    public func label(_ dataset: Dataset, indices: [Int]? = nil) throws -> DollLabelSet {
        defer { Tensor.releaseCachedMemory() }
        let idx = indices ?? Array(0..<dataset.count)
        let c = classes.count, s = dataset.size
        let attributors = try models.map(attributor)
        var out = DollLabelSet(classes: classes, ids: [], masks: [], soft: [], config: config, sourceIndices: idx)
        if let group = DataParallel.active {
            try labelSharded(dataset, idx, group: group, attributors: attributors, into: &out)
            return out
        }
        for (done, i) in idx.enumerated() {
            if shouldStop?() == true {
                throw ExplainError("DoLL labelling interrupted after \(done) of \(idx.count) images")
            }
            let (id, mask, soft) = try labelOne(dataset, i, attributors: attributors)
            out.ids.append(id)
            out.masks.append(try Tensor(mask, shape: [c, s, s]))
            out.soft.append(try Tensor(soft, shape: [c, s, s]))
            progress?(done + 1, idx.count)
        }
        return out
    }

    /// Under mpirun: the ranks take the images in turn, 8 each per round, and gather each
    /// round's labels (mask bytes and exact soft values), so every rank ends with the whole set
    /// in the original order — the same bytes as one process.
    private func labelSharded(
        _ dataset: Dataset, _ idx: [Int], group: ProcessGroup, attributors: [Attributor], into out: inout DollLabelSet
    ) throws {
        let c = classes.count, s = dataset.size, n = c * s * s
        let perRound = 8 * group.size
        for start in stride(from: 0, to: idx.count, by: perRound) {
            let round = Array(start..<Swift.min(start + perRound, idx.count))
            var bytes: [UInt8] = []
            for p in round where (p - start) % group.size == group.rank {
                if shouldStop?() == true {
                    throw ExplainError("DoLL labelling interrupted after \(start) of \(idx.count) images")
                }
                let (id, mask, soft) = try labelOne(dataset, idx[p], attributors: attributors)
                let idBytes = Array(id.utf8)
                withUnsafeBytes(of: UInt32(idBytes.count).littleEndian) { bytes += $0 }
                bytes += idBytes
                bytes += mask.map { $0 > 0.5 ? 1 : 0 }
                soft.withUnsafeBytes { bytes += $0 }
            }
            let parts = try group.allgather(bytes)
            var cursor = [Int](repeating: 0, count: group.size)
            for p in round {
                let r = (p - start) % group.size
                let b = parts[r]
                var at = cursor[r]
                let len = Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24
                at += 4
                out.ids.append(String(decoding: b[at..<(at + len)], as: UTF8.self))
                at += len
                out.masks.append(try Tensor(b[at..<(at + n)].map { Float($0) }, shape: [c, s, s]))
                at += n
                let soft = b[at..<(at + 4 * n)].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                out.soft.append(try Tensor(soft, shape: [c, s, s]))
                cursor[r] = at + 4 * n
            }
            progress?(round.last! + 1, idx.count)
        }
    }

    /// The labels of one image: its id, the binary mask and the soft consensus, `[C·H·W]` each.
    private func labelOne(_ dataset: Dataset, _ i: Int, attributors: [Attributor]) throws -> (String, [Float], [Float])
    {
        let c = classes.count, s = dataset.size
        let sample = try dataset.sample(i)
        let x = try sample.image.unsqueezed(0)
        let positive = try positiveClasses(sample, x)
        var mask = [Float](repeating: 0, count: c * s * s), soft = mask
        let restrict = config.restrictTo.flatMap { sample.masks[$0]?.scalars }
        for k in positive {
            var consensus = [Float](repeating: 0, count: s * s)
            for a in attributors {
                let attr = try a.attributions(x, target: .index(k))
                let map = try normalized(channelSum(attr, size: s))
                for p in 0..<(s * s) { consensus[p] += map[p] / Float(models.count) }
            }
            consensus = try smooth(consensus, size: s)
            var bin = binarize(consensus)
            if let restrict { for p in bin.indices where restrict[p] < 0.5 { bin[p] = 0 } }
            bin = filterComponents(bin, size: s)
            for p in 0..<(s * s) { mask[k * s * s + p] = bin[p]; soft[k * s * s + p] = consensus[p] }
        }
        return (sample.id, mask, soft)
    }

    func positiveClasses(_ sample: Sample, _ x: Tensor) throws -> [Int] {
        let skip = Set(config.skip)
        let allowed = classes.indices.filter { !skip.contains(classes[$0]) }
        switch config.positives {
        case .labels:
            guard let l = sample.labels else {
                throw ExplainError("sample '\(sample.id)' has no labels; use positives = predicted")
            }
            return allowed.filter { l[$0] > 0.5 }
        case let .predicted(cutoff):
            var p = [Float](repeating: 0, count: classes.count)
            for m in models {
                let wasTraining = m.training
                m.eval()
                defer { m.train(wasTraining) }
                let probs = try Autograd.noGrad { try m(x).sigmoid().scalars }
                for j in p.indices { p[j] += probs[j] / Float(models.count) }
            }
            return allowed.filter { p[$0] > cutoff }
        }
    }

    /// |attr| or relu(attr), summed over channels: `[1, C, H, W]` → H·W values.
    func channelSum(_ a: Tensor, size s: Int) throws -> [Float] {
        let v = a.scalars, ch = v.count / (s * s)
        var out = [Float](repeating: 0, count: s * s)
        for c in 0..<ch {
            for p in 0..<(s * s) {
                let x = v[c * s * s + p]
                out[p] += config.sign == .absolute ? Swift.abs(x) : Swift.max(x, 0)
            }
        }
        return out.map { $0.isFinite ? $0 : 0 }
    }

    func normalized(_ m: [Float]) throws -> [Float] {
        let q = try Tensor(m).quantile(config.normalizePercentile / 100)
        guard q > 0 else { return m.map { _ in 0 } }
        return m.map { Swift.min($0 / q, 1) }
    }

    func smooth(_ m: [Float], size s: Int) throws -> [Float] {
        let t = try Tensor(m, shape: [1, 1, s, s])
        switch config.smoothing {
        case .none: return m
        case let .box(r): return try Smoothing.box(t, radius: r).scalars
        case let .gaussian(sigma): return try Smoothing.gaussian(t, sigma: sigma).scalars
        }
    }

    func binarize(_ m: [Float]) -> [Float] {
        let mx = m.max() ?? 0
        guard mx > 0 else { return m.map { _ in 0 } }
        let t: Float
        switch config.threshold {
        case let .percentile(p): t = (try? Tensor(m).quantile(p / 100)) ?? mx
        case .otsu: t = otsu(m)
        case let .fractionOfMax(f): t = f * mx
        }
        return m.map { $0 > t ? 1 : 0 }
    }

    /// Otsu's threshold over 256 bins spanning [min, max].
    func otsu(_ m: [Float]) -> Float {
        let lo = m.min() ?? 0, hi = m.max() ?? 1
        guard hi > lo else { return hi }
        var hist = [Double](repeating: 0, count: 256)
        for v in m { hist[Swift.min(255, Int((v - lo) / (hi - lo) * 255))] += 1 }
        let total = Double(m.count)
        let sumAll = hist.enumerated().reduce(0.0) { $0 + Double($1.offset) * $1.element }
        var wB = 0.0, sumB = 0.0, best = 0.0, bestT = 0
        for t in 0..<256 {
            wB += hist[t]; if wB == 0 { continue }
            let wF = total - wB; if wF == 0 { break }
            sumB += Double(t) * hist[t]
            let mB = sumB / wB, mF = (sumAll - sumB) / wF
            let between = wB * wF * (mB - mF) * (mB - mF)
            if between > best { best = between; bestT = t }
        }
        return lo + (hi - lo) * (Float(bestT) + 0.5) / 255
    }

    /// Removes 4-connected components below `minComponent` pixels and keeps the `keepLargest`.
    func filterComponents(_ m: [Float], size s: Int) -> [Float] {
        var label = [Int](repeating: -1, count: m.count)
        var comps: [[Int]] = []
        for start in m.indices where m[start] > 0.5 && label[start] < 0 {
            var stack = [start], pixels: [Int] = []
            label[start] = comps.count
            while let p = stack.popLast() {
                pixels.append(p)
                let y = p / s, x = p % s
                for (dy, dx) in [(0, 1), (0, -1), (1, 0), (-1, 0)] {
                    let ny = y + dy, nx = x + dx
                    guard ny >= 0, ny < s, nx >= 0, nx < s else { continue }
                    let q = ny * s + nx
                    if m[q] > 0.5 && label[q] < 0 { label[q] = comps.count; stack.append(q) }
                }
            }
            comps.append(pixels)
        }
        var keep = comps.filter { $0.count >= config.minComponent }.sorted { $0.count > $1.count }
        if let k = config.keepLargest { keep = Array(keep.prefix(k)) }
        var out = [Float](repeating: 0, count: m.count)
        for c in keep { for p in c { out[p] = 1 } }
        return out
    }
}

extension DollLabelSet {
    /// How the "boost" round combines DoLL masks with a segmenter's predictions.
    public enum BoostMode: String, Codable, Sendable, CaseIterable {
        /// Keep DoLL pixels the segmenter also predicts (probability > 0.5).
        case intersect
        /// Add the segmenter's confident pixels to the DoLL masks.
        case union
    }

    /// The boost round: refines each positive channel with a segmenter's probabilities
    /// `[C, H, W]` per image (channels of negative observations stay empty; an intersection that
    /// would empty a positive channel keeps the original mask). The soft maps become the
    /// segmenter's probabilities on positive channels.
    public func boosted(with predictions: [Tensor], mode: BoostMode) throws -> DollLabelSet {
        guard predictions.count == masks.count else {
            throw ExplainError(
                "boost needs one prediction per labelled image (\(masks.count)), got \(predictions.count)")
        }
        var out = self
        for (j, p) in predictions.enumerated() {
            guard p.shape == masks[j].shape else {
                throw ExplainError(
                    "boost prediction \(shapeString(p.shape)) does not match the mask \(shapeString(masks[j].shape))")
            }
            var m = masks[j].scalars, soft = soft[j].scalars
            let pv = p.scalars, hw = m.count / classes.count
            for k in 0..<classes.count {
                let range = (k * hw)..<((k + 1) * hw)
                guard m[range].contains(where: { $0 > 0.5 }) else { continue }  // negative observation
                var refined = m
                for i in range {
                    let pred = pv[i] > 0.5
                    refined[i] = mode == .intersect ? ((m[i] > 0.5 && pred) ? 1 : 0) : ((m[i] > 0.5 || pred) ? 1 : 0)
                }
                if refined[range].contains(where: { $0 > 0.5 }) { for i in range { m[i] = refined[i] } }
                for i in range { soft[i] = pv[i] }
            }
            out.masks[j] = try Tensor(m, shape: masks[j].shape)
            out.soft[j] = try Tensor(soft, shape: masks[j].shape)
        }
        return out
    }
}
