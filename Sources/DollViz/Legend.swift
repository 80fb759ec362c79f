import Foundation

/// A fixed palette of distinct, saturated colours for structures and series (chosen for this
/// project; readable over gray radiographs and on white chart backgrounds). Index `i` takes
/// `colors[i % colors.count]`.
public enum Palette {
    public static let colors: [Color] = [
        Color(hex: 0xE8384F),  // red
        Color(hex: 0x2E9BD6),  // blue
        Color(hex: 0x3DB84A),  // green
        Color(hex: 0xF2A416),  // orange
        Color(hex: 0x9B59D0),  // purple
        Color(hex: 0x17BFB5),  // teal
        Color(hex: 0xE85DC0),  // pink
        Color(hex: 0x8C6D3F),  // brown
        Color(hex: 0xB5C918),  // olive
        Color(hex: 0x5A6B7D),  // slate
    ]

    /// Colour number `i` (wraps around).
    public static func color(_ i: Int) -> Color { colors[((i % colors.count) + colors.count) % colors.count] }

    /// Conventional colour for ground-truth masks in comparisons (green).
    public static let groundTruth = Color(hex: 0x30D158)
    /// Conventional colour for predicted masks in comparisons (magenta-red).
    public static let prediction = Color(hex: 0xFF2D75)
}

/// Where a legend goes.
public enum LegendPlacement: String, Sendable, CaseIterable {
    /// The inside corner that hides the least content (ties: top-right, top-left, bottom-right, bottom-left).
    case best
    case topLeft, topRight, bottomLeft, bottomRight
    /// Under the picture (the canvas grows).
    case below
    /// Beside the picture, on its right (the canvas grows; nothing is covered).
    case right
    /// No legend.
    case none
}

/// One legend row: a name and how its key is drawn.
public struct LegendEntry: Sendable {
    public enum Key: Sendable {
        /// A filled square (masks, bars).
        case swatch
        /// A short line, with an optional marker (line plots).
        case line(Marker)
    }
    public var name: String
    public var color: Color
    public var key: Key
    public init(_ name: String, color: Color, key: Key = .swatch) {
        self.name = name; self.color = color; self.key = key
    }
}

/// Legend layout and drawing shared by overlays and charts.
enum LegendBox {
    static let pad = 4, keyWidth = 16, gap = 5

    /// Size of the legend box for `entries` at text `scale`.
    static func size(_ entries: [LegendEntry], scale: Int) -> (width: Int, height: Int) {
        let s = max(1, scale)
        let textW = entries.map { BitmapFont.measure($0.name, scale: s).width }.max() ?? 0
        let row = BitmapFont.lineHeight * s
        let w = pad * 2 + keyWidth * s + gap + textW
        let h = pad * 2 + entries.count * row - (BitmapFont.lineHeight - BitmapFont.glyphHeight) * s
        return (w, h)
    }

    /// Draws the legend with its top-left corner at `(x, y)`.
    static func draw(
        _ entries: [LegendEntry], on img: inout RGBImage, x: Int, y: Int, scale: Int,
        background: Color = .white, backgroundAlpha: Float = 0.85, textColor: Color = .black,
        frame: Color? = Color(gray: 160)
    ) {
        guard !entries.isEmpty else { return }
        let s = max(1, scale)
        let (w, h) = size(entries, scale: s)
        img.fillRect(x: x, y: y, width: w, height: h, color: background, alpha: backgroundAlpha)
        if let frame { img.strokeRect(x: x, y: y, width: w, height: h, color: frame) }
        for (i, e) in entries.enumerated() {
            let ty = y + pad + i * BitmapFont.lineHeight * s
            let kx = x + pad, kw = keyWidth * s
            let midY = ty + 3 * s + s / 2  // middle of the capitals
            switch e.key {
            case .swatch:
                let side = 7 * s
                img.fillRect(x: kx + (kw - side) / 2, y: ty, width: side, height: side, color: e.color)
            case .line(let m):
                img.fillRect(x: kx, y: midY - s / 2, width: kw, height: max(2, s + 1), color: e.color)
                drawMarker(
                    m, on: &img, x: Double(kx) + Double(kw) / 2, y: Double(midY) + 0.5, radius: 3 * Double(s),
                    color: e.color)
            }
            img.drawText(e.name, x: kx + kw + gap, y: ty, color: textColor, scale: s)
        }
    }

    /// Top-left corner of a `w × h` box placed in `rect` by `placement` (not `.below`/`.none`).
    /// `.best` picks the corner whose box covers the smallest `cost`.
    static func origin(
        _ placement: LegendPlacement, w: Int, h: Int, in rect: (x: Int, y: Int, width: Int, height: Int),
        margin: Int = 6,
        cost: ((Int, Int, Int, Int) -> Double)? = nil
    ) -> (Int, Int) {
        let left = rect.x + margin, right = rect.x + rect.width - margin - w
        let top = rect.y + margin, bottom = rect.y + rect.height - margin - h
        switch placement {
        case .topLeft: return (left, top)
        case .bottomLeft: return (left, bottom)
        case .bottomRight: return (right, bottom)
        case .best:
            let candidates = [(right, top), (left, top), (right, bottom), (left, bottom)]
            guard let cost else { return candidates[0] }
            var best = candidates[0], bestCost = Double.infinity
            for c in candidates {
                let v = cost(c.0, c.1, w, h)
                if v < bestCost { bestCost = v; best = c }
            }
            return best
        default: return (right, top)
        }
    }
}

/// Point markers for line plots.
public enum Marker: String, Sendable, CaseIterable {
    case none, circle, square, diamond, triangle
}

/// Draws a marker centred at continuous `(x, y)`.
func drawMarker(_ m: Marker, on img: inout RGBImage, x: Double, y: Double, radius r: Double, color: Color) {
    guard x.isFinite, y.isFinite, abs(x) < 1e7, abs(y) < 1e7 else { return }
    switch m {
    case .none: return
    case .circle:
        img.fillCircle(cx: x, cy: y, radius: r, color: color)
    case .square, .diamond, .triangle:
        let x0 = max(0, Int((x - r - 1).rounded(.down))), x1 = min(img.width - 1, Int((x + r + 1).rounded(.up)))
        let y0 = max(0, Int((y - r - 1).rounded(.down))), y1 = min(img.height - 1, Int((y + r + 1).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        let q = r * 0.9
        for py in y0...y1 {
            for px in x0...x1 {
                let dx = Double(px) + 0.5 - x, dy = Double(py) + 0.5 - y
                let d: Double  // signed distance-like measure, negative inside
                switch m {
                case .square: d = max(abs(dx), abs(dy)) - q
                case .diamond: d = (abs(dx) + abs(dy)) / 1.4142135623730951 - r * 0.85
                default:  // triangle pointing up
                    // apex (0, -r), base corners (±r, 0.8r)
                    let e1 = dy - r * 0.8
                    let e2 = (1.8 * abs(dx) - (dy + r)) / 2.0591260281974
                    d = max(e1, e2)
                }
                let cov = Float(min(max(0.5 - d, 0), 1))
                if cov > 0 { img.blendPixel(x: px, y: py, color, alpha: cov) }
            }
        }
    }
}
