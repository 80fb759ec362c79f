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

    /// The output index in `model` (its classes or structures).
    public func resolve(in model: ExplainedModel) throws -> Int {
        let names = model.targetNames
        switch self {
        case let .index(i):
            guard i >= 0 && i < names.count else {
                throw ExplainError("target index \(i) is out of range 0..<\(names.count)")
            }
            return i
        case let .name(n):
            guard let i = names.firstIndex(of: n) else {
                throw ExplainError(
                    "unknown \(model.targetKind) '\(n)'; the \(model.targetKind) names are: \(names.joined(separator: ", "))"
                )
            }
            return i
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
                throw ExplainError(
                    "baseline of shape \(shapeString(t.shape)) does not broadcast to the input \(shapeString(x.shape))")
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

/// What an explainer returns: attributions of the input's shape and, for path methods, the
/// completeness delta `Σ attr − (F(x) − F(b))` per example.
public struct Attribution {
    public let attributions: Tensor
    public let delta: [Float]?
    public init(_ attributions: Tensor, delta: [Float]? = nil) {
        self.attributions = attributions
        self.delta = delta
    }
}

/// A method that attributes one output of a model to input pixels: `[N, C, H, W]` (or
/// `[C, H, W]`) → attributions of the same shape as the (batched) input. A new method is one file
/// with its class and its `ExplainerSpec`, listed in `Explainers.all`.
public protocol Attributor: AnyObject {
    var model: ExplainedModel { get }
    func attribute(_ input: Tensor, target: AttributionTarget) throws -> Attribution
}

extension Attributor {
    /// The attributions alone.
    public func attributions(_ input: Tensor, target: AttributionTarget) throws -> Tensor {
        try attribute(input, target: target).attributions
    }
}

/// Normalises an input to `[N, C, H, W]` (accepting `[C, H, W]`) and checks it against the model.
func batchInput(_ x: Tensor, model: ExplainedModel) throws -> Tensor {
    let c = model.inputChannels
    let b = x.rank == 3 ? try x.unsqueezed(0) : x
    guard b.rank == 4, b.shape[1] == c else {
        throw ExplainError("expected an image [\(c), H, W] or a batch [N, \(c), H, W], got \(shapeString(x.shape))")
    }
    guard b.shape[0] >= 1 else { throw ExplainError("the batch holds no images (shape \(shapeString(b.shape)))") }
    guard b.shape[2] >= 8, b.shape[3] >= 8 else {
        throw ExplainError("image \(b.shape[2])x\(b.shape[3]) is too small (at least 8x8)")
    }
    if let problem = model.sizeProblem(b) { throw ExplainError(problem) }
    return b.detached()
}

/// Selected output per example: logit or probability of output `target` of `[N, K]` logits, `[N]`.
func selectOutput(_ logits: Tensor, target: Int, output: AttributionOutput) throws -> Tensor {
    let col = try logits.slice(axis: 1, start: target, end: target + 1)
    return output == .probability ? col.sigmoid() : col
}

/// Gradient of the scores w.r.t. a batch of inputs derived from `examples` (model frozen, eval
/// mode). Returns (gradient `[B, C, H, W]`, scores `[B]`).
func inputGradient(_ scorer: Scorer, _ x: Tensor, examples: [Int]) throws -> (Tensor, [Float]) {
    let xi = x.detached().requiringGrad()
    let out = try scorer.score(xi, examples)
    try out.sum().backward()
    guard let g = xi.grad else { throw ExplainError("no gradient reached the input") }
    return (g, out.scalars)
}

/// The batched input `[N, C, H, W]` and the gradient of output `target`'s score with respect to
/// it, the model frozen and in eval mode: what gradient methods transform into attributions.
func scoreGradient(
    _ model: ExplainedModel, _ input: Tensor, target: AttributionTarget, output: AttributionOutput
) throws
    -> (input: Tensor, gradient: Tensor)
{
    let x = try batchInput(input, model: model)
    let t = try target.resolve(in: model)
    return try explaining(model) {
        let scorer = try model.scorer(for: x, target: t, output: output)
        return (x, try inputGradient(scorer, x, examples: Array(0..<x.shape[0])).0)
    }
}

/// Runs `body` with the model in eval mode and its parameters frozen, restoring both.
func explaining<R>(_ model: ExplainedModel, _ body: () throws -> R) rethrows -> R {
    let module = model.module
    let wasTraining = module.training
    module.eval()
    defer { module.train(wasTraining) }
    return try module.withFrozenParameters(body)
}
