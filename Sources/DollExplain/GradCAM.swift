import DollNN
import DollTensor
import Foundation

/// Grad-CAM (Selvaraju et al.) at a ResNet stage: ReLU(Σ_c α_c A_c) with α_c the spatial mean of
/// ∂F/∂A_c, upsampled bilinearly to the input size. Output `[N, 1, H, W]`.
public final class GradCAM: Attributor {
    public let classifier: ResNetClassifier
    public let layer: String
    public var output: AttributionOutput
    public var model: ExplainedModel { classifier }

    /// `layer` defaults to the last stage. Grad-CAM needs named stages: classifiers only.
    public init(model: ExplainedModel, layer: String? = nil, output: AttributionOutput = .logit) throws {
        guard let classifier = model as? ResNetClassifier else {
            throw ExplainError(
                "Grad-CAM needs a classifier's named stages; explain a U-Net with ig, saliency, smoothgrad or occlusion"
            )
        }
        let layer = layer ?? classifier.stageNames.last!
        guard classifier.stageNames.contains(layer) else {
            throw ExplainError(
                "unknown Grad-CAM layer '\(layer)'; choose one of \(classifier.stageNames.joined(separator: ", "))")
        }
        self.classifier = classifier
        self.layer = layer
        self.output = output
    }

    public func attribute(_ input: Tensor, target: AttributionTarget) throws -> Attribution {
        let model = classifier
        let x = try batchInput(input, model: model), t = try target.resolve(in: model)
        let stage = model.stageNames.firstIndex(of: layer)!
        return try explaining(model) {
            let feats = try Autograd.noGrad { try model.features(x) }
            let a = feats[stage].requiringGrad()
            let out = try selectOutput(model.logits(fromStage: stage, a), target: t, output: output)
            try out.sum().backward()
            guard let g = a.grad else { throw ExplainError("Grad-CAM: no gradient at \(layer)") }
            return try Autograd.noGrad {
                let alpha = try g.mean(axes: [2, 3], keepDims: true)  // [N, C, 1, 1]
                let cam = try (a.detached() * alpha).sum(axis: 1, keepDims: true).relu()  // [N, 1, h, w]
                return Attribution(try cam.upsampleBilinear(size: Pair(x.shape[2], x.shape[3])))
            }
        }
    }

    public static let spec = ExplainerSpec(
        name: "gradcam", signature: "doll.gradcam(classifier, {layer, output=\"logit\"}) → Explainer",
        summary:
            "Grad-CAM at a ResNet stage (stem, layer1, layer2, …, one per width; default: the last stage), upsampled to the image size; the map has one channel. Classifiers only.",
        options: ["layer", "output"]
    ) { model, o in
        try GradCAM(model: model, layer: try o.string("layer"), output: try outputOption(o))
    }
}
