import CLua
import DollTensor
import Foundation

/// A seeded random generator of its own (`g = doll.generator(7)`), for scripts that want a
/// stream independent of `doll.seed`: numbers, integers, permutations and tensors. It counts
/// its 64-bit draws, so a session stores the seed and the count and resumes the same stream.
public final class GeneratorBox {
    public let seed: UInt64
    private var rng: RandomGenerator
    /// 64-bit words drawn so far.
    public private(set) var draws: UInt64 = 0
    /// Longest stream a session restores (replaying 10⁹ draws takes a few seconds).
    static let maxRestoredDraws: UInt64 = 1_000_000_000

    public init(seed: UInt64, draws: UInt64 = 0) {
        self.seed = seed
        rng = RandomGenerator(seed: seed)
        for _ in 0..<draws { _ = next() }
    }

    private func next() -> UInt64 {
        draws &+= 1
        return rng.next()
    }

    /// Uniform in [0, 1) with 53 random bits.
    func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box–Muller; two draws, nothing cached, so the count is the whole state).
    func normal() -> Double {
        let u1 = Swift.max(uniform(), 0x1p-53)
        let u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// Uniform integer in `range` (rejection sampling, no modulo bias).
    func integer(in range: ClosedRange<Int64>) -> Int64 {
        let span = UInt64(bitPattern: range.upperBound &- range.lowerBound) &+ 1
        if span == 0 { return Int64(bitPattern: next()) }  // the whole 64-bit range
        let limit = UInt64.max - UInt64.max % span
        var x = next()
        while x >= limit { x = next() }
        return range.lowerBound &+ Int64(bitPattern: x % span)
    }
}

extension GeneratorBox: LuaObject {
    static let luaName = "doll.Generator"
    var luaDescription: String { "Generator: seed \(seed), \(draws) draws" }
    var workspaceDetail: (text: String, bytes: Int) { ("seed \(seed), \(draws) draws", 0) }

    static func builders() -> [(String, Int32)] {
        [
            builder("generator") { a in
                let seed =
                    try a.isNil(1)
                    ? (LuaModule.state(of: a.L)?.nextSeed() ?? 0)
                    : UInt64(try a.integer(1, "seed", in: 0...Int(Int32.max)))
                a.push(object: GeneratorBox(seed: seed))
                return 1
            }
        ]
    }

    static func methods() -> [String: Int32] {
        func this(_ a: LuaArgs) throws -> GeneratorBox { try a.object(1, GeneratorBox.self, "self") }
        /// A tensor of the shape given from argument 2, filled by `value`.
        func tensor(_ a: LuaArgs, _ value: () -> Double) throws -> Int32 {
            let shape = try LuaTensor.shape(a, from: 2)
            // Sizes are checked one by one, so the product is formed without overflow.
            var n = 1
            for d in shape {
                let (p, overflow) = n.multipliedReportingOverflow(by: d)
                guard !overflow, p <= 1 << 24 else {
                    throw LuaBindingError(
                        "a tensor of shape \(shapeString(shape)) is more than a generator fills (2^24 values)")
                }
                n = p
            }
            return LuaTensor.push(a, try Tensor((0..<n).map { _ in Float(value()) }, shape: shape))
        }
        return methodTable([
            method("uniform") { a in
                let g = try this(a)
                let lo = try a.optNumber(2, "low") ?? 0
                let hi = try a.optNumber(3, "high") ?? 1
                guard lo < hi, lo.isFinite, hi.isFinite else {
                    throw LuaBindingError("uniform needs finite low < high, got \(lo), \(hi)")
                }
                a.push(lo + (hi - lo) * g.uniform())
                return 1
            },
            method("normal") { a in
                let g = try this(a)
                let mean = try a.optNumber(2, "mean") ?? 0
                let std = try a.optNumber(3, "std") ?? 1
                guard std >= 0, std.isFinite, mean.isFinite else {
                    throw LuaBindingError("normal needs a finite mean and std ≥ 0")
                }
                a.push(mean + std * g.normal())
                return 1
            },
            method("integer") { a in
                let g = try this(a)
                let lo = try a.integer(2, "low")
                let hi = try a.integer(3, "high")
                guard lo <= hi else { throw LuaBindingError("integer needs low ≤ high, got \(lo), \(hi)") }
                lua_pushinteger(a.L, lua_Integer(g.integer(in: Int64(lo)...Int64(hi))))
                return 1
            },
            method("permutation") { a in
                let g = try this(a)
                let n = try a.integer(2, "n", in: 0...(1 << 24))
                var p = (0..<n).map { $0 + 1 }
                for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, Int(g.integer(in: 0...Int64(i)))) }
                a.push(integers: p)
                return 1
            },
            method("rand") { a in
                let g = try this(a)
                return try tensor(a) { g.uniform() }
            },
            method("randn") { a in
                let g = try this(a)
                return try tensor(a) { g.normal() }
            },
            method("seed") { a in
                lua_pushinteger(a.L, lua_Integer(try this(a).seed))
                return 1
            },
            method("draws") { a in
                lua_pushinteger(a.L, lua_Integer(Int64(bitPattern: try this(a).draws)))
                return 1
            },
        ])
    }

    // MARK: sessions: the seed and the number of draws

    static let sessionType = "generator"

    func sessionRecord(
        _ session: inout LuaSession.Encoder, id: String, path: String,
        summary: inout LuaSession.Summary
    ) throws -> [String: Any]? {
        ["seed": String(seed), "draws": String(draws)]
    }

    static func restorer(_ record: LuaSession.Record) throws -> LuaSession.Restorer {
        guard let s = record.raw["seed"] as? String, let seed = UInt64(s), let d = record.raw["draws"] as? String,
            let draws = UInt64(d)
        else {
            throw record.error(" needs a seed and a number of draws (decimal strings)")
        }
        guard draws <= maxRestoredDraws else {
            throw record.error(" has \(draws) draws, more than a session replays (\(maxRestoredDraws))")
        }
        return LuaSession.Restorer { _ in GeneratorBox(seed: seed, draws: draws) }
    }
}
