import Foundation

// MARK: - Geometry helpers

/// A 2-D point (canonical units or pixels depending on context).
struct PhV2 {
    var x: Float
    var y: Float
    init(_ x: Float, _ y: Float) { self.x = x; self.y = y }
}

/// A polyline with a radius at every vertex (a union of tapered capsules).
struct PhStroke {
    var pts: [PhV2]
    var radii: [Float]
    init(_ pts: [PhV2], _ radii: [Float]) { self.pts = pts; self.radii = radii }
    init(_ pts: [PhV2], radius: Float) { self.pts = pts; self.radii = [Float](repeating: radius, count: pts.count) }
}

/// Canonical → pixel similarity transform (anisotropic habitus scale, rotation, shift).
/// Canonical frame: x to the image right, y down, body centred at 0, lungs within about [-0.9, 0.9].
struct PhTransform {
    var cosT: Float, sinT: Float, sx: Float, sy: Float, tx: Float, ty: Float
    /// Pixels per canonical unit (mean of the two axes).
    var unit: Float { 0.5 * (sx + sy) }
    func px(_ p: PhV2) -> PhV2 {
        let u = p.x * sx, v = p.y * sy
        return PhV2(tx + cosT * u - sinT * v, ty + sinT * u + cosT * v)
    }
    func canonical(_ p: PhV2) -> PhV2 {
        let dx = p.x - tx, dy = p.y - ty
        let u = cosT * dx + sinT * dy
        let v = -sinT * dx + cosT * dy
        return PhV2(u / sx, v / sy)
    }
}

enum PhGeom {
    /// Catmull–Rom interpolation through control points, `k` samples per span.
    static func spline(_ c: [PhV2], _ k: Int) -> [PhV2] {
        guard c.count >= 3 else { return c }
        var out: [PhV2] = []
        out.reserveCapacity((c.count - 1) * k + 1)
        for i in 0..<(c.count - 1) {
            let p0 = c[max(i - 1, 0)], p1 = c[i], p2 = c[i + 1], p3 = c[min(i + 2, c.count - 1)]
            for j in 0..<k {
                let t = Float(j) / Float(k)
                out.append(PhV2(catmull(p0.x, p1.x, p2.x, p3.x, t), catmull(p0.y, p1.y, p2.y, p3.y, t)))
            }
        }
        out.append(c[c.count - 1])
        return out
    }

    @inline(__always) static func catmull(_ a: Float, _ b: Float, _ c: Float, _ d: Float, _ t: Float) -> Float {
        let t2 = t * t, t3 = t2 * t
        let c1 = c - a
        let c2 = 2 * a - 5 * b + 4 * c - d
        let c3 = 3 * b - a - 3 * c + d
        return 0.5 * (2 * b + c1 * t + c2 * t2 + c3 * t3)
    }

    /// Quadratic Bézier sampled with `k + 1` points.
    static func bezier(_ a: PhV2, _ b: PhV2, _ c: PhV2, _ k: Int) -> [PhV2] {
        var out: [PhV2] = []
        for j in 0...k {
            let t = Float(j) / Float(k), u = 1 - t
            out.append(PhV2(u * u * a.x + 2 * u * t * b.x + t * t * c.x, u * u * a.y + 2 * u * t * b.y + t * t * c.y))
        }
        return out
    }

    /// Even–odd point-in-polygon test.
    static func inside(_ poly: [PhV2], _ p: PhV2) -> Bool {
        var result = false
        var j = poly.count - 1
        for i in 0..<poly.count {
            let a = poly[i], b = poly[j]
            if (a.y > p.y) != (b.y > p.y) {
                let xi = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y)
                if p.x < xi { result.toggle() }
            }
            j = i
        }
        return result
    }

    /// Unsigned distance from `p` to the polygon boundary.
    static func boundaryDistance(_ poly: [PhV2], _ p: PhV2) -> Float {
        var best = Float.greatestFiniteMagnitude
        var j = poly.count - 1
        for i in 0..<poly.count {
            let a = poly[j], b = poly[i]
            let ex = b.x - a.x, ey = b.y - a.y
            let l2 = ex * ex + ey * ey
            let wx = p.x - a.x, wy = p.y - a.y
            let t = l2 > 0 ? min(max((wx * ex + wy * ey) / l2, 0), 1) : 0
            let dx = wx - ex * t, dy = wy - ey * t
            best = min(best, dx * dx + dy * dy)
            j = i
        }
        return best.squareRoot()
    }
}

/// Bilinear value noise on a random lattice covering canonical [-1.3, 1.3]², smooth-stepped.
struct PhNoise {
    let g: Int
    let v: [Float]
    init(grid: Int, rng: inout PhRNG) {
        g = max(grid, 2)
        var vals = [Float](repeating: 0, count: g * g)
        for i in 0..<(g * g) { vals[i] = rng.uniform() }
        v = vals
    }
    @inline(__always) func at(_ x: Float, _ y: Float) -> Float {
        let scale = Float(g - 1) / 2.6
        let fx = min(max((x + 1.3) * scale, 0), Float(g - 1) - 0.001)
        let fy = min(max((y + 1.3) * scale, 0), Float(g - 1) - 0.001)
        let ix = Int(fx), iy = Int(fy)
        var tx = fx - Float(ix), ty = fy - Float(iy)
        tx = tx * tx * (3 - 2 * tx)
        ty = ty * ty * (3 - 2 * ty)
        let o = iy * g + ix
        let a = v[o] + (v[o + 1] - v[o]) * tx
        let b = v[o + g] + (v[o + g + 1] - v[o + g]) * tx
        return a + (b - a) * ty
    }
}
