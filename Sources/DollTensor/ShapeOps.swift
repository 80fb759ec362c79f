import Foundation

extension Tensor {
    /// The same values under a new shape (shares storage). One dimension may be `-1` (inferred).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var s = newShape
        let unknown = s.indices.filter { s[$0] == -1 }
        guard unknown.count <= 1, !s.contains(where: { $0 < -1 }) else {
            throw TensorError(
                "cannot reshape \(shapeString(shape)) to \(shapeString(newShape)): at most one -1 and no other negative size"
            )
        }
        if let u = unknown.first {
            let known = s.enumerated().filter { $0.offset != u }.reduce(1) { $0 * $1.element }
            guard known > 0, count % known == 0 else {
                throw TensorError(
                    "cannot reshape \(shapeString(shape)) (\(count) elements) to \(shapeString(newShape))")
            }
            s[u] = count / known
        }
        guard try Tensor.validatedCount(s) == count else {
            throw TensorError(
                "cannot reshape \(shapeString(shape)) (\(count) elements) to \(shapeString(newShape)) (\(Tensor.product(s)) elements)"
            )
        }
        let inShape = shape
        return Tensor.record(Tensor(shape: s, storage: storage), [self]) { g, _ in
            [Tensor(shape: inShape, storage: g.storage)]
        }
    }

    /// Collapses dimensions `from...` into one (default: everything after the batch axis).
    public func flattened(from start: Int = 1) throws -> Tensor {
        guard start >= 0 && start <= rank else {
            throw TensorError("flatten start \(start) out of range for rank \(rank)")
        }
        return try reshaped(Array(shape[..<start]) + [shape[start...].reduce(1, *)])
    }

    /// Inserts a size-1 dimension at `axis`.
    public func unsqueezed(_ axis: Int) throws -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        guard a >= 0 && a <= rank else { throw TensorError("unsqueeze axis \(axis) out of range for rank \(rank)") }
        var s = shape; s.insert(1, at: a)
        return try reshaped(s)
    }

    /// Removes size-1 dimensions (all, or the given one).
    public func squeezed(_ axis: Int? = nil) throws -> Tensor {
        if let axis {
            let a = try normalizedAxis(axis)
            guard shape[a] == 1 else { throw TensorError("cannot squeeze axis \(axis) of size \(shape[a])") }
            var s = shape; s.remove(at: a)
            return try reshaped(s)
        }
        return try reshaped(shape.filter { $0 != 1 })
    }

    /// Reorders dimensions: result dimension i is input dimension `order[i]`.
    public func permuted(_ order: [Int]) throws -> Tensor {
        guard order.count == rank, Set(order) == Set(0..<rank) else {
            throw TensorError(
                "permutation \(order) is not a permutation of 0..<\(rank) for shape \(shapeString(shape))")
        }
        let out = Kernels.permute(self, order)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Tensor.record(out, [self]) { g, _ in [Kernels.permute(g, inverse)] }
    }

    /// Swaps two dimensions (default: the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) throws -> Tensor {
        let x = try normalizedAxis(a), y = try normalizedAxis(b)
        var order = Array(0..<rank); order.swapAt(x, y)
        return try permuted(order)
    }

    /// Elements `start..<end` (step `step`) along `axis`; negative indices count from the end.
    public func slice(axis: Int, start: Int, end: Int? = nil, step: Int = 1) throws -> Tensor {
        let ax = try normalizedAxis(axis)
        let n = shape[ax]
        guard step >= 1 else { throw TensorError("slice step must be ≥ 1, got \(step)") }
        let s0 = start < 0 ? start + n : start
        let e0 = end.map { $0 < 0 ? $0 + n : $0 } ?? n
        guard s0 >= 0 && s0 <= n && e0 >= s0 && e0 <= n else {
            throw TensorError(
                "slice \(start)..<\(end.map(String.init) ?? "end") is out of range for axis \(axis) of size \(n) (shape \(shapeString(shape)))"
            )
        }
        let m = (e0 - s0 + step - 1) / step
        let (outer, _, inner) = around(ax)
        var outShape = shape; outShape[ax] = m
        let out = Tensor(uninitializedShape: outShape)
        let px = UnsafePointer(storage.pointer), po = out.storage.pointer
        for o in 0..<outer {
            for k in 0..<m {
                (po + (o * m + k) * inner).update(from: px + (o * n + s0 + k * step) * inner, count: inner)
            }
        }
        let inShape = shape
        return Tensor.record(out, [self]) { g, _ in
            let gi = Tensor(zerosShape: inShape)
            let pg = UnsafePointer(g.storage.pointer), pd = gi.storage.pointer
            for o in 0..<outer {
                for k in 0..<m {
                    (pd + (o * n + s0 + k * step) * inner).update(from: pg + (o * m + k) * inner, count: inner)
                }
            }
            return [gi]
        }
    }

    /// Concatenates tensors along `axis`; all other dimensions must agree.
    public static func concat(_ tensors: [Tensor], axis: Int) throws -> Tensor {
        guard let first = tensors.first else { throw TensorError("concat needs at least one tensor") }
        let ax = try first.normalizedAxis(axis)
        for t in tensors {
            guard t.rank == first.rank,
                zip(t.shape, first.shape).enumerated().allSatisfy({ $0.offset == ax || $0.element.0 == $0.element.1 })
            else {
                throw TensorError(
                    "concat along axis \(axis): shape \(shapeString(t.shape)) does not match \(shapeString(first.shape)) outside that axis"
                )
            }
        }
        let sizes = tensors.map { $0.shape[ax] }
        let total = sizes.reduce(0, +)
        var outShape = first.shape; outShape[ax] = total
        _ = try reservedCount(outShape)
        let outer = first.shape[..<ax].reduce(1, *), inner = first.shape[(ax + 1)...].reduce(1, *)
        let out = Tensor(uninitializedShape: outShape)
        let po = out.storage.pointer
        var offset = 0
        for (t, n) in zip(tensors, sizes) {
            let pt = UnsafePointer(t.storage.pointer)
            for o in 0..<outer {
                (po + (o * total + offset) * inner).update(from: pt + o * n * inner, count: n * inner)
            }
            offset += n
        }
        return record(out, tensors) { g, need in
            var grads: [Tensor?] = []
            var off = 0
            let pg = UnsafePointer(g.storage.pointer)
            for (i, n) in sizes.enumerated() {
                defer { off += n }
                guard need[i] else { grads.append(nil); continue }
                var s = outShape; s[ax] = n
                let gi = Tensor(uninitializedShape: s)
                for o in 0..<outer {
                    (gi.storage.pointer + o * n * inner).update(from: pg + (o * total + off) * inner, count: n * inner)
                }
                grads.append(gi)
            }
            return grads
        }
    }

    /// Stacks same-shaped tensors along a new leading axis.
    public static func stack(_ tensors: [Tensor]) throws -> Tensor {
        try concat(tensors.map { try $0.unsqueezed(0) }, axis: 0)
    }

    /// Pads with a constant: `padding[i] = (before, after)` for each trailing dimension, listed
    /// from the first padded dimension to the last (e.g. `[(1,1),(2,2)]` pads H by 1 and W by 2).
    public func padded(_ padding: [(Int, Int)], value: Float = 0) throws -> Tensor {
        guard padding.count <= rank else {
            throw TensorError("padding has \(padding.count) entries, tensor rank is \(rank)")
        }
        guard padding.allSatisfy({ $0.0 >= 0 && $0.1 >= 0 }) else {
            throw TensorError("padding must be non-negative, got \(padding)")
        }
        let first = rank - padding.count
        var outShape = shape
        for (i, p) in padding.enumerated() { outShape[first + i] += p.0 + p.1 }
        _ = try Tensor.reservedCount(outShape)
        let before = [Int](repeating: 0, count: first) + padding.map(\.0)
        let out = Kernels.filled(outShape, value)
        Kernels.copyBlock(from: self, into: out, offset: before, add: false)
        let inShape = shape
        return Tensor.record(out, [self]) { g, _ in [Kernels.extractBlock(g, offset: before, shape: inShape)] }
    }
}

extension Kernels {
    static func permute(_ x: Tensor, _ order: [Int]) -> Tensor {
        let outShape = order.map { x.shape[$0] }
        let out = Tensor(uninitializedShape: outShape)
        let inStrides = Tensor.contiguousStrides(x.shape)
        let src = order.map { inStrides[$0] }
        let px = UnsafePointer(x.storage.pointer), po = out.storage.pointer
        forEachRow(outShape, src, src) { o, a, _, n, da, _ in
            for i in 0..<n { po[o + i] = px[a + i * da] }
        }
        return out
    }

    /// Copies (or adds) `src` into `dst` at a multi-dimensional offset (same rank).
    static func copyBlock(from src: Tensor, into dst: Tensor, offset: [Int], add: Bool) {
        let ds = Tensor.contiguousStrides(dst.shape)
        let base = zip(offset, ds).reduce(0) { $0 + $1.0 * $1.1 }
        let ps = UnsafePointer(src.storage.pointer), pd = dst.storage.pointer + base
        forEachRow(src.shape, ds, Tensor.contiguousStrides(src.shape)) { _, d, s, n, _, _ in
            if add { for i in 0..<n { pd[d + i] += ps[s + i] } } else { (pd + d).update(from: ps + s, count: n) }
        }
    }

    /// The block of `shape` at `offset` inside `src`.
    static func extractBlock(_ src: Tensor, offset: [Int], shape: [Int]) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let ss = Tensor.contiguousStrides(src.shape)
        let base = zip(offset, ss).reduce(0) { $0 + $1.0 * $1.1 }
        let ps = UnsafePointer(src.storage.pointer) + base, po = out.storage.pointer
        forEachRow(shape, ss, ss) { o, s, _, n, _, _ in (po + o).update(from: ps + s, count: n) }
        return out
    }
}

extension Tensor {
    /// Each slice along the first axis multiplied by its own factor: `out[i, …] = self[i, …]·k[i]`
    /// (e.g. a convolution weight `[Cout, …]` scaled per output channel). Not differentiable.
    public func scaledAlongFirstAxis(_ k: [Float]) throws -> Tensor {
        guard rank >= 1, k.count == shape[0] else {
            throw TensorError("scaledAlongFirstAxis: \(k.count) factors for shape \(shapeString(shape))")
        }
        let out = Tensor(uninitializedShape: shape)
        let per = count / Swift.max(shape[0], 1)
        let src = UnsafePointer(storage.pointer), dst = out.storage.pointer
        for i in 0..<shape[0] {
            let f = k[i]
            for j in 0..<per { dst[i * per + j] = src[i * per + j] * f }
        }
        return out
    }
}
