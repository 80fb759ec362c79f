import DollData
import DollTensor
import Foundation

/// Which part of a signed attribution is shown (Captum `visualize_image_attr`'s `sign`).
public enum AttributionSign: String, Sendable, CaseIterable {
    /// `|a|`, on a sequential map (Captum `absolute_value`; the default).
    case absolute
    /// `max(a, 0)`, on a sequential map.
    case positive
    /// `max(-a, 0)` (the size of the negative part), on a sequential map.
    case negative
    /// `a` itself in [-1, 1] on a diverging map centred at 0 (negative blue, positive red).
    case all
}

/// How the scale that maps attributions to [0, 1] is chosen, ignoring outliers.
public enum OutlierClipping: Sendable, Equatable {
    /// Scale by the largest magnitude (no clipping).
    case none
    /// Scale by the `(100 - p)`-th percentile of the magnitudes (linear interpolation, NumPy's
    /// default), so the top `p` % of pixels saturate. `.percentile(2)` is the default.
    case percentile(Double)
    /// Captum's `_cumulative_sum_threshold`: sort the magnitudes and scale by the smallest value
    /// at which their running sum reaches `(100 - p)` % of the total — what Captum's
    /// `visualize_image_attr(outlier_perc: p)` does.
    case cumulativeSum(Double)
}

/// Attribution heatmaps, optionally blended over a grayscale radiograph.
///
/// ```swift
/// let heat = Heatmap(sign: .absolute, colormap: .inferno, alpha: 0.5)
/// try heat(attribution, over: radiograph).write(to: "cardio.png")
/// ```
///
/// Steps, following Captum's `visualization.visualize_image_attr`:
/// 1. The attribution `[H, W]`, `[C, H, W]` or `[1, C, H, W]` is summed over channels to `[H, W]`.
/// 2. NaN becomes 0; ±Inf becomes ± the largest finite magnitude (so it saturates).
/// 3. The part selected by `sign` is divided by the scale from `clipping` and clipped to
///    [0, 1] (`[-1, 1]` for `.all`). An all-zero map stays 0; a constant map becomes 1.
/// 4. Values are coloured (`.all` maps `v` to `(v + 1) / 2` on the diverging map).
/// 5. With an image underneath, the heatmap is resized to the image (bilinear when enlarging,
///    box average when shrinking) and mixed in with opacity `alpha`.
public struct Heatmap: Sendable {
    /// Which part of the attribution to show.
    public var sign: AttributionSign
    /// The colormap; `nil` picks `.inferno` for one-sided signs and `.rdBuR` for `.all`.
    public var colormap: Colormap?
    /// How the normalising scale is chosen.
    public var clipping: OutlierClipping
    /// Opacity of the heatmap over an image, in [0, 1] (Captum's `alpha_overlay`, default 0.5).
    public var alpha: Float
    /// When true, each pixel's opacity is `alpha` times its normalised magnitude, so weak
    /// attribution leaves the radiograph visible (Captum's `masked_image`-like look).
    public var alphaByMagnitude: Bool

    /// - Parameters:
    ///   - sign: which part of the attribution to show (default `.absolute`).
    ///   - colormap: the colours; `nil` chooses by `sign`.
    ///   - outlierPercent: percent of the largest magnitudes that saturate (default 2 %).
    ///   - alpha: opacity over an image (default 0.5).
    ///   - alphaByMagnitude: scale the opacity by the normalised magnitude (default false).
    public init(
        sign: AttributionSign = .absolute, colormap: Colormap? = nil, outlierPercent: Double = 2,
        alpha: Float = 0.5, alphaByMagnitude: Bool = false
    ) {
        self.init(
            sign: sign, colormap: colormap, clipping: .percentile(outlierPercent), alpha: alpha,
            alphaByMagnitude: alphaByMagnitude)
    }

    /// Like `init(sign:colormap:outlierPercent:alpha:alphaByMagnitude:)` with an explicit clipping rule.
    public init(
        sign: AttributionSign = .absolute, colormap: Colormap? = nil, clipping: OutlierClipping,
        alpha: Float = 0.5, alphaByMagnitude: Bool = false
    ) {
        self.sign = sign
        self.colormap = colormap
        self.clipping = clipping
        self.alpha = alpha
        self.alphaByMagnitude = alphaByMagnitude
    }

    /// The colormap in effect.
    public var effectiveColormap: Colormap { colormap ?? (sign == .all ? .rdBuR : .inferno) }

    /// The normalised attribution `[H, W]`: values in [0, 1], or [-1, 1] for `.all`.
    public func normalize(_ attribution: Tensor) throws -> Tensor {
        let (h, w, v) = try Heatmap.reduce(attribution)
        return try Tensor(try normalized(v), shape: [h, w])
    }

    /// The scale that `normalize` divides by (after NaN/Inf handling and sign selection).
    public func scale(of attribution: Tensor) throws -> Float {
        let (_, _, v) = try Heatmap.reduce(attribution)
        return try scale(magnitudes(Heatmap.sanitized(v)))
    }

    /// The heatmap alone, at the attribution's size.
    public func callAsFunction(_ attribution: Tensor) throws -> RGBImage {
        let (h, w, v) = try Heatmap.reduce(attribution)
        let n = try normalized(v)
        let cmap = effectiveColormap
        var p = [UInt8](repeating: 0, count: w * h * 3)
        for i in 0..<(w * h) {
            let c = cmap.color(at: position(n[i]))
            p[3 * i] = c.r; p[3 * i + 1] = c.g; p[3 * i + 2] = c.b
        }
        return try RGBImage(width: w, height: h, pixels: p)
    }

    /// The heatmap blended over a gray image `[H, W]`, `[1, H, W]` or `[1, 1, H, W]` (values in
    /// [0, 1]; other ranges are stretched from their minimum to their maximum). The result has
    /// the image's size; `image == nil` gives the heatmap alone.
    public func callAsFunction(_ attribution: Tensor, over image: Tensor?) throws -> RGBImage {
        guard let image else { return try self(attribution) }
        let (_, _) = try planeSize(image, what: "the image under a heatmap")
        var lo = Float.infinity, hi = -Float.infinity
        for x in image.scalars where x.isFinite { lo = min(lo, x); hi = max(hi, x) }
        let inUnitRange = lo >= 0 && hi <= 1
        return try self(attribution, over: try RGBImage(gray: image, range: inUnitRange ? 0...1 : nil))
    }

    /// The heatmap blended over an RGB picture; the result has the picture's size.
    public func callAsFunction(_ attribution: Tensor, over image: RGBImage) throws -> RGBImage {
        guard alpha.isFinite, alpha >= 0, alpha <= 1 else {
            throw DataError("heatmap alpha must be in [0, 1], got \(alpha)")
        }
        let (h, w, v) = try Heatmap.reduce(attribution)
        var n = try normalized(v)
        if h != image.height || w != image.width {
            n = Resample.resize(
                n, width: w, height: h, channels: 1, toWidth: image.width, toHeight: image.height, filter: .area)
        }
        let cmap = effectiveColormap
        var out = image
        for y in 0..<image.height {
            for x in 0..<image.width {
                let t = n[y * image.width + x]
                let a = alphaByMagnitude ? alpha * min(abs(t), 1) : alpha
                out.blendPixel(x: x, y: y, cmap.color(at: position(t)), alpha: a)
            }
        }
        return out
    }

    /// A rendered heatmap made readable as a figure: enlarged by a whole factor (nearest
    /// neighbour) to at least `minimumSide` pixels, a title above, and a colour bar on the right
    /// labelled with the attribution values at its ends (`scale` from `scale(of:)`).
    public func figure(
        _ picture: RGBImage, scale s: Float, title: String = "", colorBar: Bool = true, minimumSide: Int = 256
    ) throws -> RGBImage {
        let k = max(1, (minimumSide + max(picture.width, picture.height) - 1) / max(picture.width, picture.height, 1))
        let img =
            k > 1
            ? try picture.resized(width: picture.width * k, height: picture.height * k, filter: .nearest) : picture
        let titleH = title.isEmpty ? 0 : 18
        let bottom: Float = sign == .all ? -s : 0
        let labels = [String(format: "%.3g", Double(s)), String(format: "%.3g", Double(bottom))]
        let barW = colorBar ? 14 + 8 + 6 * (labels.map(\.count).max() ?? 1) + 6 : 0
        var out = try RGBImage(width: img.width + barW, height: img.height + titleH, fill: .white)
        out.draw(img, x: 0, y: titleH)
        if !title.isEmpty { out.drawText(title, centerX: img.width / 2, y: 4) }
        if colorBar {
            let x0 = img.width + 6, h = img.height
            let cmap = effectiveColormap
            for y in 0..<h {
                let t = 1 - Float(y) / Float(max(h - 1, 1))  // top = largest value
                let v = sign == .all ? 2 * t - 1 : t
                out.fillRect(x: x0, y: titleH + y, width: 14, height: 1, color: cmap.color(at: position(v)))
            }
            out.drawText(labels[0], x: x0 + 18, y: titleH)
            out.drawText(labels[1], x: x0 + 18, y: titleH + h - 8)
        }
        return out
    }

    /// Renders and writes a PNG atomically.
    public func write(_ attribution: Tensor, over image: Tensor? = nil, to path: String) throws {
        try self(attribution, over: image).write(to: path)
    }

    // MARK: internals

    /// Colormap position of a normalised value.
    func position(_ t: Float) -> Float { sign == .all ? (t + 1) / 2 : t }

    /// `[H, W]` values of an attribution, channels summed.
    static func reduce(_ a: Tensor) throws -> (Int, Int, [Float]) {
        let s = a.shape
        let c: Int
        switch s.count {
        case 2: c = 1
        case 3: c = s[0]
        case 4 where s[0] == 1: c = s[1]
        case 4:
            throw DataError(
                "heatmap: one image at a time — got a batch of \(s[0]) in \(shapeString(s)); pass attribution[i]")
        default:
            throw DataError("heatmap: attribution must be [H, W], [C, H, W] or [1, C, H, W], got \(shapeString(s))")
        }
        let h = s[s.count - 2], w = s[s.count - 1]
        guard h >= 1, w >= 1, c >= 1 else { throw DataError("heatmap: attribution \(shapeString(s)) is empty") }
        try RGBImage.checkSize(w, h)
        let src = a.scalars
        if c == 1 { return (h, w, src) }
        var out = [Float](repeating: 0, count: h * w)
        for ch in 0..<c { for i in 0..<(h * w) { out[i] += src[ch * h * w + i] } }
        return (h, w, out)
    }

    /// NaN → 0, ±Inf → ± largest finite magnitude (1 when there is none).
    static func sanitized(_ v: [Float]) -> [Float] {
        var m: Float = 0
        for x in v where x.isFinite { m = max(m, abs(x)) }
        if m == 0 { m = 1 }
        return v.map { $0.isNaN ? 0 : ($0.isInfinite ? ($0 > 0 ? m : -m) : $0) }
    }

    /// The non-negative magnitudes the scale is computed from.
    func magnitudes(_ v: [Float]) -> [Float] {
        switch sign {
        case .absolute, .all: return v.map { abs($0) }
        case .positive: return v.map { max($0, 0) }
        case .negative: return v.map { max(-$0, 0) }
        }
    }

    func scale(_ m: [Float]) throws -> Float {
        let mx = m.max() ?? 0
        guard mx > 0 else { return 1 }
        var s: Float
        switch clipping {
        case .none:
            s = mx
        case .percentile(let p):
            guard p.isFinite, p >= 0, p < 100 else {
                throw DataError("heatmap: outlier percent must be in [0, 100), got \(p)")
            }
            s = try Tensor(m, shape: [m.count]).quantile(1 - p / 100)
        case .cumulativeSum(let p):
            guard p.isFinite, p >= 0, p < 100 else {
                throw DataError("heatmap: outlier percent must be in [0, 100), got \(p)")
            }
            let sorted = m.sorted()
            var total = 0.0
            for x in sorted { total += Double(x) }
            let target = total * (100 - p) / 100
            var run = 0.0
            s = sorted.last!
            for x in sorted {
                run += Double(x)
                if run >= target { s = x; break }
            }
        }
        // A percentile of 0 (sparse maps) falls back to the maximum so something is visible.
        if !(s > 0) || !s.isFinite { s = mx }
        return s
    }

    /// Normalised values: sign-selected, divided by the scale, clipped.
    func normalized(_ raw: [Float]) throws -> [Float] {
        let v = Heatmap.sanitized(raw)
        let s = try scale(magnitudes(v))
        switch sign {
        case .all: return v.map { min(max($0 / s, -1), 1) }
        default: return magnitudes(v).map { min($0 / s, 1) }
        }
    }
}
