import DollTensor
import Foundation

/// Box and Gaussian smoothing of `[N, C, H, W]` maps (zero padding renormalised at the borders).
public enum Smoothing {
    public static func gaussian(_ x: Tensor, sigma: Float) throws -> Tensor {
        guard sigma >= 0, sigma.isFinite else { throw DataError("Gaussian sigma must be ≥ 0, got \(sigma)") }
        if sigma == 0 { return x }
        let r = Swift.max(1, Int((3 * sigma).rounded(.up)))
        let k = (-r...r).map { Foundation.exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        return try separable(x, kernel: k)
    }

    public static func box(_ x: Tensor, radius: Int) throws -> Tensor {
        guard radius >= 0 else { throw DataError("box radius must be ≥ 0, got \(radius)") }
        if radius == 0 { return x }
        return try separable(x, kernel: [Float](repeating: 1, count: 2 * radius + 1))
    }

    static func separable(_ x: Tensor, kernel: [Float]) throws -> Tensor {
        let t = x.rank == 3 ? try x.unsqueezed(0) : (x.rank == 2 ? try x.reshaped([1, 1] + x.shape) : x)
        guard t.rank == 4 else {
            throw DataError("smoothing needs [H, W], [C, H, W] or [N, C, H, W], got \(shapeString(x.shape))")
        }
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        // Rows of every plane ([n·c·h, w, 1]), then columns ([n·c, h, w]).
        let rows = pass(t.scalars, outer: n * c * h, length: w, inner: 1, kernel: kernel)
        let out = pass(rows, outer: n * c, length: h, inner: w, kernel: kernel)
        return try Tensor(out, shape: x.shape)
    }

    /// Convolves the middle axis of `[outer, length, inner]` with `kernel` (centred), dividing by
    /// the kernel weight that falls inside (borders renormalised).
    static func pass(_ src: [Float], outer: Int, length: Int, inner: Int, kernel: [Float]) -> [Float] {
        let r = kernel.count / 2
        var out = [Float](repeating: 0, count: src.count)
        for a in 0..<outer {
            for j in 0..<length {
                for k in 0..<inner {
                    var s: Float = 0
                    var ws: Float = 0
                    for (q, kv) in kernel.enumerated() {
                        let i = j + q - r
                        if i >= 0 && i < length {
                            s += src[(a * length + i) * inner + k] * kv
                            ws += kv
                        }
                    }
                    out[(a * length + j) * inner + k] = s / ws
                }
            }
        }
        return out
    }
}
