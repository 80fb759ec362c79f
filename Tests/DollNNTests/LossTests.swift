import DollTestSupport
import Foundation
import Testing
@testable import DollNN
@testable import DollTensor

/// The losses against closed forms and finite differences.
@Suite("Losses")
struct LossTests {
    @Test func bceMatchesClosedForm() throws {
        let x = try Tensor([2, -1], shape: [1, 2]), y = try Tensor([1, 0], shape: [1, 2])
        let l = try Loss.bceWithLogits(x, y).item()
        let ref = (log(1 + exp(-2.0)) + log(1 + exp(-1.0))) / 2
        #expect(abs(Double(l) - ref) < 1e-6)
        let masked = try Loss.bceWithLogits(x, y, mask: Tensor([1, 0], shape: [1, 2])).item()
        #expect(abs(Double(masked) - log(1 + exp(-2.0))) < 1e-6)
    }

    @Test func lossGradientsMatchFiniteDifferences() throws {
        let logits = randomTensor([3, 4], seed: 100, low: -3, high: 3)
        let targets = randomTensor([3, 4], seed: 101, low: 0, high: 1)
        let weight = randomTensor([3, 4], seed: 102, low: 0.5, high: 2)
        let pw = randomTensor([4], seed: 103, low: 0.5, high: 3)
        let mask = try Tensor([1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0], shape: [3, 4])
        try gradCheck([logits, targets]) {
            try Loss.bceWithLogits($0[0], $0[1], weight: weight, posWeight: pw, mask: mask)
        }
        let segLogits = randomTensor([2, 3, 4, 4], seed: 104, low: -2, high: 2)
        let segT = try Tensor(
            randomTensor([2, 3, 4, 4], seed: 105).scalars.map { $0 > 0 ? 1 : 0 }, shape: [2, 3, 4, 4])
        try gradCheck([segLogits]) { try Loss.dice($0[0], segT) }
        try gradCheck([segLogits, randomTensor([2, 3, 4, 4], seed: 106)]) { try Loss.mse($0[0], $0[1]) }
    }
}
