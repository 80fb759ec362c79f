import DollNN
import DollTensor
import Foundation

/// Occlusion (Zeiler & Fergus): slides a `window` with `stride` over the image, replacing it with
/// `baseline`; each pixel gets the mean output drop F(x) − F(occluded) over the windows covering it.
public final class Occlusion: Attributor {
    public let model: ExplainedModel
    public var window: Int
    public var stride: Int
    public var baseline: Float
    public var batch: Int
    public var output: AttributionOutput

    public init(
        model: ExplainedModel, window: Int = 16, stride: Int = 8, baseline: Float = 0, batch: Int = 16,
        output: AttributionOutput = .logit
    ) throws {
        guard window >= 1, stride >= 1, batch >= 1 else {
            throw ExplainError("Occlusion: window, stride and batch must be ≥ 1")
        }
        self.model = model
        self.window = window
        self.stride = stride
        self.baseline = baseline
        self.batch = batch
        self.output = output
    }

    public func attribute(_ input: Tensor, target: AttributionTarget) throws -> Attribution {
        let x = try batchInput(input, model: model), t = try target.resolve(in: model)
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard window <= h, window <= w else {
            throw ExplainError("Occlusion window \(window) is larger than the image \(h)x\(w)")
        }
        let ys = Array(Swift.stride(from: 0, through: h - window, by: stride)),
            xs = Array(Swift.stride(from: 0, through: w - window, by: stride))
        let windows = ys.flatMap { y in xs.map { (y, $0) } }
        let per = c * h * w
        let src = x.scalars
        var attr = [Double](repeating: 0, count: x.count), cover = [Double](repeating: 0, count: n * h * w)
        try explaining(model) {
            let scorer = try model.scorer(for: x, target: t, output: output)
            let base = try Autograd.noGrad { try scorer.score(x, Array(0..<n)).scalars }
            for e in 0..<n {
                for start in Swift.stride(from: 0, to: windows.count, by: batch) {
                    let chunk = windows[start..<Swift.min(start + batch, windows.count)]
                    var buf = [Float](repeating: 0, count: chunk.count * per)
                    for (j, (y0, x0)) in chunk.enumerated() {
                        for i in 0..<per { buf[j * per + i] = src[e * per + i] }
                        for ch in 0..<c {
                            for y in y0..<(y0 + window) {
                                for xx in x0..<(x0 + window) { buf[j * per + ch * h * w + y * w + xx] = baseline }
                            }
                        }
                    }
                    let occluded = try Tensor(buf, shape: [chunk.count, c, h, w])
                    let outs = try Autograd.noGrad {
                        try scorer.score(occluded, Array(repeating: e, count: chunk.count)).scalars
                    }
                    for (j, (y0, x0)) in chunk.enumerated() {
                        let drop = Double(base[e] - outs[j])
                        for y in y0..<(y0 + window) {
                            for xx in x0..<(x0 + window) {
                                cover[e * h * w + y * w + xx] += 1
                                for ch in 0..<c { attr[e * per + ch * h * w + y * w + xx] += drop }
                            }
                        }
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: x.count)
        for e in 0..<n {
            for ch in 0..<c {
                for p in 0..<(h * w) {
                    let k = cover[e * h * w + p]
                    out[e * per + ch * h * w + p] = k > 0 ? Float(attr[e * per + ch * h * w + p] / k) : 0
                }
            }
        }
        return Attribution(try Tensor(out, shape: x.shape))
    }

    public static let spec = ExplainerSpec(
        name: "occlusion",
        signature: "doll.occlusion(model, {window=16, stride=8, baseline=0, batch=16, output=\"logit\"}) → Explainer",
        summary:
            "Occlusion: each pixel gets the mean output drop when window × window squares (every stride px) covering it are set to baseline; batch is occluded images per pass.",
        options: ["window", "stride", "baseline", "batch", "output"]
    ) { model, o in
        try Occlusion(
            model: model, window: try o.integer("window", in: 1...4096) ?? 16,
            stride: try o.integer("stride", in: 1...4096) ?? 8,
            baseline: Float(try o.number("baseline") ?? 0), batch: try o.integer("batch", in: 1...4096) ?? 16,
            output: try outputOption(o))
    }
}
