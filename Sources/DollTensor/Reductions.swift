import Foundation

extension Tensor {
    /// Normalises an axis (negative counts from the end) or throws.
    public func normalizedAxis(_ axis: Int) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < rank else {
            throw TensorError("axis \(axis) is out of range for a tensor of rank \(rank) (shape \(shapeString(shape)))")
        }
        return a
    }

    /// Splits the shape around `axis` into (outer, n, inner) extents.
    func around(_ axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// Sum of all elements as a scalar (accumulated in Double).
    public func sum() -> Tensor {
        var s = 0.0
        withUnsafeBufferPointer { for v in $0 { s += Double(v) } }
        let shape = self.shape
        return Tensor.record(Tensor(scalar: Float(s)), [self]) { g, _ in
            [Kernels.filled(shape, g.storage.pointer.pointee)]
        }
    }

    /// Mean of all elements as a scalar.
    public func mean() -> Tensor { count == 0 ? Tensor(scalar: .nan) : sum().scaled(1 / Float(count)) }

    /// Sum along one axis (kept as size 1 when `keepDims`).
    public func sum(axis: Int, keepDims: Bool = false) throws -> Tensor {
        let ax = try normalizedAxis(axis)
        let (outer, n, inner) = around(ax)
        var outShape = shape
        outShape[ax] = 1
        let out = Tensor(zerosShape: outShape)
        let px = UnsafePointer(storage.pointer), po = out.storage.pointer
        Parallel.forEach(outer, costPerItem: n * inner) { o in
            let dst = po + o * inner
            for k in 0..<n {
                let src = px + (o * n + k) * inner
                for i in 0..<inner { dst[i] += src[i] }
            }
        }
        var result = out
        if !keepDims { outShape.remove(at: ax); result = Tensor(shape: outShape, storage: out.storage) }
        let inShape = shape
        return Tensor.record(result, [self]) { g, _ in
            let gi = Tensor(uninitializedShape: inShape)
            let pg = UnsafePointer(g.storage.pointer), pd = gi.storage.pointer
            for o in 0..<outer {
                for k in 0..<n { (pd + (o * n + k) * inner).update(from: pg + o * inner, count: inner) }
            }
            return [gi]
        }
    }

    /// Sum over several axes.
    public func sum(axes: [Int], keepDims: Bool = false) throws -> Tensor {
        let norm = try Set(axes.map { try normalizedAxis($0) }).sorted(by: >)
        var t = self
        for a in norm { t = try t.sum(axis: a, keepDims: keepDims) }
        return t
    }

    /// Mean along one axis.
    public func mean(axis: Int, keepDims: Bool = false) throws -> Tensor {
        let ax = try normalizedAxis(axis)
        return try sum(axis: ax, keepDims: keepDims).scaled(1 / Float(Swift.max(shape[ax], 1)))
    }

    /// Mean over several axes.
    public func mean(axes: [Int], keepDims: Bool = false) throws -> Tensor {
        let norm = try Set(axes.map { try normalizedAxis($0) })
        let n = norm.reduce(1) { $0 * shape[$1] }
        return try sum(axes: Array(norm), keepDims: keepDims).scaled(1 / Float(Swift.max(n, 1)))
    }

    /// Maximum of all elements as a scalar (gradient to the first maximal element).
    public func max() throws -> Tensor {
        guard count > 0 else { throw TensorError("max() of an empty tensor") }
        var best = 0
        withUnsafeBufferPointer { b in
            for i in 1..<b.count where b[i] > b[best] || (b[best].isNaN == false && b[i].isNaN) { best = i }
        }
        let shape = self.shape, v = storage.pointer[best]
        return Tensor.record(Tensor(scalar: v), [self]) { g, _ in
            let gi = Tensor(zerosShape: shape)
            gi.storage.pointer[best] = g.storage.pointer.pointee
            return [gi]
        }
    }

    /// Minimum of all elements as a scalar (gradient to the first minimal element).
    public func min() throws -> Tensor {
        guard count > 0 else { throw TensorError("min() of an empty tensor") }
        return try neg().max().neg()
    }

    /// Minimum along an axis and the index of the first minimum (as Float) in a second tensor.
    public func min(axis: Int, keepDims: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        let ax = try normalizedAxis(axis)
        guard shape[ax] > 0 else { throw TensorError("min along an empty axis \(axis) of shape \(shapeString(shape))") }
        let (v, i) = try neg().max(axis: ax, keepDims: keepDims)
        return (v.neg(), i)
    }

    /// Maximum along an axis and the index of the first maximum (as Float) in a second tensor.
    public func max(axis: Int, keepDims: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        let ax = try normalizedAxis(axis)
        let (outer, n, inner) = around(ax)
        guard n > 0 else { throw TensorError("max along an empty axis \(axis) of shape \(shapeString(shape))") }
        var outShape = shape
        if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let vals = Tensor(uninitializedShape: outShape), idx = Tensor(uninitializedShape: outShape)
        let px = UnsafePointer(storage.pointer), pv = vals.storage.pointer, pi = idx.storage.pointer
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0, bv = px[o * n * inner + i]
                for k in 1..<n { let v = px[(o * n + k) * inner + i]; if v > bv { bv = v; best = k } }
                pv[o * inner + i] = bv; pi[o * inner + i] = Float(best)
            }
        }
        let inShape = shape
        let values = Tensor.record(vals, [self]) { [idx] g, _ in
            let pi = idx.storage.pointer
            let gi = Tensor(zerosShape: inShape)
            let pg = UnsafePointer(g.storage.pointer), pd = gi.storage.pointer
            for o in 0..<outer {
                for i in 0..<inner {
                    let k = Int(pi[o * inner + i]); pd[(o * n + k) * inner + i] = pg[o * inner + i]
                }
            }
            return [gi]
        }
        return (values, idx)
    }

    /// Index of the maximum along an axis (as Float values).
    public func argmax(axis: Int) throws -> Tensor { try Autograd.noGrad { try max(axis: axis).indices } }

    /// Softmax along an axis (numerically stable).
    public func softmax(axis: Int = -1) throws -> Tensor {
        let (outer, n, inner) = around(try normalizedAxis(axis))
        let y = Tensor(uninitializedShape: shape)
        let px = UnsafePointer(storage.pointer), py = y.storage.pointer
        forEachSlice(outer, n, inner) { base in
            let m = sliceMax(px, base, n, inner)
            var s: Float = 0
            for k in 0..<n {
                let e = Foundation.exp(px[base + k * inner] - m)
                py[base + k * inner] = e
                s += e
            }
            for k in 0..<n { py[base + k * inner] /= s }
        }
        return Tensor.record(y, [self]) { g, _ in
            // dx = y * (g - Σ g·y)
            let gx = Tensor(uninitializedShape: y.shape)
            let pg = UnsafePointer(g.storage.pointer), pd = gx.storage.pointer
            forEachSlice(outer, n, inner) { base in
                var dot: Float = 0
                for k in 0..<n { dot += pg[base + k * inner] * py[base + k * inner] }
                for k in 0..<n { pd[base + k * inner] = py[base + k * inner] * (pg[base + k * inner] - dot) }
            }
            return [gx]
        }
    }

    /// Log-softmax along an axis (numerically stable).
    public func logSoftmax(axis: Int = -1) throws -> Tensor {
        let (outer, n, inner) = around(try normalizedAxis(axis))
        let y = Tensor(uninitializedShape: shape)
        let px = UnsafePointer(storage.pointer), py = y.storage.pointer
        forEachSlice(outer, n, inner) { base in
            let m = sliceMax(px, base, n, inner)
            var s: Float = 0
            for k in 0..<n { s += Foundation.exp(px[base + k * inner] - m) }
            let lse = m + Foundation.log(s)
            for k in 0..<n { py[base + k * inner] = px[base + k * inner] - lse }
        }
        return Tensor.record(y, [self]) { g, _ in
            // dx = g - softmax * Σ g
            let gx = Tensor(uninitializedShape: y.shape)
            let pg = UnsafePointer(g.storage.pointer), pd = gx.storage.pointer
            forEachSlice(outer, n, inner) { base in
                var s: Float = 0
                for k in 0..<n { s += pg[base + k * inner] }
                for k in 0..<n {
                    pd[base + k * inner] = pg[base + k * inner] - Foundation.exp(py[base + k * inner]) * s
                }
            }
            return [gx]
        }
    }

    /// Value at quantile `q` ∈ [0, 1] of all elements (linear interpolation, like NumPy's default).
    public func quantile(_ q: Double) throws -> Float {
        guard count > 0 else { throw TensorError("quantile of an empty tensor") }
        guard q >= 0 && q <= 1 else { throw TensorError("quantile must be in [0, 1], got \(q)") }
        var v = scalars.filter { !$0.isNaN }
        guard !v.isEmpty else { return .nan }
        v.sort()
        let pos = q * Double(v.count - 1)
        let lo = Int(pos.rounded(.down)), hi = Swift.min(lo + 1, v.count - 1)
        let t = Float(pos - Double(lo))
        return v[lo] + (v[hi] - v[lo]) * t
    }
}

/// Calls `body(base)` for every slice along the middle axis of `[outer, n, inner]` values:
/// element k of a slice is at `base + k·inner`.
@inline(__always)
func forEachSlice(_ outer: Int, _ n: Int, _ inner: Int, _ body: (Int) -> Void) {
    for o in 0..<outer {
        for i in 0..<inner { body(o * n * inner + i) }
    }
}

/// The largest of the `n` values `p[base + k·inner]`.
@inline(__always)
func sliceMax(_ p: UnsafePointer<Float>, _ base: Int, _ n: Int, _ inner: Int) -> Float {
    var m = -Float.infinity
    for k in 0..<n { m = Swift.max(m, p[base + k * inner]) }
    return m
}
