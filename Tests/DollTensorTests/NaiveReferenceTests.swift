import DollTestSupport
import Testing
@testable import DollTensor

/// Direct 7-loop convolution: returns output, and the input/weight gradients for a given
/// upstream gradient, all accumulated in Double.
func naiveConv(
    _ x: Tensor, _ w: Tensor, _ g: Tensor?, stride s: Int, pad p: Int, dil d: Int, groups: Int
)
    -> (out: [Double], gx: [Double], gw: [Double], oh: Int, ow: Int)
{
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    let oh = (h + 2 * p - d * (kh - 1) - 1) / s + 1, ow = (wd + 2 * p - d * (kw - 1) - 1) / s + 1
    let xs = x.scalars, ws = w.scalars, gs = g?.scalars
    var out = [Double](repeating: 0, count: n * cout * oh * ow)
    var gx = [Double](repeating: 0, count: xs.count), gw = [Double](repeating: 0, count: ws.count)
    let coutg = cout / groups
    for b in 0..<n {
        for co in 0..<cout {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let o = ((b * cout + co) * oh + oy) * ow + ox
                    let grp = co / coutg
                    for ci in 0..<cg {
                        for i in 0..<kh {
                            for j in 0..<kw {
                                let iy = oy * s - p + i * d, ix = ox * s - p + j * d
                                if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                                let xi = ((b * c + grp * cg + ci) * h + iy) * wd + ix
                                let wi = ((co * cg + ci) * kh + i) * kw + j
                                out[o] += Double(xs[xi]) * Double(ws[wi])
                                if let gs {
                                    gx[xi] += Double(gs[o]) * Double(ws[wi]); gw[wi] += Double(gs[o]) * Double(xs[xi])
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return (out, gx, gw, oh, ow)
}

func maxDiff(_ a: [Float], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
}

@Suite("Fast kernels against naive loops", .serialized)
struct NaiveReferenceTests {
    @Test func convForwardBackwardOnRandomShapes() throws {
        var rng = RandomGenerator(seed: 2024)
        for trial in 0..<12 {
            let groups = [1, 1, 2][rng.nextInt(below: 3)]
            let c = groups * (1 + rng.nextInt(below: 3)), cout = groups * (1 + rng.nextInt(below: 3))
            let k = [1, 2, 3, 5][rng.nextInt(below: 4)], s = 1 + rng.nextInt(below: 2), d = 1 + rng.nextInt(below: 2)
            let p = rng.nextInt(below: 3)
            let n = 1 + rng.nextInt(below: 3)
            let h = d * (k - 1) + 1 + rng.nextInt(below: 8), w = d * (k - 1) + 1 + rng.nextInt(below: 8)
            let x = randomTensor([n, c, h, w], seed: UInt64(trial * 3 + 1)).requiringGrad()
            let wt = randomTensor([cout, c / groups, k, k], seed: UInt64(trial * 3 + 2)).requiringGrad()
            let y = try x.conv2d(
                weight: wt, stride: Pair(s, s), padding: Pair(p, p), dilation: Pair(d, d), groups: groups)
            let g = randomTensor(y.shape, seed: UInt64(trial * 3 + 3))
            try y.backward(gradient: g)
            let ref = naiveConv(x, wt, g, stride: s, pad: p, dil: d, groups: groups)
            let label = "trial \(trial): n\(n) c\(c) \(h)x\(w) cout\(cout) k\(k) s\(s) p\(p) d\(d) g\(groups)"
            #expect(y.shape == [n, cout, ref.oh, ref.ow], "\(label)")
            #expect(maxDiff(y.scalars, ref.out) < 1e-4, "\(label) forward")
            #expect(maxDiff(x.grad!.scalars, ref.gx) < 1e-4, "\(label) input grad")
            #expect(maxDiff(wt.grad!.scalars, ref.gw) < 1e-4, "\(label) weight grad")
        }
    }

    @Test func batchedChunksMatchSingleImages() throws {
        // Small spatial sizes batch several images into one GEMM; results must equal per-image convs.
        let x = randomTensor([5, 8, 6, 6], seed: 1), w = randomTensor([16, 8, 3, 3], seed: 2)
        let y = try x.conv2d(weight: w, padding: 1)
        for b in 0..<5 {
            let yb = try x.slice(axis: 0, start: b, end: b + 1).conv2d(weight: w, padding: 1)
            #expect(maxAbsDiff(yb, try y.slice(axis: 0, start: b, end: b + 1)) < 1e-5)
        }
    }

    @Test func convTransposeMatchesScatterLoop() throws {
        for (k, s, p, op) in [(2, 2, 0, 0), (3, 2, 1, 1), (3, 1, 1, 0), (4, 2, 1, 0)] {
            let x = randomTensor([2, 3, 4, 5], seed: 5), w = randomTensor([3, 2, k, k], seed: 6)
            let y = try x.convTranspose2d(
                weight: w, stride: Pair(s, s), padding: Pair(p, p), outputPadding: Pair(op, op))
            let oh = (4 - 1) * s - 2 * p + k + op, ow = (5 - 1) * s - 2 * p + k + op
            #expect(y.shape == [2, 2, oh, ow])
            var ref = [Double](repeating: 0, count: 2 * 2 * oh * ow)
            let xs = x.scalars, ws = w.scalars
            for b in 0..<2 {
                for ci in 0..<3 {
                    for iy in 0..<4 {
                        for ix in 0..<5 {
                            for co in 0..<2 {
                                for i in 0..<k {
                                    for j in 0..<k {
                                        let oy = iy * s - p + i, ox = ix * s - p + j
                                        if oy < 0 || oy >= oh || ox < 0 || ox >= ow { continue }
                                        ref[((b * 2 + co) * oh + oy) * ow + ox] +=
                                            Double(xs[((b * 3 + ci) * 4 + iy) * 5 + ix])
                                            * Double(ws[((ci * 2 + co) * k + i) * k + j])
                                    }
                                }
                            }
                        }
                    }
                }
            }
            #expect(maxDiff(y.scalars, ref) < 1e-5, "k\(k) s\(s) p\(p) op\(op)")
        }
    }

    @Test func matmulMatchesTripleLoop() throws {
        let a = randomTensor([7, 5], seed: 8), b = randomTensor([5, 9], seed: 9)
        let c = try a.matmul(b)
        var ref = [Double](repeating: 0, count: 63)
        let x = a.scalars, y = b.scalars
        for i in 0..<7 {
            for j in 0..<9 { for k in 0..<5 { ref[i * 9 + j] += Double(x[i * 5 + k]) * Double(y[k * 9 + j]) } }
        }
        #expect(maxDiff(c.scalars, ref) < 1e-5)
    }

    @Test func splitGemmMatchesSerialGemm() throws {
        // Large enough to be split across workers, along rows (m ≥ n) and along columns (m < n).
        for (m, n, k) in [(300, 120, 160), (90, 400, 150)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    let a = randomTensor([m * k], seed: 1), b = randomTensor([k * n], seed: 2)
                    var c1 = [Float](repeating: 1, count: m * n), c2 = c1
                    let lda = transA ? m : k, ldb = transB ? k : n
                    BLAS.sgemm(
                        transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a.storage.pointer, lda: lda,
                        b: b.storage.pointer, ldb: ldb, beta: 2, c: &c1, ldc: n)
                    BLAS.sgemmSerial(
                        transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a.storage.pointer, lda: lda,
                        b: b.storage.pointer, ldb: ldb, beta: 2, c: &c2, ldc: n)
                    #expect(
                        zip(c1, c2).allSatisfy { abs($0 - $1) < 1e-4 }, "m\(m) n\(n) k\(k) tA \(transA) tB \(transB)")
                }
            }
        }
    }

    @Test func poolingMatchesDefinition() throws {
        let x = randomTensor([1, 1, 4, 4], seed: 11)
        let m = try x.maxPool2d(kernel: 2), a = try x.avgPool2d(kernel: 2)
        let v = x.scalars
        for oy in 0..<2 {
            for ox in 0..<2 {
                let win = [
                    v[(2 * oy) * 4 + 2 * ox], v[(2 * oy) * 4 + 2 * ox + 1], v[(2 * oy + 1) * 4 + 2 * ox],
                    v[(2 * oy + 1) * 4 + 2 * ox + 1],
                ]
                #expect(m.scalars[oy * 2 + ox] == win.max()!)
                #expect(abs(a.scalars[oy * 2 + ox] - win.reduce(0, +) / 4) < 1e-6)
            }
        }
    }

    @Test func bilinearMatchesPyTorchHalfPixelRule() throws {
        // 2x upsampling of [[0, 1], [2, 3]] with align_corners=False (values from PyTorch's definition).
        let x = try Tensor([0, 1, 2, 3], shape: [1, 1, 2, 2])
        let y = try x.upsampleBilinear(size: Pair(4, 4))
        let expected: [Float] = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]
        #expect(maxAbsDiff(y, try Tensor(expected, shape: [1, 1, 4, 4])) < 1e-6)
    }
}
