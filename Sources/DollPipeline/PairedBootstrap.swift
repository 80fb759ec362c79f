import DollExplain
import DollTensor

/// Paired comparisons of two initialisations fine-tuned with the same seeds and tested on the same
/// images: the mean difference and a percentile 95 % interval from a two-level bootstrap that
/// resamples seeds and test images with replacement (the image draw is shared by every seed: they
/// are the same images). An interval that excludes 0 is what the report calls significant.
public enum PairedBootstrap {
    /// `a[s][i]` and `b[s][i]`: a score of seed `s` on test image `i` for the two arms. Pairs with a
    /// non-finite score are left out of every mean.
    public static func difference(
        _ a: [[Double]], _ b: [[Double]], resamples: Int = 2000, seed: UInt64 = 0
    ) throws
        -> Localization.Summary
    {
        guard a.count == b.count, zip(a, b).allSatisfy({ $0.count == $1.count }) else {
            throw StudyError("paired bootstrap: both arms need the same seeds and test images")
        }
        let d = zip(a, b).map { zip($0, $1).map { $0.isFinite && $1.isFinite ? $0 - $1 : Double.nan } }
        return try interval(d, resamples: resamples, seed: seed)
    }

    /// The mean of `values[s][i]` and its two-level bootstrap interval.
    public static func interval(
        _ values: [[Double]], resamples: Int = 2000, seed: UInt64 = 0
    ) throws
        -> Localization.Summary
    {
        guard resamples >= 2 else { throw StudyError("paired bootstrap: at least 2 resamples") }
        let seeds = values.count
        let images = values.first?.count ?? 0
        let finite = values.flatMap { $0 }.filter(\.isFinite)
        guard seeds > 0, images > 0, values.allSatisfy({ $0.count == images }), !finite.isEmpty else {
            return Localization.Summary(mean: .nan, low: .nan, high: .nan, n: 0)
        }
        var rng = RandomGenerator(seed: seed)
        var means: [Double] = []
        means.reserveCapacity(resamples)
        for _ in 0..<resamples {
            let s = (0..<seeds).map { _ in rng.nextInt(below: seeds) }
            let i = (0..<images).map { _ in rng.nextInt(below: images) }
            var sum = 0.0
            var n = 0
            for si in s {
                for ii in i where values[si][ii].isFinite {
                    sum += values[si][ii]
                    n += 1
                }
            }
            if n > 0 { means.append(sum / Double(n)) }
        }
        guard !means.isEmpty else { return Localization.Summary(mean: .nan, low: .nan, high: .nan, n: finite.count) }
        means.sort()
        let mean = finite.reduce(0, +) / Double(finite.count)
        let low = means[Int(0.025 * Double(means.count - 1))]
        let high = means[Int(0.975 * Double(means.count - 1))]
        return Localization.Summary(mean: mean, low: low, high: high, n: finite.count)
    }
}
