import DollNN
import DollTensor
import Foundation

/// Quadrature rules for the path integral, as in Captum.
public enum IGMethod: String, Codable, Sendable, CaseIterable {
    case riemannLeft = "riemann_left", riemannRight = "riemann_right", riemannMiddle = "riemann_middle"
    case riemannTrapezoid = "riemann_trapezoid", gaussLegendre = "gausslegendre"

    /// Interpolation points α ∈ [0, 1] and weights for `steps` evaluations. With
    /// `captumTrapezoid`, the trapezoid weights are Captum's (end weights 1/(2n), inner 1/n,
    /// summing to (n−1)/n); otherwise the exact trapezoid rule on n points (summing to 1).
    public func rule(steps n: Int, captumTrapezoid: Bool = false) throws -> (alphas: [Double], weights: [Double]) {
        guard n >= 1 else { throw ExplainError("IG needs steps ≥ 1, got \(n)") }
        let dn = Double(n)
        switch self {
        case .riemannLeft: return ((0..<n).map { Double($0) / dn }, Array(repeating: 1 / dn, count: n))
        case .riemannRight: return ((1...n).map { Double($0) / dn }, Array(repeating: 1 / dn, count: n))
        case .riemannMiddle: return ((0..<n).map { (Double($0) + 0.5) / dn }, Array(repeating: 1 / dn, count: n))
        case .riemannTrapezoid:
            guard n >= 2 else { throw ExplainError("the trapezoid rule needs steps ≥ 2, got \(n)") }
            let alphas = (0..<n).map { Double($0) / Double(n - 1) }
            let inner = captumTrapezoid ? 1 / dn : 1 / Double(n - 1)
            var w = Array(repeating: inner, count: n)
            w[0] = inner / 2; w[n - 1] = inner / 2
            return (alphas, w)
        case .gaussLegendre:
            let (x, w) = DollExplain.gaussLegendre(n)
            return (x.map { 0.5 * ($0 + 1) }, w.map { 0.5 * $0 })
        }
    }
}

/// Gauss–Legendre nodes (ascending, in [−1, 1]) and weights, by Newton iteration on P_n.
public func gaussLegendre(_ n: Int) -> (nodes: [Double], weights: [Double]) {
    var nodes = [Double](repeating: 0, count: n), weights = nodes
    for i in 0..<n {
        var x = Foundation.cos(Double.pi * (Double(i) + 0.75) / (Double(n) + 0.5))
        var dp = 0.0
        for _ in 0..<100 {
            var p0 = 1.0, p1 = x
            if n == 1 { p1 = x; p0 = 1 }
            for k in stride(from: 2, through: n, by: 1) {
                let p2 = ((2 * Double(k) - 1) * x * p1 - (Double(k) - 1) * p0) / Double(k)
                p0 = p1; p1 = p2
            }
            // p1 = P_n(x), p0 = P_{n-1}(x)
            dp = Double(n) * (x * p1 - p0) / (x * x - 1)
            let dx = p1 / dp
            x -= dx
            if Swift.abs(dx) < 1e-15 { break }
        }
        nodes[i] = x
        weights[i] = 2 / ((1 - x * x) * dp * dp)
    }
    let order = nodes.indices.sorted { nodes[$0] < nodes[$1] }
    return (order.map { nodes[$0] }, order.map { weights[$0] })
}

/// Integrated Gradients (Sundararajan et al. 2017), Captum-compatible:
/// `attr = (x − b) ⊙ Σ_i w_i ∂F/∂x (b + α_i (x − b))`, with the completeness delta
/// `Σ attr − (F(x) − F(b))` per example.
public final class IntegratedGradients: Attributor {
    public struct Options: Sendable {
        public var steps = 50
        public var method = IGMethod.gaussLegendre
        public var baselines: [Baseline] = [.zeros]
        /// Interpolants evaluated per forward/backward pass (memory bound; result independent of it).
        public var internalBatch = 25
        public var output = AttributionOutput.logit
        /// Use Captum's trapezoid weights (sum (n−1)/n) to reproduce Captum numbers.
        public var captumTrapezoid = false
        public init(
            steps: Int = 50, method: IGMethod = .gaussLegendre, baselines: [Baseline] = [.zeros],
            internalBatch: Int = 25,
            output: AttributionOutput = .logit, captumTrapezoid: Bool = false
        ) {
            self.steps = steps; self.method = method; self.baselines = baselines; self.internalBatch = internalBatch
            self.output = output; self.captumTrapezoid = captumTrapezoid
        }
    }

    public let model: ExplainedModel
    public var options: Options

    public init(model: ExplainedModel, options: Options = Options()) {
        self.model = model
        self.options = options
    }

    /// Attributions (same shape as the input) and the completeness delta per example. Several
    /// baselines are averaged (expected-gradients style); the delta then refers to the mean.
    public func attribute(_ input: Tensor, target: AttributionTarget) throws -> Attribution {
        guard options.internalBatch >= 1 else {
            throw ExplainError("internal batch must be ≥ 1, got \(options.internalBatch)")
        }
        guard !options.baselines.isEmpty else { throw ExplainError("IG needs at least one baseline") }
        let x = try batchInput(input, model: model)
        let t = try target.resolve(in: model)
        let (alphas, weights) = try options.method.rule(steps: options.steps, captumTrapezoid: options.captumTrapezoid)
        return try explaining(model) {
            let scorer = try model.scorer(for: x, target: t, output: options.output)
            var total: Tensor? = nil
            var deltas = [Float](repeating: 0, count: x.shape[0])
            for base in options.baselines {
                let b = try base.make(for: x)
                let (a, d) = try integrate(x, b, scorer: scorer, alphas: alphas, weights: weights)
                total = try total.map { try $0 + a } ?? a
                for i in deltas.indices { deltas[i] += d[i] }
            }
            let k = Float(options.baselines.count)
            return Attribution(total!.scaled(1 / k), delta: deltas.map { $0 / k })
        }
    }

    /// One baseline: the interpolants of all examples are evaluated in chunks of `internalBatch`.
    func integrate(
        _ x: Tensor, _ b: Tensor, scorer: Scorer, alphas: [Double], weights: [Double]
    ) throws -> (Tensor, [Float]) {
        let n = x.shape[0], per = x.count / n, steps = alphas.count
        let diff = try x - b
        let bs = b.scalars, ds = diff.scalars
        var acc = [Double](repeating: 0, count: x.count)
        // Work list of (example, step) pairs, evaluated in chunks.
        let pairs = (0..<n).flatMap { e in (0..<steps).map { (e, $0) } }
        for start in stride(from: 0, to: pairs.count, by: options.internalBatch) {
            let chunk = pairs[start..<Swift.min(start + options.internalBatch, pairs.count)]
            var buf = [Float](repeating: 0, count: chunk.count * per)
            for (j, (e, s)) in chunk.enumerated() {
                let a = Float(alphas[s])
                for i in 0..<per { buf[j * per + i] = bs[e * per + i] + a * ds[e * per + i] }
            }
            let batch = try Tensor(buf, shape: [chunk.count] + Array(x.shape.dropFirst()))
            let (g, _) = try inputGradient(scorer, batch, examples: chunk.map(\.0))
            let gs = g.scalars
            for (j, (e, s)) in chunk.enumerated() {
                let w = weights[s]
                for i in 0..<per { acc[e * per + i] += w * Double(gs[j * per + i]) }
            }
        }
        var attr = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count { attr[i] = Float(acc[i] * Double(ds[i])) }
        // Completeness: Σ attr − (F(x) − F(b)).
        let all = Array(0..<n)
        let fx = try Autograd.noGrad { try scorer.score(x, all).scalars }
        let fb = try Autograd.noGrad { try scorer.score(try Tensor(bs, shape: x.shape), all).scalars }
        var delta = [Float](repeating: 0, count: n)
        for e in 0..<n {
            var s = 0.0
            for i in 0..<per { s += Double(attr[e * per + i]) }
            delta[e] = Float(s - Double(fx[e] - fb[e]))
        }
        return (try Tensor(attr, shape: x.shape), delta)
    }

    public static let spec = ExplainerSpec(
        name: "ig",
        signature:
            "doll.ig(model, {steps=50, method=\"gausslegendre\", baseline=\"zeros\", batch=25, output=\"logit\", captum_trapezoid=false}) → Explainer",
        summary:
            "Integrated Gradients of a classifier's class or a U-Net's structure. method is riemann_left, riemann_right, riemann_middle, riemann_trapezoid or gausslegendre; baseline is zeros, blur (Gaussian σ = 8 px), noise (uniform in [0, 1)), a number (a constant image) or a Tensor (an image of the input's shape or broadcastable to it); batch is interpolants per pass; output is logit or probability.",
        options: ["steps", "method", "baseline", "batch", "output", "captum_trapezoid"]
    ) { model, o in
        var opt = Options()
        if let s = try o.integer("steps", in: 1...10_000) { opt.steps = s }
        if let m = try o.choice("method", IGMethod.allCases.map(\.rawValue)) { opt.method = IGMethod(rawValue: m)! }
        if let b = try o.integer("batch", in: 1...4096) { opt.internalBatch = b }
        opt.output = try outputOption(o)
        if let c = try o.bool("captum_trapezoid") { opt.captumTrapezoid = c }
        switch o.kind("baseline") {
        case .absent: break
        case .number: opt.baselines = [.constant(Float(try o.number("baseline")!))]
        case .tensor: opt.baselines = [.tensor(try o.tensor("baseline")!)]
        default:
            switch try o.string("baseline")! {
            case "zeros": opt.baselines = [.zeros]
            case "blur": opt.baselines = [.blurred(sigma: 8)]
            case "noise": opt.baselines = [.uniformNoise(low: 0, high: 1, seed: 0)]
            case let b:
                throw ExplainError("option 'baseline' must be a number, a Tensor, or zeros, blur or noise; got '\(b)'")
            }
        }
        return IntegratedGradients(model: model, options: opt)
    }
}
