import DollNN
import DollTensor
import Foundation

/// Saliency (Simonyan et al.): |∂F/∂x| (or the signed gradient with `absolute = false`).
public final class Saliency: Attributor {
    public let model: ExplainedModel
    public var absolute: Bool
    public var output: AttributionOutput

    public init(model: ExplainedModel, absolute: Bool = true, output: AttributionOutput = .logit) {
        self.model = model
        self.absolute = absolute
        self.output = output
    }

    public func attribute(_ input: Tensor, target: AttributionTarget) throws -> Attribution {
        let g = try scoreGradient(model, input, target: target, output: output).gradient
        return Attribution(absolute ? Autograd.noGrad { g.abs() } : g)
    }

    public static let spec = ExplainerSpec(
        name: "saliency", signature: "doll.saliency(model, {absolute=true, output=\"logit\"}) → Explainer",
        summary:
            "Saliency: the gradient of the target's score (a class logit, or a U-Net structure's summed logits) with respect to each pixel; absolute by default.",
        options: ["absolute", "output"]
    ) { model, o in
        Saliency(model: model, absolute: try o.bool("absolute") ?? true, output: try outputOption(o))
    }
}
