import DollTensor
import Foundation
import Testing

/// Helpers shared by the test targets: the shared fixtures, seeded tensors, and the finite-
/// difference gradient check every differentiable op is held to.

/// The shared folder: `$DOLL_SHARED`, or `shared/` beside the repository.
public func sharedDirectory() -> String {
    if let env = ProcessInfo.processInfo.environment["DOLL_SHARED"] { return env }
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    return repo.deletingLastPathComponent().appendingPathComponent("shared").path
}

/// Path of a file under the shared folder (`reference/…`, `data/…`); records a clear failure
/// when it is missing (never a silent skip).
public func sharedFile(_ relative: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    let p = sharedDirectory() + "/" + relative
    if FileManager.default.fileExists(atPath: p) { return p }
    Issue.record(
        "shared file missing: \(p) — set DOLL_SHARED or lay out ../shared next to the repository",
        sourceLocation: sourceLocation)
    return nil
}

/// The largest absolute difference of two tensors of the same size.
public func maxAbs(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

public func randomTensor(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return try! Tensor.uniform(shape, low: low, high: high, rng: &rng)
}

public func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count, "sizes differ: \(a.shape) vs \(b.shape)")
    var m: Float = 0
    let x = a.scalars, y = b.scalars
    for i in 0..<x.count { m = max(m, abs(x[i] - y[i])) }
    return m
}

/// Compares the autodiff gradient of `Σ R ⊙ f(inputs)` (R fixed random weights) with central
/// finite differences, evaluated in Float32 with the weighted sum in Float64. Checks up to
/// `maxChecks` seeded-random elements per input. Returns the worst error seen.
@discardableResult
public func gradCheck(
    _ inputs: [Tensor], eps: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 1e-2, maxChecks: Int = 40,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) throws -> Tensor
) throws -> Double {
    let tracked = inputs.map { $0.requiringGrad() }
    let out = try f(tracked)
    let weights = randomTensor(out.shape, seed: 99)
    let loss = try (out * weights).sum()
    try loss.backward()
    let w = weights.scalars.map(Double.init)
    func objective(_ xs: [Tensor]) throws -> Double {
        let o = try Autograd.noGrad { try f(xs) }.scalars
        var s = 0.0
        for i in 0..<o.count { s += Double(o[i]) * w[i] }
        return s
    }
    var worst = 0.0
    var rng = RandomGenerator(seed: 7)
    for (k, x) in inputs.enumerated() {
        guard let g = tracked[k].grad else {
            Issue.record("input \(k) received no gradient", sourceLocation: sourceLocation)
            continue
        }
        #expect(g.shape == x.shape, sourceLocation: sourceLocation)
        let idx = x.count <= maxChecks ? Array(0..<x.count) : (0..<maxChecks).map { _ in rng.nextInt(below: x.count) }
        for i in idx {
            var plus = inputs, minus = inputs
            plus[k].withUnsafeMutableBufferPointer { $0[i] += eps }
            minus[k].withUnsafeMutableBufferPointer { $0[i] -= eps }
            let num = (try objective(plus) - objective(minus)) / Double(2 * eps)
            let ana = Double(g.scalars[i])
            let err = abs(num - ana)
            worst = max(worst, err / (atol + rtol * abs(num)))
            #expect(
                err <= atol + rtol * abs(num), "input \(k) element \(i): autodiff \(ana) vs finite difference \(num)",
                sourceLocation: sourceLocation)
        }
    }
    return worst
}
