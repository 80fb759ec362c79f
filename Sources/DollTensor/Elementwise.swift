import Foundation

/// Binary elementwise operations with NumPy broadcasting (shapes aligned on the right; a size-1
/// or missing dimension stretches).
public enum BinaryOp: Sendable { case add, sub, mul, div, maximum, minimum }

/// Internal kernels without autodiff or shape validation (callers validated).
@usableFromInline
enum Kernels {
    /// The broadcast shape of two shapes, or nil when they are incompatible.
    static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Strides of `shape` viewed in the (larger) broadcast shape `out`: 0 along stretched dims.
    static func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
        let s = Tensor.contiguousStrides(shape)
        let off = out.count - shape.count
        return (0..<out.count).map { i in
            i < off ? 0 : (shape[i - off] == 1 && out[i] != 1 ? 0 : s[i - off])
        }
    }

    /// Visits `out` row by row (last dimension innermost), giving the flat offsets of the row in
    /// the output and in two strided operands, the row length and the operands' inner strides.
    static func forEachRow(
        _ out: [Int], _ sa: [Int], _ sb: [Int],
        _ body: (_ o: Int, _ a: Int, _ b: Int, _ n: Int, _ da: Int, _ db: Int) -> Void
    ) {
        let r = out.count
        if r == 0 { body(0, 0, 0, 1, 0, 0); return }
        let n = out[r - 1], da = sa[r - 1], db = sb[r - 1]
        let rows = out.dropLast().reduce(1, *)
        if rows == 0 || n == 0 { return }
        var idx = [Int](repeating: 0, count: r - 1)
        var ao = 0, bo = 0
        for row in 0..<rows {
            body(row * n, ao, bo, n, da, db)
            // increment the multi-index over the outer dims
            var d = r - 2
            while d >= 0 {
                idx[d] += 1; ao += sa[d]; bo += sb[d]
                if idx[d] < out[d] { break }
                ao -= sa[d] * out[d]; bo -= sb[d] * out[d]; idx[d] = 0
                d -= 1
            }
        }
    }

    @inline(__always)
    static func applyRow(
        _ op: BinaryOp, _ a: UnsafePointer<Float>, _ da: Int, _ b: UnsafePointer<Float>, _ db: Int,
        _ o: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        @inline(__always) func run(_ f: (Float, Float) -> Float) {
            if da == 1 && db == 1 {
                for i in 0..<n { o[i] = f(a[i], b[i]) }
            } else if da == 1 && db == 0 {
                let bv = b[0]; for i in 0..<n { o[i] = f(a[i], bv) }
            } else if da == 0 && db == 1 {
                let av = a[0]; for i in 0..<n { o[i] = f(av, b[i]) }
            } else {
                for i in 0..<n { o[i] = f(a[i * da], b[i * db]) }
            }
        }
        switch op {
        case .add: run(+)
        case .sub: run(-)
        case .mul: run(*)
        case .div: run(/)
        case .maximum: run { Swift.max($0, $1) }
        case .minimum: run { Swift.min($0, $1) }
        }
    }

    /// `op(a, b)` with broadcasting; shapes must be compatible.
    static func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
        let pa = UnsafePointer(a.storage.pointer), pb = UnsafePointer(b.storage.pointer)
        if a.shape == b.shape {
            let out = Tensor(uninitializedShape: a.shape)
            let po = out.storage.pointer
            Parallel.forRanges(a.count) { r in
                applyRow(op, pa + r.lowerBound, 1, pb + r.lowerBound, 1, po + r.lowerBound, r.count)
            }
            return out
        }
        let shape = broadcastShape(a.shape, b.shape)!
        let out = Tensor(uninitializedShape: shape)
        let po = out.storage.pointer
        if b.count == 1 {
            Parallel.forRanges(out.count) { r in applyRow(op, pa + r.lowerBound, 1, pb, 0, po + r.lowerBound, r.count) }
            return out
        }
        if a.count == 1 {
            Parallel.forRanges(out.count) { r in applyRow(op, pa, 0, pb + r.lowerBound, 1, po + r.lowerBound, r.count) }
            return out
        }
        let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
        forEachRow(shape, sa, sb) { o, ao, bo, n, da, db in
            applyRow(op, pa + ao, da, pb + bo, db, po + o, n)
        }
        return out
    }

    static func addSameShape(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.add, a, b) }

    /// Sums a broadcast gradient back down to `shape` (the inverse of broadcasting).
    static func reduceToShape(_ g: Tensor, _ shape: [Int]) -> Tensor {
        if g.shape == shape { return g }
        let out = Tensor(zerosShape: shape)
        let po = out.storage.pointer, pg = UnsafePointer(g.storage.pointer)
        if out.count == 1 {
            var s = 0.0
            for i in 0..<g.count { s += Double(pg[i]) }
            po[0] = Float(s)
            return Tensor(shape: shape, storage: out.storage)
        }
        let so = broadcastStrides(shape, to: g.shape)
        let sg = Tensor.contiguousStrides(g.shape)
        forEachRow(g.shape, so, sg) { _, oo, go, n, dO, dG in
            if dO == 0 {
                var s: Float = 0; for i in 0..<n { s += pg[go + i * dG] }; po[oo] += s
            } else {
                for i in 0..<n { po[oo + i * dO] += pg[go + i * dG] }
            }
        }
        return out
    }

    /// `f` applied to every element.
    @inline(__always)
    static func map(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitializedShape: x.shape)
        let px = UnsafePointer(x.storage.pointer), po = out.storage.pointer
        Parallel.forRanges(x.count) { r in for i in r { po[i] = f(px[i]) } }
        return out
    }

    /// `f(a[i], b[i])` for same-shaped tensors.
    @inline(__always)
    static func zipMap(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        let out = Tensor(uninitializedShape: a.shape)
        let pa = UnsafePointer(a.storage.pointer), pb = UnsafePointer(b.storage.pointer), po = out.storage.pointer
        Parallel.forRanges(a.count) { r in for i in r { po[i] = f(pa[i], pb[i]) } }
        return out
    }

    /// `f(a[i], b[i], c[i])` for same-shaped tensors.
    @inline(__always)
    static func zipMap3(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
        let out = Tensor(uninitializedShape: a.shape)
        let pa = UnsafePointer(a.storage.pointer), pb = UnsafePointer(b.storage.pointer)
        let pc = UnsafePointer(c.storage.pointer), po = out.storage.pointer
        Parallel.forRanges(a.count) { r in for i in r { po[i] = f(pa[i], pb[i], pc[i]) } }
        return out
    }

    static func scale(_ x: Tensor, _ s: Float) -> Tensor { map(x) { $0 * s } }

    /// A tensor of a valid shape filled with `v`.
    static func filled(_ shape: [Int], _ v: Float) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        t.storage.pointer.update(repeating: v, count: Swift.max(t.count, 1))
        return t
    }

    /// 1 where `f(a, b)` holds (broadcast), else 0; shapes must be compatible.
    static func compare(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Bool) -> Tensor {
        let shape = broadcastShape(a.shape, b.shape)!
        let out = Tensor(uninitializedShape: shape)
        let pa = UnsafePointer(a.storage.pointer), pb = UnsafePointer(b.storage.pointer), po = out.storage.pointer
        forEachRow(shape, broadcastStrides(a.shape, to: shape), broadcastStrides(b.shape, to: shape)) {
            o, ao, bo, n, da, db in
            for i in 0..<n { po[o + i] = f(pa[ao + i * da], pb[bo + i * db]) ? 1 : 0 }
        }
        return out
    }
}

extension Tensor {
    /// Elementwise `op(self, other)` with broadcasting, differentiable in both operands.
    public func binary(_ op: BinaryOp, _ other: Tensor) throws -> Tensor {
        guard Kernels.broadcastShape(shape, other.shape) != nil else {
            throw TensorError(
                "shapes \(shapeString(shape)) and \(shapeString(other.shape)) cannot be broadcast together")
        }
        let a = self, b = other
        let out = Kernels.binary(op, a, b)
        return Tensor.record(out, [a, b]) { g, need in
            let ga: Tensor?, gb: Tensor?
            switch op {
            case .add:
                ga = need[0] ? Kernels.reduceToShape(g, a.shape) : nil
                gb = need[1] ? Kernels.reduceToShape(g, b.shape) : nil
            case .sub:
                ga = need[0] ? Kernels.reduceToShape(g, a.shape) : nil
                gb = need[1] ? Kernels.scale(Kernels.reduceToShape(g, b.shape), -1) : nil
            case .mul:
                ga = need[0] ? Kernels.reduceToShape(Kernels.binary(.mul, g, b), a.shape) : nil
                gb = need[1] ? Kernels.reduceToShape(Kernels.binary(.mul, g, a), b.shape) : nil
            case .div:
                ga = need[0] ? Kernels.reduceToShape(Kernels.binary(.div, g, b), a.shape) : nil
                gb =
                    need[1]
                    ? Kernels.reduceToShape(
                        Kernels.binary(.mul, g, Kernels.binary(.div, Kernels.scale(out, -1), b)), b.shape) : nil
            case .maximum, .minimum:
                // Gradient goes to the operand that was selected (ties: to the first).
                let maskA = Kernels.compare(out, a) { $0 == $1 }
                ga = need[0] ? Kernels.reduceToShape(Kernels.binary(.mul, g, maskA), a.shape) : nil
                gb =
                    need[1]
                    ? Kernels.reduceToShape(Kernels.binary(.mul, g, Kernels.map(maskA) { 1 - $0 }), b.shape) : nil
            }
            return [ga, gb]
        }
    }

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.add, b) }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.sub, b) }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.mul, b) }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.div, b) }
    public static prefix func - (a: Tensor) -> Tensor { a.scaled(-1) }

    public static func + (a: Tensor, s: Float) -> Tensor { a.adding(s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.adding(-s) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.scaled(s) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.scaled(1 / s) }
    public static func + (s: Float, a: Tensor) -> Tensor { a.adding(s) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.scaled(s) }
    public static func - (s: Float, a: Tensor) -> Tensor { a.scaled(-1).adding(s) }

    /// Elementwise maximum with broadcasting (gradient to the selected operand).
    public func maximum(_ other: Tensor) throws -> Tensor { try binary(.maximum, other) }
    /// Elementwise minimum with broadcasting (gradient to the selected operand).
    public func minimum(_ other: Tensor) throws -> Tensor { try binary(.minimum, other) }

    /// `self + s` elementwise.
    public func adding(_ s: Float) -> Tensor {
        Tensor.record(Kernels.map(self) { $0 + s }, [self]) { g, _ in [g] }
    }

    /// `self * s` elementwise.
    public func scaled(_ s: Float) -> Tensor {
        Tensor.record(Kernels.scale(self, s), [self]) { g, _ in [Kernels.scale(g, s)] }
    }

    /// Applies a differentiable unary function given its value map and its derivative expressed
    /// through the input `x` and output `y`.
    @inline(__always)
    func unary(_ f: (Float) -> Float, derivative: @escaping (_ x: Float, _ y: Float) -> Float) -> Tensor {
        let x = self
        let y = Kernels.map(x, f)
        return Tensor.record(y, [x]) { g, _ in
            [Kernels.zipMap3(g, x, y) { gi, xi, yi in gi * derivative(xi, yi) }]
        }
    }

    public func neg() -> Tensor { scaled(-1) }
    public func exp() -> Tensor { unary({ Foundation.exp($0) }, derivative: { _, y in y }) }
    /// Natural log (−inf at 0, NaN below).
    public func log() -> Tensor { unary({ Foundation.log($0) }, derivative: { x, _ in 1 / x }) }
    public func sqrt() -> Tensor { unary({ $0.squareRoot() }, derivative: { _, y in 0.5 / y }) }
    /// max(x, 0). Written as explicit loops (no per-element closure call): it is on every
    /// conv block's hot path.
    public func relu() -> Tensor {
        let x = self
        let y = Tensor(uninitializedShape: shape)
        let px = UnsafePointer(storage.pointer), py = y.storage.pointer
        Parallel.forRanges(count) { r in Vec.relu(px + r.lowerBound, py + r.lowerBound, r.count) }
        // The backward mask reads the output (y > 0 exactly where x > 0), which the next op keeps
        // alive anyway, so the input can be freed as soon as nothing else holds it.
        let out = y.detached()
        return Tensor.record(y, [x]) { g, _ in [Kernels.reluBackward(g, output: out)] }
    }
    public func sigmoid() -> Tensor {
        unary(
            { $0 >= 0 ? 1 / (1 + Foundation.exp(-$0)) : Foundation.exp($0) / (1 + Foundation.exp($0)) },
            derivative: { _, y in y * (1 - y) })
    }
    public func tanh() -> Tensor { unary({ Foundation.tanh($0) }, derivative: { _, y in 1 - y * y }) }
    public func abs() -> Tensor { unary({ Swift.abs($0) }, derivative: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) }) }
    /// `self ** p` elementwise for a constant exponent.
    public func pow(_ p: Float) -> Tensor {
        if p == 2 { return unary({ $0 * $0 }, derivative: { x, _ in 2 * x }) }
        return unary({ Foundation.pow($0, p) }, derivative: { x, _ in p * Foundation.pow(x, p - 1) })
    }
    public func square() -> Tensor { pow(2) }
    /// Clamps to `[lo, hi]`; the gradient passes where the input is inside the interval.
    public func clamped(_ lo: Float, _ hi: Float) -> Tensor {
        unary({ Swift.min(Swift.max($0, lo), hi) }, derivative: { x, _ in (x >= lo && x <= hi) ? 1 : 0 })
    }

    /// 1 where `self > other` (broadcast), else 0. Not differentiable (a mask).
    public func greater(_ other: Tensor) throws -> Tensor { try compare(other) { $0 > $1 } }
    public func less(_ other: Tensor) throws -> Tensor { try compare(other) { $0 < $1 } }
    public func greaterEqual(_ other: Tensor) throws -> Tensor { try compare(other) { $0 >= $1 } }
    public func lessEqual(_ other: Tensor) throws -> Tensor { try compare(other) { $0 <= $1 } }
    public func equal(_ other: Tensor) throws -> Tensor { try compare(other) { $0 == $1 } }

    func compare(_ other: Tensor, _ f: (Float, Float) -> Bool) throws -> Tensor {
        guard Kernels.broadcastShape(shape, other.shape) != nil else {
            throw TensorError(
                "shapes \(shapeString(shape)) and \(shapeString(other.shape)) cannot be broadcast together")
        }
        return Kernels.compare(self, other, f)
    }
}

extension Kernels {
    /// The gradient through a ReLU from its output `y`: `g` where `y > 0`, else 0.
    static func reluBackward(_ g: Tensor, output y: Tensor) -> Tensor {
        let gx = Tensor(uninitializedShape: g.shape)
        let pg = UnsafePointer(g.storage.pointer), pd = gx.storage.pointer, py = UnsafePointer(y.storage.pointer)
        Parallel.forRanges(g.count) { r in
            Vec.reluBackward(pg + r.lowerBound, py + r.lowerBound, pd + r.lowerBound, r.count)
        }
        return gx
    }
}
