import DollNN
import DollTensor
import Foundation

/// A method that attributes a class output to input pixels: `[N, C, H, W]` (or `[C, H, W]`) →
/// attributions of the same shape as the (batched) input.
public protocol Attributor: AnyObject {
    var model: ResNetClassifier { get }
    func attributions(_ input: Tensor, target: AttributionTarget) throws -> Tensor
}

extension IntegratedGradients: Attributor {
    public func attributions(_ input: Tensor, target: AttributionTarget) throws -> Tensor { try attribute(input, target: target).attributions }
}

/// Saliency (Simonyan et al.): |∂F/∂x| (or the signed gradient with `absolute = false`).
public final class Saliency: Attributor {
    public let model: ResNetClassifier
    public var absolute: Bool, output: AttributionOutput
    public init(model: ResNetClassifier, absolute: Bool = true, output: AttributionOutput = .logit) {
        self.model = model; self.absolute = absolute; self.output = output
    }
    public func attributions(_ input: Tensor, target: AttributionTarget) throws -> Tensor {
        let x = try batchInput(input, model: model), t = try target.resolve(in: model)
        return try explaining(model) {
            let (g, _) = try inputGradient(model, x, target: t, output: output)
            return absolute ? Autograd.noGrad { g.abs() } : g
        }
    }
}

/// Input × Gradient.
public final class InputXGradient: Attributor {
    public let model: ResNetClassifier
    public var output: AttributionOutput
    public init(model: ResNetClassifier, output: AttributionOutput = .logit) { self.model = model; self.output = output }
    public func attributions(_ input: Tensor, target: AttributionTarget) throws -> Tensor {
        let x = try batchInput(input, model: model), t = try target.resolve(in: model)
        return try explaining(model) {
            let (g, _) = try inputGradient(model, x, target: t, output: output)
            return try Autograd.noGrad { try x * g }
        }
    }
}

/// NoiseTunnel (Captum): runs a method on noisy copies `x + N(0, σ²)` and aggregates:
/// SmoothGrad (mean), SmoothGrad² (mean of squares) or VarGrad (variance).
public final class NoiseTunnel: Attributor {
    public enum Kind: String, Codable, Sendable { case smoothgrad, smoothgradSq = "smoothgrad_sq", vargrad }
    public let base: Attributor
    public var kind: Kind, samples: Int, sigma: Float, seed: UInt64, batch: Int
    public var model: ResNetClassifier { base.model }

    public init(_ base: Attributor, kind: Kind = .smoothgrad, samples: Int = 20, sigma: Float = 0.1, seed: UInt64 = 0, batch: Int = 10) throws {
        guard samples >= 1, sigma >= 0, batch >= 1 else { throw TensorError("NoiseTunnel: samples ≥ 1, sigma ≥ 0, batch ≥ 1") }
        self.base = base; self.kind = kind; self.samples = samples; self.sigma = sigma; self.seed = seed; self.batch = batch
    }

    public func attributions(_ input: Tensor, target: AttributionTarget) throws -> Tensor {
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
            let a = try base.attributions(try Tensor(buf, shape: [m * n] + Array(x.shape.dropFirst())), target: target).scalars
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
        return try Tensor(out, shape: x.shape)
    }
}

/// Grad-CAM (Selvaraju et al.) at a ResNet stage: ReLU(Σ_c α_c A_c) with α_c the spatial mean of
/// ∂F/∂A_c, upsampled bilinearly to the input size. Output `[N, 1, H, W]`.
public final class GradCAM: Attributor {
    public let model: ResNetClassifier
    public let layer: String
    public var output: AttributionOutput

    public init(model: ResNetClassifier, layer: String = "layer4", output: AttributionOutput = .logit) throws {
        guard model.stageNames.contains(layer) else {
            throw TensorError("unknown Grad-CAM layer '\(layer)'; choose one of \(model.stageNames.joined(separator: ", "))")
        }
        self.model = model; self.layer = layer; self.output = output
    }

    public func attributions(_ input: Tensor, target: AttributionTarget) throws -> Tensor {
        let x = try batchInput(input, model: model), t = try target.resolve(in: model)
        let stage = model.stageNames.firstIndex(of: layer)!
        return try explaining(model) {
            let feats = try Autograd.noGrad { try model.features(x) }
            let a = feats[stage].requiringGrad()
            let out = try selectOutput(model.logits(fromStage: stage, a), target: t, output: output)
            try out.sum().backward()
            guard let g = a.grad else { throw TensorError("Grad-CAM: no gradient at \(layer)") }
            return try Autograd.noGrad {
                let alpha = try g.mean(axes: [2, 3], keepDims: true)                // [N, C, 1, 1]
                let cam = try (a.detached() * alpha).sum(axis: 1, keepDims: true).relu()   // [N, 1, h, w]
                return try cam.upsampleBilinear(size: Pair(x.shape[2], x.shape[3]))
            }
        }
    }
}

/// Occlusion (Zeiler & Fergus): slides a `window` with `stride` over the image, replacing it with
/// `baseline`; each pixel gets the mean output drop F(x) − F(occluded) over the windows covering it.
public final class Occlusion: Attributor {
    public let model: ResNetClassifier
    public var window: Int, stride: Int, baseline: Float, batch: Int, output: AttributionOutput

    public init(model: ResNetClassifier, window: Int = 16, stride: Int = 8, baseline: Float = 0, batch: Int = 16,
                output: AttributionOutput = .logit) throws {
        guard window >= 1, stride >= 1, batch >= 1 else { throw TensorError("Occlusion: window, stride and batch must be ≥ 1") }
        self.model = model; self.window = window; self.stride = stride; self.baseline = baseline; self.batch = batch; self.output = output
    }

    public func attributions(_ input: Tensor, target: AttributionTarget) throws -> Tensor {
        let x = try batchInput(input, model: model), t = try target.resolve(in: model)
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard window <= h, window <= w else { throw TensorError("Occlusion window \(window) is larger than the image \(h)x\(w)") }
        let ys = Array(Swift.stride(from: 0, through: h - window, by: stride)), xs = Array(Swift.stride(from: 0, through: w - window, by: stride))
        let windows = ys.flatMap { y in xs.map { (y, $0) } }
        let per = c * h * w
        let src = x.scalars
        var attr = [Double](repeating: 0, count: x.count), cover = [Double](repeating: 0, count: n * h * w)
        try explaining(model) {
            let base = try Autograd.noGrad { try selectOutput(model(x), target: t, output: output).scalars }
            for e in 0..<n {
                for start in Swift.stride(from: 0, to: windows.count, by: batch) {
                    let chunk = windows[start..<Swift.min(start + batch, windows.count)]
                    var buf = [Float](repeating: 0, count: chunk.count * per)
                    for (j, (y0, x0)) in chunk.enumerated() {
                        for i in 0..<per { buf[j * per + i] = src[e * per + i] }
                        for ch in 0..<c { for y in y0..<(y0 + window) { for xx in x0..<(x0 + window) { buf[j * per + ch * h * w + y * w + xx] = baseline } } }
                    }
                    let outs = try Autograd.noGrad { try selectOutput(model(Tensor(buf, shape: [chunk.count, c, h, w])), target: t, output: output).scalars }
                    for (j, (y0, x0)) in chunk.enumerated() {
                        let drop = Double(base[e] - outs[j])
                        for y in y0..<(y0 + window) { for xx in x0..<(x0 + window) {
                            cover[e * h * w + y * w + xx] += 1
                            for ch in 0..<c { attr[e * per + ch * h * w + y * w + xx] += drop }
                        } }
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: x.count)
        for e in 0..<n { for ch in 0..<c { for p in 0..<(h * w) {
            let k = cover[e * h * w + p]
            out[e * per + ch * h * w + p] = k > 0 ? Float(attr[e * per + ch * h * w + p] / k) : 0
        } } }
        return try Tensor(out, shape: x.shape)
    }
}
