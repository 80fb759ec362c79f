import DollData
import Foundation

/// A 256-entry colour lookup table, like matplotlib's colormaps.
///
/// Lookup follows matplotlib: a value `t` in [0, 1] selects entry `min(255, floor(t * 256))`;
/// values below 0 (and NaN) take entry 0, values above 1 entry 255.
///
/// The built-in tables are rebuilt from compact knot lists by linear interpolation. The knots
/// were sampled from matplotlib's published colormap tables (matplotlib 3.11 `_cm_listed` data
/// for viridis/inferno/magma/plasma/turbo, the segment data of `gray` and `RdBu_r`): each list is
/// the smallest set of entries (values rounded to 4 decimals) whose linear interpolation stays
/// within 0.25/255 of matplotlib's table, so every entry of the 8-bit tables below is within
/// 1/255 per channel of matplotlib's (checked offline for all 256 entries of every map).
public struct Colormap: Sendable, Equatable, CustomStringConvertible {
    /// Name as matplotlib spells it (`"viridis"`, `"RdBu_r"`, …).
    public let name: String
    /// `256 * 3` bytes: entry `i` is `table[3i], table[3i+1], table[3i+2]` (RGB).
    public let table: [UInt8]
    /// True for maps centred on a neutral middle (for signed data).
    public let isDiverging: Bool

    /// A colormap from a full 256-entry RGB table (`768` bytes).
    public init(name: String, table: [UInt8], isDiverging: Bool = false) throws {
        guard table.count == 768 else {
            throw DataError("colormap '\(name)' needs 256 RGB entries (768 bytes), got \(table.count) bytes")
        }
        self.name = name
        self.table = table
        self.isDiverging = isDiverging
    }

    /// A colormap through colour stops at increasing positions in [0, 1] (the first at 0, the
    /// last at 1), interpolated linearly in RGB like matplotlib's `LinearSegmentedColormap.from_list`.
    public init(name: String, stops: [(position: Double, color: Color)], isDiverging: Bool = false) throws {
        guard stops.count >= 2, stops.first!.position == 0, stops.last!.position == 1,
            zip(stops, stops.dropFirst()).allSatisfy({ $0.position < $1.position })
        else {
            throw DataError("colormap '\(name)': stops must start at 0, end at 1 and increase strictly")
        }
        let knots = stops.map {
            Knot($0.position * 255, Float($0.color.r) / 255, Float($0.color.g) / 255, Float($0.color.b) / 255)
        }
        try self.init(name: name, table: Colormap.expand(knots), isDiverging: isDiverging)
    }

    init(builtin name: String, knots: [Knot], isDiverging: Bool = false) {
        self.name = name
        self.table = Colormap.expand(knots)
        self.isDiverging = isDiverging
    }

    /// Entry `index` (clamped to 0…255).
    public subscript(index: Int) -> Color {
        let i = 3 * min(max(index, 0), 255)
        return Color(table[i], table[i + 1], table[i + 2])
    }

    /// The colour of `t` ∈ [0, 1] (matplotlib's lookup rule; see the type's documentation).
    public func color(at t: Float) -> Color {
        guard t.isFinite || t == .infinity else { return self[0] }
        if t >= 1 { return self[255] }
        if !(t > 0) { return self[0] }
        return self[min(255, Int(t * 256))]
    }

    /// The same map reversed (`name + "_r"`).
    public var reversed: Colormap {
        var t = [UInt8](repeating: 0, count: 768)
        for i in 0..<256 { for c in 0..<3 { t[3 * i + c] = table[3 * (255 - i) + c] } }
        let n = name.hasSuffix("_r") ? String(name.dropLast(2)) : name + "_r"
        return try! Colormap(name: n, table: t, isDiverging: isDiverging)
    }

    public var description: String { "Colormap(\(name))" }

    public static func == (a: Colormap, b: Colormap) -> Bool { a.name == b.name && a.table == b.table }

    // MARK: built-in maps

    /// Perceptually uniform, blue → green → yellow (matplotlib's default).
    public static let viridis = Colormap(builtin: "viridis", knots: viridisKnots)
    /// Perceptually uniform, black → purple → orange → pale yellow.
    public static let inferno = Colormap(builtin: "inferno", knots: infernoKnots)
    /// Perceptually uniform, black → purple → pink → pale yellow.
    public static let magma = Colormap(builtin: "magma", knots: magmaKnots)
    /// Perceptually uniform, blue → magenta → yellow.
    public static let plasma = Colormap(builtin: "plasma", knots: plasmaKnots)
    /// Google's Turbo rainbow (dark blue → cyan → green → yellow → red → dark red).
    public static let turbo = Colormap(builtin: "turbo", knots: turboKnots)
    /// Black → white (entry `i` is gray level `i`).
    public static let gray = Colormap(builtin: "gray", knots: grayKnots)
    /// Diverging blue → near-white (#F7F7F7 at the centre) → red: matplotlib's `RdBu_r`
    /// (ColorBrewer RdBu, reversed so that negative is blue and positive red).
    public static let rdBuR = Colormap(builtin: "RdBu_r", knots: rdBuRKnots, isDiverging: true)
    /// The diverging map used for signed attributions (`rdBuR`).
    public static let diverging = rdBuR

    /// All built-in maps.
    public static let builtins: [Colormap] = [.viridis, .inferno, .magma, .plasma, .turbo, .gray, .rdBuR]

    /// A built-in map by name, case-insensitive: `viridis`, `inferno`, `magma`, `plasma`, `turbo`,
    /// `gray` (or `grey`), `RdBu_r` (or `diverging`); a `_r` suffix reverses any of them.
    public static func named(_ name: String) -> Colormap? {
        let n = name.lowercased()
        if n == "diverging" { return .rdBuR }
        if n == "grey" { return .gray }
        if let m = builtins.first(where: { $0.name.lowercased() == n }) { return m }
        if n.hasSuffix("_r"), let m = named(String(n.dropLast(2))) { return m.reversed }
        return nil
    }

    /// Builds the 8-bit table: entry `i` interpolates linearly between the knots around `i`.
    static func expand(_ knots: [Knot]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 768)
        var k = 0
        for i in 0..<256 {
            let x = Double(i)
            while k + 2 < knots.count && knots[k + 1].index < x { k += 1 }
            let a = knots[k], b = knots[k + 1]
            let t = Float(max(0, min(1, (x - a.index) / (b.index - a.index))))
            for c in 0..<3 {
                let v = a.rgb[c] + (b.rgb[c] - a.rgb[c]) * t
                out[3 * i + c] = UInt8(min(max((v * 255).rounded(), 0), 255))
            }
        }
        return out
    }

    /// One knot: a (possibly fractional) table index and an RGB value in [0, 1].
    struct Knot: Sendable {
        let index: Double
        let rgb: [Float]
        init(_ index: Double, _ r: Float, _ g: Float, _ b: Float) { self.index = index; rgb = [r, g, b] }
    }
}

/// Knot `K(index, r, g, b)` with channels in [0, 1].
private func K(_ i: Int, _ r: Float, _ g: Float, _ b: Float) -> Colormap.Knot { Colormap.Knot(Double(i), r, g, b) }

// Knots sampled from matplotlib's published colormap tables (see `Colormap`).
extension Colormap {
    fileprivate static let viridisKnots: [Knot] = [
        K(0, 0.2670, 0.0049, 0.3294), K(5, 0.2738, 0.0315, 0.3589), K(12, 0.2803, 0.0734, 0.3972),
        K(21, 0.2832, 0.1208, 0.4406), K(30, 0.2803, 0.1657, 0.4765), K(38, 0.2730, 0.2045, 0.5017),
        K(47, 0.2606, 0.2469, 0.5228), K(57, 0.2431, 0.2921, 0.5385), K(69, 0.2201, 0.3433, 0.5494),
        K(87, 0.1872, 0.4147, 0.5565), K(109, 0.1534, 0.4970, 0.5577), K(125, 0.1312, 0.5559, 0.5525),
        K(135, 0.1211, 0.5927, 0.5446), K(142, 0.1197, 0.6185, 0.5363), K(148, 0.1248, 0.6405, 0.5271),
        K(153, 0.1347, 0.6586, 0.5176), K(158, 0.1501, 0.6766, 0.5066), K(164, 0.1757, 0.6979, 0.4910),
        K(170, 0.2080, 0.7187, 0.4729), K(177, 0.2529, 0.7422, 0.4483), K(185, 0.3119, 0.7678, 0.4156),
        K(194, 0.3864, 0.7946, 0.3729), K(204, 0.4775, 0.8214, 0.3182), K(215, 0.5857, 0.8467, 0.2499),
        K(229, 0.7309, 0.8719, 0.1560), K(235, 0.7938, 0.8807, 0.1200), K(239, 0.8353, 0.8860, 0.1026),
        K(242, 0.8660, 0.8899, 0.0960), K(245, 0.8963, 0.8936, 0.0963), K(248, 0.9261, 0.8973, 0.1041),
        K(251, 0.9553, 0.9011, 0.1181), K(255, 0.9932, 0.9062, 0.1439),
    ]
    fileprivate static let infernoKnots: [Knot] = [
        K(0, 0.0015, 0.0005, 0.0139), K(2, 0.0033, 0.0022, 0.0242), K(5, 0.0077, 0.0061, 0.0468),
        K(10, 0.0194, 0.0151, 0.0888), K(15, 0.0377, 0.0259, 0.1322), K(23, 0.0766, 0.0419, 0.2058),
        K(29, 0.1105, 0.0474, 0.2629), K(35, 0.1491, 0.0455, 0.3171), K(39, 0.1765, 0.0414, 0.3481),
        K(43, 0.2042, 0.0376, 0.3732), K(47, 0.2315, 0.0364, 0.3924), K(52, 0.2648, 0.0396, 0.4093),
        K(58, 0.3036, 0.0494, 0.4222), K(66, 0.3540, 0.0669, 0.4309), K(75, 0.4101, 0.0879, 0.4331),
        K(85, 0.4723, 0.1105, 0.4283), K(95, 0.5347, 0.1325, 0.4167), K(105, 0.5969, 0.1548, 0.3981),
        K(115, 0.6585, 0.1790, 0.3727), K(126, 0.7241, 0.2097, 0.3374), K(136, 0.7805, 0.2433, 0.2995),
        K(146, 0.8323, 0.2839, 0.2574), K(156, 0.8780, 0.3321, 0.2123), K(166, 0.9165, 0.3875, 0.1649),
        K(175, 0.9443, 0.4428, 0.1204), K(184, 0.9654, 0.5022, 0.0739), K(191, 0.9771, 0.5508, 0.0390),
        K(194, 0.9808, 0.5722, 0.0285), K(197, 0.9838, 0.5938, 0.0238), K(200, 0.9860, 0.6158, 0.0256),
        K(203, 0.9873, 0.6379, 0.0349), K(206, 0.9879, 0.6602, 0.0518), K(211, 0.9871, 0.6979, 0.0877),
        K(217, 0.9832, 0.7438, 0.1385), K(223, 0.9761, 0.7900, 0.1960), K(228, 0.9680, 0.8285, 0.2500),
        K(233, 0.9587, 0.8666, 0.3108), K(237, 0.9515, 0.8962, 0.3656), K(241, 0.9468, 0.9242, 0.4264),
        K(245, 0.9479, 0.9493, 0.4914), K(248, 0.9545, 0.9659, 0.5404), K(251, 0.9662, 0.9807, 0.5872),
        K(255, 0.9884, 0.9984, 0.6449),
    ]
    fileprivate static let magmaKnots: [Knot] = [
        K(0, 0.0015, 0.0005, 0.0139), K(3, 0.0045, 0.0035, 0.0300), K(9, 0.0162, 0.0138, 0.0766),
        K(14, 0.0317, 0.0258, 0.1170), K(23, 0.0698, 0.0497, 0.1937), K(30, 0.1028, 0.0630, 0.2579),
        K(36, 0.1351, 0.0684, 0.3150), K(42, 0.1717, 0.0673, 0.3708), K(47, 0.2049, 0.0629, 0.4115),
        K(51, 0.2321, 0.0599, 0.4377), K(55, 0.2589, 0.0597, 0.4577), K(60, 0.2914, 0.0646, 0.4755),
        K(66, 0.3291, 0.0760, 0.4893), K(74, 0.3782, 0.0953, 0.5001), K(85, 0.4452, 0.1227, 0.5069),
        K(98, 0.5253, 0.1526, 0.5072), K(110, 0.6009, 0.1777, 0.5004), K(121, 0.6713, 0.2001, 0.4874),
        K(132, 0.7420, 0.2240, 0.4670), K(143, 0.8109, 0.2529, 0.4393), K(151, 0.8578, 0.2799, 0.4155),
        K(158, 0.8947, 0.3098, 0.3940), K(165, 0.9259, 0.3468, 0.3750), K(171, 0.9472, 0.3842, 0.3637),
        K(176, 0.9609, 0.4183, 0.3596), K(181, 0.9716, 0.4542, 0.3610), K(187, 0.9810, 0.4984, 0.3697),
        K(193, 0.9876, 0.5430, 0.3852), K(200, 0.9928, 0.5949, 0.4103), K(208, 0.9961, 0.6537, 0.4462),
        K(217, 0.9974, 0.7191, 0.4938), K(227, 0.9964, 0.7912, 0.5535), K(238, 0.9932, 0.8700, 0.6262),
        K(252, 0.9880, 0.9700, 0.7271), K(255, 0.9871, 0.9914, 0.7495),
    ]
    fileprivate static let plasmaKnots: [Knot] = [
        K(0, 0.0504, 0.0298, 0.5280), K(2, 0.0754, 0.0272, 0.5380), K(5, 0.1060, 0.0243, 0.5514),
        K(10, 0.1486, 0.0212, 0.5706), K(18, 0.2074, 0.0174, 0.5963), K(29, 0.2806, 0.0115, 0.6250),
        K(39, 0.3439, 0.0050, 0.6447), K(48, 0.3994, 0.0009, 0.6561), K(56, 0.4477, 0.0021, 0.6602),
        K(62, 0.4832, 0.0085, 0.6591), K(67, 0.5122, 0.0188, 0.6552), K(72, 0.5406, 0.0350, 0.6486),
        K(80, 0.5844, 0.0686, 0.6328), K(90, 0.6360, 0.1121, 0.6052), K(104, 0.7018, 0.1740, 0.5573),
        K(119, 0.7642, 0.2404, 0.5021), K(135, 0.8231, 0.3113, 0.4448), K(152, 0.8784, 0.3879, 0.3866),
        K(168, 0.9233, 0.4633, 0.3328), K(182, 0.9555, 0.5331, 0.2855), K(195, 0.9779, 0.6021, 0.2414),
        K(206, 0.9899, 0.6638, 0.2049), K(216, 0.9945, 0.7227, 0.1744), K(224, 0.9930, 0.7717, 0.1548),
        K(230, 0.9886, 0.8096, 0.1454), K(236, 0.9812, 0.8483, 0.1423), K(243, 0.9684, 0.8946, 0.1470),
        K(249, 0.9543, 0.9349, 0.1529), K(251, 0.9492, 0.9484, 0.1522), K(253, 0.9442, 0.9619, 0.1469),
        K(254, 0.9419, 0.9686, 0.1410), K(255, 0.9400, 0.9752, 0.1313),
    ]
    fileprivate static let turboKnots: [Knot] = [
        K(0, 0.1900, 0.0718, 0.2322), K(3, 0.2042, 0.1065, 0.3184), K(6, 0.2171, 0.1409, 0.3996),
        K(9, 0.2288, 0.1748, 0.4758), K(12, 0.2392, 0.2083, 0.5469), K(15, 0.2483, 0.2414, 0.6129),
        K(18, 0.2562, 0.2741, 0.6738), K(21, 0.2628, 0.3064, 0.7297), K(24, 0.2682, 0.3382, 0.7805),
        K(27, 0.2723, 0.3697, 0.8262), K(30, 0.2751, 0.4007, 0.8669), K(33, 0.2767, 0.4313, 0.9025),
        K(36, 0.2770, 0.4615, 0.9331), K(39, 0.2760, 0.4913, 0.9586), K(42, 0.2738, 0.5207, 0.9790),
        K(45, 0.2688, 0.5500, 0.9930), K(48, 0.2586, 0.5796, 0.9988), K(51, 0.2443, 0.6094, 0.9970),
        K(54, 0.2268, 0.6391, 0.9885), K(57, 0.2071, 0.6687, 0.9742), K(60, 0.1862, 0.6978, 0.9550),
        K(64, 0.1584, 0.7355, 0.9230), K(69, 0.1270, 0.7804, 0.8759), K(73, 0.1074, 0.8138, 0.8348),
        K(76, 0.0975, 0.8371, 0.8034), K(79, 0.0929, 0.8588, 0.7724), K(82, 0.0945, 0.8784, 0.7426),
        K(85, 0.1034, 0.8960, 0.7150), K(88, 0.1201, 0.9119, 0.6866), K(91, 0.1439, 0.9268, 0.6545),
        K(94, 0.1738, 0.9405, 0.6194), K(97, 0.2088, 0.9530, 0.5820), K(101, 0.2618, 0.9676, 0.5298),
        K(107, 0.3504, 0.9848, 0.4500), K(113, 0.4432, 0.9955, 0.3734), K(118, 0.5182, 0.9991, 0.3162),
        K(122, 0.5736, 0.9982, 0.2771), K(125, 0.6109, 0.9951, 0.2528), K(128, 0.6436, 0.9900, 0.2336),
        K(131, 0.6746, 0.9825, 0.2196), K(135, 0.7158, 0.9688, 0.2082), K(139, 0.7562, 0.9512, 0.2034),
        K(144, 0.8047, 0.9245, 0.2046), K(151, 0.8671, 0.8797, 0.2139), K(157, 0.9132, 0.8358, 0.2233),
        K(162, 0.9449, 0.7963, 0.2280), K(167, 0.9693, 0.7552, 0.2266), K(171, 0.9829, 0.7214, 0.2192),
        K(176, 0.9931, 0.6741, 0.2035), K(181, 0.9968, 0.6209, 0.1830), K(186, 0.9942, 0.5639, 0.1592),
        K(192, 0.9836, 0.4929, 0.1285), K(198, 0.9656, 0.4224, 0.0980), K(204, 0.9408, 0.3557, 0.0703),
        K(209, 0.9157, 0.3053, 0.0513), K(214, 0.8869, 0.2615, 0.0375), K(220, 0.8466, 0.2141, 0.0249),
        K(226, 0.7997, 0.1706, 0.0152), K(232, 0.7462, 0.1310, 0.0085), K(238, 0.6860, 0.0954, 0.0048),
        K(244, 0.6192, 0.0637, 0.0041), K(250, 0.5458, 0.0359, 0.0064), K(255, 0.4796, 0.0158, 0.0106),
    ]
    fileprivate static let grayKnots: [Knot] = [
        K(0, 0.0000, 0.0000, 0.0000), K(255, 1.0000, 1.0000, 1.0000),
    ]
    fileprivate static let rdBuRKnots: [Knot] = [
        K(0, 0.0196, 0.1882, 0.3804), K(25, 0.1273, 0.3958, 0.6687), K(26, 0.1320, 0.4035, 0.6763),
        K(51, 0.2627, 0.5765, 0.7647), K(76, 0.5665, 0.7687, 0.8685), K(79, 0.5968, 0.7849, 0.8775),
        K(102, 0.8196, 0.8980, 0.9412), K(127, 0.9657, 0.9672, 0.9681), K(128, 0.9691, 0.9665, 0.9649),
        K(153, 0.9922, 0.8588, 0.7804), K(178, 0.9576, 0.6512, 0.5151), K(180, 0.9499, 0.6311, 0.4976),
        K(204, 0.8392, 0.3765, 0.3020), K(229, 0.7008, 0.0997, 0.1712), K(230, 0.6923, 0.0923, 0.1677),
        K(255, 0.4039, 0.0000, 0.1216),
    ]

}
