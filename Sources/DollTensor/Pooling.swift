import Foundation

extension Tensor {
    private func checkNCHW(_ op: String) throws -> (Int, Int, Int, Int) {
        guard rank == 4 else { throw TensorError("\(op) needs [N, C, H, W], got \(shapeString(shape))") }
        return (shape[0], shape[1], shape[2], shape[3])
    }

    /// Checks a pooling window and returns the input dims, the stride and the output size.
    private func poolGeometry(
        _ op: String, kernel: Pair, stride: Pair?, padding: Pair
    ) throws
        -> (n: Int, c: Int, h: Int, w: Int, s: Pair, oh: Int, ow: Int)
    {
        let (n, c, h, w) = try checkNCHW(op)
        let s = stride ?? kernel
        guard kernel.h >= 1, kernel.w >= 1, s.h >= 1, s.w >= 1, padding.h >= 0, padding.w >= 0,
            padding.h * 2 <= kernel.h, padding.w * 2 <= kernel.w
        else {
            throw TensorError("\(op): kernel and stride ≥ 1, 0 ≤ padding ≤ kernel/2")
        }
        let oh = (h + 2 * padding.h - kernel.h) / s.h + 1
        let ow = (w + 2 * padding.w - kernel.w) / s.w + 1
        guard oh >= 1, ow >= 1 else {
            throw TensorError("\(op): kernel \(kernel.h)x\(kernel.w) larger than input \(h)x\(w)")
        }
        return (n, c, h, w, s, oh, ow)
    }

    /// Max pooling (PyTorch semantics: padding counts as −∞). `[N,C,H,W] → [N,C,H',W']`.
    public func maxPool2d(kernel: Pair, stride: Pair? = nil, padding: Pair = 0) throws -> Tensor {
        let (n, c, h, w, s, oh, ow) = try poolGeometry("maxPool2d", kernel: kernel, stride: stride, padding: padding)
        let out = Tensor(uninitializedShape: [n, c, oh, ow])
        var argmax = [Int32](repeating: 0, count: out.count)
        let px = UnsafePointer(storage.pointer), po = out.storage.pointer
        argmax.withUnsafeMutableBufferPointer { am in
            let pa = am.baseAddress!
            Parallel.forEach(n * c, costPerItem: oh * ow * kernel.h * kernel.w) { plane in
                let src = px + plane * h * w
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var best = -Float.infinity, bi = -1
                        for i in 0..<kernel.h {
                            let iy = oy * s.h - padding.h + i
                            if iy < 0 || iy >= h { continue }
                            for j in 0..<kernel.w {
                                let ix = ox * s.w - padding.w + j
                                if ix < 0 || ix >= w { continue }
                                let v = src[iy * w + ix]
                                if v > best || bi < 0 || v.isNaN { best = v; bi = iy * w + ix }
                            }
                        }
                        let o = (plane * oh + oy) * ow + ox
                        po[o] = best; pa[o] = Int32(bi)
                    }
                }
            }
        }
        let inShape = shape
        return Tensor.record(out, [self]) { g, _ in
            let gi = Tensor(zerosShape: inShape)
            let pg = UnsafePointer(g.storage.pointer), pd = gi.storage.pointer
            argmax.withUnsafeBufferPointer { am in
                for plane in 0..<(n * c) {
                    let d = pd + plane * h * w
                    for o in 0..<(oh * ow) { d[Int(am[plane * oh * ow + o])] += pg[plane * oh * ow + o] }
                }
            }
            return [gi]
        }
    }

    /// Average pooling (zero padding counted in the divisor, PyTorch's default). `[N,C,H,W] → [N,C,H',W']`.
    public func avgPool2d(kernel: Pair, stride: Pair? = nil, padding: Pair = 0) throws -> Tensor {
        let (n, c, h, w, s, oh, ow) = try poolGeometry("avgPool2d", kernel: kernel, stride: stride, padding: padding)
        let inv = 1 / Float(kernel.h * kernel.w)
        let out = Tensor(uninitializedShape: [n, c, oh, ow])
        let px = UnsafePointer(storage.pointer), po = out.storage.pointer
        @inline(__always) func window(_ oy: Int, _ ox: Int, _ body: (Int) -> Void) {
            for i in 0..<kernel.h {
                let iy = oy * s.h - padding.h + i
                if iy < 0 || iy >= h { continue }
                for j in 0..<kernel.w {
                    let ix = ox * s.w - padding.w + j
                    if ix >= 0 && ix < w { body(iy * w + ix) }
                }
            }
        }
        for plane in 0..<(n * c) {
            let src = px + plane * h * w
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var acc: Float = 0
                    window(oy, ox) { acc += src[$0] }
                    po[(plane * oh + oy) * ow + ox] = acc * inv
                }
            }
        }
        let inShape = shape
        return Tensor.record(out, [self]) { g, _ in
            let gi = Tensor(zerosShape: inShape)
            let pg = UnsafePointer(g.storage.pointer), pd = gi.storage.pointer
            for plane in 0..<(n * c) {
                let d = pd + plane * h * w
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let v = pg[(plane * oh + oy) * ow + ox] * inv
                        window(oy, ox) { d[$0] += v }
                    }
                }
            }
            return [gi]
        }
    }

    /// Global average pooling: `[N, C, H, W] → [N, C]`.
    public func globalAvgPool2d() throws -> Tensor {
        let (n, c, h, w) = try checkNCHW("globalAvgPool2d")
        return try reshaped([n, c, h * w]).mean(axis: 2)
    }

    /// Nearest-neighbour upsampling by integer factors: `[N,C,H,W] → [N,C,H·sh,W·sw]`.
    public func upsampleNearest(scale: Pair) throws -> Tensor {
        let (n, c, h, w) = try checkNCHW("upsampleNearest")
        guard scale.h >= 1, scale.w >= 1 else {
            throw TensorError("upsampleNearest: scale must be ≥ 1, got \(scale.h)x\(scale.w)")
        }
        let oh = h * scale.h, ow = w * scale.w
        let outShape = [n, c, oh, ow]
        _ = try Tensor.reservedCount(outShape)
        let out = Tensor(uninitializedShape: outShape)
        let px = UnsafePointer(storage.pointer), po = out.storage.pointer
        for plane in 0..<(n * c) {
            for oy in 0..<oh {
                let s = px + plane * h * w + (oy / scale.h) * w, d = po + (plane * oh + oy) * ow
                for ox in 0..<ow { d[ox] = s[ox / scale.w] }
            }
        }
        let inShape = shape
        return Tensor.record(out, [self]) { g, _ in
            let gi = Tensor(zerosShape: inShape)
            let pg = UnsafePointer(g.storage.pointer), pd = gi.storage.pointer
            for plane in 0..<(n * c) {
                for oy in 0..<oh {
                    let s = pg + (plane * oh + oy) * ow, d = pd + plane * h * w + (oy / scale.h) * w
                    for ox in 0..<ow { d[ox / scale.w] += s[ox] }
                }
            }
            return [gi]
        }
    }

    /// Bilinear resize to `[outH, outW]` (PyTorch `interpolate(mode="bilinear", align_corners=False)`).
    public func upsampleBilinear(size: Pair) throws -> Tensor {
        let (n, c, h, w) = try checkNCHW("upsampleBilinear")
        guard size.h >= 1, size.w >= 1 else {
            throw TensorError("upsampleBilinear: size must be ≥ 1, got \(size.h)x\(size.w)")
        }
        let outShape = [n, c, size.h, size.w]
        _ = try Tensor.reservedCount(outShape)
        /// Source index pairs and weights along one axis.
        func taps(_ inN: Int, _ outN: Int) -> [(Int, Int, Float)] {
            let scale = Float(inN) / Float(outN)
            return (0..<outN).map { o in
                let src = Swift.max(0, (Float(o) + 0.5) * scale - 0.5)
                let i0 = Swift.min(Int(src), inN - 1), i1 = Swift.min(i0 + 1, inN - 1)
                return (i0, i1, src - Float(i0))
            }
        }
        let ty = taps(h, size.h), tx = taps(w, size.w)
        let out = Tensor(uninitializedShape: outShape)
        let px = UnsafePointer(storage.pointer), po = out.storage.pointer
        Parallel.forEach(n * c, costPerItem: size.h * size.w * 4) { plane in
            let s = px + plane * h * w
            for (oy, (y0, y1, fy)) in ty.enumerated() {
                let d = po + (plane * size.h + oy) * size.w
                for (ox, (x0, x1, fx)) in tx.enumerated() {
                    let top = s[y0 * w + x0] * (1 - fx) + s[y0 * w + x1] * fx
                    let bot = s[y1 * w + x0] * (1 - fx) + s[y1 * w + x1] * fx
                    d[ox] = top * (1 - fy) + bot * fy
                }
            }
        }
        let inShape = shape
        return Tensor.record(out, [self]) { g, _ in
            let gi = Tensor(zerosShape: inShape)
            let pg = UnsafePointer(g.storage.pointer), pd = gi.storage.pointer
            Parallel.forEach(n * c, costPerItem: size.h * size.w * 4) { plane in
                let d = pd + plane * h * w
                for (oy, (y0, y1, fy)) in ty.enumerated() {
                    let s = pg + (plane * size.h + oy) * size.w
                    for (ox, (x0, x1, fx)) in tx.enumerated() {
                        let v = s[ox]
                        d[y0 * w + x0] += v * (1 - fy) * (1 - fx); d[y0 * w + x1] += v * (1 - fy) * fx
                        d[y1 * w + x0] += v * fy * (1 - fx); d[y1 * w + x1] += v * fy * fx
                    }
                }
            }
            return [gi]
        }
    }
}
