import DollData
import DollNN
import DollTensor
import Foundation

/// Which output an attribution explains: a class by index (0-based) or by name.
public enum AttributionTarget: Sendable, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    case index(Int)
    case name(String)
    public init(integerLiteral v: Int) { self = .index(v) }
    public init(stringLiteral v: String) { self = .name(v) }

    /// The class index in `model`.
    public func resolve(in model: ResNetClassifier) throws -> Int {
        switch self {
        case let .index(i):
            guard i >= 0 && i < model.classes.count else {
                throw TensorError("target index \(i) is out of range 0..<\(model.classes.count)")
            }
            return i
        case let .name(n): return try model.classIndex(n)
        }
    }
}

/// What is differentiated: the raw logit (default) or the sigmoid probability.
public enum AttributionOutput: String, Codable, Sendable { case logit, probability }

/// Baseline (reference input) for path methods.
public enum Baseline: Sendable {
    case zeros
    case constant(Float)
    /// The input blurred with a Gaussian of this σ (pixels).
    case blurred(sigma: Float)
    /// Uniform noise in [low, high), seeded.
    case uniformNoise(low: Float, high: Float, seed: UInt64)
    /// A user tensor, broadcastable to the input.
    case tensor(Tensor)

    /// The baseline for an input `[N, C, H, W]`.
    public func make(for x: Tensor) throws -> Tensor {
        switch self {
        case .zeros: return try Tensor.zeros(x.shape)
        case let .constant(c): return try Tensor(repeating: c, shape: x.shape)
        case let .blurred(sigma): return try Smoothing.gaussian(x.detached(), sigma: sigma)
        case let .uniformNoise(lo, hi, seed):
            var rng = RandomGenerator(seed: seed)
            return try Tensor.uniform(x.shape, low: lo, high: hi, rng: &rng)
        case let .tensor(t):
            guard let b = broadcastable(t.shape, to: x.shape) else {
                throw TensorError("baseline of shape \(shapeString(t.shape)) does not broadcast to the input \(shapeString(x.shape))")
            }
            return b ? try (t.detached() + Tensor.zeros(x.shape)) : t.detached()
        }
    }

    private func broadcastable(_ s: [Int], to x: [Int]) -> Bool? {
        if s == x { return false }
        guard s.count <= x.count else { return nil }
        for (a, b) in zip(s.reversed(), x.reversed()) where a != b && a != 1 { return nil }
        return true
    }
}

/// Normalises an input to `[N, C, H, W]` (accepting `[C, H, W]`) and checks it against the model.
func batchInput(_ x: Tensor, model: ResNetClassifier) throws -> Tensor {
    let b = x.rank == 3 ? try x.unsqueezed(0) : x
    guard b.rank == 4, b.shape[1] == model.config.inChannels else {
        throw TensorError("expected an image [\(model.config.inChannels), H, W] or a batch [N, \(model.config.inChannels), H, W], got \(shapeString(x.shape))")
    }
    guard b.shape[0] >= 1 else { throw TensorError("the batch holds no images (shape \(shapeString(b.shape)))") }
    guard b.shape[2] >= 8, b.shape[3] >= 8 else { throw TensorError("image \(b.shape[2])x\(b.shape[3]) is too small (at least 8x8)") }
    return b.detached()
}

/// Selected output per example: logit or probability of class `target`, `[N]`.
func selectOutput(_ logits: Tensor, target: Int, output: AttributionOutput) throws -> Tensor {
    let col = try logits.slice(axis: 1, start: target, end: target + 1)
    return output == .probability ? col.sigmoid() : col
}

/// Gradient of the selected output w.r.t. a batch of inputs (model parameters frozen, eval mode).
/// Returns (gradient `[N, C, H, W]`, outputs `[N]`).
func inputGradient(_ model: ResNetClassifier, _ x: Tensor, target: Int, output: AttributionOutput) throws -> (Tensor, [Float]) {
    let xi = x.detached().requiringGrad()
    let out = try selectOutput(model(xi), target: target, output: output)
    try out.sum().backward()
    guard let g = xi.grad else { throw TensorError("no gradient reached the input") }
    return (g, out.scalars)
}

/// Runs `body` with the model in eval mode and its parameters frozen, restoring both.
func explaining<R>(_ model: ResNetClassifier, _ body: () throws -> R) rethrows -> R {
    let wasTraining = model.training
    model.eval()
    defer { model.train(wasTraining) }
    return try model.withFrozenParameters(body)
}

/// Box and Gaussian smoothing of `[N, C, H, W]` maps (zero padding renormalised at the borders).
public enum Smoothing {
    public static func gaussian(_ x: Tensor, sigma: Float) throws -> Tensor {
        guard sigma >= 0, sigma.isFinite else { throw TensorError("Gaussian sigma must be ≥ 0, got \(sigma)") }
        if sigma == 0 { return x }
        let r = Swift.max(1, Int((3 * sigma).rounded(.up)))
        let k = (-r...r).map { Foundation.exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        return try separable(x, kernel: k)
    }

    public static func box(_ x: Tensor, radius: Int) throws -> Tensor {
        guard radius >= 0 else { throw TensorError("box radius must be ≥ 0, got \(radius)") }
        if radius == 0 { return x }
        return try separable(x, kernel: [Float](repeating: 1, count: 2 * radius + 1))
    }

    static func separable(_ x: Tensor, kernel: [Float]) throws -> Tensor {
        let t = x.rank == 3 ? try x.unsqueezed(0) : (x.rank == 2 ? try x.reshaped([1, 1] + x.shape) : x)
        guard t.rank == 4 else { throw TensorError("smoothing needs [H, W], [C, H, W] or [N, C, H, W], got \(shapeString(x.shape))") }
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let r = kernel.count / 2
        let src = t.scalars
        var tmp = [Float](repeating: 0, count: src.count), out = tmp
        for p in 0..<(n * c) {
            let base = p * h * w
            for y in 0..<h { for xx in 0..<w {
                var s: Float = 0, ws: Float = 0
                for (j, kv) in kernel.enumerated() { let sx = xx + j - r; if sx >= 0 && sx < w { s += src[base + y * w + sx] * kv; ws += kv } }
                tmp[base + y * w + xx] = s / ws
            } }
            for y in 0..<h { for xx in 0..<w {
                var s: Float = 0, ws: Float = 0
                for (j, kv) in kernel.enumerated() { let sy = y + j - r; if sy >= 0 && sy < h { s += tmp[base + sy * w + xx] * kv; ws += kv } }
                out[base + y * w + xx] = s / ws
            } }
        }
        return try Tensor(out, shape: x.shape)
    }
}
