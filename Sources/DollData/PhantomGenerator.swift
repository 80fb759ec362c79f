// PhantomGenerator.swift — synthetic frontal (PA) chest-radiograph phantoms with pixel-exact ground truth.
//
// Overview
// --------
// `PhantomGenerator(config:).sample(i)` renders one square grey-level image (row-major, row 0 = top,
// values in [0, 1], air dark / bone bright) together with CheXpert-style labels and binary masks.
// The image is displayed the usual way, facing the patient: the patient's LEFT is on the image's RIGHT.
//
// Pipeline (per sample, `PhBuilder`):
//   1. labels   – findings drawn with `prevalence` (fixed draw order) plus a few co-occurrence rules;
//   2. anatomy  – a patient drawn in a canonical frame (x to the image right, y down, body midline at
//                 x = 0, lung fields about x ∈ [-0.86, 0.86], y ∈ [-0.8, 0.6]) and mapped to pixels by a
//                 random pose (scale, anisotropic habitus, rotation ±0.05 rad, shift);
//   3. fields   – closed structures (lungs, heart, mediastinum) become signed-distance fields in pixels
//                 (negative inside); bones, vessels, tubes are unions of tapered capsules;
//   4. findings – each finding is an "amount" field in [0, 1] (its local strength) and its mask is
//                 where amount ≥ a threshold, so the mask is where the sign is drawn;
//   5. compose  – an attenuation map (body + bone − lung air + vessels + findings; ≈ 0 air … ≈ 0.9 bone
//                 over soft tissue) goes through a film-like curve with random exposure and gamma, a
//                 slight blur and Gaussian noise (std = noise · (0.5 + difficulty) · U(0.8, 1.2)).
// Masks are evaluated at pixel centres from the same geometry that is rendered (only blur and noise
// come after them). Parenchymal finding masks are restricted to the lung masks. A mask that would be
// empty (tiny images, overlapping findings) falls back to the strongest pixels of its sign, or to a
// small disc that is then also drawn, so a mask is non-empty exactly when its label is 1.
//
// Difficulty d ∈ [0, 1] scales finding contrast by (1 − 0.55 d) and shrinks sizes of several signs
// (effusion height, pneumothorax depth, nodule radius, fracture gap/step, heart/mediastinum
// enlargement); it also raises the noise.
//
// Masks (all `size*size` UInt8, 0/1)
// ----------------------------------
// Anatomy (always present):
//   left_lung / right_lung  – the patient's lung field (polygon of the hemithorax air space, apex to
//                             diaphragm / costophrenic angle) minus heart and mediastinum. It keeps the
//                             nominal anatomical region even where a finding overlies it (effusion,
//                             pneumothorax), but follows volume loss (raised hemidiaphragm in atelectasis)
//                             and the enlarged heart / widened mediastinum.
//   heart                   – the cardiac silhouette actually drawn (the enlarged one in Cardiomegaly).
//   left_clavicle / right_clavicle – the clavicle bone.
// Findings (present exactly when the label is 1, never empty):
//   Enlarged Cardiomediastinum – the whole widened upper mediastinum (thoracic inlet to the top of the
//                                heart, heart excluded).
//   Cardiomegaly       – the whole enlarged cardiac silhouette (equal to the "heart" mask in that image).
//   Lung Opacity       – union of all parenchymal opacity masks: its own nonspecific opacity plus Lung
//                        Lesion, Edema, Consolidation, Pneumonia, Atelectasis and the infection.
//   Lung Lesion        – the nodule / mass disc.
//   Edema              – bilateral perihilar ("butterfly") haze plus basal Kerley B lines, inside the lungs.
//   Consolidation      – the dense lobar / segmental opacity inside one lung.
//   Pneumonia          – the patchy air-space opacity (one or two foci) inside the lungs.
//   Atelectasis        – the plate-like basal band (the raised hemidiaphragm is rendered but not masked).
//   Pneumothorax       – the pleural air space between the retracted lung edge and the chest wall.
//   Pleural Effusion   – the dependent fluid (meniscus at the costophrenic angle) inside the hemithorax.
//   Pleural Other      – the pleural thickening band along the lateral chest wall.
//   Fracture           – a small disc around the rib break (gap / step).
//   Support Devices    – device pixels: tubes, lines, pacemaker, ECG electrodes and wires.
//   infection (extra)  – COVID-like peripheral, lower-zone ground-glass opacities (usually bilateral).
//
// Labels
// ------
// Each observation except "No Finding" is drawn independently with probability `prevalence[name]`.
// Co-occurrence rules add findings (only where the added finding's own prevalence is > 0):
//   Edema ⇒ Cardiomegaly (p 0.4) and Pleural Effusion (p 0.4); Pneumonia ⇒ Consolidation (p 0.4);
//   Pleural Effusion ⇒ Atelectasis (p 0.25); Edema / Effusion / Pneumothorax ⇒ Support Devices (p 0.3).
// Lung Opacity is the CheXpert parent: it is 1 when drawn itself OR when any parenchymal opacity is
// present (Lung Lesion, Edema, Consolidation, Pneumonia, Atelectasis, infection), so its observed
// frequency is well above `prevalence["Lung Opacity"]`. No Finding = 1 iff none of observations 1…12 is
// present (Support Devices is not a pathology, so it may co-occur with No Finding).
//
// Determinism
// -----------
// sample(i) depends only on (config, i). A per-index xoshiro256** generator is seeded through SplitMix64
// from (seed, index); all transcendental functions (exp, log, sin, cos, pow) are implemented here with
// plain IEEE arithmetic, so results do not depend on the platform's libm. No Dictionary/Set iteration
// order affects the output.

import Foundation

// MARK: - Public API

/// CheXpert's 14 observations in CSV column order (index = label position).
public let phantomObservations: [String] = [
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
    "Fracture", "Support Devices",
]

/// Anatomy masks always produced: "left_lung", "right_lung", "heart", "left_clavicle", "right_clavicle" (patient's left/right).
public let phantomAnatomy: [String] = ["left_lung", "right_lung", "heart", "left_clavicle", "right_clavicle"]

/// Error thrown for an invalid `PhantomConfig`.
public struct PhantomError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

/// Settings of the phantom generator. All probabilities are in [0, 1].
public struct PhantomConfig: Codable, Equatable, Sendable {
    /// Square image side in pixels (32...1024; 64...512 is the intended range).
    public var size: Int = 128
    /// Dataset seed; sample `i` depends only on (config, i).
    public var seed: UInt64 = 1
    /// Probability that each observation (not "No Finding") is drawn. Keys missing from the dictionary
    /// passed to `init` fall back to `defaultPrevalence`; 0 disables a finding (except Lung Opacity,
    /// which is also implied by the parenchymal opacities, see the file header).
    public var prevalence: [String: Double]
    /// Probability of COVID-like bilateral peripheral ground-glass opacities (mask "infection").
    public var infectionPrevalence: Double = 0.2
    /// 0 = very conspicuous findings, 1 = subtle (lower finding contrast / smaller signs, more noise).
    public var difficulty: Double = 0.5
    /// Gaussian pixel-noise std in [0, 1] intensity units at difficulty 0.5 (std = noise · (0.5 + difficulty)).
    public var noise: Double = 0.02

    public init(size: Int = 128, seed: UInt64 = 1, prevalence: [String: Double]? = nil,
                infectionPrevalence: Double = 0.2, difficulty: Double = 0.5, noise: Double = 0.02) {
        self.size = size
        self.seed = seed
        var merged = PhantomConfig.defaultPrevalence
        if let prevalence {
            for (name, p) in prevalence { merged[name] = p }
        }
        self.prevalence = merged
        self.infectionPrevalence = infectionPrevalence
        self.difficulty = difficulty
        self.noise = noise
    }

    private enum CodingKeys: String, CodingKey {
        case size, seed, prevalence, infectionPrevalence, difficulty, noise
    }

    /// Decodes a config; missing keys take their defaults (missing prevalence entries too).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(size: try c.decodeIfPresent(Int.self, forKey: .size) ?? 128,
                  seed: try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1,
                  prevalence: try c.decodeIfPresent([String: Double].self, forKey: .prevalence),
                  infectionPrevalence: try c.decodeIfPresent(Double.self, forKey: .infectionPrevalence) ?? 0.2,
                  difficulty: try c.decodeIfPresent(Double.self, forKey: .difficulty) ?? 0.5,
                  noise: try c.decodeIfPresent(Double.self, forKey: .noise) ?? 0.02)
    }

    /// Default per-observation probabilities (before co-occurrence rules; see the file header).
    public static let defaultPrevalence: [String: Double] = [
        "Enlarged Cardiomediastinum": 0.10,
        "Cardiomegaly": 0.15,
        "Lung Opacity": 0.10,
        "Lung Lesion": 0.10,
        "Edema": 0.10,
        "Consolidation": 0.10,
        "Pneumonia": 0.10,
        "Atelectasis": 0.12,
        "Pneumothorax": 0.10,
        "Pleural Effusion": 0.15,
        "Pleural Other": 0.08,
        "Fracture": 0.10,
        "Support Devices": 0.20,
    ]

    /// Throws PhantomError with a clear message when size < 32 or > 1024, probabilities outside [0,1],
    /// unknown observation names, difficulty outside [0,1] (or noise outside [0,1]).
    public func validate() throws {
        guard size >= 32 && size <= 1024 else {
            throw PhantomError(message: "PhantomConfig.size must be in 32...1024, got \(size)")
        }
        guard difficulty.isFinite && difficulty >= 0 && difficulty <= 1 else {
            throw PhantomError(message: "PhantomConfig.difficulty must be in [0, 1], got \(difficulty)")
        }
        guard noise.isFinite && noise >= 0 && noise <= 1 else {
            throw PhantomError(message: "PhantomConfig.noise must be in [0, 1], got \(noise)")
        }
        guard infectionPrevalence.isFinite && infectionPrevalence >= 0 && infectionPrevalence <= 1 else {
            throw PhantomError(message: "PhantomConfig.infectionPrevalence must be in [0, 1], got \(infectionPrevalence)")
        }
        for name in prevalence.keys.sorted() {
            guard name != "No Finding", phantomObservations.contains(name) else {
                let valid = phantomObservations.dropFirst().joined(separator: ", ")
                throw PhantomError(message: "PhantomConfig.prevalence: unknown observation name \"\(name)\" (valid: \(valid))")
            }
            let p = prevalence[name] ?? 0
            guard p.isFinite && p >= 0 && p <= 1 else {
                throw PhantomError(message: "PhantomConfig.prevalence[\"\(name)\"] must be in [0, 1], got \(p)")
            }
        }
    }
}

/// One rendered phantom.
public struct PhantomSample: Sendable {
    /// "phantom-" followed by the index, zero-padded to 6 digits (e.g. "phantom-000042").
    public var id: String
    /// size*size values in [0,1], row-major, row 0 = top of the image.
    public var pixels: [Float]
    /// Image side in pixels.
    public var size: Int
    /// 14 values (0 or 1) in `phantomObservations` order.
    public var labels: [Float]
    /// size*size masks with values 0/1: every `phantomAnatomy` name, every present observation except
    /// "No Finding", and "infection" when present.
    public var masks: [String: [UInt8]]
    /// Whether the COVID-like infection pattern is present.
    public var infection: Bool

    public init(id: String, pixels: [Float], size: Int, labels: [Float], masks: [String: [UInt8]], infection: Bool) {
        self.id = id
        self.pixels = pixels
        self.size = size
        self.labels = labels
        self.masks = masks
        self.infection = infection
    }
}

/// Deterministic, random-access generator of chest-radiograph phantoms.
public struct PhantomGenerator: Sendable {
    public let config: PhantomConfig
    /// Prevalence per observation index (index 0, "No Finding", unused).
    private let prevalenceTable: [Double]

    /// Validates `config` (throws `PhantomError`).
    public init(config: PhantomConfig) throws {
        try config.validate()
        self.config = config
        var table = [Double](repeating: 0, count: phantomObservations.count)
        for k in 1..<phantomObservations.count {
            let name = phantomObservations[k]
            table[k] = config.prevalence[name] ?? PhantomConfig.defaultPrevalence[name] ?? 0
        }
        prevalenceTable = table
    }

    /// Deterministic: sample(i) depends only on (config, i) — random access, same bytes every run on
    /// every machine.
    public func sample(_ index: Int) -> PhantomSample {
        let builder = PhBuilder(config: config, prevalence: prevalenceTable, index: index)
        return builder.run()
    }
}

// MARK: - Deterministic random numbers

/// SplitMix64 (used only to seed xoshiro256**).
fileprivate struct PhSplitMix64 {
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
fileprivate struct PhRNG {
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
            let u = Float(w >> 40) * 0x1p-23 - 1              // 24 bits
            let v = Float((w >> 16) & 0xFF_FFFF) * 0x1p-23 - 1 // next 24 bits
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let f = (-2 * PhMath.log(s) / s).squareRoot()
                return (u * f, v * f)
            }
        }
    }
}

// MARK: - Deterministic math (no libm)

fileprivate enum PhMath {
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
        return p * Float(bitPattern: UInt32(Int(k) + 127) << 23)   // exact 2^k, k in -126...127
    }

    /// Round to nearest (ties away from zero) for |x| < 2^30.
    @inline(__always) static func nearest(_ x: Float) -> Float {
        Float(Int(x < 0 ? x - 0.5 : x + 0.5))
    }

    /// Natural logarithm for x > 0 (atanh series on the reduced mantissa).
    static func log(_ x: Float) -> Float {
        let bits = max(x, 1e-30).bitPattern          // normal, positive
        var e = Int((bits >> 23) & 0xFF) - 127
        var m = Float(bitPattern: (bits & 0x7F_FFFF) | 0x3F80_0000)   // mantissa in [1, 2)
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
    @inline(__always) static func cover(_ sd: Float, _ w: Float) -> Float {
        let t = min(max(0.5 - sd / w, 0), 1)
        return t * t * (3 - 2 * t)
    }

    @inline(__always) static func lerp(_ a: Float, _ b: Float, _ t: Float) -> Float { a + (b - a) * t }
}

// MARK: - Geometry helpers

/// A 2-D point (canonical units or pixels depending on context).
fileprivate struct PhV2 {
    var x: Float
    var y: Float
    init(_ x: Float, _ y: Float) { self.x = x; self.y = y }
}

/// A polyline with a radius at every vertex (a union of tapered capsules).
fileprivate struct PhStroke {
    var pts: [PhV2]
    var radii: [Float]
    init(_ pts: [PhV2], _ radii: [Float]) { self.pts = pts; self.radii = radii }
    init(_ pts: [PhV2], radius: Float) { self.pts = pts; self.radii = [Float](repeating: radius, count: pts.count) }
}

/// Canonical → pixel similarity transform (anisotropic habitus scale, rotation, shift).
/// Canonical frame: x to the image right, y down, body centred at 0, lungs within about [-0.9, 0.9].
fileprivate struct PhTransform {
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

fileprivate enum PhGeom {
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
fileprivate struct PhNoise {
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

// MARK: - Rasterisation (pixel space)

fileprivate enum PhRaster {
    static let far: Float = 1.0e4

    /// Signed distance in pixels (negative inside) to a closed polygon given in pixel coordinates,
    /// evaluated at pixel centres inside the polygon's bounding box grown by `margin`; `far` elsewhere.
    /// Distances are clamped to ±`cap` pixels (enough for every consumer; keeps the cost low: each
    /// row only looks at the edges within `cap` of it, and inside/outside comes from the row's
    /// sorted edge crossings).
    static func polygonSD(_ poly: [PhV2], size: Int, margin: Float, cap: Float) -> [Float] {
        var out = [Float](repeating: far, count: size * size)
        let m = poly.count
        guard m >= 3 else { return out }
        var minX = poly[0].x, maxX = poly[0].x, minY = poly[0].y, maxY = poly[0].y
        for p in poly {
            minX = min(minX, p.x); maxX = max(maxX, p.x); minY = min(minY, p.y); maxY = max(maxY, p.y)
        }
        guard minX.isFinite && maxX.isFinite && minY.isFinite && maxY.isFinite else { return out }
        let fs = Float(size)
        let x0 = Int(min(max(minX - margin, 0), fs).rounded(.down))
        let x1 = Int(min(max(maxX + margin + 1, 0), fs).rounded(.down))
        let y0 = Int(min(max(minY - margin, 0), fs).rounded(.down))
        let y1 = Int(min(max(maxY + margin + 1, 0), fs).rounded(.down))
        guard x0 < x1 && y0 < y1 else { return out }
        var ax = [Float](repeating: 0, count: m), ay = ax, ex = ax, ey = ax, il = ax
        var loY = ax, hiY = ax, loX = ax, hiX = ax
        for i in 0..<m {
            let j = i + 1 == m ? 0 : i + 1
            ax[i] = poly[i].x; ay[i] = poly[i].y
            ex[i] = poly[j].x - poly[i].x; ey[i] = poly[j].y - poly[i].y
            let l2 = ex[i] * ex[i] + ey[i] * ey[i]
            il[i] = l2 > 0 ? 1 / l2 : 0
            loY[i] = min(poly[i].y, poly[j].y) - cap; hiY[i] = max(poly[i].y, poly[j].y) + cap
            loX[i] = min(poly[i].x, poly[j].x) - cap; hiX[i] = max(poly[i].x, poly[j].x) + cap
        }
        let cap2 = cap * cap
        var rowEdges = [Int](repeating: 0, count: m)
        var crossings = [Float](repeating: 0, count: m)
        out.withUnsafeMutableBufferPointer { o in
        ax.withUnsafeBufferPointer { ax in ay.withUnsafeBufferPointer { ay in
        ex.withUnsafeBufferPointer { ex in ey.withUnsafeBufferPointer { ey in il.withUnsafeBufferPointer { il in
        loX.withUnsafeBufferPointer { loX in hiX.withUnsafeBufferPointer { hiX in
        loY.withUnsafeBufferPointer { loY in hiY.withUnsafeBufferPointer { hiY in
        rowEdges.withUnsafeMutableBufferPointer { re in crossings.withUnsafeMutableBufferPointer { cr in
            for yy in y0..<y1 {
                let py = Float(yy) + 0.5
                var ne = 0, nc = 0
                for i in 0..<m {
                    if py >= loY[i] && py <= hiY[i] { re[ne] = i; ne += 1 }
                    if (ay[i] > py) != (ay[i] + ey[i] > py) { cr[nc] = ax[i] + (py - ay[i]) * ex[i] / ey[i]; nc += 1 }
                }
                // insertion sort of the (few) crossings
                if nc > 1 {
                    for i in 1..<nc {
                        let v = cr[i]
                        var j = i - 1
                        while j >= 0 && cr[j] > v { cr[j + 1] = cr[j]; j -= 1 }
                        cr[j + 1] = v
                    }
                }
                var ci = 0
                for xx in x0..<x1 {
                    let px = Float(xx) + 0.5
                    while ci < nc && cr[ci] <= px { ci += 1 }
                    let inside = (nc - ci) & 1 == 1
                    var d2 = cap2
                    for k in 0..<ne {
                        let i = re[k]
                        if px < loX[i] || px > hiX[i] { continue }
                        let wx = px - ax[i], wy = py - ay[i]
                        let t = min(max((wx * ex[i] + wy * ey[i]) * il[i], 0), 1)
                        let dx = wx - ex[i] * t, dy = wy - ey[i] * t
                        d2 = min(d2, dx * dx + dy * dy)
                    }
                    let d = d2.squareRoot()
                    o[yy * size + xx] = inside ? -d : d
                }
            }
        }}}}}}}}}}}}
        return out
    }

    /// Min-composites the signed distance (pixels) of a union of tapered capsules into `sd`.
    /// `pts`/`radii` are in pixels; each segment is evaluated in its own bounding box grown by `margin`.
    static func strokeSD(_ sd: inout [Float], size: Int, pts: [PhV2], radii: [Float], margin: Float) {
        guard !pts.isEmpty else { return }
        let fs = Float(size)
        let segs = max(pts.count - 1, 1)
        sd.withUnsafeMutableBufferPointer { o in
            for k in 0..<segs {
                let a = pts[k], b = pts[min(k + 1, pts.count - 1)]
                let ra = radii[k], rb = radii[min(k + 1, pts.count - 1)]
                let reach = max(ra, rb) + margin
                let minX = min(a.x, b.x) - reach, maxX = max(a.x, b.x) + reach
                let minY = min(a.y, b.y) - reach, maxY = max(a.y, b.y) + reach
                guard minX.isFinite && maxX.isFinite && minY.isFinite && maxY.isFinite else { continue }
                let x0 = Int(min(max(minX, 0), fs).rounded(.down))
                let x1 = Int(min(max(maxX + 1, 0), fs).rounded(.down))
                let y0 = Int(min(max(minY, 0), fs).rounded(.down))
                let y1 = Int(min(max(maxY + 1, 0), fs).rounded(.down))
                if x0 >= x1 || y0 >= y1 { continue }
                let ex = b.x - a.x, ey = b.y - a.y
                let l2 = ex * ex + ey * ey
                let il: Float = l2 > 0 ? 1 / l2 : 0
                let dr = rb - ra
                for yy in y0..<y1 {
                    let py = Float(yy) + 0.5
                    for xx in x0..<x1 {
                        let px = Float(xx) + 0.5
                        let wx = px - a.x, wy = py - a.y
                        let t = min(max((wx * ex + wy * ey) * il, 0), 1)
                        let dx = wx - ex * t, dy = wy - ey * t
                        let d = (dx * dx + dy * dy).squareRoot() - (ra + dr * t)
                        let p = yy * size + xx
                        if d < o[p] { o[p] = d }
                    }
                }
            }
        }
    }
}

// MARK: - Anatomy model (canonical units)

/// One lung field: superellipse apex/lateral and medial arcs closed by a diaphragm dome.
/// `s` = -1 for the patient's right lung (image left), +1 for the patient's left lung (image right).
fileprivate struct PhLung {
    var s: Float
    var apexX: Float, apexY: Float      // top of the apex
    var latX: Float, cpY: Float         // costophrenic angle (lateral-most, lowest point)
    var medX: Float, medBaseY: Float    // cardiophrenic end of the medial border
    var domeX: Float, domeY: Float      // top of the hemidiaphragm dome
    var nLat: Float, nMed: Float, pDia: Float

    func diaphragmY(_ x: Float) -> Float {
        if (x - domeX) * s >= 0 {
            let u = PhMath.clamp01((x - domeX) / (latX - domeX))
            return domeY + (cpY - domeY) * PhMath.pow(u, pDia)
        }
        let u = PhMath.clamp01((x - domeX) / (medX - domeX))
        return domeY + (medBaseY - domeY) * PhMath.pow(u, pDia)
    }

    /// |x| of the lateral lung border at height y (canonical).
    func lateralAbsX(_ y: Float) -> Float {
        let a = abs(apexX), l = abs(latX)
        if y >= cpY { return l }
        if y <= apexY { return a }
        let q = (cpY - y) / (cpY - apexY)
        return a + (l - a) * PhMath.pow(1 - PhMath.pow(q, nLat), 1 / nLat)
    }

    /// Closed outline (canonical), about 44 vertices.
    func polygon() -> [PhV2] {
        var pts: [PhV2] = []
        let nm = 12, nl = 18, nd = 14
        for i in 0...nm {   // medial arc: cardiophrenic end up to the apex
            let phi = PhMath.halfPi * Float(nm - i) / Float(nm)
            let fx = PhMath.pow(PhMath.sin(phi), 2 / nMed), fy = PhMath.pow(max(PhMath.cos(phi), 0), 2 / nMed)
            pts.append(PhV2(apexX + (medX - apexX) * fx, medBaseY - (medBaseY - apexY) * fy))
        }
        for i in 1...nl {   // lateral arc: apex down to the costophrenic angle
            let phi = PhMath.halfPi * Float(i) / Float(nl)
            let fx = PhMath.pow(PhMath.sin(phi), 2 / nLat), fy = PhMath.pow(max(PhMath.cos(phi), 0), 2 / nLat)
            pts.append(PhV2(apexX + (latX - apexX) * fx, cpY - (cpY - apexY) * fy))
        }
        for i in 1..<nd {   // diaphragm: costophrenic angle to the medial end
            let x = latX + (medX - latX) * Float(i) / Float(nd)
            pts.append(PhV2(x, diaphragmY(x)))
        }
        return pts
    }
}

/// Cardiac silhouette: rotated superellipse (lower half stretched; clipped at the diaphragm when rasterised).
fileprivate struct PhHeart {
    var cx: Float, cy: Float, a: Float, b: Float, angle: Float, n: Float
    func polygon() -> [PhV2] {
        var pts: [PhV2] = []
        let k = 40
        let ca = PhMath.cos(angle), sa = PhMath.sin(angle)
        for i in 0..<k {
            let t = PhMath.twoPi * Float(i) / Float(k)
            let c = PhMath.cos(t), s = PhMath.sin(t)
            let ux = a * (c < 0 ? -1 : 1) * PhMath.pow(abs(c), 2 / n)
            let uy = b * (s < 0 ? -1 : 1) * PhMath.pow(abs(s), 2 / n)
            let y = cy + sa * ux + ca * uy
            // the lower half is stretched so that the silhouette always reaches the diaphragm
            pts.append(PhV2(cx + ca * ux - sa * uy, y > cy ? cy + (y - cy) * 1.7 : y))
        }
        return pts
    }
    /// Scaled about an anchor point (cardiomegaly grows mostly downward and to the image right).
    func enlarged(_ f: Float, anchorX: Float, anchorY: Float) -> PhHeart {
        var h = self
        h.cx = anchorX + (cx - anchorX) * f * 1.1
        h.cy = anchorY + (cy - anchorY) * f
        h.a = a * f
        h.b = b * f * 0.96
        return h
    }
}

/// Upper mediastinum (trachea level down into the heart): right/left borders as functions of y.
fileprivate struct PhMediastinum {
    var shift: Float, knob: Float, knobY: Float, baseY: Float
    var widen: Float = 0           // relative widening of the upper mediastinum (Enlarged Cardiomediastinum)

    func bump(_ y: Float) -> Float { PhMath.sstep(-0.8, -0.55, y) * (1 - PhMath.sstep(-0.12, 0.1, y)) }

    func polygon() -> [PhV2] {
        var right: [PhV2] = [], left: [PhV2] = []
        let k = 28
        let y0: Float = -1.5
        for i in 0...k {
            let y = y0 + (baseY - y0) * Float(i) / Float(k)
            let w = 1 + widen * bump(y)
            let xr = -(0.095 + 0.07 * PhMath.sstep(-0.85, 0.05, y)) * w
            let g = (y - knobY) / 0.09
            let xl = (0.095 + 0.035 * PhMath.sstep(-0.85, -0.55, y) + 0.03 * PhMath.sstep(-0.35, 0.05, y)
                      + knob * PhMath.exp(-g * g)) * w
            right.append(PhV2(shift + xr, y))
            left.append(PhV2(shift + xl, y))
        }
        return right + left.reversed()
    }
}

// MARK: - Observation indices

fileprivate enum PhObs {
    static let noFinding = 0, ecm = 1, cardiomegaly = 2, lungOpacity = 3, lesion = 4, edema = 5
    static let consolidation = 6, pneumonia = 7, atelectasis = 8, pneumothorax = 9, effusion = 10
    static let pleuralOther = 11, fracture = 12, devices = 13
}

// MARK: - Per-sample state

/// The patient of one sample, in canonical units (after finding-induced changes of the anatomy).
fileprivate struct PhAnatomy {
    /// [patient's right (image left), patient's left (image right)].
    var lungs: [PhLung]
    /// Cardiac silhouette as drawn (enlarged in Cardiomegaly).
    var heart: PhHeart
    /// Upper mediastinum as drawn (widened in Enlarged Cardiomediastinum).
    var med: PhMediastinum
    /// Chest-wall half width and neck half width.
    var bodyW: Float
    var neckW: Float
    /// Hilar points [right, left].
    var hilum: [PhV2]
    /// Side of the atelectasis (−1 right, +1 left; meaningful only when present).
    var atelSide: Float
}

/// Rasterised anatomy. Arrays are `size*size`, row-major; signed distances are in pixels (negative
/// inside) and valid near each shape (see `PhRaster.polygonSD`); coverages are in [0, 1].
fileprivate struct PhFields {
    let lungPoly: [[PhV2]]
    let heartPoly: [PhV2]
    let medPoly: [PhV2]
    let lungSD: [[Float]]
    let heartSD: [Float]
    let medSD: [Float]
    /// Visible lung per side: lung polygon minus mediastinum, 85 % hidden behind the heart.
    let lungCov: [[Float]]
    /// Lung polygon coverage per side (includes the parts behind heart and mediastinum).
    let lungPolyCov: [[Float]]
    /// Lung masks per side (polygon minus heart minus mediastinum) and their union.
    let lungMask: [[UInt8]]
    let lungUnion: [UInt8]
    let heartMask: [UInt8]
}

/// What the findings add to the image, and their masks.
fileprivate struct PhLayers {
    /// Attenuation added inside the lungs (capped by the local lung air when composed).
    var opacityAdd: [Float]
    /// Attenuation added anywhere (nodules, pleural thickening, devices).
    var extraA: [Float]
    /// Pneumothorax air space in [0, 1] (extra lucency, no vessels).
    var ptxAmount: [Float]
    /// Signed distance to the retracted lung edge (pleural line), when a pneumothorax is present.
    var collapsedSD: [Float]? = nil
    var ptxSide = 0
    /// Union of the parenchymal opacity masks (the Lung Opacity mask).
    var opacityMask: [UInt8]
    var masks: [String: [UInt8]] = [:]
    var infectionMask: [UInt8]? = nil

    init(n: Int) {
        opacityAdd = [Float](repeating: 0, count: n)
        extraA = opacityAdd
        ptxAmount = opacityAdd
        opacityMask = [UInt8](repeating: 0, count: n)
    }

    mutating func addOpacity(_ amount: [Float], _ amp: Float) {
        for p in 0..<amount.count where amount[p] > 0 { opacityAdd[p] += amp * amount[p] }
    }
    mutating func addExtra(_ amount: [Float], _ amp: Float) {
        for p in 0..<amount.count where amount[p] > 0 { extraA[p] += amp * amount[p] }
    }
    mutating func unionOpacity(_ m: [UInt8]) {
        for p in 0..<m.count where m[p] != 0 { opacityMask[p] = 1 }
    }
    mutating func setMask(_ obs: Int, _ m: [UInt8]) { masks[phantomObservations[obs]] = m }
}

/// Bones and arms as pixel signed-distance fields.
fileprivate struct PhSkeleton {
    var posteriorRibs: [Float]
    var anteriorRibs: [Float]
    /// [right, left].
    var clavicles: [[Float]]
    var humeri: [Float]
    var arms: [Float]
}

// MARK: - Sample builder

/// Builds one sample. Created per call to `sample(_:)`; never shared between threads.
/// Methods run in a fixed order, so the random stream (and the output) depends only on (config, index).
fileprivate final class PhBuilder {
    let size: Int
    let n: Int
    let index: Int
    let prev: [Double]
    let infectionPrev: Double
    let noiseLevel: Float
    let diff: Float
    /// Finding conspicuity factor: 1 at difficulty 0, 0.45 at difficulty 1.
    let kf: Float
    var rng: PhRNG
    /// Canonical → pixel transform of this sample (random pose / habitus).
    let tf: PhTransform
    /// Pixels per canonical unit.
    let unit: Float
    /// Default anti-aliasing edge width in pixels.
    let edge: Float
    /// Canonical coordinates of every pixel centre (size*size each).
    let cX: [Float]
    let cY: [Float]

    init(config: PhantomConfig, prevalence: [Double], index: Int) {
        size = config.size
        n = config.size * config.size
        self.index = index
        prev = prevalence
        infectionPrev = config.infectionPrevalence
        diff = Float(config.difficulty)
        noiseLevel = Float(config.noise)
        kf = 1 - 0.55 * Float(config.difficulty)
        var g = PhRNG(seed: config.seed, index: index)
        // Pose: scale, habitus (anisotropic), small rotation, shift.
        let half = Float(config.size) * 0.5
        let scale = g.range(0.88, 1.0)
        let habX = g.range(0.92, 1.04), habY = g.range(1.0, 1.12)
        let rot = g.range(-0.05, 0.05)
        let sy = half * scale * habY
        // canonical (0, -0.1) (mid lung fields) lands near 47 % of the image height
        let t = PhTransform(cosT: PhMath.cos(rot), sinT: PhMath.sin(rot),
                            sx: half * scale * habX, sy: sy,
                            tx: half * (1 + g.range(-0.04, 0.04)),
                            ty: Float(config.size) * (0.47 + g.range(-0.03, 0.03)) + 0.1 * sy)
        rng = g
        tf = t
        unit = t.unit
        edge = max(0.8, 0.008 * t.unit)
        var xs = [Float](repeating: 0, count: n), ys = [Float](repeating: 0, count: n)
        for yy in 0..<size {
            for xx in 0..<size {
                let c = t.canonical(PhV2(Float(xx) + 0.5, Float(yy) + 0.5))
                xs[yy * size + xx] = c.x
                ys[yy * size + xx] = c.y
            }
        }
        cX = xs
        cY = ys
    }

    @inline(__always) func r(_ a: Float, _ b: Float) -> Float { rng.range(a, b) }
    @inline(__always) static func sideIndex(_ s: Float) -> Int { s < 0 ? 0 : 1 }

    // MARK: Raster conveniences

    func toPx(_ pts: [PhV2]) -> [PhV2] { pts.map { tf.px($0) } }

    /// Stamps a canonical stroke into a pixel SDF; radii below `minPx` pixels are raised to `minPx`.
    func stamp(_ sd: inout [Float], _ s: PhStroke, minPx: Float = 0.6) {
        let rr = s.radii.map { max($0 * unit, minPx) }
        PhRaster.strokeSD(&sd, size: size, pts: toPx(s.pts), radii: rr, margin: edge + 2)
    }

    func newSD() -> [Float] { [Float](repeating: PhRaster.far, count: n) }
    func zeros() -> [Float] { [Float](repeating: 0, count: n) }

    func polySD(_ poly: [PhV2], cap: Float = 0) -> [Float] {
        PhRaster.polygonSD(toPx(poly), size: size, margin: edge + 3, cap: max(cap, edge + 4))
    }

    /// Coverage field of a soft rotated ellipse in canonical coordinates, optionally with a ragged edge.
    func ellipse(cx: Float, cy: Float, rx: Float, ry: Float, angle: Float, soft: Float,
                 noise: PhNoise? = nil, ragged: Float = 0) -> [Float] {
        var out = zeros()
        let ca = PhMath.cos(angle), sa = PhMath.sin(angle)
        for p in 0..<n {
            let dx = cX[p] - cx, dy = cY[p] - cy
            let u = (ca * dx + sa * dy) / rx, v = (-sa * dx + ca * dy) / ry
            let q = u * u + v * v
            if q > 9 { continue }
            var e = q.squareRoot()
            if let noise { e += ragged * (noise.at(cX[p], cY[p]) - 0.5) }
            out[p] = PhMath.sstep(1 + soft, 1 - soft, e)
        }
        return out
    }

    /// Multiplies `a` by the visible-lung coverage of the given sides.
    func clipToLungs(_ a: inout [Float], _ f: PhFields, sides: [Int]) {
        for p in 0..<n where a[p] > 0 {
            var c: Float = 0
            for i in sides { c += f.lungCov[i][p] }
            a[p] *= min(c, 1)
        }
    }

    /// Binary mask `amount >= threshold` (restricted to `within` when given); never empty: falls
    /// back to the strongest pixels, then to a small disc around `fallback` (canonical). Fallback
    /// pixels are raised to `threshold` in `amount` so that the sign is rendered where it is masked.
    func mask(_ amount: inout [Float], threshold: Float, fallback: PhV2, within: [UInt8]? = nil) -> [UInt8] {
        var m = [UInt8](repeating: 0, count: n)
        var count = 0
        var peak: Float = 0
        for p in 0..<n {
            if let within, within[p] == 0 { continue }
            let a = amount[p]
            if a >= threshold { m[p] = 1; count += 1 }
            if a > peak { peak = a }
        }
        if count > 0 { return m }
        if peak > 1e-3 {
            for p in 0..<n where amount[p] >= 0.5 * peak && (within == nil || within![p] != 0) {
                m[p] = 1
                amount[p] = max(amount[p], threshold)
            }
            return m
        }
        let c = tf.px(fallback)
        let rad = max(1.5, 0.03 * unit)
        let ci = min(max(Int(c.x.rounded(.down)), 0), size - 1)
        let cj = min(max(Int(c.y.rounded(.down)), 0), size - 1)
        let ri = Int(rad.rounded(.up))
        for pass in 0..<2 {
            for yy in max(cj - ri, 0)...min(cj + ri, size - 1) {
                for xx in max(ci - ri, 0)...min(ci + ri, size - 1) {
                    let dx = Float(xx - ci), dy = Float(yy - cj)
                    let p = yy * size + xx
                    if pass == 0, let within, within[p] == 0 { continue }
                    if dx * dx + dy * dy <= rad * rad {
                        m[p] = 1
                        amount[p] = max(amount[p], threshold)
                        count += 1
                    }
                }
            }
            if count > 0 { break }
        }
        return m
    }

    // MARK: Orchestration

    func run() -> PhantomSample {
        let (drawn, ownOpacity, infection) = drawLabels()
        var has = drawn
        let anat = drawAnatomy(has)
        let f = rasterize(anat)

        var L = PhLayers(n: n)
        if has[PhObs.ecm] { findEnlargedMediastinum(anat, f, &L) }
        if has[PhObs.cardiomegaly] { findCardiomegaly(anat, f, &L) }
        if has[PhObs.consolidation] { findConsolidation(anat, f, &L) }
        if has[PhObs.pneumonia] { findPneumonia(anat, f, &L) }
        if ownOpacity { findNonspecificOpacity(anat, f, &L) }
        if has[PhObs.edema] { findEdema(anat, f, &L) }
        if has[PhObs.atelectasis] { findAtelectasis(anat, f, &L) }
        if has[PhObs.lesion] { findLesion(anat, f, &L) }
        if infection { findInfection(anat, f, &L) }
        if has[PhObs.effusion] { findEffusion(anat, f, &L, bilateralChance: has[PhObs.edema] ? 0.5 : 0.15) }
        if has[PhObs.pleuralOther] { findPleuralOther(anat, f, &L) }
        if has[PhObs.pneumothorax] { findPneumothorax(anat, f, &L) }

        let bones = drawSkeleton(anat, fracture: has[PhObs.fracture], &L)
        let vessels = drawVessels(anat)
        if has[PhObs.devices] { drawDevices(anat, &L) }

        let att = compose(anat, f, L, bones, vessels)
        let pixels = display(att)

        // Masks: anatomy, findings, Lung Opacity (union), infection.
        var masks = L.masks
        masks["right_lung"] = f.lungMask[0]
        masks["left_lung"] = f.lungMask[1]
        masks["heart"] = f.heartMask
        for (i, name) in ["right_clavicle", "left_clavicle"].enumerated() {
            var m = [UInt8](repeating: 0, count: n)
            for p in 0..<n where bones.clavicles[i][p] < 0 { m[p] = 1 }
            masks[name] = m
        }
        if has[PhObs.lungOpacity] {
            var opacity = L.opacityMask
            if !opacity.contains(1) {
                var dummy = zeros()
                opacity = mask(&dummy, threshold: 0.5, fallback: PhV2(-0.5, 0), within: f.lungUnion)
            }
            masks[phantomObservations[PhObs.lungOpacity]] = opacity
        }
        if let m = L.infectionMask { masks["infection"] = m }
        has[PhObs.noFinding] = !(1...12).contains { has[$0] }
        let labels = has.map { $0 ? Float(1) : Float(0) }
        return PhantomSample(id: PhBuilder.sampleID(index), pixels: pixels, size: size, labels: labels,
                             masks: masks, infection: infection)
    }

    // MARK: 1. Labels

    /// Draws the 14 labels (index 0 left false), whether Lung Opacity was drawn on its own, and the
    /// infection flag. A fixed number of uniforms is drawn, so the stream does not depend on the labels.
    func drawLabels() -> ([Bool], Bool, Bool) {
        var has = [Bool](repeating: false, count: 14)
        var u = [Double](repeating: 0, count: 20)
        for i in 0..<20 { u[i] = rng.uniformDouble() }
        has[PhObs.ecm] = u[0] < prev[PhObs.ecm]
        has[PhObs.cardiomegaly] = u[1] < prev[PhObs.cardiomegaly]
        has[PhObs.edema] = u[2] < prev[PhObs.edema]
        has[PhObs.pneumonia] = u[3] < prev[PhObs.pneumonia]
        has[PhObs.consolidation] = u[4] < prev[PhObs.consolidation]
        let ownOpacity = u[5] < prev[PhObs.lungOpacity]
        has[PhObs.atelectasis] = u[6] < prev[PhObs.atelectasis]
        has[PhObs.lesion] = u[7] < prev[PhObs.lesion]
        has[PhObs.pneumothorax] = u[8] < prev[PhObs.pneumothorax]
        has[PhObs.effusion] = u[9] < prev[PhObs.effusion]
        has[PhObs.pleuralOther] = u[10] < prev[PhObs.pleuralOther]
        has[PhObs.fracture] = u[11] < prev[PhObs.fracture]
        has[PhObs.devices] = u[12] < prev[PhObs.devices]
        let infection = u[13] < infectionPrev
        // Co-occurrence (only where the added finding's own prevalence is > 0).
        if has[PhObs.edema] {
            if prev[PhObs.cardiomegaly] > 0 && u[14] < 0.4 { has[PhObs.cardiomegaly] = true }
            if prev[PhObs.effusion] > 0 && u[15] < 0.4 { has[PhObs.effusion] = true }
        }
        if has[PhObs.pneumonia] && prev[PhObs.consolidation] > 0 && u[16] < 0.4 { has[PhObs.consolidation] = true }
        if has[PhObs.effusion] && prev[PhObs.atelectasis] > 0 && u[17] < 0.25 { has[PhObs.atelectasis] = true }
        if (has[PhObs.edema] || has[PhObs.effusion] || has[PhObs.pneumothorax]) && prev[PhObs.devices] > 0 && u[18] < 0.3 {
            has[PhObs.devices] = true
        }
        // Lung Opacity is the parent of every parenchymal opacity (CheXpert hierarchy).
        let parenchymal = [PhObs.lesion, PhObs.edema, PhObs.consolidation, PhObs.pneumonia, PhObs.atelectasis]
        has[PhObs.lungOpacity] = ownOpacity || infection || parenchymal.contains { has[$0] }
        return (has, ownOpacity, infection)
    }

    // MARK: 2. Anatomy

    /// Draws the patient: lungs, heart, mediastinum, body outline; applies the geometric findings
    /// (atelectatic volume loss, cardiomegaly, mediastinal widening).
    func drawAnatomy(_ has: [Bool]) -> PhAnatomy {
        var lungs: [PhLung] = []
        for s: Float in [-1, 1] {
            let cp = r(0.47, 0.55) + (s > 0 ? 0.03 : 0)
            let dome = s < 0 ? r(0.24, 0.32) : r(0.31, 0.38)   // right hemidiaphragm higher
            lungs.append(PhLung(s: s, apexX: s * r(0.33, 0.4), apexY: r(-0.8, -0.72),
                                latX: s * r(0.78, 0.86), cpY: cp, medX: s * 0.04, medBaseY: dome + r(0.08, 0.13),
                                domeX: s * r(0.38, 0.48), domeY: dome, nLat: r(1.9, 2.3), nMed: r(2.2, 2.6), pDia: r(2.0, 2.5)))
        }
        var heart = PhHeart(cx: r(0.08, 0.14), cy: r(0.17, 0.23), a: r(0.31, 0.36), b: r(0.2, 0.24),
                            angle: r(0.35, 0.6), n: r(2.1, 2.5))
        var med = PhMediastinum(shift: r(-0.015, 0.015), knob: r(0.05, 0.09), knobY: r(-0.36, -0.28), baseY: 0.2)
        let bodyW = r(0.88, 0.96)
        let neckW = r(0.15, 0.19)

        var atelSide: Float = 1
        if has[PhObs.atelectasis] {   // volume loss: raised hemidiaphragm
            atelSide = rng.chance(0.55) ? 1 : -1
            let i = PhBuilder.sideIndex(atelSide)
            let vl = r(0.05, 0.09) * (1 - 0.4 * diff)
            lungs[i].domeY -= vl
            lungs[i].medBaseY -= vl
            lungs[i].cpY -= 0.6 * vl
        }
        if has[PhObs.cardiomegaly] {  // cardiothoracic ratio about 0.55–0.65
            let f = r(1.22, 1.36) + 0.1 * (1 - diff)
            heart = heart.enlarged(f, anchorX: heart.cx - 0.12, anchorY: heart.cy - 0.22)
        }
        if has[PhObs.ecm] { med.widen = r(0.55, 0.85) - 0.2 * diff }
        let hilum = [PhV2(-0.2 + med.shift, -0.06), PhV2(0.21 + med.shift, -0.1)]
        return PhAnatomy(lungs: lungs, heart: heart, med: med, bodyW: bodyW, neckW: neckW, hilum: hilum, atelSide: atelSide)
    }

    /// Rasterises lungs, heart (clipped at the diaphragm) and mediastinum; derives the anatomy masks.
    func rasterize(_ anat: PhAnatomy) -> PhFields {
        let lungs = anat.lungs
        let lungPoly = lungs.map { $0.polygon() }
        let lungSD = lungPoly.map { polySD($0, cap: 0.27 * unit) }
        let heartPoly = anat.heart.polygon()
        var heartSD = polySD(heartPoly)
        // The heart sits on the diaphragm: below it is abdomen.
        for p in 0..<n where heartSD[p] < PhRaster.far {
            let X = cX[p]
            let yd: Float
            if X <= lungs[0].medX { yd = lungs[0].diaphragmY(X) }
            else if X >= lungs[1].medX { yd = lungs[1].diaphragmY(X) }
            else {
                let t = (X - lungs[0].medX) / (lungs[1].medX - lungs[0].medX)
                yd = PhMath.lerp(lungs[0].medBaseY, lungs[1].medBaseY, t)
            }
            heartSD[p] = max(heartSD[p], (cY[p] - yd) * unit)
        }
        let medPoly = anat.med.polygon()
        let medSD = polySD(medPoly)

        var lungCov: [[Float]] = [], lungMask: [[UInt8]] = [], lungPolyCov: [[Float]] = []
        let e = edge
        for i in 0..<2 {
            var cov = zeros(), pcov = zeros()
            var msk = [UInt8](repeating: 0, count: n)
            let sd = lungSD[i]
            for p in 0..<n {
                let sdl = sd[p]
                if sdl > e + 2 { continue }
                let pc = PhMath.cover(sdl, e)
                pcov[p] = pc
                cov[p] = pc * (1 - PhMath.cover(medSD[p], 1.5 * e)) * (1 - 0.85 * PhMath.cover(heartSD[p], 1.5 * e))
                if sdl < 0 && medSD[p] >= 0 && heartSD[p] >= 0 { msk[p] = 1 }
            }
            lungCov.append(cov); lungPolyCov.append(pcov); lungMask.append(msk)
        }
        let lungUnion = zip(lungMask[0], lungMask[1]).map { $0 | $1 }
        var heartMask = [UInt8](repeating: 0, count: n)
        for p in 0..<n where heartSD[p] < 0 { heartMask[p] = 1 }
        return PhFields(lungPoly: lungPoly, heartPoly: heartPoly, medPoly: medPoly, lungSD: lungSD,
                        heartSD: heartSD, medSD: medSD, lungCov: lungCov, lungPolyCov: lungPolyCov,
                        lungMask: lungMask, lungUnion: lungUnion, heartMask: heartMask)
    }

    // MARK: 3. Findings (amount field → mask → attenuation)

    /// Enlarged Cardiomediastinum: mask = the widened upper mediastinum (inlet to heart top).
    func findEnlargedMediastinum(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        var amount = zeros()
        let top = min(anat.lungs[0].apexY, anat.lungs[1].apexY)
        let bottom = anat.heart.cy - 0.6 * anat.heart.b
        for p in 0..<n where f.medSD[p] < 0 && f.heartSD[p] >= 0 && cY[p] >= top && cY[p] <= bottom { amount[p] = 1 }
        L.setMask(PhObs.ecm, mask(&amount, threshold: 0.5, fallback: PhV2(anat.med.shift, -0.35)))
    }

    /// Cardiomegaly: mask = the whole enlarged cardiac silhouette.
    func findCardiomegaly(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        var amount = f.heartMask.map { Float($0) }
        L.setMask(PhObs.cardiomegaly, mask(&amount, threshold: 0.5, fallback: PhV2(anat.heart.cx, anat.heart.cy)))
    }

    /// Consolidation: dense lobar (upper lobe with a sharp fissure border) or segmental opacity
    /// with air bronchograms, in one lung.
    func findConsolidation(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let s: Float = rng.chance(0.55) ? -1 : 1
        let li = PhBuilder.sideIndex(s)
        let lung = anat.lungs[li]
        let zone = rng.int(3)
        let nz = PhNoise(grid: 9, rng: &rng)
        var amount: [Float]
        let center: PhV2
        if zone == 0 {         // upper lobe, sharp inferior border along the fissure
            let fy = r(-0.22, -0.06)
            let tilt = r(-0.1, 0.1)
            center = PhV2(s * 0.5, fy - 0.2)
            amount = ellipse(cx: center.x, cy: fy - 0.25, rx: 0.42, ry: 0.42, angle: 0, soft: 0.45, noise: nz, ragged: 0.6)
            for p in 0..<n where amount[p] > 0 {
                let yl = cY[p] + tilt * (cX[p] - s * 0.4)
                amount[p] *= PhMath.sstep(fy + 0.012, fy - 0.012, yl)
            }
        } else if zone == 1 {  // lower zone
            center = PhV2(s * r(0.4, 0.58), min(lung.domeY - 0.12, r(0.05, 0.2)))
            amount = ellipse(cx: center.x, cy: center.y, rx: r(0.16, 0.26), ry: r(0.13, 0.2), angle: r(-0.3, 0.3),
                             soft: 0.4, noise: nz, ragged: 0.7)
        } else {               // mid zone
            center = PhV2(s * r(0.3, 0.55), r(-0.25, 0.0))
            amount = ellipse(cx: center.x, cy: center.y, rx: r(0.13, 0.2), ry: r(0.1, 0.16), angle: r(-0.4, 0.4),
                             soft: 0.4, noise: nz, ragged: 0.7)
        }
        let nzi = PhNoise(grid: 24, rng: &rng)
        for p in 0..<n where amount[p] > 0 { amount[p] = min(1, 1.15 * amount[p]) * (0.85 + 0.15 * nzi.at(cX[p], cY[p])) }
        clipToLungs(&amount, f, sides: [li])
        let m = mask(&amount, threshold: 0.5, fallback: PhV2(s * 0.5, -0.1), within: f.lungUnion)
        L.setMask(PhObs.consolidation, m)
        L.unionOpacity(m)
        L.addOpacity(amount, 0.30 * kf)
        // Air bronchograms: thin dark branching lines inside the consolidation.
        var bsd = newSD()
        let nb = 2 + rng.int(3)
        for _ in 0..<nb {
            let ang = r(-0.9, 0.9)
            let start = PhV2(center.x - s * r(0.02, 0.1), center.y + r(-0.06, 0.06))
            let len = r(0.08, 0.16)
            let mid = PhV2(start.x + s * len * 0.5 * PhMath.cos(ang), start.y + len * 0.5 * PhMath.sin(ang))
            let end = PhV2(start.x + s * len * PhMath.cos(ang + r(-0.3, 0.3)), start.y + len * PhMath.sin(ang))
            stamp(&bsd, PhStroke([start, mid, end], [0.006, 0.005, 0.003]), minPx: 0.4)
            let twig = PhV2(mid.x + s * 0.05 * PhMath.cos(ang + 0.6), mid.y + 0.05 * PhMath.sin(ang + 0.6))
            stamp(&bsd, PhStroke([mid, twig], [0.004, 0.003]), minPx: 0.4)
        }
        for p in 0..<n where bsd[p] < 2 && amount[p] > 0 {
            L.opacityAdd[p] -= 0.1 * kf * amount[p] * PhMath.cover(bsd[p], edge)
        }
    }

    /// Pneumonia: patchy air-space opacity (one focus, sometimes one per lung).
    func findPneumonia(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        var amount = zeros()
        let foci = rng.chance(0.3) ? 2 : 1
        let first: Float = rng.chance(0.55) ? -1 : 1
        var sides: [Int] = []
        for k in 0..<foci {
            let s: Float = k == 0 ? first : -first
            sides.append(PhBuilder.sideIndex(s))
            let nz = PhNoise(grid: 14, rng: &rng)
            let cy = rng.chance(0.65) ? r(0.0, 0.25) : r(-0.4, -0.05)
            let cx = s * r(0.35, 0.6)
            let ell = ellipse(cx: cx, cy: cy, rx: r(0.15, 0.26), ry: r(0.13, 0.22), angle: r(-0.5, 0.5), soft: 0.5)
            for p in 0..<n where ell[p] > 0 {
                let patch = PhMath.sstep(0.3, 0.62, nz.at(cX[p], cY[p]))
                amount[p] = max(amount[p], ell[p] * (0.35 + 0.65 * patch))
            }
        }
        clipToLungs(&amount, f, sides: sides)
        let m = mask(&amount, threshold: 0.45, fallback: PhV2(first * 0.5, 0.1), within: f.lungUnion)
        L.setMask(PhObs.pneumonia, m)
        L.unionOpacity(m)
        L.addOpacity(amount, 0.25 * kf)
    }

    /// Nonspecific ill-defined opacity (Lung Opacity drawn on its own; no separate mask key).
    func findNonspecificOpacity(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let s: Float = rng.sign()
        let nz = PhNoise(grid: 10, rng: &rng)
        let cx = s * r(0.3, 0.6), cy = r(-0.45, 0.2)
        var amount = ellipse(cx: cx, cy: cy, rx: r(0.1, 0.2), ry: r(0.1, 0.2), angle: 0, soft: 0.6, noise: nz, ragged: 0.5)
        clipToLungs(&amount, f, sides: [PhBuilder.sideIndex(s)])
        let m = mask(&amount, threshold: 0.45, fallback: PhV2(s * 0.45, -0.1), within: f.lungUnion)
        L.unionOpacity(m)
        L.addOpacity(amount, 0.2 * kf)
    }

    /// Edema: bilateral perihilar ("butterfly") haze plus basal Kerley B lines.
    func findEdema(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        var amount = zeros()
        let sx = r(0.24, 0.32), sy = r(0.28, 0.36)
        let strength = r(0.9, 1.2)
        for p in 0..<n {
            var g: Float = 0
            for h in anat.hilum {
                let dx = (cX[p] - h.x) / sx, dy = (cY[p] - h.y) / sy
                let q = dx * dx + dy * dy
                if q < 12 { g = max(g, PhMath.exp(-q)) }
            }
            amount[p] = min(1, strength * g)
        }
        var ksd = newSD()
        for lung in anat.lungs {
            let nk = 3 + rng.int(3)
            for _ in 0..<nk {
                let y = r(0.1, lung.cpY - 0.06)
                let xl = lung.lateralAbsX(y) * lung.s
                let len = r(0.04, 0.07)
                stamp(&ksd, PhStroke([PhV2(xl + lung.s * 0.01, y), PhV2(xl - lung.s * len, y + r(-0.01, 0.01))], radius: 0.006), minPx: 0.45)
            }
        }
        for p in 0..<n where ksd[p] < 2 { amount[p] = max(amount[p], 0.8 * PhMath.cover(ksd[p], edge)) }
        clipToLungs(&amount, f, sides: [0, 1])
        let fb = PhV2(anat.hilum[1].x + 0.12, anat.hilum[1].y)
        let m = mask(&amount, threshold: 0.4, fallback: fb, within: f.lungUnion)
        L.setMask(PhObs.edema, m)
        L.unionOpacity(m)
        L.addOpacity(amount, 0.24 * kf)
    }

    /// Atelectasis: plate-like band above the (raised) hemidiaphragm.
    func findAtelectasis(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let side = anat.atelSide
        let li = PhBuilder.sideIndex(side)
        let lung = anat.lungs[li]
        let y0 = lung.domeY - r(0.07, 0.16)
        let xl = lung.lateralAbsX(y0)
        let a = PhV2(side * xl * r(0.38, 0.5), y0)
        let b = PhV2(side * xl * r(0.78, 0.9), y0 + r(-0.07, 0.05))
        let mid = PhV2(0.5 * (a.x + b.x), 0.5 * (a.y + b.y) + r(-0.02, 0.02))
        let rad = r(0.02, 0.038) * (1 - 0.3 * diff)
        var sd = newSD()
        stamp(&sd, PhStroke(PhGeom.spline([a, mid, b], 6), radius: rad), minPx: 1.0)
        var amount = zeros()
        for p in 0..<n where sd[p] < 3 { amount[p] = PhMath.cover(sd[p], 1.5 * edge) }
        clipToLungs(&amount, f, sides: [li])
        let m = mask(&amount, threshold: 0.5, fallback: mid, within: f.lungUnion)
        L.setMask(PhObs.atelectasis, m)
        L.unionOpacity(m)
        L.addOpacity(amount, 0.28 * kf)
    }

    /// Lung Lesion: lobulated nodule (or mass, 20 %) placed fully inside a visible lung field.
    func findLesion(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let isMass = rng.chance(0.2)
        let rad = (isMass ? r(0.09, 0.14) : r(0.035, 0.08)) * (1 - 0.25 * diff)
        var center = PhV2(anat.lungs[0].apexX - 0.08, -0.25)
        for _ in 0..<40 {
            let s = rng.sign()
            let c = PhV2(s * r(0.2, 0.75), r(-0.6, 0.3))
            let li = PhBuilder.sideIndex(s)
            guard PhGeom.inside(f.lungPoly[li], c), !PhGeom.inside(f.heartPoly, c), !PhGeom.inside(f.medPoly, c) else { continue }
            let margin = rad + 0.02
            if PhGeom.boundaryDistance(f.lungPoly[li], c) > margin && PhGeom.boundaryDistance(f.heartPoly, c) > margin
                && PhGeom.boundaryDistance(f.medPoly, c) > margin {
                center = c
                break
            }
        }
        let nz = PhNoise(grid: 20, rng: &rng)
        let rPx = max(rad * unit, 1.8)
        let cp = tf.px(center)
        var amount = zeros()
        var m = [UInt8](repeating: 0, count: n)
        var count = 0
        for p in 0..<n {
            let dx = Float(p % size) + 0.5 - cp.x, dy = Float(p / size) + 0.5 - cp.y
            let d = (dx * dx + dy * dy).squareRoot()
            if d > rPx * 1.6 + 2 { continue }
            let reff = rPx * (1 + 0.3 * (nz.at(cX[p], cY[p]) - 0.5))
            if d < reff { m[p] = 1; count += 1 }
            let q = PhMath.clamp01(1 - (d / reff) * (d / reff))
            amount[p] = q.squareRoot() * 0.85 + 0.15 * PhMath.cover(d - reff, edge)
        }
        if count == 0 { m = mask(&amount, threshold: 0.5, fallback: center) }
        L.setMask(PhObs.lesion, m)
        L.unionOpacity(m)
        L.addExtra(amount, 0.3 * kf)
    }

    /// Infection (extra): COVID-like peripheral, lower-zone ground-glass patches, usually bilateral.
    func findInfection(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        var amount = zeros()
        let bilateral = rng.chance(0.85)
        let firstSide = rng.int(2)
        let nz = PhNoise(grid: 10, rng: &rng)
        let nz2 = PhNoise(grid: 22, rng: &rng)
        let upper = r(-0.45, -0.15)
        let depthIn = r(0.16, 0.26)
        let thr = r(0.38, 0.5)
        for i in 0..<2 {
            if !bilateral && i != firstSide { continue }
            let cov = f.lungCov[i], sd = f.lungSD[i]
            for p in 0..<n where cov[p] > 0 {
                let din = -sd[p] / unit
                let periph = 1 - PhMath.sstep(0.05, depthIn, din)
                let lower = PhMath.sstep(upper, upper + 0.35, cY[p])
                let nv = 0.7 * nz.at(cX[p], cY[p]) + 0.3 * nz2.at(cX[p], cY[p])
                let patch = PhMath.sstep(thr, thr + 0.22, nv)
                amount[p] = cov[p] * periph * lower * patch
            }
        }
        let fb = PhV2(anat.lungs[firstSide].latX * 0.85, 0.2)
        let m = mask(&amount, threshold: 0.35, fallback: fb, within: f.lungUnion)
        L.infectionMask = m
        L.unionOpacity(m)
        L.addOpacity(amount, 0.2 * kf)
    }

    /// Pleural Effusion: dependent fluid in the hemithorax with a meniscus rising laterally,
    /// blunting the costophrenic angle (sometimes bilateral).
    func findEffusion(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers, bilateralChance: Float) {
        let bilateral = rng.chance(bilateralChance)
        let first = rng.sign()
        var amount = zeros(), density = zeros()
        for k in 0..<(bilateral ? 2 : 1) {
            let s = k == 0 ? first : -first
            let li = PhBuilder.sideIndex(s)
            let lung = anat.lungs[li]
            let height = (0.1 + r(0.0, 0.38)) * (1 - 0.45 * diff)
            let level = lung.cpY - height
            let meniscus = r(0.08, 0.16)
            let span = abs(lung.latX) - 0.1
            let pcov = f.lungPolyCov[li]
            for p in 0..<n where pcov[p] > 0 {
                let lat = PhMath.clamp01((s * cX[p] - 0.1) / span)
                let yf = level - meniscus * lat * lat
                let v = pcov[p] * PhMath.sstep(yf - 0.02, yf + 0.025, cY[p]) * (1 - PhMath.cover(f.heartSD[p], edge))
                if v > amount[p] {
                    amount[p] = v
                    density[p] = v * (0.8 + 0.2 * PhMath.sstep(yf, yf + 0.15, cY[p]))   // denser when deeper
                }
            }
        }
        let fbLung = anat.lungs[PhBuilder.sideIndex(first)]
        let m = mask(&amount, threshold: 0.5, fallback: PhV2(first * (abs(fbLung.latX) - 0.05), fbLung.cpY - 0.03))
        L.setMask(PhObs.effusion, m)
        for p in 0..<n { density[p] = max(density[p], m[p] != 0 ? amount[p] : 0) }
        L.addOpacity(density, 0.42 * (0.55 + 0.45 * kf))
    }

    /// Pleural Other: lumpy pleural thickening along the lateral chest wall of one lung.
    func findPleuralOther(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let s = rng.sign()
        let li = PhBuilder.sideIndex(s)
        let lung = anat.lungs[li]
        let y1 = r(-0.5, 0.0)
        let y2 = min(y1 + r(0.3, 0.6), lung.cpY - 0.05)
        let th = max(r(0.035, 0.065) * (1 - 0.35 * diff) * unit, 1.6)
        let nz = PhNoise(grid: 16, rng: &rng)
        var amount = zeros()
        let midX = 0.5 * (lung.apexX + lung.latX)
        let pcov = f.lungPolyCov[li], sd = f.lungSD[li]
        for p in 0..<n where pcov[p] > 0 {
            if s * (cX[p] - midX) < 0 { continue }
            let window = PhMath.sstep(y1 - 0.05, y1 + 0.05, cY[p]) * PhMath.sstep(y2 + 0.05, y2 - 0.05, cY[p])
            if window <= 0 { continue }
            let t = th * (0.55 + 0.75 * nz.at(cX[p], cY[p]))
            amount[p] = pcov[p] * PhMath.cover(-(sd[p] + t), edge) * window
        }
        let m = mask(&amount, threshold: 0.5, fallback: PhV2(lung.latX * 0.97, 0.5 * (y1 + y2)))
        L.setMask(PhObs.pleuralOther, m)
        L.addExtra(amount, 0.3 * kf)
    }

    /// Pneumothorax: the lung edge retracts toward the hilum (mostly apical/lateral), leaving an
    /// avascular lucent rim and a thin visceral pleural line.
    func findPneumothorax(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let s = rng.sign()
        let li = PhBuilder.sideIndex(s)
        let h = anat.hilum[li]
        let depth = r(0.18, 0.34) * (1 - 0.4 * diff)
        let latBias = r(0.3, 0.8)
        let collapsed = f.lungPoly[li].map { v -> PhV2 in
            let dx = v.x - h.x, dy = v.y - h.y
            let d = max((dx * dx + dy * dy).squareRoot(), 1e-3)
            let w = PhMath.sstep(-0.25, 0.55, (-dy + latBias * s * dx) / d)   // up / lateral retract most
            let k = 1 - depth * w
            return PhV2(h.x + dx * k, h.y + dy * k)
        }
        let csd = polySD(collapsed)
        var amount = zeros()
        let cov = f.lungCov[li]
        for p in 0..<n where cov[p] > 0 { amount[p] = cov[p] * (1 - PhMath.cover(csd[p], edge)) }
        let apex = PhV2(anat.lungs[li].apexX, anat.lungs[li].apexY + 0.03)
        let m = mask(&amount, threshold: 0.5, fallback: apex, within: f.lungUnion)
        L.setMask(PhObs.pneumothorax, m)
        L.ptxAmount = amount
        L.collapsedSD = csd
        L.ptxSide = li
    }

    // MARK: 4. Bones, vessels, devices

    /// Posterior ribs (bright, arching, ten per side), anterior ribs (faint, oblique), clavicles,
    /// humeri and arms. With `fracture`, one rib gets a gap and a step (and the Fracture mask).
    func drawSkeleton(_ anat: PhAnatomy, fracture: Bool, _ L: inout PhLayers) -> PhSkeleton {
        let lungs = anat.lungs
        var postSD = newSD(), antSD = newSD()
        let ribTop = min(lungs[0].apexY, lungs[1].apexY) - 0.02
        let ribBottom = 0.5 * (lungs[0].cpY + lungs[1].cpY) - 0.04
        let nRibs = 10
        let pitch = (ribBottom - ribTop) / (Float(nRibs - 1) + 0.03 * 81)
        let fracSide = rng.sign()
        let fracRib = 3 + rng.int(5)
        let fracT = r(0.4, 0.75)
        var fracCenter = PhV2(0, 0)
        var fracRadius: Float = 2
        let ribRadius = r(0.024, 0.029)
        for side: Float in [-1, 1] {
            let lung = lungs[PhBuilder.sideIndex(side)]
            let jitter = r(-0.02, 0.02)
            for i in 0..<nRibs {
                let fi = Float(i)
                let y0 = ribTop + jitter + pitch * (fi + 0.03 * fi * fi) + r(-0.012, 0.012)
                let wall = lung.lateralAbsX(y0 + 0.1) + 0.05
                let lx = max(wall - 0.075, 0.15)
                let hh: Float = (0.12 - 0.004 * fi) * r(0.85, 1.15)      // rise near the spine
                let droop: Float = (0.13 + 0.004 * fi) * r(0.85, 1.15)   // fall along the lateral wall
                let thick = ribRadius * r(0.9, 1.1) * (i == 0 ? 0.8 : 1)
                let k = 16
                var pts: [PhV2] = [], rads: [Float] = []
                for j in 0...k {
                    let t = Float(j) / Float(k)
                    let t2 = t * t
                    let shape = -1.6 * t + 1.2 * t2 + 0.9 * t2 * t2
                    pts.append(PhV2(side * (0.07 + lx * t), y0 + hh * shape + droop * t2 * t2))
                    rads.append(thick * (1.1 - 0.25 * t))
                }
                if fracture && side == fracSide && i == fracRib {
                    // gap (capsule caps eat one radius per side) and a step of the distal fragment
                    let gap = (0.045 - 0.028 * diff + 2 * thick) / lx
                    let stepY = ribRadius * (1.4 - 0.9 * diff) * (rng.chance(0.5) ? 1 : -1)
                    let tA = fracT - gap * 0.5, tB = fracT + gap * 0.5
                    var a: [PhV2] = [], ra: [Float] = [], b: [PhV2] = [], rb: [Float] = []
                    for j in 0...k {
                        let t = Float(j) / Float(k)
                        if t <= tA { a.append(pts[j]); ra.append(rads[j]) }
                        if t >= tB {
                            let decay = max(0, 1 - (t - fracT) / 0.35)
                            b.append(PhV2(pts[j].x, pts[j].y + stepY * decay)); rb.append(rads[j])
                        }
                    }
                    let ja = min(max(Int((tA * Float(k)).rounded(.down)), 0), k - 1)
                    let fa = tA * Float(k) - Float(ja)
                    a.append(PhV2(PhMath.lerp(pts[ja].x, pts[ja + 1].x, fa), PhMath.lerp(pts[ja].y, pts[ja + 1].y, fa)))
                    ra.append(rads[ja])
                    let jb = min(max(Int((tB * Float(k)).rounded(.down)), 0), k - 1)
                    let fb = tB * Float(k) - Float(jb)
                    b.insert(PhV2(PhMath.lerp(pts[jb].x, pts[jb + 1].x, fb), PhMath.lerp(pts[jb].y, pts[jb + 1].y, fb) + stepY), at: 0)
                    rb.insert(rads[jb], at: 0)
                    if a.count >= 2 { stamp(&postSD, PhStroke(a, ra)) }
                    if b.count >= 2 { stamp(&postSD, PhStroke(b, rb)) }
                    let jc = min(max(Int((fracT * Float(k)).rounded()), 0), k)
                    fracCenter = PhV2(pts[jc].x, pts[jc].y + 0.5 * stepY)
                    fracRadius = max(2.2 * ribRadius * unit, 2.5)
                } else {
                    stamp(&postSD, PhStroke(pts, rads))
                }
                if i < 8 {   // anterior rib: from the lateral end, medially and downward
                    let pe = pts[k]
                    let p1 = PhV2(pe.x + side * 0.035, pe.y + 0.11)
                    let p2 = PhV2(side * r(0.22, 0.3), pe.y + 0.26 + 0.012 * fi)
                    let curve = PhGeom.bezier(pe, p1, p2, 10)
                    var ar: [Float] = []
                    for j in 0..<curve.count { ar.append(ribRadius * (0.95 - 0.25 * Float(j) / Float(curve.count - 1))) }
                    stamp(&antSD, PhStroke(curve, ar))
                }
            }
        }
        if fracture {   // mask: disc around the break
            var amount = zeros()
            let c = tf.px(fracCenter)
            for p in 0..<n {
                let dx = Float(p % size) + 0.5 - c.x, dy = Float(p / size) + 0.5 - c.y
                if dx * dx + dy * dy <= fracRadius * fracRadius { amount[p] = 1 }
            }
            L.setMask(PhObs.fracture, mask(&amount, threshold: 0.5, fallback: fracCenter))
        }

        // Clavicles: S-shaped bars rising laterally (index 0 = patient's right = image left).
        var clavSD = [newSD(), newSD()]
        for side: Float in [-1, 1] {
            let y0 = r(-0.64, -0.58)
            let tilt = r(0.14, 0.24)
            let len = r(0.55, 0.64)
            let sCurve = r(0.015, 0.035)
            var ctrl: [PhV2] = []
            for j in 0...4 {
                let t = Float(j) / 4
                ctrl.append(PhV2(side * (0.06 + len * t), y0 - tilt * t + sCurve * PhMath.sin(PhMath.twoPi * t)))
            }
            let pts = PhGeom.spline(ctrl, 4)
            var rads: [Float] = []
            for j in 0..<pts.count {
                let t = Float(j) / Float(pts.count - 1)
                rads.append(0.034 - 0.01 * t + 0.012 * PhMath.exp(-t * 25) + 0.006 * PhMath.sstep(0.8, 1, t))
            }
            stamp(&clavSD[PhBuilder.sideIndex(side)], PhStroke(pts, rads), minPx: 0.8)
        }

        // Humeral heads and shafts; arms (soft tissue) beside the chest.
        var humSD = newSD(), armSD = newSD()
        for side: Float in [-1, 1] {
            let hx = side * (anat.bodyW + r(0.0, 0.06))
            let hy = r(-0.76, -0.68)
            stamp(&humSD, PhStroke([PhV2(hx, hy), PhV2(hx, hy)], radius: r(0.085, 0.1)))
            stamp(&humSD, PhStroke([PhV2(hx + side * 0.02, hy), PhV2(hx + side * 0.1, hy + 0.9)], [0.055, 0.045]))
            stamp(&armSD, PhStroke([PhV2(hx + side * 0.06, hy - 0.05), PhV2(hx + side * 0.16, hy + 1.2)], [0.15, 0.13]))
        }
        return PhSkeleton(posteriorRibs: postSD, anteriorRibs: antSD, clavicles: clavSD, humeri: humSD, arms: armSD)
    }

    /// Pulmonary vessel trees radiating from the hila: tapered, slightly wavy branches
    /// (max-composited attenuation, fading to sub-pixel calibre in the periphery).
    func drawVessels(_ anat: PhAnatomy) -> [Float] {
        var vessels = zeros()
        for (li, h) in anat.hilum.enumerated() {
            let s: Float = li == 0 ? -1 : 1
            var stack: [(PhV2, Float, Float, Float, Int)] = []   // start, angle, length, radius, depth
            let roots = 7 + rng.int(3)
            for k in 0..<roots {
                let base = -1.4 + 2.75 * (Float(k) + 0.5) / Float(roots)
                stack.append((h, base + r(-0.12, 0.12), r(0.12, 0.17), r(0.015, 0.02), 0))
            }
            while let (p0, ang, len, rad, depth) = stack.popLast() {
                var pts: [PhV2] = [p0]
                var a = ang
                var q = p0
                for _ in 0..<3 {
                    a += r(-0.22, 0.22)
                    q = PhV2(q.x + s * len / 3 * PhMath.cos(a), q.y + len / 3 * PhMath.sin(a))
                    pts.append(q)
                }
                let r1 = rad * r(0.68, 0.78)
                let amp: Float = 0.085 * min(1, PhMath.pow(rad / 0.017, 0.6))
                for j in 0..<3 {
                    let ra = (rad + (r1 - rad) * Float(j) / 3) * unit, rb = (rad + (r1 - rad) * Float(j + 1) / 3) * unit
                    stampMaxSegment(&vessels, tf.px(pts[j]), tf.px(pts[j + 1]), ra, rb, amp)
                }
                if depth < 4 && r1 * unit > 0.3 && !(depth >= 2 && rng.chance(0.15)) {
                    let spread = r(0.25, 0.5)
                    stack.append((q, a - spread, len * r(0.7, 0.85), r1, depth + 1))
                    stack.append((q, a + spread * r(0.7, 1.1), len * r(0.7, 0.85), r1 * r(0.8, 1.0), depth + 1))
                }
            }
        }
        return vessels
    }

    /// Support devices (at least one of): endotracheal tube, central venous catheter (subclavian or
    /// jugular), nasogastric tube, ECG electrodes with leads, pacemaker with a lead. Mask = device pixels.
    func drawDevices(_ anat: PhAnatomy, _ L: inout PhLayers) {
        let med = anat.med, heart = anat.heart
        var strongSD = newSD(), weakSD = newSD()
        var et = rng.chance(0.45), cvc = rng.chance(0.45), ng = rng.chance(0.3)
        var ecg = rng.chance(0.45)
        let pm = rng.chance(0.12)
        if !(et || cvc || ng || ecg || pm) {
            switch rng.int(4) { case 0: et = true; case 1: cvc = true; case 2: ng = true; default: ecg = true }
        }
        let tx = med.shift - 0.01
        if et {
            let tip = r(-0.42, -0.28)
            stamp(&strongSD, PhStroke([PhV2(tx + r(-0.01, 0.01), -1.5), PhV2(tx, -0.9), PhV2(tx + 0.005, tip)], radius: 0.011))
        }
        if cvc {
            let s = rng.sign()
            let tipY = r(-0.25, -0.05)
            let ctrl: [PhV2]
            if rng.chance(0.5) {   // subclavian
                ctrl = [PhV2(s * 0.85, -0.82), PhV2(s * 0.55, -0.7), PhV2(s * 0.25, -0.62), PhV2(-0.09 + med.shift, -0.45), PhV2(-0.11 + med.shift, tipY)]
            } else {               // internal jugular
                ctrl = [PhV2(s * 0.14, -1.5), PhV2(s * 0.13, -0.95), PhV2(s * 0.1 - 0.04, -0.62), PhV2(-0.09 + med.shift, -0.4), PhV2(-0.11 + med.shift, tipY)]
            }
            stamp(&strongSD, PhStroke(PhGeom.spline(ctrl, 8), radius: 0.009))
        }
        if ng {
            let d = anat.lungs[1].domeY
            let ctrl = [PhV2(tx + 0.03, -1.5), PhV2(tx + 0.035, -0.6), PhV2(0.06, 0.1), PhV2(0.16, d + 0.1), PhV2(0.38, d + 0.22), PhV2(0.5, d + 0.2)]
            stamp(&strongSD, PhStroke(PhGeom.spline(ctrl, 8), radius: 0.010))
        }
        if ecg {
            let count = 3 + rng.int(3)
            let spots: [PhV2] = [PhV2(-0.62, -0.6), PhV2(0.62, -0.6), PhV2(0.6, 0.5), PhV2(-0.55, 0.55), PhV2(0.3, 0.6)]
            for k in 0..<count {
                let c = PhV2(spots[k].x + r(-0.08, 0.08), spots[k].y + r(-0.06, 0.06))
                stamp(&weakSD, PhStroke([c, c], radius: 0.04))      // pad
                stamp(&strongSD, PhStroke([c, c], radius: 0.013))   // snap
                let out = PhV2(c.x < 0 ? -1.4 : 1.4, c.y + r(-0.5, 0.5))
                let mid = PhV2(0.5 * (c.x + out.x) + r(-0.1, 0.1), 0.5 * (c.y + out.y) + r(-0.2, 0.2))
                stamp(&weakSD, PhStroke(PhGeom.spline([c, mid, out], 8), radius: 0.006), minPx: 0.5)
            }
        }
        if pm {
            let g = PhV2(r(0.45, 0.6), r(-0.62, -0.5))
            stamp(&strongSD, PhStroke([PhV2(g.x - 0.04, g.y), PhV2(g.x + 0.04, g.y)], radius: 0.055))
            let lead = [g, PhV2(0.25, -0.62), PhV2(0.02, -0.5), PhV2(-0.1 + med.shift, -0.2), PhV2(-0.02, 0.12),
                        PhV2(heart.cx + 0.15, heart.cy + 0.12)]
            stamp(&strongSD, PhStroke(PhGeom.spline(lead, 8), radius: 0.008))
        }
        var amount = zeros()
        var dm = [UInt8](repeating: 0, count: n)
        var count = 0
        for p in 0..<n {
            amount[p] = max(PhMath.cover(strongSD[p], edge), 0.55 * PhMath.cover(weakSD[p], edge))
            if strongSD[p] < 0 || weakSD[p] < 0 { dm[p] = 1; count += 1 }
        }
        if count == 0 { dm = mask(&amount, threshold: 0.5, fallback: PhV2(tx, -0.5)) }
        L.setMask(PhObs.devices, dm)
        L.addExtra(amount, 0.5)
    }

    // MARK: 5. Composition

    /// Attenuation map (≈ 0 air … ≈ 0.9 dense bone over soft tissue): body − lung air + bone +
    /// vessels + findings.
    func compose(_ anat: PhAnatomy, _ f: PhFields, _ L: PhLayers, _ bones: PhSkeleton, _ vessels: [Float]) -> [Float] {
        let lungs = anat.lungs, hilum = anat.hilum
        let lungTex = PhNoise(grid: 7, rng: &rng)
        let lungTex2 = PhNoise(grid: 26, rng: &rng)
        let airAmp = r(0.42, 0.48)
        let bubble = rng.chance(0.7)
        let bubbleC = PhV2(r(0.38, 0.52), lungs[1].domeY + r(0.1, 0.16))
        let bubbleR = PhV2(r(0.07, 0.12), r(0.04, 0.065))
        let spineW = r(0.065, 0.08)
        let vertPitch = r(0.1, 0.115)
        let vertPhase = r(0, 1)
        let female = rng.chance(0.45)
        let breastY = r(0.25, 0.45)
        let hilumAmp = r(0.035, 0.055)
        var trachSD = newSD()
        let carinaY = r(-0.26, -0.18)
        let tX = anat.med.shift - 0.01
        stamp(&trachSD, PhStroke([PhV2(tX, -1.5), PhV2(tX, carinaY)], radius: 0.036))
        stamp(&trachSD, PhStroke([PhV2(tX, carinaY), PhV2(hilum[0].x + 0.05, hilum[0].y + 0.02)], [0.027, 0.018]))
        stamp(&trachSD, PhStroke([PhV2(tX, carinaY), PhV2(hilum[1].x - 0.06, hilum[1].y + 0.02)], [0.025, 0.017]))

        let e = edge
        let cw = max(0.7, 0.012 * unit)   // cortical shell width (px)
        let bodyW = anat.bodyW, neckW = anat.neckW
        let lc0 = f.lungCov[0], lc1 = f.lungCov[1], sd0 = f.lungSD[0], sd1 = f.lungSD[1]
        let lungPolyAll = zip(f.lungPolyCov[0], f.lungPolyCov[1]).map { min($0 + $1, 1) }
        let clavAll = zip(bones.clavicles[0], bones.clavicles[1]).map { min($0, $1) }
        let postSD = bones.posteriorRibs, antSD = bones.anteriorRibs, humSD = bones.humeri, armSD = bones.arms
        let opacityAdd = L.opacityAdd, ptxAmount = L.ptxAmount, extraA = L.extraA
        let depthScale = 1 / (0.12 * unit)
        var att = zeros()
        for p in 0..<n {
            let X = cX[p], Y = cY[p]
            let ax = abs(X)
            // body outline: neck + sloping shoulders + chest wall (smooth union of two half-planes)
            let neck = 1 - PhMath.sstep(neckW, neckW + 0.12, ax)
            let yTop = -0.95 + 0.2 * PhMath.sstep(neckW, bodyW + 0.05, ax) - 1.2 * neck
            let wB = bodyW * (1 + 0.03 * Y)
            let dTop = Y - yTop, dSide = wB - ax
            let kS: Float = 0.08
            let hS = PhMath.clamp01(0.5 + 0.5 * (dSide - dTop) / kS)
            let inside = PhMath.lerp(dSide, dTop, hS) - kS * hS * (1 - hS)   // smooth min
            let bodyCov = PhMath.sstep(-0.015, 0.015, inside)
            let xr = X / (wB + 0.03)
            let prof = max(0, 1 - xr * xr).squareRoot()                       // chest thickness profile
            var a = bodyCov * (0.32 + 0.26 * prof)
            if armSD[p] < 4 * e { a += 0.3 * PhMath.cover(armSD[p], 3 * e) * (1 - bodyCov) }
            // breasts: soft density over the lower zones with a curved lower border
            if female && Y > -0.1 {
                let by = (Y - breastY) / 0.25, bx = (ax - 0.55) / 0.35
                let q = bx * bx + by * by
                if q < 1.5 { a += 0.035 * PhMath.sstep(1.1, 0.5, q) * (Y < breastY ? 1 : PhMath.sstep(1.0, 0.8, q)) }
            }
            // spine: vertebral bodies with end plates, pedicles, spinous processes
            if ax < 0.14 {
                let w = spineW * (1 + 0.25 * PhMath.clamp01((Y + 1) * 0.5))
                let fl = Y / vertPitch + vertPhase
                let fr = fl - fl.rounded(.down)
                let body = PhMath.sstep(w + 0.01, w - 0.01, ax) * PhMath.sstep(0.0, 0.08, fr) * PhMath.sstep(0.86, 0.76, fr)
                let rim = PhMath.sstep(w + 0.01, w - 0.002, ax) * PhMath.sstep(w - 0.025, w - 0.008, ax)
                let dpx = (ax - (w - 0.02)) / 0.015, dpy = (fr - 0.35) / 0.17
                let ped = PhMath.sstep(1.2, 0.7, dpx * dpx + dpy * dpy)
                let spx = X / 0.012, spy = (fr - 0.8) / 0.12
                let spin = PhMath.sstep(1.2, 0.6, spx * spx + spy * spy)
                a += bodyCov * (0.035 * body + 0.025 * rim * body + 0.035 * ped + 0.02 * spin) * (1 - 0.4 * PhMath.sstep(0.3, 0.6, Y))
            }
            // bones: ribs (more visible against lung air), clavicles, humeri
            let ribVis = bodyCov * (0.45 + 0.55 * lungPolyAll[p])
            if postSD[p] < 3 * e {
                let c = PhMath.cover(postSD[p], e), cortex = c - PhMath.cover(postSD[p] + cw, e)
                a += ribVis * (0.055 * c + 0.06 * cortex)
            }
            if antSD[p] < 3 * e {
                let c = PhMath.cover(antSD[p], e), cortex = c - PhMath.cover(antSD[p] + cw, e)
                a += ribVis * (0.028 * c + 0.03 * cortex)
            }
            if clavAll[p] < 3 * e {
                let c = PhMath.cover(clavAll[p], e), cortex = c - PhMath.cover(clavAll[p] + cw, e)
                a += 0.15 * c + 0.1 * cortex
            }
            if humSD[p] < 3 * e {
                let c = PhMath.cover(humSD[p], e), cortex = c - PhMath.cover(humSD[p] + cw, e)
                a += 0.13 * c + 0.07 * cortex
            }
            // trachea and main bronchi (air)
            if trachSD[p] < 3 { a -= 0.09 * PhMath.cover(trachSD[p], 2 * e) * bodyCov }
            // gastric bubble under the left hemidiaphragm
            if bubble {
                let gx = (X - bubbleC.x) / bubbleR.x, gy = (Y - bubbleC.y) / bubbleR.y
                let q = gx * gx + gy * gy
                if q < 1.5 && Y > lungs[1].diaphragmY(X) + 0.02 {
                    a -= 0.12 * PhMath.sstep(1.1, 0.8, q) * (0.6 + 0.4 * PhMath.sstep(-0.2, 0.5, gy))
                }
            }
            // hila
            for h in hilum {
                let dx = (X - h.x) / 0.08, dy = (Y - h.y) / 0.11
                let q = dx * dx + dy * dy
                if q < 6 { a += hilumAmp * PhMath.exp(-q) }
            }
            // lungs: air (darker centrally, lighter at the bases and apices), texture, vessels, findings
            let lc = lc0[p] + lc1[p]
            if lc > 0 {
                let depth = PhMath.clamp01(-min(sd0[p], sd1[p]) * depthScale)
                let tex = 1 + 0.12 * (lungTex.at(X, Y) - 0.5) + 0.1 * (lungTex2.at(X, Y) - 0.5)
                let zone = 1 - 0.2 * PhMath.sstep(0.05, 0.55, Y) - 0.12 * (1 - PhMath.sstep(-0.75, -0.45, Y))
                var air = airAmp * lc * (0.84 + 0.16 * depth) * tex * zone
                air += 0.07 * kf * ptxAmount[p]
                let add = min(opacityAdd[p], air + 0.03)          // fluid/tissue cannot exceed soft tissue
                let fill = PhMath.clamp01(add / (air + 0.02))
                let vis = lc * (1 - ptxAmount[p]) * (1 - 0.85 * fill)   // vessels hidden by dense opacity
                a += vessels[p] * vis - air + add
            }
            att[p] = a + extraA[p]
        }
        // Pneumothorax: thin bright visceral pleural line at the retracted lung edge.
        if let csd = L.collapsedSD {
            let lw = max(0.55, 0.006 * unit)
            let pcov = f.lungPolyCov[L.ptxSide]
            for p in 0..<n where abs(csd[p]) < lw + 2 && pcov[p] > 0 {
                att[p] += 0.1 * (0.5 + 0.5 * kf) * PhMath.cover(abs(csd[p]) - lw, e) * pcov[p]
            }
        }
        return att
    }

    // MARK: 6. Display

    /// Film-like display curve (random exposure and gamma), slight blur, Gaussian noise; values in [0, 1].
    func display(_ att: [Float]) -> [Float] {
        // v = 1 - exp(-g·a), normalised at a reference attenuation, then gamma; tabulated
        // (deterministic and cheap) and linearly interpolated.
        let gain = r(0.9, 1.6)
        let aRef = r(0.82, 0.95)
        let ref = 1 - PhMath.exp(-gain * aRef)
        let lo = r(-0.02, 0.05) * ref
        let gamma = r(0.95, 1.35)
        let heel = r(-0.05, 0.05)   // anode heel effect: exposure gradient from top to bottom
        let lutN = 1024
        let lutMax: Float = 1.6
        var lut = [Float](repeating: 0, count: lutN + 2)
        for k in 0...(lutN + 1) {
            let a = lutMax * Float(k) / Float(lutN)
            let v = 1 - PhMath.exp(-gain * a)
            let t = PhMath.clamp01((v - lo) / (ref - lo))
            lut[k] = t > 0 ? PhMath.pow(t, gamma) : 0
        }
        var img = zeros()
        let lutScale = Float(lutN) / lutMax
        for p in 0..<n {
            let a = min(max(att[p], 0) * (1 + heel * cY[p]), lutMax) * lutScale
            let k = min(Int(a), lutN)
            img[p] = lut[k] + (lut[k + 1] - lut[k]) * (a - Float(k))
        }
        // separable [w, 1-2w, w] blur, one pass per 128 px of image size
        let blurW = r(0.08, 0.22)
        let passes = max(1, size / 128)
        var tmp = zeros()
        for _ in 0..<passes {
            for yy in 0..<size {
                let row = yy * size
                for xx in 0..<size {
                    let l = img[row + max(xx - 1, 0)], c = img[row + xx], rr = img[row + min(xx + 1, size - 1)]
                    tmp[row + xx] = c + blurW * (l + rr - 2 * c)
                }
            }
            for yy in 0..<size {
                let up = max(yy - 1, 0) * size, dn = min(yy + 1, size - 1) * size, row = yy * size
                for xx in 0..<size {
                    let c = tmp[row + xx]
                    img[row + xx] = c + blurW * (tmp[up + xx] + tmp[dn + xx] - 2 * c)
                }
            }
        }
        let sigma = noiseLevel * (0.5 + diff) * r(0.8, 1.2)
        if sigma > 0 {
            var p = 0
            while p < n {
                let (z0, z1) = rng.normalPair()
                img[p] = PhMath.clamp01(img[p] + sigma * z0)
                if p + 1 < n { img[p + 1] = PhMath.clamp01(img[p + 1] + sigma * z1) }
                p += 2
            }
        } else {
            for p in 0..<n { img[p] = PhMath.clamp01(img[p]) }
        }
        return img
    }

    // MARK: Helpers

    /// Draws one vessel segment (pixel space) with max-compositing of `amp × coverage`;
    /// radii below 0.6 px are drawn at 0.6 px with proportionally reduced amplitude.
    func stampMaxSegment(_ field: inout [Float], _ a: PhV2, _ b: PhV2, _ r0: Float, _ r1: Float, _ amp: Float) {
        let fs = Float(size)
        let ra = max(r0, 0.6), rb = max(r1, 0.6)
        let fa = min(1, r0 / 0.6), fb = min(1, r1 / 0.6)
        let reach = max(ra, rb) + edge + 1
        let x0 = Int(min(max(min(a.x, b.x) - reach, 0), fs))
        let x1 = Int(min(max(max(a.x, b.x) + reach + 1, 0), fs))
        let y0 = Int(min(max(min(a.y, b.y) - reach, 0), fs))
        let y1 = Int(min(max(max(a.y, b.y) + reach + 1, 0), fs))
        if x0 >= x1 || y0 >= y1 { return }
        let ex = b.x - a.x, ey = b.y - a.y
        let l2 = ex * ex + ey * ey
        let il: Float = l2 > 0 ? 1 / l2 : 0
        let w = edge
        field.withUnsafeMutableBufferPointer { f in
            for yy in y0..<y1 {
                let py = Float(yy) + 0.5
                for xx in x0..<x1 {
                    let px = Float(xx) + 0.5
                    let wx = px - a.x, wy = py - a.y
                    let t = min(max((wx * ex + wy * ey) * il, 0), 1)
                    let dx = wx - ex * t, dy = wy - ey * t
                    let d = (dx * dx + dy * dy).squareRoot() - (ra + (rb - ra) * t)
                    if d >= 0.5 * w { continue }
                    let v = amp * (fa + (fb - fa) * t) * PhMath.cover(d, w)
                    let p = yy * size + xx
                    if v > f[p] { f[p] = v }
                }
            }
        }
    }

    static func sampleID(_ index: Int) -> String {
        let digits = String(index.magnitude)
        let padded = String(repeating: "0", count: max(0, 6 - digits.count)) + digits
        return "phantom-" + (index < 0 ? "-" : "") + padded
    }
}
