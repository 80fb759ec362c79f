import Foundation

// MARK: - Deterministic math (no libm)

enum PhMath {
    static let pi: Float = 3.14159265
    static let twoPi: Float = 6.28318531
    static let halfPi: Float = 1.57079633

    /// e^x with Cody–Waite reduction and a degree-6 polynomial (rel. error ~1e-7).
    static func exp(_ x: Float) -> Float {
        if !(x > -87) { return 0 }
        let xc = min(x, 88)
        let k = nearest(xc * 1.44269504)
        let r = (xc - k * 0.693359375) + k * 2.12194440e-4
        var p: Float = 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        return p * Float(bitPattern: UInt32(Int(k) + 127) << 23)  // exact 2^k, k in -126...127
    }

    /// Round to nearest (ties away from zero) for |x| < 2^30.
    @inline(__always) static func nearest(_ x: Float) -> Float {
        Float(Int(x < 0 ? x - 0.5 : x + 0.5))
    }

    /// Natural logarithm for x > 0 (atanh series on the reduced mantissa).
    static func log(_ x: Float) -> Float {
        let bits = max(x, 1e-30).bitPattern  // normal, positive
        var e = Int((bits >> 23) & 0xFF) - 127
        var m = Float(bitPattern: (bits & 0x7F_FFFF) | 0x3F80_0000)  // mantissa in [1, 2)
        if m > 1.41421356 { m *= 0.5; e += 1 }
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        var q: Float = 1.0 / 9.0
        q = q * s2 + 1.0 / 7.0
        q = q * s2 + 0.2
        q = q * s2 + 1.0 / 3.0
        q = q * s2 + 1
        return 2 * s * q + Float(e) * 0.693147181
    }

    static func sin(_ x: Float) -> Float {
        var y = x - nearest(x * (1 / twoPi)) * twoPi
        if y > halfPi { y = pi - y } else if y < -halfPi { y = -pi - y }
        let y2 = y * y
        var p: Float = -1.0 / 39916800.0
        p = p * y2 + 1.0 / 362880.0
        p = p * y2 - 1.0 / 5040.0
        p = p * y2 + 1.0 / 120.0
        p = p * y2 - 1.0 / 6.0
        p = p * y2 + 1
        return y * p
    }

    static func cos(_ x: Float) -> Float { sin(x + halfPi) }

    /// x^e for x > 0 (0 for x ≤ 0).
    static func pow(_ x: Float, _ e: Float) -> Float { x <= 0 ? 0 : exp(e * log(x)) }

    @inline(__always) static func clamp01(_ x: Float) -> Float { min(max(x, 0), 1) }

    /// Smoothstep from e0 to e1 (e0 > e1 gives a falling step).
    @inline(__always) static func sstep(_ e0: Float, _ e1: Float, _ x: Float) -> Float {
        let t = min(max((x - e0) / (e1 - e0), 0), 1)
        return t * t * (3 - 2 * t)
    }

    /// Anti-aliased coverage of a signed distance `sd` (pixels, negative inside) with edge width `w` px.
    /// Signed distance (pixels) from the pixel centre `(px, py)` to a tapered capsule whose axis
    /// runs from `a` along `e = b − a` (`il` = 1/|e|², 0 for a point) with radius `ra` at `a` and
    /// `ra + dr` at `b`; also the position `t` ∈ [0, 1] of the nearest axis point.
    @inline(__always) static func capsule(
        _ px: Float, _ py: Float, a: PhV2, ex: Float, ey: Float, il: Float, ra: Float, dr: Float
    )
        -> (d: Float, t: Float)
    {
        let wx = px - a.x
        let wy = py - a.y
        let t = min(max((wx * ex + wy * ey) * il, 0), 1)
        let dx = wx - ex * t
        let dy = wy - ey * t
        return ((dx * dx + dy * dy).squareRoot() - (ra + dr * t), t)
    }

    @inline(__always) static func cover(_ sd: Float, _ w: Float) -> Float {
        let t = min(max(0.5 - sd / w, 0), 1)
        return t * t * (3 - 2 * t)
    }

    @inline(__always) static func lerp(_ a: Float, _ b: Float, _ t: Float) -> Float { a + (b - a) * t }
}
