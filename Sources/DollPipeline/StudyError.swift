import DollTensor

/// An error of the DoLL study: a setting, preset or stage problem.
public struct StudyError: DollError, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
