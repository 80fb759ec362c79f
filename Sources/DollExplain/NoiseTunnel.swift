import DollNN
import DollTensor
import Foundation

/// NoiseTunnel (Captum): runs a method on noisy copies `x + N(0, σ²)` and aggregates:
/// SmoothGrad (mean), SmoothGrad² (mean of squares) or VarGrad (variance).
public final class NoiseTunnel: Attributor {
    public enum Kind: String, Codable, Sendable { case smoothgrad, smoothgradSq = "smoothgrad_sq", vargrad }
    public let base: Attributor
    public var kind: Kind
    public var samples: Int
    public var sigma: Float
    public var seed: UInt64
    public var batch: Int
    public var model: ExplainedModel { base.model }

    public init(
        _ base: Attributor, kind: Kind = .smoothgrad, samples: Int = 20, sigma: Float = 0.1, seed: UInt64 = 0,
        batch: Int = 10
    ) throws {
        guard samples >= 1, sigma >= 0, batch >= 1 else {
            throw ExplainError("NoiseTunnel: samples ≥ 1, sigma ≥ 0, batch ≥ 1")
        }
        self.base = base; self.kind = kind; self.samples = samples; self.sigma = sigma; self.seed = seed;
        self.batch = batch
    }

    public func attribute(_ input: Tensor, target: AttributionTarget) throws -> Attribution {
        let x = try batchInput(input, model: model)
        let n = x.shape[0]
        var rng = RandomGenerator(seed: seed)
        var sum = [Double](repeating: 0, count: x.count), sq = sum
        let xs = x.scalars
        var done = 0
        while done < samples {
            let m = Swift.min(batch, samples - done)
            // m noisy copies of every example, stacked as [m·n, C, H, W]
            var buf = [Float](repeating: 0, count: m * x.count)
            for j in 0..<buf.count { buf[j] = xs[j % x.count] + sigma * rng.nextNormal() }
            let a = try base.attributions(try Tensor(buf, shape: [m * n] + Array(x.shape.dropFirst())), target: target)
                .scalars
            for j in 0..<a.count { let v = Double(a[j]); sum[j % x.count] += v; sq[j % x.count] += v * v }
            done += m
        }
        let k = Double(samples)
        let out: [Float] = (0..<x.count).map { i in
            switch kind {
            case .smoothgrad: return Float(sum[i] / k)
            case .smoothgradSq: return Float(sq[i] / k)
            case .vargrad: return Float(sq[i] / k - (sum[i] / k) * (sum[i] / k))
            }
        }
        return Attribution(try Tensor(out, shape: x.shape))
    }

    /// SmoothGrad and its variants over Saliency.
    public static let spec = ExplainerSpec(
        name: "smoothgrad",
        signature: "doll.smoothgrad(model, {samples=20, sigma=0.1, seed=0, kind=\"smoothgrad\", batch=10}) → Explainer",
        summary:
            "Saliency aggregated over samples noisy copies x + N(0, sigma²): kind smoothgrad (mean), smoothgrad_sq (mean of squares) or vargrad (variance); batch is copies per pass.",
        options: ["samples", "sigma", "seed", "kind", "batch"]
    ) { model, o in
        let kind = Kind(rawValue: try o.choice("kind", ["smoothgrad", "smoothgrad_sq", "vargrad"]) ?? "smoothgrad")!
        return try NoiseTunnel(
            Saliency(model: model), kind: kind, samples: try o.integer("samples", in: 1...10_000) ?? 20,
            sigma: Float(try o.number("sigma") ?? 0.1), seed: try seedOption(o),
            batch: try o.integer("batch", in: 1...4096) ?? 10)
    }
}
