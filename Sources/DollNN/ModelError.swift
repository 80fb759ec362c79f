import DollTensor

/// An error of a layer, model, loss, optimizer or the trainer: a configuration, state-dict or
/// training problem (tensor shape problems inside stay `TensorError`).
public struct ModelError: DollError, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
