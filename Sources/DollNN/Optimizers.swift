import DollTensor
import Foundation

/// An optimizer updates trainable parameters from their accumulated gradients.
public protocol Optimizer: AnyObject {
    /// Learning rate used by the next `step()` (schedules set it).
    var learningRate: Float { get set }
    /// Applies one update to every parameter that has a gradient.
    func step() throws
    /// Clears the parameters' gradients.
    func zeroGrad()
    /// The optimizer's running state (moments, step count) by name, for checkpoints.
    func stateDict() -> [String: Tensor]
    /// Restores a `stateDict()` of an optimizer over the same parameters.
    func loadStateDict(_ state: [String: Tensor]) throws
}

/// Per-parameter buffers `[[Float]?]` as tensors named `<prefix>/<index>`, and back.
func buffersState(_ buffers: [[Float]?], _ prefix: String) -> [String: Tensor] {
    var out: [String: Tensor] = [:]
    for (i, b) in buffers.enumerated() {
        if let b, let t = try? Tensor(b, shape: [b.count]) { out["\(prefix)/\(i)"] = t }
    }
    return out
}

func buffers(from state: [String: Tensor], _ prefix: String, like parameters: [Parameter]) throws -> [[Float]?] {
    try parameters.enumerated().map { i, p in
        guard let t = state["\(prefix)/\(i)"] else { return nil }
        guard t.count == p.value.count else {
            throw ModelError("optimizer state '\(prefix)/\(i)' does not fit its parameter")
        }
        return t.scalars
    }
}

/// Shared parameter bookkeeping.
public class OptimizerBase {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let weightDecay: Float
    /// Per-parameter multipliers of the learning rate (1 by default), e.g. a smaller rate for a
    /// pre-trained encoder.
    public var learningRateScales: [Float]

    init(_ parameters: [Parameter], learningRate: Float, weightDecay: Float) throws {
        guard learningRate > 0, learningRate.isFinite else {
            throw ModelError("learning rate must be positive and finite, got \(learningRate)")
        }
        guard weightDecay >= 0 else { throw ModelError("weight decay must be ≥ 0, got \(weightDecay)") }
        self.parameters = parameters.filter(\.trainable)
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.learningRateScales = Array(repeating: 1, count: self.parameters.count)
    }

    public func zeroGrad() { for p in parameters { p.value.zeroGrad() } }

    /// Calls `body(param, value, grad, slot)` for each parameter with a gradient.
    func update(_ body: (Int, UnsafeMutableBufferPointer<Float>, UnsafeBufferPointer<Float>) -> Void) {
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            g.withUnsafeBufferPointer { gb in p.value.withUnsafeMutableBufferPointer { vb in body(i, vb, gb) } }
        }
    }
}

/// Stochastic gradient descent with momentum (PyTorch semantics: `v = μ·v + g (+ wd·θ)`,
/// `θ −= lr·v`, or Nesterov) and L2 weight decay.
public final class SGD: OptimizerBase, Optimizer {
    public let momentum: Float, nesterov: Bool
    private var velocity: [[Float]?]

    public init(
        _ parameters: [Parameter], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0,
        nesterov: Bool = false
    ) throws {
        guard momentum >= 0 && momentum < 1 else { throw ModelError("momentum must be in [0, 1), got \(momentum)") }
        self.momentum = momentum; self.nesterov = nesterov
        velocity = []
        try super.init(parameters, learningRate: learningRate, weightDecay: weightDecay)
        velocity = Array(repeating: nil, count: self.parameters.count)
    }

    public func stateDict() -> [String: Tensor] { buffersState(velocity, "velocity") }

    public func loadStateDict(_ state: [String: Tensor]) throws {
        velocity = try buffers(from: state, "velocity", like: parameters)
    }

    public func step() throws {
        let mu = momentum, wd = weightDecay
        update { i, v, g in
            let lr = learningRate * learningRateScales[i]
            if velocity[i] == nil { velocity[i] = [Float](repeating: 0, count: v.count) }
            velocity[i]!.withUnsafeMutableBufferPointer { vel in
                for j in 0..<v.count {
                    var d = g[j] + wd * v[j]
                    if mu > 0 { vel[j] = mu * vel[j] + d; d = nesterov ? d + mu * vel[j] : vel[j] }
                    v[j] -= lr * d
                }
            }
        }
    }
}

/// Adam (Kingma & Ba) with bias correction; `decoupled` gives AdamW (weight decay applied to the
/// weights directly, `θ −= lr·wd·θ`), otherwise weight decay is added to the gradient (L2).
public final class Adam: OptimizerBase, Optimizer {
    public let beta1: Float, beta2: Float, eps: Float, decoupled: Bool
    private var m: [[Float]?], v: [[Float]?]
    private var t = 0

    public init(
        _ parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
        eps: Float = 1e-8, weightDecay: Float = 0, decoupled: Bool = false
    ) throws {
        guard (0..<1).contains(beta1), (0..<1).contains(beta2), eps > 0 else {
            throw ModelError("Adam: betas must be in [0, 1) and eps > 0")
        }
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.decoupled = decoupled
        m = []; v = []
        try super.init(parameters, learningRate: learningRate, weightDecay: weightDecay)
        m = Array(repeating: nil, count: self.parameters.count); v = m
    }

    /// AdamW: Adam with decoupled weight decay (default 0.01, as in PyTorch).
    public static func adamW(
        _ parameters: [Parameter], learningRate: Float = 1e-3, weightDecay: Float = 0.01
    ) throws -> Adam {
        try Adam(parameters, learningRate: learningRate, weightDecay: weightDecay, decoupled: true)
    }

    public func stateDict() -> [String: Tensor] {
        buffersState(m, "m").merging(buffersState(v, "v")) { a, _ in a }.merging(["t": Tensor(scalar: Float(t))]) {
            a, _ in a
        }
    }

    public func loadStateDict(_ state: [String: Tensor]) throws {
        m = try buffers(from: state, "m", like: parameters)
        v = try buffers(from: state, "v", like: parameters)
        t = Int(try state["t"]?.item() ?? 0)
    }

    public func step() throws {
        t += 1
        let b1 = beta1, b2 = beta2, wd = weightDecay, eps = eps, decoupled = decoupled
        let c1 = 1 - Float(Foundation.pow(Double(b1), Double(t))), c2 = 1 - Float(Foundation.pow(Double(b2), Double(t)))
        update { i, w, g in
            let lr = learningRate * learningRateScales[i]
            if m[i] == nil { m[i] = [Float](repeating: 0, count: w.count); v[i] = m[i] }
            m[i]!.withUnsafeMutableBufferPointer { mb in
                v[i]!.withUnsafeMutableBufferPointer { vb in
                    for j in 0..<w.count {
                        var gj = g[j]
                        if decoupled { w[j] -= lr * wd * w[j] } else { gj += wd * w[j] }
                        mb[j] = b1 * mb[j] + (1 - b1) * gj
                        vb[j] = b2 * vb[j] + (1 - b2) * gj * gj
                        w[j] -= lr * (mb[j] / c1) / ((vb[j] / c2).squareRoot() + eps)
                    }
                }
            }
        }
    }
}

/// Rescales all gradients so that their global L2 norm is at most `maxNorm`; returns the norm
/// before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Float) throws -> Float {
    guard maxNorm > 0 else { throw ModelError("clipGradNorm: maxNorm must be positive, got \(maxNorm)") }
    var total = 0.0
    for p in parameters { p.grad?.withUnsafeBufferPointer { for x in $0 { total += Double(x) * Double(x) } } }
    let norm = Float(total.squareRoot())
    if norm > maxNorm {
        let s = maxNorm / (norm + 1e-6)
        for p in parameters {
            guard let g = p.grad else { continue }
            try p.value.setGrad(g * s)
        }
    }
    return norm
}

/// Learning-rate schedule: the rate for a given step (0-based) out of `totalSteps`.
public enum LRSchedule: Codable, Equatable, Sendable {
    case constant
    /// Multiply by `gamma` every `every` steps.
    case step(every: Int, gamma: Float)
    /// Cosine annealing from the base rate to `minFactor`·base over the run.
    case cosine(minFactor: Float)

    /// Rate at `step` for base rate `base`, with a linear warm-up over the first `warmup` steps.
    public func rate(base: Float, step: Int, totalSteps: Int, warmup: Int = 0) -> Float {
        if warmup > 0 && step < warmup { return base * Float(step + 1) / Float(warmup) }
        let s = step - warmup, total = Swift.max(totalSteps - warmup, 1)
        switch self {
        case .constant: return base
        case let .step(every, gamma): return base * Foundation.pow(gamma, Float(s / Swift.max(every, 1)))
        case let .cosine(minFactor):
            let p = Float(Swift.min(s, total)) / Float(total)
            return base * (minFactor + (1 - minFactor) * 0.5 * (1 + Foundation.cos(Float.pi * p)))
        }
    }
}
