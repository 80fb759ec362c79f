import Foundation

/// Geometry of a 2-D cross-correlation from an input plane stack `[c, h, w]` to output
/// positions `[oh, ow]`, with kernel, stride, zero padding and dilation per axis.
struct ConvGeometry {
    let c, h, w, kh, kw, sh, sw, ph, pw, dh, dw: Int
    let oh, ow: Int
    /// Rows of the im2col matrix (`c·kh·kw`).
    var k: Int { c * kh * kw }
    /// Output positions per image.
    var hw: Int { oh * ow }

    init(
        c: Int, h: Int, w: Int, kh: Int, kw: Int, sh: Int, sw: Int, ph: Int, pw: Int, dh: Int, dw: Int, oh: Int? = nil,
        ow: Int? = nil
    ) {
        self.c = c; self.h = h; self.w = w; self.kh = kh; self.kw = kw
        self.sh = sh; self.sw = sw; self.ph = ph; self.pw = pw; self.dh = dh; self.dw = dw
        self.oh = oh ?? ((h + 2 * ph - dh * (kh - 1) - 1) / sh + 1)
        self.ow = ow ?? ((w + 2 * pw - dw * (kw - 1) - 1) / sw + 1)
    }

    @inline(__always) private func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }

    /// Valid output columns `ox` for kernel column `j` (where the input column is inside the image).
    @inline(__always) func validX(_ j: Int) -> Range<Int> {
        let lo = Swift.max(0, ceilDiv(pw - j * dw, sw)), hi = Swift.min(ow, ceilDiv(w + pw - j * dw, sw))
        return lo..<Swift.max(lo, hi)
    }

    /// Unfolds one image `src [c,h,w]` into `col [k, hw]` whose rows have leading dimension `ld`.
    func im2col(_ src: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, ld: Int, parallel: Bool) {
        let kk = kh * kw
        Parallel.forEach(c * kk, costPerItem: parallel ? hw : 0) { row in
            let ci = row / kk, i = (row % kk) / kw, j = row % kw
            let dst = col + row * ld
            let plane = src + ci * h * w
            let vx = validX(j)
            for oy in 0..<oh {
                let iy = oy * sh - ph + i * dh
                let d = dst + oy * ow
                if iy < 0 || iy >= h { d.update(repeating: 0, count: ow); continue }
                if vx.lowerBound > 0 { d.update(repeating: 0, count: vx.lowerBound) }
                if vx.upperBound < ow { (d + vx.upperBound).update(repeating: 0, count: ow - vx.upperBound) }
                if vx.isEmpty { continue }
                let s = plane + iy * w - pw + j * dw
                if sw == 1 {
                    (d + vx.lowerBound).update(from: s + vx.lowerBound, count: vx.count)
                } else {
                    for ox in vx { d[ox] = s[ox * sw] }
                }
            }
        }
    }

    /// Folds `col [k, hw]` (leading dimension `ld`) back, adding into image `dst [c,h,w]`.
    func col2im(_ col: UnsafePointer<Float>, ld: Int, _ dst: UnsafeMutablePointer<Float>, parallel: Bool) {
        let kk = kh * kw
        Parallel.forEach(c, costPerItem: parallel ? kk * hw : 0) { ci in
            let plane = dst + ci * h * w
            for i in 0..<kh {
                for j in 0..<kw {
                    let src = col + (ci * kk + i * kw + j) * ld
                    let vx = validX(j)
                    if vx.isEmpty { continue }
                    for oy in 0..<oh {
                        let iy = oy * sh - ph + i * dh
                        if iy < 0 || iy >= h { continue }
                        let s = src + oy * ow
                        let d = plane + iy * w - pw + j * dw
                        if sw == 1 { for ox in vx { d[ox] += s[ox] } } else { for ox in vx { d[ox * sw] += s[ox] } }
                    }
                }
            }
        }
    }

    /// How many images to unfold at once so that a worker's column buffer stays near 4 M floats
    /// (small feature maps are batched into one wider GEMM; large ones go one at a time).
    func chunk(batch: Int, rows: Int) -> Int {
        Swift.max(1, Swift.min(batch, (4 << 20) / Swift.max(rows * hw, 1)))
    }
}

/// Copies channels `[c0, c0+cc)` of images `[n0, n0+nb)` of an NCHW buffer into a `[cc, nb·hw]` matrix.
private func gatherChannels(
    _ src: UnsafePointer<Float>, n0: Int, nb: Int, c0: Int, cc: Int, cTotal: Int, hw: Int,
    into dst: UnsafeMutablePointer<Float>
) {
    for b in 0..<nb {
        for c in 0..<cc {
            (dst + c * nb * hw + b * hw).update(from: src + ((n0 + b) * cTotal + c0 + c) * hw, count: hw)
        }
    }
}

/// Writes a `[cc, nb·hw]` matrix back into channels `[c0, c0+cc)` of images `[n0, n0+nb)`.
private func scatterChannels(
    _ src: UnsafePointer<Float>, n0: Int, nb: Int, c0: Int, cc: Int, cTotal: Int, hw: Int,
    into dst: UnsafeMutablePointer<Float>
) {
    for b in 0..<nb {
        for c in 0..<cc {
            (dst + ((n0 + b) * cTotal + c0 + c) * hw).update(from: src + c * nb * hw + b * hw, count: hw)
        }
    }
}

/// Sums an NCHW gradient over N, H, W into `[C]`.
private func channelSums(_ g: Tensor) -> Tensor {
    let n = g.shape[0], c = g.shape[1], hw = g.count / Swift.max(n * c, 1)
    let out = Tensor(zerosShape: [c])
    let pg = UnsafePointer(g.storage.pointer)
    for b in 0..<n {
        for ch in 0..<c {
            var s: Float = 0
            let p = pg + (b * c + ch) * hw
            for i in 0..<hw { s += p[i] }
            out.storage.pointer[ch] += s
        }
    }
    return out
}

/// A pair of per-axis integers (height, width).
public struct Pair: Equatable, Sendable, ExpressibleByIntegerLiteral {
    public var h: Int, w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public init(integerLiteral v: Int) { h = v; w = v }
}

extension Tensor {
    /// 2-D convolution (cross-correlation, PyTorch semantics).
    /// `self [N, C, H, W]`, `weight [Cout, C/groups, kh, kw]`, `bias [Cout]` → `[N, Cout, H', W']`
    /// with `H' = (H + 2·pad − dil·(kh−1) − 1)/stride + 1`.
    /// With `relu`, returns `max(0, conv2d(…))`, fused into the convolution where the backend can.
    public func conv2d(
        weight: Tensor, bias: Tensor? = nil, stride: Pair = 1, padding: Pair = 0,
        dilation: Pair = 1, groups: Int = 1, relu: Bool = false
    ) throws -> Tensor {
        guard rank == 4 else { throw TensorError("conv2d input must be [N, C, H, W], got \(shapeString(shape))") }
        guard weight.rank == 4 else {
            throw TensorError("conv2d weight must be [Cout, Cin/groups, kh, kw], got \(shapeString(weight.shape))")
        }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (cout, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        guard groups >= 1, c % groups == 0, cout % groups == 0, cg == c / groups else {
            throw TensorError(
                "conv2d: input has \(c) channels and groups=\(groups), weight \(shapeString(weight.shape)) expects \(cg * groups)"
            )
        }
        guard stride.h >= 1, stride.w >= 1, dilation.h >= 1, dilation.w >= 1, padding.h >= 0, padding.w >= 0, kh >= 1,
            kw >= 1
        else {
            throw TensorError("conv2d: stride and dilation must be ≥ 1, padding ≥ 0, kernel ≥ 1")
        }
        if let bias, bias.shape != [cout] {
            throw TensorError("conv2d bias must be [\(cout)], got \(shapeString(bias.shape))")
        }
        let geo = ConvGeometry(
            c: cg, h: h, w: w, kh: kh, kw: kw, sh: stride.h, sw: stride.w, ph: padding.h, pw: padding.w,
            dh: dilation.h, dw: dilation.w)
        guard geo.oh >= 1, geo.ow >= 1 else {
            throw TensorError(
                "conv2d: kernel \(kh)x\(kw) (dilation \(dilation.h)) does not fit input \(h)x\(w) with padding \(padding.h)"
            )
        }
        let outShape = [n, cout, geo.oh, geo.ow]
        _ = try Tensor.reservedCount(outShape)
        let x = self
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        let dnnl =
            groups == 1 && KernelBackend.current == .oneDNN
            ? geo.dnnl(batch: n, cin: c, cout: cout, transposed: false, bias: bias != nil) : nil
        // Gradients through oneDNN, or the im2col reference where oneDNN refused.
        let backward: (Tensor, [Bool]) -> [Tensor?] = { g, need in
            let needB = need.count == 3 && need[2]
            if let dnnl,
                let r = Kernels.dnnlBackward(
                    dnnl, x: x, weight: weight, grad: g, needX: need[0], needW: need[1], needB: needB)
            {
                return [r.gx, r.gw] + (need.count == 3 ? [needB ? (r.gb ?? channelSums(g)) : nil] : [])
            }
            let (gx, gw) = Kernels.conv2dBackward(x, weight, g, geo, groups: groups, needX: need[0], needW: need[1])
            return [gx, gw] + (need.count == 3 ? [needB ? channelSums(g) : nil] : [])
        }
        let training = Tensor.willRecord(inputs)
        if relu {
            // ReLU as a oneDNN post-op; its backward masks by the output, then the conv's own.
            if var fused = dnnl {
                fused.relu = 1
                let out = Tensor(uninitializedShape: outShape)
                if Kernels.dnnlForward(fused, training: training, x: x, weight: weight, bias: bias, out: out) {
                    let y = out.detached()
                    return Tensor.record(out, inputs) { g, need in backward(Kernels.reluBackward(g, output: y), need) }
                }
            }
            return try conv2d(
                weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups
            ).relu()
        }
        var out = Tensor(uninitializedShape: outShape)
        if dnnl.map({ Kernels.dnnlForward($0, training: training, x: x, weight: weight, bias: bias, out: out) }) != true
        {
            out = Kernels.conv2dForward(x, weight, bias, geo, groups: groups)
        }
        return Tensor.record(out, inputs, backward)
    }

    /// Transposed 2-D convolution (PyTorch `conv_transpose2d`, groups = 1).
    /// `self [N, Cin, H, W]`, `weight [Cin, Cout, kh, kw]`, `bias [Cout]` →
    /// `[N, Cout, (H−1)·s − 2p + d·(kh−1) + outputPadding + 1, …]`.
    public func convTranspose2d(
        weight: Tensor, bias: Tensor? = nil, stride: Pair = 1, padding: Pair = 0,
        outputPadding: Pair = 0, dilation: Pair = 1
    ) throws -> Tensor {
        guard rank == 4 else {
            throw TensorError("convTranspose2d input must be [N, C, H, W], got \(shapeString(shape))")
        }
        guard weight.rank == 4, weight.shape[0] == shape[1] else {
            throw TensorError(
                "convTranspose2d weight must be [Cin=\(shape[1]), Cout, kh, kw], got \(shapeString(weight.shape))")
        }
        guard stride.h >= 1, stride.w >= 1, dilation.h >= 1, dilation.w >= 1, padding.h >= 0, padding.w >= 0,
            outputPadding.h >= 0, outputPadding.w >= 0,
            outputPadding.h < Swift.max(stride.h, dilation.h), outputPadding.w < Swift.max(stride.w, dilation.w)
        else {
            throw TensorError(
                "convTranspose2d: stride/dilation ≥ 1, padding ≥ 0, 0 ≤ outputPadding < stride or dilation")
        }
        let (n, h, w) = (shape[0], shape[2], shape[3])
        let (cout, kh, kw) = (weight.shape[1], weight.shape[2], weight.shape[3])
        if let bias, bias.shape != [cout] {
            throw TensorError("convTranspose2d bias must be [\(cout)], got \(shapeString(bias.shape))")
        }
        let oh = (h - 1) * stride.h - 2 * padding.h + dilation.h * (kh - 1) + outputPadding.h + 1
        let ow = (w - 1) * stride.w - 2 * padding.w + dilation.w * (kw - 1) + outputPadding.w + 1
        guard oh >= 1, ow >= 1 else { throw TensorError("convTranspose2d: output size \(oh)x\(ow) is empty") }
        let outShape = [n, cout, oh, ow]
        _ = try Tensor.reservedCount(outShape)
        // The matching forward convolution maps the output [cout, oh, ow] to the input [cin, h, w].
        let geo = ConvGeometry(
            c: cout, h: oh, w: ow, kh: kh, kw: kw, sh: stride.h, sw: stride.w, ph: padding.h, pw: padding.w,
            dh: dilation.h, dw: dilation.w, oh: h, ow: w)
        let x = self
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        let dnnl =
            KernelBackend.current == .oneDNN
            ? geo.dnnl(batch: n, cin: shape[1], cout: cout, transposed: true, bias: bias != nil) : nil
        var out = Tensor(uninitializedShape: outShape)
        if dnnl.map({
            Kernels.dnnlForward($0, training: Tensor.willRecord(inputs), x: x, weight: weight, bias: bias, out: out)
        }) != true {
            out = Kernels.convTranspose2dForward(x, weight, geo, outShape: outShape)
            if let bias { Kernels.addChannelBias(out, bias) }
        }
        return Tensor.record(out, inputs) { g, need in
            let needB = need.count == 3 && need[2]
            if let dnnl,
                let r = Kernels.dnnlBackward(
                    dnnl, x: x, weight: weight, grad: g, needX: need[0], needW: need[1], needB: needB)
            {
                return [r.gx, r.gw] + (need.count == 3 ? [needB ? (r.gb ?? channelSums(g)) : nil] : [])
            }
            let (gx, gw) = Kernels.convTranspose2dBackward(x, weight, g, geo, needX: need[0], needW: need[1])
            return [gx, gw] + (need.count == 3 ? [needB ? channelSums(g) : nil] : [])
        }
    }
}

extension Kernels {
    /// Adds `bias[c]` to every element of channel c of an NCHW tensor (in place).
    static func addChannelBias(_ out: Tensor, _ bias: Tensor) {
        let n = out.shape[0], c = out.shape[1], hw = out.count / Swift.max(n * c, 1)
        let po = out.storage.pointer, pb = bias.storage.pointer
        for b in 0..<n { for ch in 0..<c { let p = po + (b * c + ch) * hw, v = pb[ch]; for i in 0..<hw { p[i] += v } } }
    }

    /// Runs `body(images, worker)` over slices of the batch, one slice per worker. With a single
    /// image, the one slice runs with `parallel = true` so the kernels split inside instead.
    @discardableResult
    static func overImages(_ n: Int, _ body: (_ images: Range<Int>, _ worker: Int, _ parallel: Bool) -> Void) -> Int {
        if n == 1 || Parallel.workers == 1 { body(0..<n, 0, Parallel.workers > 1); return 1 }
        return Parallel.forSlices(n) { r, w in body(r, w, false) }
    }

    @inline(__always)
    static func gemm(
        _ parallel: Bool, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if parallel {
            BLAS.sgemm(
                transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c,
                ldc: ldc)
        } else {
            BLAS.sgemmSerial(
                transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c,
                ldc: ldc)
        }
    }

    /// Sums per-worker partial weight gradients into the first.
    static func reducePartials(_ parts: [Tensor], used: Int) -> Tensor {
        let total = parts[0]
        for p in parts[1..<used] {
            let d = total.storage.pointer, s = p.storage.pointer
            for i in 0..<total.count { d[i] += s[i] }
        }
        return total
    }

    static func conv2dForward(
        _ x: Tensor, _ weight: Tensor, _ bias: Tensor?, _ geo: ConvGeometry, groups: Int
    ) -> Tensor {
        let n = x.shape[0], c = x.shape[1], cout = weight.shape[0]
        let coutg = cout / groups, k = geo.k, hw = geo.hw, inHW = geo.h * geo.w
        let out = Tensor(uninitializedShape: [n, cout, geo.oh, geo.ow])
        let direct = geo.kh == 1 && geo.kw == 1 && geo.sh == 1 && geo.sw == 1 && geo.ph == 0 && geo.pw == 0
        let px = x.storage.pointer, pw = weight.storage.pointer, po = out.storage.pointer
        overImages(n) { images, _, par in
            let nb = geo.chunk(batch: images.count, rows: Swift.max(k, coutg))
            let (col, colCap) = BufferPool.shared.allocate(k * nb * hw)
            let (tmp, tmpCap) = BufferPool.shared.allocate(coutg * nb * hw)
            defer { BufferPool.shared.release(col, capacity: colCap); BufferPool.shared.release(tmp, capacity: tmpCap) }
            for n0 in Swift.stride(from: images.lowerBound, to: images.upperBound, by: nb) {
                let m = Swift.min(nb, images.upperBound - n0)
                for gi in 0..<groups {
                    let wg = pw + gi * coutg * k
                    if m == 1 {
                        let src: UnsafePointer<Float>
                        if direct {
                            src = UnsafePointer(px + (n0 * c + gi * geo.c) * inHW)
                        } else {
                            geo.im2col(px + (n0 * c + gi * geo.c) * inHW, col, ld: hw, parallel: par);
                            src = UnsafePointer(col)
                        }
                        gemm(
                            par, transA: false, transB: false, m: coutg, n: hw, k: k, a: wg, lda: k, b: src, ldb: hw,
                            c: po + (n0 * cout + gi * coutg) * hw, ldc: hw)
                    } else {
                        for b in 0..<m {
                            geo.im2col(px + ((n0 + b) * c + gi * geo.c) * inHW, col + b * hw, ld: m * hw, parallel: par)
                        }
                        gemm(
                            par, transA: false, transB: false, m: coutg, n: m * hw, k: k, a: wg, lda: k, b: col,
                            ldb: m * hw,
                            c: tmp, ldc: m * hw)
                        scatterChannels(tmp, n0: n0, nb: m, c0: gi * coutg, cc: coutg, cTotal: cout, hw: hw, into: po)
                    }
                }
            }
        }
        if let bias { addChannelBias(out, bias) }
        return out
    }

    /// Gradients of a conv2d w.r.t. its input and weight (each only when asked for).
    static func conv2dBackward(
        _ x: Tensor, _ weight: Tensor, _ g: Tensor, _ geo: ConvGeometry, groups: Int,
        needX: Bool, needW: Bool
    ) -> (Tensor?, Tensor?) {
        let n = x.shape[0], c = x.shape[1], cout = weight.shape[0]
        let coutg = cout / groups, k = geo.k, hw = geo.hw, inHW = geo.h * geo.w
        // Stride-1 convolutions: the input gradient is a forward convolution of the output
        // gradient with the flipped, transposed kernel (no column buffer fold-back needed).
        var needX = needX
        var direct: Tensor? = nil
        if needX && groups == 1 && geo.sh == 1 && geo.sw == 1 && geo.dh == 1 && geo.dw == 1 && geo.ph < geo.kh
            && geo.pw < geo.kw
        {
            let flipped = Tensor(uninitializedShape: [c, cout, geo.kh, geo.kw])
            let pw = weight.storage.pointer, pf = flipped.storage.pointer, kk = geo.kh * geo.kw
            for co in 0..<cout {
                for ci in 0..<c {
                    for i in 0..<geo.kh {
                        for j in 0..<geo.kw {
                            pf[((ci * cout + co) * geo.kh + i) * geo.kw + j] =
                                pw[(co * c + ci) * kk + (geo.kh - 1 - i) * geo.kw + (geo.kw - 1 - j)]
                        }
                    }
                }
            }
            let back = ConvGeometry(
                c: cout, h: geo.oh, w: geo.ow, kh: geo.kh, kw: geo.kw, sh: 1, sw: 1,
                ph: geo.kh - 1 - geo.ph, pw: geo.kw - 1 - geo.pw, dh: 1, dw: 1, oh: geo.h, ow: geo.w)
            direct = conv2dForward(g, flipped, nil, back, groups: 1)
            needX = false
            if !needW { return (direct, nil) }
        }
        let gx: Tensor? = needX ? Tensor(zerosShape: x.shape) : nil
        let partials: [Tensor] =
            needW ? (0..<Swift.min(Parallel.workers, n)).map { _ in Tensor(zerosShape: weight.shape) } : []
        let px = x.storage.pointer, pw = weight.storage.pointer, pg = g.storage.pointer
        let used = overImages(n) { images, worker, par in
            let nb = geo.chunk(batch: images.count, rows: Swift.max(k, coutg))
            let (col, colCap) = BufferPool.shared.allocate(k * nb * hw)
            let (gbuf, gbufCap) = BufferPool.shared.allocate(coutg * nb * hw)
            defer {
                BufferPool.shared.release(col, capacity: colCap); BufferPool.shared.release(gbuf, capacity: gbufCap)
            }
            for n0 in Swift.stride(from: images.lowerBound, to: images.upperBound, by: nb) {
                let m = Swift.min(nb, images.upperBound - n0)
                for gi in 0..<groups {
                    let gm: UnsafePointer<Float>
                    if m == 1 {
                        gm = UnsafePointer(pg + (n0 * cout + gi * coutg) * hw)
                    } else {
                        gatherChannels(pg, n0: n0, nb: m, c0: gi * coutg, cc: coutg, cTotal: cout, hw: hw, into: gbuf)
                        gm = UnsafePointer(gbuf)
                    }
                    if needW {  // dW_g [coutg, k] += G [coutg × m·hw] · colᵀ
                        for b in 0..<m {
                            geo.im2col(px + ((n0 + b) * c + gi * geo.c) * inHW, col + b * hw, ld: m * hw, parallel: par)
                        }
                        gemm(
                            par, transA: false, transB: true, m: coutg, n: k, k: m * hw, a: gm, lda: m * hw, b: col,
                            ldb: m * hw,
                            beta: 1, c: partials[worker].storage.pointer + gi * coutg * k, ldc: k)
                    }
                    if let gx {  // dcol [k, m·hw] = W_gᵀ · G, then fold back
                        gemm(
                            par, transA: true, transB: false, m: k, n: m * hw, k: coutg, a: pw + gi * coutg * k, lda: k,
                            b: gm, ldb: m * hw, c: col, ldc: m * hw)
                        for b in 0..<m {
                            geo.col2im(
                                col + b * hw, ld: m * hw, gx.storage.pointer + ((n0 + b) * c + gi * geo.c) * inHW,
                                parallel: par)
                        }
                    }
                }
            }
        }
        return (direct ?? gx, needW ? reducePartials(partials, used: used) : nil)
    }

    /// Transposed convolution forward: for each image, `col = Wᵀ·x` then fold onto the output.
    static func convTranspose2dForward(_ x: Tensor, _ weight: Tensor, _ geo: ConvGeometry, outShape: [Int]) -> Tensor {
        let n = x.shape[0], cin = x.shape[1], cout = outShape[1]
        let k = geo.k, hw = geo.hw, outHW = geo.h * geo.w
        let out = Tensor(zerosShape: outShape)
        let px = x.storage.pointer, pw = weight.storage.pointer, po = out.storage.pointer
        overImages(n) { images, _, par in
            let nb = geo.chunk(batch: images.count, rows: Swift.max(k, cin))
            let (col, colCap) = BufferPool.shared.allocate(k * nb * hw)
            let (xs, xsCap) = BufferPool.shared.allocate(cin * nb * hw)
            defer { BufferPool.shared.release(col, capacity: colCap); BufferPool.shared.release(xs, capacity: xsCap) }
            for n0 in Swift.stride(from: images.lowerBound, to: images.upperBound, by: nb) {
                let m = Swift.min(nb, images.upperBound - n0)
                gatherChannels(px, n0: n0, nb: m, c0: 0, cc: cin, cTotal: cin, hw: hw, into: xs)
                // col [k, m·hw] = Wᵀ [k × cin] · x [cin × m·hw]
                gemm(
                    par, transA: true, transB: false, m: k, n: m * hw, k: cin, a: pw, lda: k, b: xs, ldb: m * hw,
                    c: col, ldc: m * hw)
                for b in 0..<m { geo.col2im(col + b * hw, ld: m * hw, po + (n0 + b) * cout * outHW, parallel: par) }
            }
        }
        return out
    }

    static func convTranspose2dBackward(
        _ x: Tensor, _ weight: Tensor, _ g: Tensor, _ geo: ConvGeometry,
        needX: Bool, needW: Bool
    ) -> (Tensor?, Tensor?) {
        let n = x.shape[0], cin = x.shape[1], cout = weight.shape[1]
        let k = geo.k, hw = geo.hw, outHW = geo.h * geo.w
        let gx: Tensor? = needX ? Tensor(uninitializedShape: x.shape) : nil
        let partials: [Tensor] =
            needW ? (0..<Swift.min(Parallel.workers, n)).map { _ in Tensor(zerosShape: weight.shape) } : []
        let px = x.storage.pointer, pw = weight.storage.pointer, pg = g.storage.pointer
        let used = overImages(n) { images, worker, par in
            let nb = geo.chunk(batch: images.count, rows: Swift.max(k, cin))
            let (col, colCap) = BufferPool.shared.allocate(k * nb * hw)
            let (tmp, tmpCap) = BufferPool.shared.allocate(cin * nb * hw)
            defer { BufferPool.shared.release(col, capacity: colCap); BufferPool.shared.release(tmp, capacity: tmpCap) }
            for n0 in Swift.stride(from: images.lowerBound, to: images.upperBound, by: nb) {
                let m = Swift.min(nb, images.upperBound - n0)
                for b in 0..<m { geo.im2col(pg + (n0 + b) * cout * outHW, col + b * hw, ld: m * hw, parallel: par) }
                if let gx {  // dx [cin, m·hw] = W [cin × k] · col
                    gemm(
                        par, transA: false, transB: false, m: cin, n: m * hw, k: k, a: pw, lda: k, b: col, ldb: m * hw,
                        c: tmp, ldc: m * hw)
                    scatterChannels(tmp, n0: n0, nb: m, c0: 0, cc: cin, cTotal: cin, hw: hw, into: gx.storage.pointer)
                }
                if needW {  // dW [cin, k] += x [cin × m·hw] · colᵀ
                    gatherChannels(px, n0: n0, nb: m, c0: 0, cc: cin, cTotal: cin, hw: hw, into: tmp)
                    gemm(
                        par, transA: false, transB: true, m: cin, n: k, k: m * hw, a: tmp, lda: m * hw, b: col,
                        ldb: m * hw,
                        beta: 1, c: partials[worker].storage.pointer, ldc: k)
                }
            }
        }
        return (gx, needW ? reducePartials(partials, used: used) : nil)
    }
}
