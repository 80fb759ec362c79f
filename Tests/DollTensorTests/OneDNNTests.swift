import CDollKernels
import DollTestSupport
import Testing
@testable import DollTensor

/// Largest |a − b| relative to the largest |b| (1 when b is all zeros).
func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
    let scale = max(Double(b.scalars.map { abs($0) }.max() ?? 0), 1e-12)
    return Double(maxAbsDiff(a, b)) / scale
}

/// One convolution case: the module under test, run once per backend.
struct ConvCase: CustomStringConvertible {
    var transposed = false
    var n = 2, cin = 3, cout = 4, h = 9, w = 7, k = 3, s = 1, p = 0, d = 1, op = 0
    var bias = false
    var description: String {
        "\(transposed ? "convT" : "conv") n\(n) \(cin)→\(cout) \(h)x\(w) k\(k) s\(s) p\(p) d\(d) op\(op) bias \(bias)"
    }

    /// Output, input gradient, weight gradient and bias gradient for a fixed upstream gradient.
    func run(_ backend: KernelBackend, seed: UInt64) throws -> [Tensor] {
        try KernelBackend.with(backend) {
            let x = randomTensor([n, cin, h, w], seed: seed).requiringGrad()
            let wt = randomTensor(transposed ? [cin, cout, k, k] : [cout, cin, k, k], seed: seed + 1).requiringGrad()
            let b = bias ? randomTensor([cout], seed: seed + 2).requiringGrad() : nil
            let y =
                transposed
                ? try x.convTranspose2d(
                    weight: wt, bias: b, stride: Pair(s, s), padding: Pair(p, p), outputPadding: Pair(op, op),
                    dilation: Pair(d, d))
                : try x.conv2d(weight: wt, bias: b, stride: Pair(s, s), padding: Pair(p, p), dilation: Pair(d, d))
            try y.backward(gradient: randomTensor(y.shape, seed: seed + 3))
            return [y.detached(), x.grad!, wt.grad!] + (b.map { [$0.grad!] } ?? [])
        }
    }

    /// The oneDNN description `conv2d`/`convTranspose2d` build for this case.
    var geometry: doll_conv_geometry? {
        if transposed {
            let oh = (h - 1) * s - 2 * p + d * (k - 1) + op + 1, ow = (w - 1) * s - 2 * p + d * (k - 1) + op + 1
            let geo = ConvGeometry(
                c: cout, h: oh, w: ow, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, dh: d, dw: d, oh: h, ow: w)
            return geo.dnnl(batch: n, cin: cin, cout: cout, transposed: true, bias: bias)
        }
        let geo = ConvGeometry(c: cin, h: h, w: w, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, dh: d, dw: d)
        return geo.dnnl(batch: n, cin: cin, cout: cout, transposed: false, bias: bias)
    }
}

@Suite("oneDNN convolutions against the im2col reference", .serialized)
struct OneDNNTests {
    /// The layer kinds the models use, plus random geometries: oneDNN must accept each of the
    /// model kinds (no silent fallback) and agree with im2col to 1e-4 relative.
    @Test func everyKindMatchesTheReference() throws {
        var cases: [ConvCase] = [
            ConvCase(n: 4, cin: 16, cout: 32, h: 28, w: 28, k: 3, s: 1, p: 1),  // 3×3 same
            ConvCase(n: 3, cin: 16, cout: 32, h: 29, w: 27, k: 3, s: 2, p: 1),  // 3×3 stride 2
            ConvCase(n: 2, cin: 1, cout: 32, h: 64, w: 64, k: 3, s: 2, p: 1),  // stem, 1 channel
            ConvCase(n: 3, cin: 16, cout: 32, h: 14, w: 14, k: 1, s: 2, p: 0),  // 1×1 stride-2 shortcut
            ConvCase(n: 2, cin: 16, cout: 3, h: 32, w: 32, k: 1, s: 1, p: 0, bias: true),  // 1×1 head with bias
            ConvCase(n: 2, cin: 8, cout: 8, h: 17, w: 19, k: 3, s: 1, p: 2, d: 2, bias: true),
            ConvCase(transposed: true, n: 2, cin: 32, cout: 16, h: 8, w: 8, k: 2, s: 2, p: 0, bias: true),  // U-Net up
            ConvCase(transposed: true, n: 2, cin: 8, cout: 5, h: 7, w: 6, k: 3, s: 2, p: 1, op: 1),
            ConvCase(transposed: true, n: 1, cin: 4, cout: 6, h: 5, w: 5, k: 4, s: 2, p: 1, bias: true),
        ]
        let modelKinds = cases.count - 2
        var rng = RandomGenerator(seed: 13)
        for _ in 0..<10 {
            var c = ConvCase()
            c.transposed = rng.nextInt(below: 3) == 0
            c.n = 1 + rng.nextInt(below: 3); c.cin = 1 + rng.nextInt(below: 20); c.cout = 1 + rng.nextInt(below: 20)
            c.k = [1, 2, 3, 5][rng.nextInt(below: 4)]; c.s = 1 + rng.nextInt(below: 2); c.d = 1 + rng.nextInt(below: 2)
            c.p = rng.nextInt(below: c.k); c.bias = rng.nextInt(below: 2) == 0
            c.h = c.d * (c.k - 1) + 1 + rng.nextInt(below: 12); c.w = c.d * (c.k - 1) + 1 + rng.nextInt(below: 12)
            if c.transposed { c.op = c.s > 1 ? rng.nextInt(below: c.s) : 0 }
            cases.append(c)
        }
        for (i, c) in cases.enumerated() {
            if i < modelKinds, var g = c.geometry {
                #expect(doll_dnnl_supports(&g) == 1, "oneDNN refused \(c)")
            }
            let fast = try c.run(.oneDNN, seed: UInt64(100 + i)), ref = try c.run(.reference, seed: UInt64(100 + i))
            for (name, (a, b)) in zip(["output", "input grad", "weight grad", "bias grad"], zip(fast, ref)) {
                #expect(a.shape == b.shape, "\(c) \(name)")
                #expect(relativeError(a, b) < 1e-4, "\(c) \(name): relative error \(relativeError(a, b))")
            }
        }
    }

    /// Only the gradients asked for are computed; the others stay nil, and asking for the weight
    /// gradient alone still matches the reference.
    @Test func partialGradients() throws {
        for backend in KernelBackend.allCases {
            try KernelBackend.with(backend) {
                let x = randomTensor([2, 8, 12, 12], seed: 1)
                let w = randomTensor([8, 8, 3, 3], seed: 2).requiringGrad()
                let y = try x.conv2d(weight: w, padding: 1)
                try y.sum().backward()
                #expect(x.grad == nil)
                let ref = try KernelBackend.with(.reference) { () -> Tensor in
                    let w2 = randomTensor([8, 8, 3, 3], seed: 2).requiringGrad()
                    try x.conv2d(weight: w2, padding: 1).sum().backward()
                    return w2.grad!
                }
                #expect(relativeError(w.grad!, ref) < 1e-4, "\(backend)")
            }
        }
    }

    /// A geometry oneDNN cannot express (grouped convolution) runs on im2col with the same result.
    @Test func groupedConvolutionFallsBack() throws {
        let x = randomTensor([2, 4, 9, 9], seed: 3), w = randomTensor([6, 2, 3, 3], seed: 4)
        let a = try KernelBackend.with(.oneDNN) { try x.conv2d(weight: w, padding: 1, groups: 2) }
        let b = try KernelBackend.with(.reference) { try x.conv2d(weight: w, padding: 1, groups: 2) }
        #expect(relativeError(a, b) < 1e-6)
    }

    @Test func reportsItsKernel() {
        #expect(!OneDNN.version.isEmpty)
        #expect(
            ["avx512_core", "avx512_core_vnni", "avx512_core_bf16", "avx512_core_amx", "avx2", "avx2_vnni"].contains(
                OneDNN.isa),
            "unexpected ISA \(OneDNN.isa)")
        let impl = OneDNN.convImplementation  // a JIT kernel ("jit:…" or "brgconv:…"), not the reference loops
        #expect(impl.hasPrefix("jit") || impl.hasPrefix("brg"), "3×3 convolution runs \(impl)")
    }
}

@Suite("Fused batch norm + ReLU against the reference loops", .serialized)
struct FusedBatchNormTests {
    /// Training and evaluation, with and without the fused ReLU: outputs, running statistics and
    /// the gradients of input, γ and β agree with the plain loops (relative 1e-4). Planes of 42
    /// values exercise both the vector body and the scalar tail.
    @Test func matchesTheReference() throws {
        for training in [true, false] {
            for relu in [false, true] {
                let label = "training \(training) relu \(relu)"
                let x = randomTensor([3, 5, 7, 6], seed: 21, low: -2, high: 3)
                func run(_ backend: KernelBackend) throws -> [Tensor] {
                    try KernelBackend.with(backend) {
                        let xi = x.requiringGrad()
                        let w = randomTensor([5], seed: 22, low: 0.5, high: 1.5).requiringGrad()
                        let b = randomTensor([5], seed: 23).requiringGrad()
                        var rm = randomTensor([5], seed: 24), rv = randomTensor([5], seed: 25, low: 0.5, high: 2)
                        let y = try xi.batchNorm(
                            weight: w, bias: b, runningMean: &rm, runningVar: &rv, training: training, relu: relu)
                        try y.backward(gradient: randomTensor(y.shape, seed: 26))
                        return [y.detached(), rm, rv, xi.grad!, w.grad!, b.grad!]
                    }
                }
                let fast = try run(.oneDNN), ref = try run(.reference)
                for (name, (a, b)) in zip(
                    ["output", "running mean", "running var", "input grad", "γ grad", "β grad"], zip(fast, ref))
                {
                    #expect(relativeError(a, b) < 1e-4, "\(label) \(name): relative error \(relativeError(a, b))")
                }
            }
        }
    }

    /// Evaluation-mode gradients with frozen γ/β (the attribution case) take the input-only path.
    @Test func inputGradientOnly() throws {
        let x = randomTensor([2, 4, 5, 5], seed: 31)
        func run(_ backend: KernelBackend) throws -> Tensor {
            try KernelBackend.with(backend) {
                let xi = x.requiringGrad()
                var rm = randomTensor([4], seed: 32), rv = randomTensor([4], seed: 33, low: 0.5, high: 2)
                let y = try xi.batchNorm(
                    weight: randomTensor([4], seed: 34), bias: randomTensor([4], seed: 35), runningMean: &rm,
                    runningVar: &rv, training: false, relu: true)
                try y.sum().backward()
                return xi.grad!
            }
        }
        #expect(relativeError(try run(.oneDNN), try run(.reference)) < 1e-5)
    }
}
