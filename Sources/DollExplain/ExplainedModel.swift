import DollNN
import DollTensor

/// What an explainer explains, as in Captum's "forward function": a model seen as a
/// differentiable map from images `[N, C, H, W]` to one score per example for a chosen target.
/// A classifier (made here or loaded from a PyTorch state dict) is one; a U-Net's output channel
/// is another (`SegmenterOutput`).
public protocol ExplainedModel: AnyObject {
    /// The module put in eval mode, its parameters frozen, while it is explained.
    var module: Module { get }
    /// The names a target can be given by (classes, structures), in output order.
    var targetNames: [String] { get }
    /// What a target is called in messages: "class", "structure".
    var targetKind: String { get }
    /// Input channels C.
    var inputChannels: Int { get }
    /// A sentence naming what is wrong with inputs of this size, or nil.
    func sizeProblem(_ x: Tensor) -> String?
    /// The scores to explain for `inputs` `[N, C, H, W]`: a function of a batch derived from
    /// them (the inputs themselves, interpolants, noisy or occluded copies) and, per row, the
    /// example it derives from, giving output `target` per row `[B]` (differentiable).
    func scorer(for inputs: Tensor, target: Int, output: AttributionOutput) throws -> Scorer
}

/// Scores of a batch of rows, each derived from one explained example.
public struct Scorer {
    public let score: (_ batch: Tensor, _ examples: [Int]) throws -> Tensor
    public init(_ score: @escaping (Tensor, [Int]) throws -> Tensor) { self.score = score }
}

extension ResNetClassifier: ExplainedModel {
    public var module: Module { self }
    public var targetNames: [String] { classes }
    public var targetKind: String { "class" }
    public var inputChannels: Int { config.inChannels }
    public func sizeProblem(_ x: Tensor) -> String? { sizeMismatch(x) }

    /// The logit (or probability) of class `target`.
    public func scorer(for inputs: Tensor, target: Int, output: AttributionOutput) throws -> Scorer {
        Scorer { batch, _ in try selectOutput(self(batch), target: target, output: output) }
    }
}

/// One output channel of a U-Net as a score, after Captum's segmentation recipe: the channel's
/// logits (or probabilities) summed over the region the U-Net segments in the explained image
/// (pixels with probability > 0.5; the whole image when that region is empty). The region is
/// fixed per example, so path methods integrate one function and completeness holds.
public final class SegmenterOutput: ExplainedModel {
    public let unet: UNet
    public let structures: [String]

    /// `structures` name the output channels (default `channel1…channelK`).
    public init(_ unet: UNet, structures: [String] = []) throws {
        let k = unet.config.classes
        guard structures.isEmpty || structures.count == k else {
            throw ExplainError("the U-Net has \(k) output channels but \(structures.count) structure names were given")
        }
        self.unet = unet
        self.structures = structures.isEmpty ? (1...k).map { "channel\($0)" } : structures
    }

    public var module: Module { unet }
    public var targetNames: [String] { structures }
    public var targetKind: String { "structure" }
    public var inputChannels: Int { unet.config.inChannels }

    public func sizeProblem(_ x: Tensor) -> String? {
        let m = unet.sizeMultiple
        guard x.rank == 4, x.shape[2] % m != 0 || x.shape[3] % m != 0 else { return nil }
        return "this U-Net needs images whose height and width are multiples of \(m), got \(x.shape[2])×\(x.shape[3])"
    }

    public func scorer(for inputs: Tensor, target: Int, output: AttributionOutput) throws -> Scorer {
        let (n, h, w) = (inputs.shape[0], inputs.shape[2], inputs.shape[3])
        // Region per example, [N, 1, H, W] of 0/1, from the U-Net's own segmentation of the input.
        let p = try Autograd.noGrad { try selectOutput(unet(inputs.detached()), target: target, output: .probability) }
            .scalars
        var region = [Float](repeating: 0, count: n * h * w)
        for e in 0..<n {
            let part = (e * h * w)..<((e + 1) * h * w)
            let inside = part.filter { p[$0] > 0.5 }
            for i in (inside.isEmpty ? Array(part) : inside) { region[i] = 1 }
        }
        let regions = try Tensor(region, shape: [n, 1, h, w])
        return Scorer { [unet] batch, examples in
            let picked = try Tensor.concat(examples.map { try regions.slice(axis: 0, start: $0, end: $0 + 1) }, axis: 0)
            let out = try selectOutput(unet(batch), target: target, output: output)
            return try (out * picked).sum(axes: [1, 2, 3])
        }
    }
}
