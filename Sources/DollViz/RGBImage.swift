import DollData
import DollTensor
import Foundation

/// An 8-bit sRGB colour.
public struct Color: Sendable, Hashable, CustomStringConvertible {
    public var r: UInt8, g: UInt8, b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    /// A colour from `0xRRGGBB`.
    public init(hex: UInt32) {
        self.init(UInt8((hex >> 16) & 0xFF), UInt8((hex >> 8) & 0xFF), UInt8(hex & 0xFF))
    }

    /// A gray level (0 black … 255 white).
    public init(gray v: UInt8) { self.init(v, v, v) }

    public static let black = Color(0, 0, 0)
    public static let white = Color(255, 255, 255)
    /// Mid gray used for axes text and frames.
    public static let darkGray = Color(64, 64, 64)
    /// Light gray used for grid lines.
    public static let lightGray = Color(225, 225, 225)

    /// `(1 - t) * self + t * other`, `t` clamped to [0, 1] (NaN counts as 0).
    public func mixed(with other: Color, _ t: Float) -> Color {
        let a = t.isNaN ? 0 : min(max(t, 0), 1)
        func m(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8((Float(x) + (Float(y) - Float(x)) * a).rounded()) }
        return Color(m(r, other.r), m(g, other.g), m(b, other.b))
    }

    public var description: String {
        "#" + [r, g, b].map { String($0, radix: 16, uppercase: false) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
    }
}

/// How an image is resampled to a new size (DollData's `Interpolation`; `Resample` does it).
public typealias ResizeFilter = Interpolation

/// An RGB canvas: `width × height` pixels, 8 bits per channel, row-major, top row first.
///
/// Coordinates: `x` grows to the right, `y` downwards; pixel `(x, y)` covers the unit square
/// `[x, x+1) × [y, y+1)`, so its centre is `(x + 0.5, y + 0.5)` in the continuous coordinates
/// used by the anti-aliased primitives. Drawing outside the canvas is clipped silently.
/// Everything is deterministic: the same calls give the same bytes.
public struct RGBImage: Sendable, Equatable {
    /// Largest canvas accepted (64 megapixels, like `ImageIO.maxPixels`).
    public static let maxPixels = 1 << 26

    public let width: Int
    public let height: Int
    /// Interleaved RGB bytes, `width * height * 3` of them, row-major.
    public var pixels: [UInt8]

    /// A canvas filled with one colour. Throws for sizes below 1 or above `maxPixels`.
    public init(width: Int, height: Int, fill: Color = .white) throws {
        try RGBImage.checkSize(width, height)
        self.width = width
        self.height = height
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { p[3 * i] = fill.r; p[3 * i + 1] = fill.g; p[3 * i + 2] = fill.b }
        pixels = p
    }

    /// A canvas from interleaved RGB bytes (`width * height * 3`).
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        try RGBImage.checkSize(width, height)
        guard pixels.count == width * height * 3 else {
            throw DataError(
                "RGBImage: \(pixels.count) bytes cannot fill \(width)x\(height) RGB pixels (\(width * height * 3) needed)"
            )
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A gray picture from a tensor `[H, W]`, `[1, H, W]` or `[1, 1, H, W]`.
    ///
    /// - Parameter range: the values shown as black and white (default `0...1`, the range
    ///   `ImageIO.readGray` returns); values outside are clamped. `nil` stretches the finite
    ///   minimum…maximum of the tensor to black…white. NaN is drawn black, ±Inf clamped.
    public init(gray: Tensor, range: ClosedRange<Float>? = 0...1) throws {
        let (h, w) = try planeSize(gray, what: "a gray image")
        var lo: Float = 0, hi: Float = 1
        let v = gray.scalars
        if let range {
            lo = range.lowerBound; hi = range.upperBound
        } else {
            var mn = Float.infinity, mx = -Float.infinity
            for x in v where x.isFinite { mn = min(mn, x); mx = max(mx, x) }
            if mn <= mx { lo = mn; hi = mx }
        }
        let span = hi > lo ? hi - lo : 1
        var p = [UInt8](repeating: 0, count: w * h * 3)
        for i in 0..<(w * h) {
            let x = v[i]
            let t = x.isNaN ? 0 : min(max((x - lo) / span, 0), 1)
            let b = UInt8((t * 255).rounded())
            p[3 * i] = b; p[3 * i + 1] = b; p[3 * i + 2] = b
        }
        try self.init(width: w, height: h, pixels: p)
    }

    static func checkSize(_ w: Int, _ h: Int) throws {
        guard w >= 1, h >= 1, w <= maxPixels, h <= maxPixels, w * h <= maxPixels else {
            throw DataError(
                "RGBImage: size \(w)x\(h) is invalid (each side at least 1, at most \(maxPixels) pixels in all)")
        }
    }

    // MARK: pixels

    /// The colour at `(x, y)`, or nil outside the canvas.
    public func pixel(x: Int, y: Int) -> Color? {
        guard x >= 0, y >= 0, x < width, y < height else { return nil }
        let i = 3 * (y * width + x)
        return Color(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Sets one pixel (ignored outside the canvas).
    public mutating func setPixel(x: Int, y: Int, _ c: Color) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    /// Mixes `c` into one pixel with opacity `alpha` ∈ [0, 1]: `(1 - alpha) * old + alpha * c`.
    public mutating func blendPixel(x: Int, y: Int, _ c: Color, alpha: Float) {
        guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
        let a = min(alpha, 1)
        let i = 3 * (y * width + x)
        if a >= 1 { pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b; return }
        pixels[i] = UInt8((Float(pixels[i]) + (Float(c.r) - Float(pixels[i])) * a).rounded())
        pixels[i + 1] = UInt8((Float(pixels[i + 1]) + (Float(c.g) - Float(pixels[i + 1])) * a).rounded())
        pixels[i + 2] = UInt8((Float(pixels[i + 2]) + (Float(c.b) - Float(pixels[i + 2])) * a).rounded())
    }

    /// Fills the whole canvas.
    public mutating func fill(_ c: Color) {
        fillRect(x: 0, y: 0, width: width, height: height, color: c)
    }

    /// Fills the rectangle `[x, x+width) × [y, y+height)` (clipped), optionally translucent.
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, color c: Color, alpha: Float = 1) {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(width, x + max(0, w)), y1 = min(height, y + max(0, h))
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 {
            for xx in x0..<x1 {
                if alpha >= 1 { setPixel(x: xx, y: yy, c) } else { blendPixel(x: xx, y: yy, c, alpha: alpha) }
            }
        }
    }

    /// Draws the outline of a rectangle, `thickness` pixels wide, inside `[x, x+width) × [y, y+height)`.
    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, color c: Color, thickness t: Int = 1) {
        guard w > 0, h > 0, t > 0 else { return }
        fillRect(x: x, y: y, width: w, height: min(t, h), color: c)
        fillRect(x: x, y: y + h - min(t, h), width: w, height: min(t, h), color: c)
        fillRect(x: x, y: y, width: min(t, w), height: h, color: c)
        fillRect(x: x + w - min(t, w), y: y, width: min(t, w), height: h, color: c)
    }

    /// A 1-pixel line between pixel centres (Bresenham, both ends included, no anti-aliasing).
    public mutating func drawLine(x0: Int, y0: Int, x1: Int, y1: Int, color c: Color) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        // Bound the walk by the canvas so huge coordinates cannot loop for long.
        var steps = 0
        let limit = max(dx, -dy) + 1
        while steps < limit {
            setPixel(x: x, y: y, c)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
            steps += 1
        }
    }

    /// A 1-pixel circle outline centred on pixel `(cx, cy)` (midpoint algorithm, no anti-aliasing).
    public mutating func strokeCircle(cx: Int, cy: Int, radius r: Int, color c: Color) {
        guard r >= 0 else { return }
        var x = r, y = 0, err = 1 - r
        while x >= y {
            for (px, py) in [(x, y), (y, x), (-y, x), (-x, y), (-x, -y), (-y, -x), (y, -x), (x, -y)] {
                setPixel(x: cx + px, y: cy + py, c)
            }
            y += 1
            if err < 0 { err += 2 * y + 1 } else { x -= 1; err += 2 * (y - x) + 1 }
        }
    }

    /// An anti-aliased filled disc centred at continuous coordinates `(cx, cy)`.
    public mutating func fillCircle(cx: Double, cy: Double, radius r: Double, color c: Color, alpha: Float = 1) {
        guard cx.isFinite, cy.isFinite, r.isFinite, r > 0 else { return }
        let x0 = max(0, Int((cx - r - 1).rounded(.down))), x1 = min(width - 1, Int((cx + r + 1).rounded(.up)))
        let y0 = max(0, Int((cy - r - 1).rounded(.down))), y1 = min(height - 1, Int((cy + r + 1).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                let dx = Double(x) + 0.5 - cx, dy = Double(y) + 0.5 - cy
                let cov = min(max(r + 0.5 - (dx * dx + dy * dy).squareRoot(), 0), 1)
                if cov > 0 { blendPixel(x: x, y: y, c, alpha: Float(cov) * alpha) }
            }
        }
    }

    /// An anti-aliased polyline of the given stroke `width` through continuous points, drawn
    /// as one shape (joints are not darkened twice). Non-finite points split the line.
    /// - Parameter clip: optional rectangle `(x, y, width, height)` outside which nothing is drawn.
    public mutating func drawPolyline(
        _ points: [(x: Double, y: Double)], color c: Color, width lw: Double = 1,
        clip: (x: Int, y: Int, width: Int, height: Int)? = nil
    ) {
        guard lw > 0, lw.isFinite else { return }
        let half = lw / 2
        var cx0 = 0, cy0 = 0, cx1 = width, cy1 = height
        if let clip {
            cx0 = max(0, clip.x); cy0 = max(0, clip.y); cx1 = min(width, clip.x + clip.width);
            cy1 = min(height, clip.y + clip.height)
        }
        guard cx0 < cx1, cy0 < cy1 else { return }
        let bw = cx1 - cx0
        var cov = [Float](repeating: 0, count: bw * (cy1 - cy0))
        var touched = false
        func segment(_ a: (x: Double, y: Double), _ b: (x: Double, y: Double)) {
            // Keep coordinates in a sane range so Int conversion cannot trap.
            let lim = 1e7
            guard abs(a.x) < lim, abs(a.y) < lim, abs(b.x) < lim, abs(b.y) < lim else { return }
            let xa = max(cx0, Int((min(a.x, b.x) - half - 1).rounded(.down))),
                xb = min(cx1 - 1, Int((max(a.x, b.x) + half + 1).rounded(.up)))
            let ya = max(cy0, Int((min(a.y, b.y) - half - 1).rounded(.down))),
                yb = min(cy1 - 1, Int((max(a.y, b.y) + half + 1).rounded(.up)))
            guard xa <= xb, ya <= yb else { return }
            let vx = b.x - a.x, vy = b.y - a.y, len2 = vx * vx + vy * vy
            for y in ya...yb {
                for x in xa...xb {
                    let px = Double(x) + 0.5 - a.x, py = Double(y) + 0.5 - a.y
                    var t = len2 > 0 ? (px * vx + py * vy) / len2 : 0
                    t = min(max(t, 0), 1)
                    let dx = px - t * vx, dy = py - t * vy
                    let c = Float(min(max(half + 0.5 - (dx * dx + dy * dy).squareRoot(), 0), 1))
                    let k = (y - cy0) * bw + (x - cx0)
                    if c > cov[k] { cov[k] = c; touched = true }
                }
            }
        }
        var prev: (x: Double, y: Double)? = nil
        for p in points {
            guard p.x.isFinite, p.y.isFinite else { prev = nil; continue }
            if let q = prev { segment(q, p) } else { segment(p, p) }
            prev = p
        }
        guard touched else { return }
        for y in cy0..<cy1 {
            for x in cx0..<cx1 {
                let a = cov[(y - cy0) * bw + (x - cx0)]
                if a > 0 { blendPixel(x: x, y: y, c, alpha: a) }
            }
        }
    }

    /// An anti-aliased straight line between continuous points.
    public mutating func drawLine(
        from a: (x: Double, y: Double), to b: (x: Double, y: Double), color c: Color, width lw: Double = 1
    ) {
        drawPolyline([a, b], color: c, width: lw)
    }

    /// Copies `other` onto this canvas with its top-left corner at `(x, y)` (clipped).
    public mutating func draw(_ other: RGBImage, x: Int, y: Int, alpha: Float = 1) {
        for sy in 0..<other.height {
            let ty = y + sy
            guard ty >= 0, ty < height else { continue }
            for sx in 0..<other.width {
                let tx = x + sx
                guard tx >= 0, tx < width else { continue }
                let i = 3 * (sy * other.width + sx)
                let c = Color(other.pixels[i], other.pixels[i + 1], other.pixels[i + 2])
                if alpha >= 1 { setPixel(x: tx, y: ty, c) } else { blendPixel(x: tx, y: ty, c, alpha: alpha) }
            }
        }
    }

    /// The rectangle `[x, x+width) × [y, y+height)`, which must lie inside the canvas.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) throws -> RGBImage {
        guard x >= 0, y >= 0, w >= 1, h >= 1, x + w <= width, y + h <= height else {
            throw DataError("crop \(w)x\(h) at (\(x), \(y)) does not fit in a \(width)x\(height) image")
        }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for yy in 0..<h {
            let src = 3 * ((y + yy) * width + x)
            out.replaceSubrange((3 * yy * w)..<(3 * (yy + 1) * w), with: pixels[src..<(src + 3 * w)])
        }
        return try RGBImage(width: w, height: h, pixels: out)
    }

    /// This image resampled to `width × height`.
    public func resized(width w: Int, height h: Int, filter: ResizeFilter = .area) throws -> RGBImage {
        try RGBImage.checkSize(w, h)
        if w == width && h == height { return self }
        let src = pixels.map(Float.init)
        let out = Resample.resize(
            src, width: width, height: height, channels: 3, toWidth: w, toHeight: h, filter: filter)
        return try RGBImage(width: w, height: h, pixels: out.map { UInt8(min(max($0.rounded(), 0), 255)) })
    }

    /// This image scaled to fit inside `width × height` keeping its aspect ratio, centred on a
    /// `width × height` canvas of `background`.
    public func fitted(
        width w: Int, height h: Int, background: Color = .white, filter: ResizeFilter = .area
    ) throws -> RGBImage {
        try RGBImage.checkSize(w, h)
        let s = min(Double(w) / Double(width), Double(h) / Double(height))
        let nw = max(1, min(w, Int((Double(width) * s).rounded()))),
            nh = max(1, min(h, Int((Double(height) * s).rounded())))
        let scaled = try resized(width: nw, height: nh, filter: filter)
        if nw == w && nh == h { return scaled }
        var canvas = try RGBImage(width: w, height: h, fill: background)
        canvas.draw(scaled, x: (w - nw) / 2, y: (h - nh) / 2)
        return canvas
    }

    // MARK: output

    /// The picture as 8-bit RGB PNG bytes (deterministic for a given libpng).
    public func png() throws -> Data {
        try ImageIO.encodePNG(samples: pixels.map(UInt16.init), width: width, height: height, channels: 3, bitDepth: 8)
    }

    /// Writes the picture as PNG atomically (temporary file in the same folder, then rename).
    public func write(to path: String) throws {
        try AtomicFile.write(try png(), to: path)
    }
}

/// Height and width of a single-plane tensor: `[H, W]`, `[1, H, W]` or `[1, 1, H, W]`.
func planeSize(_ t: Tensor, what: String) throws -> (Int, Int) {
    let s = t.shape
    let ok = (s.count == 2) || (s.count == 3 && s[0] == 1) || (s.count == 4 && s[0] == 1 && s[1] == 1)
    guard ok else { throw DataError("\(what) must be [H, W], [1, H, W] or [1, 1, H, W], got \(shapeString(s))") }
    let h = s[s.count - 2], w = s[s.count - 1]
    guard h >= 1, w >= 1 else { throw DataError("\(what) is empty (shape \(shapeString(s)))") }
    try RGBImage.checkSize(w, h)
    return (h, w)
}
