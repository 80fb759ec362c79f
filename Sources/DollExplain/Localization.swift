import DollTensor
import Foundation

/// Scores of an attribution map against a ground-truth mask, and dataset summaries.
public enum Localization {
    /// Pointing game: 1 when the map's maximum falls inside the mask (within `tolerance` pixels,
    /// Chebyshev distance), else 0. Maps and masks are `[H, W]` (or any shape with H·W values).
    public static func pointingHit(map: [Float], mask: [Float], width: Int, tolerance: Int = 0) -> Bool {
        guard let best = map.indices.max(by: { clean(map[$0]) < clean(map[$1]) }) else { return false }
        let h = map.count / width, by = best / width, bx = best % width
        for y in Swift.max(0, by - tolerance)...Swift.min(h - 1, by + tolerance) {
            for x in Swift.max(0, bx - tolerance)...Swift.min(width - 1, bx + tolerance) where mask[y * width + x] > 0.5
            { return true }
        }
        return false
    }

    /// Fraction of the image the mask covers: the chance level of the pointing game (with a
    /// tolerance, of the mask dilated by `tolerance` pixels, Chebyshev distance).
    public static func coverage(_ mask: [Float], width: Int = 1, tolerance: Int = 0) -> Double {
        guard tolerance > 0, width > 0 else {
            return Double(mask.filter { $0 > 0.5 }.count) / Double(Swift.max(mask.count, 1))
        }
        let h = mask.count / width
        var hit = 0
        for y in 0..<h {
            for x in 0..<width {
                var inside = false
                for yy in Swift.max(0, y - tolerance)...Swift.min(h - 1, y + tolerance) where !inside {
                    for xx in Swift.max(0, x - tolerance)...Swift.min(width - 1, x + tolerance)
                    where mask[yy * width + xx] > 0.5 { inside = true; break }
                }
                if inside { hit += 1 }
            }
        }
        return Double(hit) / Double(Swift.max(mask.count, 1))
    }

    /// Dice and IoU of a binary prediction against the mask (both empty → 1).
    public static func overlap(prediction: [Float], mask: [Float]) -> (dice: Double, iou: Double) {
        var tp = 0, fp = 0, fn = 0
        for (p, m) in zip(prediction, mask) {
            let a = p > 0.5, b = m > 0.5
            if a && b { tp += 1 } else if a { fp += 1 } else if b { fn += 1 }
        }
        let d = 2 * tp + fp + fn, u = tp + fp + fn
        return (d == 0 ? 1 : Double(2 * tp) / Double(d), u == 0 ? 1 : Double(tp) / Double(u))
    }

    /// Average precision (area under the precision–recall curve, step interpolation) of a soft
    /// map ranking mask pixels; tied scores are taken together. NaN when the mask is empty.
    public static func auprc(map: [Float], mask: [Float]) -> Double {
        let positives = mask.filter { $0 > 0.5 }.count
        guard positives > 0 else { return .nan }
        let order = map.indices.sorted { clean(map[$0]) > clean(map[$1]) }
        var tp = 0, seen = 0, ap = 0.0, prevRecall = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && clean(map[order[j + 1]]) == clean(map[order[i]]) { j += 1 }
            for k in i...j where mask[order[k]] > 0.5 { tp += 1 }
            seen += j - i + 1
            let recall = Double(tp) / Double(positives), precision = Double(tp) / Double(seen)
            ap += (recall - prevRecall) * precision
            prevRecall = recall
            i = j + 1
        }
        return ap
    }

    /// Fraction of the map's absolute mass that lies inside the mask.
    public static func energyInMask(map: [Float], mask: [Float]) -> Double {
        var inside = 0.0, total = 0.0
        for (a, m) in zip(map, mask) { let v = Double(Swift.abs(clean(a))); total += v; if m > 0.5 { inside += v } }
        return total > 0 ? inside / total : .nan
    }

    @inline(__always) static func clean(_ v: Float) -> Float { v.isNaN ? -.infinity : v }

    /// Mean and bootstrap 95% confidence interval (percentile method, seeded).
    public static func summarize(_ values: [Double], resamples: Int = 1000, seed: UInt64 = 0) -> Summary {
        let v = values.filter { $0.isFinite }
        guard !v.isEmpty else { return Summary(mean: .nan, low: .nan, high: .nan, n: 0) }
        let mean = v.reduce(0, +) / Double(v.count)
        var rng = RandomGenerator(seed: seed)
        var means: [Double] = []
        for _ in 0..<resamples {
            var s = 0.0
            for _ in 0..<v.count { s += v[rng.nextInt(below: v.count)] }
            means.append(s / Double(v.count))
        }
        means.sort()
        return Summary(
            mean: mean, low: means[Int(0.025 * Double(resamples - 1))], high: means[Int(0.975 * Double(resamples - 1))],
            n: v.count)
    }

    public struct Summary: Codable, Equatable, Sendable, CustomStringConvertible {
        public var mean: Double, low: Double, high: Double, n: Int
        public init(mean: Double, low: Double, high: Double, n: Int) {
            self.mean = mean
            self.low = low
            self.high = high
            self.n = n
        }
        public var description: String { String(format: "%.3f [%.3f, %.3f] (n=%d)", mean, low, high, n) }
    }
}
