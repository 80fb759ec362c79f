import DollTestSupport
import Testing
@testable import DollTensor

/// Values bounded away from 0 (for ops with a kink at 0).
func awayFromZero(_ shape: [Int], seed: UInt64) -> Tensor {
    Kernels.map(randomTensor(shape, seed: seed)) { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }
}

/// Distinct, well-separated values (for max-type ops): a seeded permutation of a grid.
func distinct(_ shape: [Int], seed: UInt64) -> Tensor {
    let n = Tensor.product(shape)
    var rng = RandomGenerator(seed: seed)
    let p = rng.permutation(n)
    return try! Tensor(p.map { Float($0) * 0.05 - Float(n) * 0.025 }, shape: shape)
}

@Suite("Finite-difference gradient checks", .serialized)
struct GradientTests {
    @Test func broadcastingArithmetic() throws {
        let a = randomTensor([2, 3, 4], seed: 1), b = randomTensor([3, 1], seed: 2)
        let pos = randomTensor([1, 3, 4], seed: 3, low: 0.5, high: 2)
        try gradCheck([a, b]) { try $0[0] + $0[1] }
        try gradCheck([a, b]) { try $0[0] - $0[1] }
        try gradCheck([a, b]) { try $0[0] * $0[1] }
        try gradCheck([a, pos]) { try $0[0] / $0[1] }
        try gradCheck([pos, a]) { try $0[0] / $0[1].adding(3) }
        let s = randomTensor([], seed: 4)
        try gradCheck([a, s]) { try $0[0] * $0[1] }
        try gradCheck([distinct([2, 3], seed: 5), distinct([3], seed: 6)]) { try $0[0].maximum($0[1]) }
        try gradCheck([distinct([2, 3], seed: 5), distinct([3], seed: 6)]) { try $0[0].minimum($0[1]) }
    }

    @Test func scalarAndUnaryOps() throws {
        let x = randomTensor([3, 5], seed: 10)
        let pos = randomTensor([3, 5], seed: 11, low: 0.3, high: 2)
        try gradCheck([x]) { $0[0].adding(2).scaled(-1.5) }
        try gradCheck([x]) { -$0[0] }
        try gradCheck([x]) { $0[0].exp() }
        try gradCheck([pos]) { $0[0].log() }
        try gradCheck([pos]) { $0[0].sqrt() }
        try gradCheck([pos]) { $0[0].pow(1.7) }
        try gradCheck([x]) { $0[0].square() }
        try gradCheck([awayFromZero([3, 5], seed: 12)]) { $0[0].relu() }
        try gradCheck([awayFromZero([3, 5], seed: 13)]) { $0[0].abs() }
        try gradCheck([x.scaled(3)]) { $0[0].sigmoid() }
        try gradCheck([x.scaled(2)]) { $0[0].tanh() }
        try gradCheck([awayFromZero([3, 5], seed: 14).scaled(2)]) { $0[0].clamped(-1, 1) }
    }

    @Test func reductions() throws {
        let x = randomTensor([2, 3, 4], seed: 20)
        try gradCheck([x]) { $0[0].sum() }
        try gradCheck([x]) { $0[0].mean() }
        try gradCheck([x]) { try $0[0].sum(axis: 1) }
        try gradCheck([x]) { try $0[0].sum(axis: -1, keepDims: true) }
        try gradCheck([x]) { try $0[0].mean(axis: 0) }
        try gradCheck([x]) { try $0[0].mean(axes: [0, 2]) }
        try gradCheck([distinct([2, 3, 4], seed: 21)]) { try $0[0].max() }
        try gradCheck([distinct([2, 3, 4], seed: 22)]) { try $0[0].max(axis: 1).values }
        try gradCheck([x.scaled(2)]) { try $0[0].softmax(axis: 1) }
        try gradCheck([x.scaled(2)]) { try $0[0].logSoftmax(axis: -1) }
    }

    @Test func shapeOps() throws {
        let x = randomTensor([2, 3, 4], seed: 30)
        try gradCheck([x]) { try $0[0].reshaped([4, -1]).scaled(2) }
        try gradCheck([x]) { try $0[0].permuted([2, 0, 1]) }
        try gradCheck([x]) { try $0[0].transposed(0, 2) }
        try gradCheck([x]) { try $0[0].slice(axis: 2, start: 1, end: 4, step: 2) }
        try gradCheck([x]) { try $0[0].slice(axis: 1, start: -2) }
        let y = randomTensor([2, 5, 4], seed: 31)
        try gradCheck([x, y]) { try Tensor.concat([$0[0], $0[1], $0[0]], axis: 1) }
        try gradCheck([x]) { try $0[0].padded([(1, 2), (0, 3)], value: 0.5) }
        try gradCheck([x]) { try Tensor.stack([$0[0], $0[0].scaled(2)]) }
    }

    @Test func matmulAndLinear() throws {
        try gradCheck([randomTensor([3, 4], seed: 40), randomTensor([4, 5], seed: 41)]) { try $0[0].matmul($0[1]) }
        try gradCheck([randomTensor([2, 3, 4], seed: 42), randomTensor([2, 4, 2], seed: 43)]) {
            try $0[0].matmul($0[1])
        }
        try gradCheck([randomTensor([3, 6], seed: 44), randomTensor([4, 6], seed: 45), randomTensor([4], seed: 46)]) {
            try $0[0].linear(weight: $0[1], bias: $0[2])
        }
    }

    @Test(arguments: [
        // (N, C, H, W, Cout, k, stride, pad, dilation, groups, bias)
        (2, 3, 7, 6, 4, 3, 1, 1, 1, 1, true),
        (2, 3, 8, 8, 4, 3, 2, 1, 1, 1, false),
        (1, 4, 5, 5, 6, 1, 1, 0, 1, 1, true),
        (2, 4, 6, 6, 2, 1, 2, 0, 1, 1, false),
        (1, 2, 9, 9, 3, 3, 1, 2, 2, 1, true),
        (2, 4, 6, 6, 6, 3, 1, 1, 1, 2, true),
        (1, 2, 6, 7, 2, 2, 2, 0, 1, 1, false),
    ])
    func conv2d(_ c: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Bool)) throws {
        let (n, ch, h, w, cout, k, s, p, d, g, hasBias) = c
        let x = randomTensor([n, ch, h, w], seed: 50), wt = randomTensor([cout, ch / g, k, k], seed: 51)
        let b = randomTensor([cout], seed: 52)
        try gradCheck(hasBias ? [x, wt, b] : [x, wt]) {
            try $0[0].conv2d(
                weight: $0[1], bias: hasBias ? $0[2] : nil, stride: Pair(s, s), padding: Pair(p, p),
                dilation: Pair(d, d), groups: g)
        }
    }

    @Test func convTranspose2d() throws {
        // U-Net style k2 s2 with bias
        try gradCheck([
            randomTensor([2, 3, 4, 5], seed: 60), randomTensor([3, 2, 2, 2], seed: 61), randomTensor([2], seed: 62),
        ]) {
            try $0[0].convTranspose2d(weight: $0[1], bias: $0[2], stride: 2)
        }
        // general: k3 s2 p1 output padding 1
        try gradCheck([randomTensor([1, 2, 3, 4], seed: 63), randomTensor([2, 3, 3, 3], seed: 64)]) {
            try $0[0].convTranspose2d(weight: $0[1], stride: 2, padding: 1, outputPadding: 1)
        }
    }

    @Test func pooling() throws {
        try gradCheck([distinct([2, 2, 6, 6], seed: 70)]) { try $0[0].maxPool2d(kernel: 2) }
        try gradCheck([distinct([1, 2, 7, 7], seed: 71)]) { try $0[0].maxPool2d(kernel: 3, stride: 2, padding: 1) }
        try gradCheck([randomTensor([2, 2, 6, 6], seed: 72)]) { try $0[0].avgPool2d(kernel: 2) }
        try gradCheck([randomTensor([1, 2, 7, 7], seed: 73)]) { try $0[0].avgPool2d(kernel: 3, stride: 2, padding: 1) }
        try gradCheck([randomTensor([2, 3, 4, 5], seed: 74)]) { try $0[0].globalAvgPool2d() }
    }

    @Test func upsampling() throws {
        try gradCheck([randomTensor([1, 2, 3, 4], seed: 80)]) { try $0[0].upsampleNearest(scale: 2) }
        try gradCheck([randomTensor([1, 2, 3, 4], seed: 81)]) { try $0[0].upsampleBilinear(size: Pair(7, 9)) }
        try gradCheck([randomTensor([1, 1, 8, 8], seed: 82)]) { try $0[0].upsampleBilinear(size: Pair(3, 5)) }
    }

    @Test func batchNormTrainAndEval() throws {
        let x = randomTensor([3, 2, 4, 4], seed: 90, low: -2, high: 3)
        let gamma = randomTensor([2], seed: 91, low: 0.5, high: 1.5), beta = randomTensor([2], seed: 92)
        for training in [true, false] {
            try gradCheck([x, gamma, beta], atol: 2e-2) { t in
                var rm = Tensor(zerosShape: [2]), rv = Kernels.filled([2], 1.5)
                return try t[0].batchNorm(
                    weight: t[1], bias: t[2], runningMean: &rm, runningVar: &rv, training: training)
            }
        }
    }

    @Test func dropoutUsesItsMask() throws {
        let x = randomTensor([4, 5], seed: 110)
        try gradCheck([x]) { t in
            var rng = RandomGenerator(seed: 3)
            return try t[0].dropout(p: 0.3, training: true, rng: &rng)
        }
    }
}
