import Foundation

// MARK: - Deterministic random numbers

/// SplitMix64 (used only to seed xoshiro256**).
struct PhSplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** seeded from (seed, index) through SplitMix64.
struct PhRNG {
    var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    init(seed: UInt64, index: Int) {
        var a = PhSplitMix64(state: seed)
        let base = a.next()
        var b = PhSplitMix64(state: base ^ (UInt64(bitPattern: Int64(index)) &* 0xD1B5_4A32_D192_ED03))
        s0 = b.next(); s1 = b.next(); s2 = b.next(); s3 = b.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    mutating func next() -> UInt64 {
        let result = PhRNG.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = PhRNG.rotl(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }
    /// Uniform in [0, 1) with 53 random bits.
    mutating func uniformDouble() -> Double { Double(next() >> 11) * 0x1p-53 }
    mutating func range(_ a: Float, _ b: Float) -> Float { a + (b - a) * uniform() }
    mutating func chance(_ p: Float) -> Bool { uniform() < p }
    mutating func int(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    mutating func sign() -> Float { next() >> 63 == 0 ? -1 : 1 }
    /// Two independent standard normal values (Marsaglia polar method with the deterministic log below).
    mutating func normalPair() -> (Float, Float) {
        while true {
            let w = next()
            let u = Float(w >> 40) * 0x1p-23 - 1  // 24 bits
            let v = Float((w >> 16) & 0xFF_FFFF) * 0x1p-23 - 1  // next 24 bits
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let f = (-2 * PhMath.log(s) / s).squareRoot()
                return (u * f, v * f)
            }
        }
    }
}
