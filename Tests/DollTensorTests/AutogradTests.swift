import Foundation
import DollTestSupport
import Testing
@testable import DollTensor

@Suite("Autodiff mechanics and tensor basics")
struct AutogradTests {
    @Test func gradientsAccumulateUntilZeroed() throws {
        let x = try Tensor([1, 2, 3], shape: [3]).requiringGrad()
        try (x * x).sum().backward()
        #expect(x.grad!.scalars == [2, 4, 6])
        try x.scaled(3).sum().backward()
        #expect(x.grad!.scalars == [5, 7, 9])
        x.zeroGrad()
        #expect(x.grad == nil)
    }

    @Test func sharedSubexpressionGetsSummedGradient() throws {
        let x = try Tensor([0.5, -1], shape: [2]).requiringGrad()
        let y = x.exp()
        try (y * y + y).sum().backward()  // d/dx (e^2x + e^x) = 2e^2x + e^x
        for (g, v) in zip(x.grad!.scalars, [0.5, -1] as [Float]) { #expect(abs(g - (2 * exp(2 * v) + exp(v))) < 1e-5) }
    }

    @Test func noGradRecordsNothing() throws {
        let x = try Tensor([1, 2], shape: [2]).requiringGrad()
        let y = Autograd.noGrad { x.scaled(2) }
        #expect(!y.requiresGrad)
        #expect(throws: TensorError.self) { try y.sum().backward() }
        #expect(Autograd.isEnabled)
    }

    @Test func backwardNeedsScalarAndRunsOnce() throws {
        let x = try Tensor([1, 2], shape: [2]).requiringGrad()
        let y = x.scaled(2)
        #expect(throws: TensorError.self) { try y.backward() }
        let s = y.sum()
        try s.backward()
        #expect(throws: TensorError.self) { try s.backward() }
    }

    @Test func inputGradientOfAChainWithDetach() throws {
        let x = try Tensor([3], shape: [1]).requiringGrad()
        let y = try x * x.detached()  // gradient only through the first factor
        try y.sum().backward()
        #expect(x.grad!.scalars == [3])
    }

    @Test func shapeErrorsAreDescriptive() throws {
        let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([4])
        #expect(throws: TensorError("shapes [2, 3] and [4] cannot be broadcast together")) { try a + b }
        #expect(throws: TensorError.self) { try a.matmul(a) }
        #expect(throws: TensorError.self) { try a.reshaped([5]) }
        #expect(throws: TensorError.self) { try Tensor.zeros([-1, 2]) }
        #expect(throws: TensorError.self) { try Tensor.zeros([1 << 20, 1 << 20]) }
        #expect(throws: TensorError.self) { try a.sum(axis: 2) }
        #expect(throws: TensorError.self) { try a.conv2d(weight: a) }
        #expect(throws: TensorError.self) {
            try Tensor.zeros([1, 1, 2, 2]).conv2d(weight: Tensor.zeros([1, 1, 3, 3]))
        }
        #expect(throws: TensorError.self) { try a.slice(axis: 1, start: 2, end: 1) }
        #expect(throws: TensorError.self) { try Tensor([1, 2], shape: [3]) }
        #expect(throws: TensorError.self) { try a.value(at: [2, 0]) }
    }

    @Test func copyOnWriteKeepsValueSemantics() throws {
        let a = try Tensor([1, 2, 3], shape: [3])
        var b = a
        try b.setValue(9, at: [0])
        #expect(a.scalars == [1, 2, 3] && b.scalars == [9, 2, 3])
        let r = try a.reshaped([3, 1])
        #expect(r.scalars == a.scalars)
    }

    @Test func tensorsPrintLikeNumpyAndTorch() throws {
        let t = try Tensor([1, 20, 3, 4], shape: [2, 2])
        #expect(t.description == "  1  20\n  3   4\n[Tensor 2×2]")
        #expect(Tensor([1, 2.5, 3]).description == "[1, 2.5, 3]\n[Tensor 3]")
        #expect(Tensor(scalar: 1.5).description == "1.5\n[Tensor scalar]")
        let big = try Tensor.zeros([3, 2, 64, 64])
        let lines = big.description.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count < 80, "\(lines.count) lines")
        #expect(
            big.description.contains("(1, 1, ·, ·)") && big.description.contains("(3, 2, ·, ·)")
                && big.description.contains("2 more slices"))
        #expect(big.description.hasSuffix("[Tensor 3×2×64×64] min 0, max 0, mean 0"))
        #expect(try Tensor([0, 0.5, 0.98, 1], shape: [1, 2, 2]).summary == "Tensor 1×2×2 [0, 1]")
    }

    @Test func randomIsSeededAndSane() throws {
        var r1 = RandomGenerator(seed: 42), r2 = RandomGenerator(seed: 42), r3 = RandomGenerator(seed: 43)
        let a = try Tensor.randn([1000], rng: &r1), b = try Tensor.randn([1000], rng: &r2),
            c = try Tensor.randn([1000], rng: &r3)
        #expect(a.scalars == b.scalars)
        #expect(a.scalars != c.scalars)
        var big = RandomGenerator(seed: 1)
        let x = try Tensor.randn([100_000], rng: &big)
        let m = try x.mean().item(), v = try x.square().mean().item() - m * m
        #expect(abs(m) < 0.02 && abs(v - 1) < 0.02)
        let k = try Tensor.kaimingNormal([64, 32, 3, 3], rng: &big)
        let kv = try k.square().mean().item()
        #expect(abs(kv - 2.0 / 288) / (2.0 / 288) < 0.1)
        var p = RandomGenerator(seed: 5)
        #expect(p.permutation(10).sorted() == Array(0..<10))
    }

    @Test func batchNormUpdatesRunningStats() throws {
        let x = try Tensor([1, 2, 3, 4, 5, 6, 7, 8], shape: [4, 2])
        var rm = try Tensor.zeros([2]), rv = try Tensor.ones([2])
        _ = try x.batchNorm(weight: nil, bias: nil, runningMean: &rm, runningVar: &rv, training: true)
        // channel 0: 1,3,5,7 → mean 4, unbiased var 20/3
        #expect(abs(rm.scalars[0] - 0.4) < 1e-6)
        #expect(abs(rv.scalars[0] - (0.9 + 0.1 * 20 / 3)) < 1e-5)
    }
}

@Suite("Grad mode is per thread")
struct GradModeThreadTests {
    @Test func noGradOnOneThreadDoesNotAffectAnother() async throws {
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let t = Thread {
            Autograd.noGrad {
                entered.signal(); release.wait()
            }
        }
        t.start()
        entered.wait()
        let x = try Tensor([1, 2], shape: [2]).requiringGrad()
        #expect(Autograd.isEnabled)
        #expect(x.scaled(2).requiresGrad)
        release.signal()
    }
}
