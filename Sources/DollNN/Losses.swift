import DollTensor
import Foundation

/// Loss functions. All return a scalar tensor and are differentiable w.r.t. the prediction.
public enum Loss {
    /// Binary cross-entropy on logits (PyTorch `binary_cross_entropy_with_logits`), numerically
    /// stable. `weight` (per element, broadcast to the logits) scales each term; `posWeight`
    /// (broadcast, e.g. `[C]` for `[N, C]` logits or `[1, C, 1, 1]` for masks) scales positive
    /// terms; `mask` (broadcast; 0 = ignore) removes entries. The mean is over unmasked entries
    /// (0 when everything is masked).
    public static func bceWithLogits(
        _ logits: Tensor, _ targets: Tensor, weight: Tensor? = nil,
        posWeight: Tensor? = nil, mask: Tensor? = nil
    ) throws -> Tensor {
        guard targets.shape == logits.shape else {
            throw ModelError(
                "bceWithLogits: targets \(shapeString(targets.shape)) must match logits \(shapeString(logits.shape))")
        }
        /// `t` broadcast to the logits' shape, as values.
        func expand(_ t: Tensor?, _ name: String) throws -> [Float]? {
            guard let t else { return nil }
            guard broadcasts(t.shape, to: logits.shape) else {
                throw ModelError(
                    "bceWithLogits: \(name) \(shapeString(t.shape)) does not broadcast to logits \(shapeString(logits.shape))"
                )
            }
            return try (t.detached() * Tensor(repeating: 1, shape: logits.shape)).scalars
        }
        let w = try expand(weight, "weight")
        let pw = try expand(posWeight, "posWeight")
        let mk = try expand(mask, "mask")
        let n = logits.count
        let px = logits.scalars
        let py = targets.scalars
        var total = 0.0
        var denom = 0.0
        for i in 0..<n {
            let m = mk?[i] ?? 1
            if m == 0 { continue }
            let x = px[i], y = py[i]
            let lw = 1 + ((pw?[i] ?? 1) - 1) * y
            let sp = Swift.max(-x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))  // softplus(-x)
            let l = (1 - y) * x + lw * sp
            total += Double(l * (w?[i] ?? 1) * m)
            denom += Double(m)
        }
        let scale: Float = denom > 0 ? Float(1 / denom) : 0
        let loss = Tensor(scalar: Float(denom > 0 ? total / denom : 0))
        return Tensor.record(loss, [logits, targets]) { g, need in
            let gs = g.scalars[0] * scale
            var gl: Tensor? = nil
            var gt: Tensor? = nil
            if need[0] {
                var t = [Float](repeating: 0, count: n)
                for i in 0..<n {
                    let m = mk?[i] ?? 1
                    let x = px[i], y = py[i]
                    let lw = 1 + ((pw?[i] ?? 1) - 1) * y
                    // σ(−x)
                    let sneg = x >= 0 ? Foundation.exp(-x) / (1 + Foundation.exp(-x)) : 1 / (1 + Foundation.exp(x))
                    t[i] = ((1 - y) - lw * sneg) * (w?[i] ?? 1) * m * gs
                }
                gl = try? Tensor(t, shape: logits.shape)
            }
            if need[1] {  // ∂/∂y = x·(−1) + (pw−1)·softplus(−x)
                var t = [Float](repeating: 0, count: n)
                for i in 0..<n {
                    let m = mk?[i] ?? 1
                    let x = px[i]
                    let sp = Swift.max(-x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))
                    t[i] = (-x + ((pw?[i] ?? 1) - 1) * sp) * (w?[i] ?? 1) * m * gs
                }
                gt = try? Tensor(t, shape: targets.shape)
            }
            return [gl, gt]
        }
    }

    /// Soft Dice loss on logits `[N, C, H, W]` against targets in [0, 1] of the same shape:
    /// `1 − mean_c (2·Σ p·t + ε)/(Σ p + Σ t + ε)` with `p = σ(logits)`, sums over the batch and
    /// pixels of each channel. `mask` (broadcast, 0 = ignore) removes pixels from both sums.
    public static func dice(
        _ logits: Tensor, _ targets: Tensor, mask: Tensor? = nil, smooth: Float = 1
    ) throws -> Tensor {
        guard logits.rank >= 2, targets.shape == logits.shape else {
            throw ModelError(
                "dice: logits [N, C, ...] and targets of the same shape needed, got \(shapeString(logits.shape)) and \(shapeString(targets.shape))"
            )
        }
        var p = logits.sigmoid(), t = targets.detached()
        if let mask {
            guard broadcasts(mask.shape, to: logits.shape) else {
                throw ModelError(
                    "dice: mask \(shapeString(mask.shape)) does not broadcast to \(shapeString(logits.shape))")
            }
            p = try p * mask.detached()
            t = try t * mask.detached()
        }
        let axes = [0] + Array(2..<logits.rank)
        let inter = try (p * t).sum(axes: axes)
        let denom = try p.sum(axes: axes) + t.sum(axes: axes)
        let diceC = try (inter.scaled(2).adding(smooth)) / denom.adding(smooth)
        return diceC.mean().scaled(-1).adding(1)
    }

    /// Mean squared error.
    public static func mse(_ prediction: Tensor, _ target: Tensor) throws -> Tensor {
        guard prediction.shape == target.shape else {
            throw ModelError("mse: shapes \(shapeString(prediction.shape)) and \(shapeString(target.shape)) differ")
        }
        return try (prediction - target).square().mean()
    }
}

/// Whether `shape` broadcasts to exactly `target` (NumPy rules, aligned at the trailing axis).
func broadcasts(_ shape: [Int], to target: [Int]) -> Bool {
    guard shape.count <= target.count else { return false }
    return zip(shape.reversed(), target.reversed()).allSatisfy { $0 == $1 || $0 == 1 }
}
