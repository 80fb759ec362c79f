import DollNN
import DollTensor

/// Input × Gradient (Shrikumar et al. 2016; Captum's `InputXGradient`): `x ⊙ ∂F/∂x`, signed.
public final class InputXGradient: Attributor {
    public let model: ExplainedModel
    public var output: AttributionOutput

    public init(model: ExplainedModel, output: AttributionOutput = .logit) {
        self.model = model
        self.output = output
    }

    public func attribute(_ input: Tensor, target: AttributionTarget) throws -> Attribution {
        let (x, g) = try scoreGradient(model, input, target: target, output: output)
        return Attribution(try Autograd.noGrad { try x * g })
    }

    public static let spec = ExplainerSpec(
        name: "input_x_gradient", signature: "doll.input_x_gradient(model, {output=\"logit\"}) → Explainer",
        summary:
            "Input × Gradient: each pixel times the gradient of the target's score there (signed; IG with one step from a zero baseline).",
        options: ["output"]
    ) { model, o in
        InputXGradient(model: model, output: try outputOption(o))
    }
}
