import DollTensor
import Foundation

/// Evaluation metrics: ROC AUC for multi-label classification, Dice/IoU for segmentation.
public enum Metrics {
    /// Exact ROC AUC (Mann–Whitney U with average ranks for ties): the probability that a random
    /// positive scores above a random negative, ties counting ½. NaN when either class is absent
    /// or the two arrays differ in length.
    public static func auroc(scores: [Float], labels: [Float]) -> Double {
        guard scores.count == labels.count else { return .nan }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var ranks = [Double](repeating: 0, count: scores.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = avg }
            i = j + 1
        }
        var nPos = 0.0, rankSum = 0.0
        for (r, y) in zip(ranks, labels) where y > 0.5 { nPos += 1; rankSum += r }
        let nNeg = Double(labels.count) - nPos
        guard nPos > 0, nNeg > 0 else { return .nan }
        return (rankSum - nPos * (nPos + 1) / 2) / (nPos * nNeg)
    }

    /// Per-class AUROC for scores/labels `[N, C]`; entries where `mask` is 0 are ignored.
    public static func aurocPerClass(scores: Tensor, labels: Tensor, mask: Tensor? = nil) throws -> [Double] {
        guard scores.rank == 2, labels.shape == scores.shape, mask == nil || mask!.shape == scores.shape else {
            throw ModelError(
                "auroc needs scores and labels [N, C] of the same shape, got \(shapeString(scores.shape)) and \(shapeString(labels.shape))"
            )
        }
        let n = scores.shape[0], c = scores.shape[1]
        let s = scores.scalars, y = labels.scalars, m = mask?.scalars
        return (0..<c).map { k in
            var ss: [Float] = [], yy: [Float] = []
            for i in 0..<n where m == nil || m![i * c + k] != 0 { ss.append(s[i * c + k]); yy.append(y[i * c + k]) }
            return auroc(scores: ss, labels: yy)
        }
    }

    /// Mean of the finite values (NaN classes, e.g. with no positives, are left out).
    public static func nanMean(_ v: [Double]) -> Double {
        let f = v.filter { $0.isFinite }
        return f.isEmpty ? .nan : f.reduce(0, +) / Double(f.count)
    }
}

/// Pixel confusion counts for one channel.
public struct ConfusionCounts: Equatable, Sendable, Codable {
    public var tp = 0, fp = 0, fn = 0, tn = 0
    public init(tp: Int = 0, fp: Int = 0, fn: Int = 0, tn: Int = 0) {
        self.tp = tp; self.fp = fp; self.fn = fn; self.tn = tn
    }
    /// 2·TP / (2·TP + FP + FN); 1 when prediction and truth are both empty.
    public var dice: Double { let d = 2 * tp + fp + fn; return d == 0 ? 1 : Double(2 * tp) / Double(d) }
    /// TP / (TP + FP + FN); 1 when both are empty.
    public var iou: Double { let d = tp + fp + fn; return d == 0 ? 1 : Double(tp) / Double(d) }
    static func + (a: ConfusionCounts, b: ConfusionCounts) -> ConfusionCounts {
        ConfusionCounts(tp: a.tp + b.tp, fp: a.fp + b.fp, fn: a.fn + b.fn, tn: a.tn + b.tn)
    }
}

/// Accumulates segmentation quality over batches: per-channel confusion counts (global Dice/IoU)
/// and per-image Dice (mean over images, the usual way papers report it).
public struct SegmentationMetrics: Sendable {
    public let channels: Int
    public let threshold: Float
    public private(set) var counts: [ConfusionCounts]
    public private(set) var perImageDice: [[Double]]
    public private(set) var perImageIoU: [[Double]]

    public init(channels: Int, threshold: Float = 0.5) {
        self.channels = channels; self.threshold = threshold
        counts = Array(repeating: ConfusionCounts(), count: channels)
        perImageDice = Array(repeating: [], count: channels); perImageIoU = perImageDice
    }

    /// Adds a batch: `probabilities` and `targets` `[N, C, H, W]`; `mask` (same shape or `[N,1,H,W]`
    /// broadcast per channel; 0 = ignore). Targets ≥ 0.5 count as foreground.
    public mutating func add(probabilities p: Tensor, targets t: Tensor, mask: Tensor? = nil) throws {
        guard p.rank == 4, p.shape == t.shape, p.shape[1] == channels else {
            throw ModelError(
                "segmentation metrics need probabilities and targets [N, \(channels), H, W], got \(shapeString(p.shape)) and \(shapeString(t.shape))"
            )
        }
        if let mask, !(mask.shape == p.shape || mask.shape == [p.shape[0], 1, p.shape[2], p.shape[3]]) {
            throw ModelError(
                "segmentation mask must be \(shapeString(p.shape)) or [N, 1, H, W], got \(shapeString(mask.shape))")
        }
        let n = p.shape[0], hw = p.shape[2] * p.shape[3]
        let ps = p.scalars, ts = t.scalars, ms = mask?.scalars
        let perChannelMask = mask?.shape == p.shape
        for b in 0..<n {
            for c in 0..<channels {
                var cc = ConfusionCounts()
                let off = (b * channels + c) * hw
                let moff = perChannelMask ? off : b * hw
                for i in 0..<hw {
                    if let ms, ms[moff + i] == 0 { continue }
                    let pr = ps[off + i] >= threshold, tr = ts[off + i] >= 0.5
                    switch (pr, tr) {
                    case (true, true): cc.tp += 1
                    case (true, false): cc.fp += 1
                    case (false, true): cc.fn += 1
                    case (false, false): cc.tn += 1
                    }
                }
                counts[c] = counts[c] + cc
                perImageDice[c].append(cc.dice); perImageIoU[c].append(cc.iou)
            }
        }
    }

    /// Mean per-image Dice per channel.
    public var meanDice: [Double] { perImageDice.map { $0.isEmpty ? .nan : $0.reduce(0, +) / Double($0.count) } }
    /// Mean per-image IoU per channel.
    public var meanIoU: [Double] { perImageIoU.map { $0.isEmpty ? .nan : $0.reduce(0, +) / Double($0.count) } }
}
