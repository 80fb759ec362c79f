import DollTensor

/// An error of an explainer or of DoLL labelling: a target, option or setting problem.
public struct ExplainError: DollError, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
