import Foundation

/// Seeded pseudo-random generator (xoshiro256**, state from SplitMix64). The same seed gives
/// the same sequence on every run and machine.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)
    private var spareNormal: Float?

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = RandomGenerator.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = RandomGenerator.rotl(s.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform Double in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box–Muller; pairs are used in turn).
    public mutating func nextNormal() -> Float {
        if let v = spareNormal { spareNormal = nil; return v }
        var u1 = nextDouble()
        while u1 <= 0 { u1 = nextDouble() }
        let u2 = nextDouble()
        let r = (-2 * Foundation.log(u1)).squareRoot()
        spareNormal = Float(r * Foundation.sin(2 * .pi * u2))
        return Float(r * Foundation.cos(2 * .pi * u2))
    }

    /// Integer uniform in `0..<n` (n ≥ 1), unbiased.
    public mutating func nextInt(below n: Int) -> Int {
        let bound = UInt64(Swift.max(n, 1))
        let threshold = (0 &- bound) % bound
        while true { let r = next(); if r >= threshold { return Int(r % bound) } }
    }

    /// A seeded permutation of `0..<n` (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, nextInt(below: i + 1)) } }
        return p
    }
}

extension Tensor {
    /// Uniform samples in `[low, high)`.
    public static func uniform(
        _ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RandomGenerator
    ) throws -> Tensor {
        let n = try reservedCount(shape)
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<n { t.storage.pointer[i] = low + (high - low) * rng.nextUniform() }
        return t
    }

    /// Normal samples with the given mean and standard deviation.
    public static func randn(
        _ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout RandomGenerator
    ) throws -> Tensor {
        let n = try reservedCount(shape)
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<n { t.storage.pointer[i] = mean + std * rng.nextNormal() }
        return t
    }

    /// Fan-in and fan-out of a weight (`[out, in]` or `[out, in, kh, kw]`, PyTorch's convention).
    public static func fans(_ shape: [Int]) throws -> (fanIn: Int, fanOut: Int) {
        guard shape.count >= 2 else {
            throw TensorError("fan-in/out need a weight of rank ≥ 2, got \(shapeString(shape))")
        }
        let rf = shape[2...].reduce(1, *)
        return (shape[1] * rf, shape[0] * rf)
    }

    /// He/Kaiming normal init (fan-in mode, gain √2 for ReLU): N(0, 2/fanIn).
    public static func kaimingNormal(_ shape: [Int], rng: inout RandomGenerator) throws -> Tensor {
        let (fanIn, _) = try fans(shape)
        return try randn(shape, std: (2 / Float(Swift.max(fanIn, 1))).squareRoot(), rng: &rng)
    }

    /// Xavier/Glorot uniform init: U(−a, a) with a = √(6/(fanIn+fanOut)).
    public static func xavierUniform(_ shape: [Int], rng: inout RandomGenerator) throws -> Tensor {
        let (fanIn, fanOut) = try fans(shape)
        let a = (6 / Float(Swift.max(fanIn + fanOut, 1))).squareRoot()
        return try uniform(shape, low: -a, high: a, rng: &rng)
    }
}
