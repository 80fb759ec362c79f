import Testing
@testable import DollNN
@testable import DollTensor

/// The fused paths change no number beyond float rounding: batch norm folded into the
/// convolution (evaluation with frozen parameters), fused batch norm + ReLU, and the reference
/// kernels all give the same logits and input gradients.
@Suite("Folded and fused layers against the unfused model", .serialized)
struct FusionTests {
    /// A ResNet with non-trivial batch-norm statistics (one training-mode pass moves them).
    func model() throws -> ResNetClassifier {
        let m = try ResNetClassifier(.init(widths: [8, 16], blocks: [1, 1], classes: ["a", "b", "c"], seed: 3))
        var rng = RandomGenerator(seed: 4)
        _ = try m(Tensor.randn([4, 1, 32, 32], rng: &rng))  // training mode: running stats updated
        m.eval()
        return m
    }

    func logitsAndGradient(_ m: ResNetClassifier, _ x: Tensor) throws -> (Tensor, Tensor) {
        let xi = x.requiringGrad()
        let y = try m(xi)
        try y.sum().backward()
        return (y.detached(), xi.grad!)
    }

    @Test func foldedEqualsUnfolded() throws {
        let m = try model()
        var rng = RandomGenerator(seed: 5)
        let x = try Tensor.randn([3, 1, 32, 32], rng: &rng)
        let (y0, g0) = try logitsAndGradient(m, x)  // parameters tracked: not folded
        let (y1, g1) = try m.withFrozenParameters { try logitsAndGradient(m, x) }  // folded conv + BN (+ ReLU)
        let (y2, g2) = try KernelBackend.with(.reference) { try m.withFrozenParameters { try logitsAndGradient(m, x) } }
        for (name, a, b) in [
            ("folded logits", y1, y0), ("folded input grad", g1, g0), ("reference logits", y2, y0),
            ("reference input grad", g2, g0),
        ] {
            let scale = max(b.scalars.map { abs($0) }.max() ?? 0, 1e-6)
            let diff = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(diff / scale < 1e-4, "\(name): relative error \(diff / scale)")
        }
    }

    @Test func scaledAlongFirstAxis() throws {
        let w = try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(try w.scaledAlongFirstAxis([2, -1]).scalars == [2, 4, 6, -4, -5, -6])
        #expect(throws: TensorError.self) { try w.scaledAlongFirstAxis([1]) }
    }

    /// The buffer pool reuses a freed buffer of the same size class, and hands everything back on
    /// release.
    @Test func bufferPoolReusesAndReleases() {
        let pool = BufferPool()
        let (p, c) = pool.allocate(1 << 20)
        pool.release(p, capacity: c)
        #expect(pool.statistics.cached == c * 4)
        let (q, c2) = pool.allocate((1 << 20) - 5)
        #expect(q == p && c2 == c)
        pool.release(q, capacity: c2)
        pool.trim()
        #expect(pool.statistics.cached == 0 && pool.statistics.live == 0)
    }
}
