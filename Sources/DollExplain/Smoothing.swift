import DollTensor
import Foundation

/// Box and Gaussian smoothing of `[N, C, H, W]` maps (zero padding renormalised at the borders).
public enum Smoothing {
    public static func gaussian(_ x: Tensor, sigma: Float) throws -> Tensor {
        guard sigma >= 0, sigma.isFinite else { throw ExplainError("Gaussian sigma must be ≥ 0, got \(sigma)") }
        if sigma == 0 { return x }
        let r = Swift.max(1, Int((3 * sigma).rounded(.up)))
        let k = (-r...r).map { Foundation.exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        return try separable(x, kernel: k)
    }

    public static func box(_ x: Tensor, radius: Int) throws -> Tensor {
        guard radius >= 0 else { throw ExplainError("box radius must be ≥ 0, got \(radius)") }
        if radius == 0 { return x }
        return try separable(x, kernel: [Float](repeating: 1, count: 2 * radius + 1))
    }

    static func separable(_ x: Tensor, kernel: [Float]) throws -> Tensor {
        let t = x.rank == 3 ? try x.unsqueezed(0) : (x.rank == 2 ? try x.reshaped([1, 1] + x.shape) : x)
        guard t.rank == 4 else {
            throw ExplainError("smoothing needs [H, W], [C, H, W] or [N, C, H, W], got \(shapeString(x.shape))")
        }
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let r = kernel.count / 2
        let src = t.scalars
        var tmp = [Float](repeating: 0, count: src.count), out = tmp
        for p in 0..<(n * c) {
            let base = p * h * w
            for y in 0..<h {
                for xx in 0..<w {
                    var s: Float = 0, ws: Float = 0
                    for (j, kv) in kernel.enumerated() {
                        let sx = xx + j - r; if sx >= 0 && sx < w { s += src[base + y * w + sx] * kv; ws += kv }
                    }
                    tmp[base + y * w + xx] = s / ws
                }
            }
            for y in 0..<h {
                for xx in 0..<w {
                    var s: Float = 0, ws: Float = 0
                    for (j, kv) in kernel.enumerated() {
                        let sy = y + j - r; if sy >= 0 && sy < h { s += tmp[base + sy * w + xx] * kv; ws += kv }
                    }
                    out[base + y * w + xx] = s / ws
                }
            }
        }
        return try Tensor(out, shape: x.shape)
    }
}
