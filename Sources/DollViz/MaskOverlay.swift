import DollData
import DollTensor
import Foundation

/// How a mask is drawn.
public enum MaskStyle: String, Sendable, CaseIterable {
    /// Translucent fill only.
    case fill
    /// 1-pixel contour only (mask pixels with a 4-neighbour outside the mask).
    case contour
    /// Translucent fill and an opaque contour.
    case filledContour
}

/// One structure to draw: a name for the legend, a binary mask, a colour and a style.
public struct MaskLayer: Sendable {
    /// Legend label (empty: not listed).
    public var name: String
    /// `[H, W]`, `[1, H, W]` or `[1, 1, H, W]`; a pixel is inside when its value is above the
    /// overlay's threshold (NaN is outside).
    public var mask: Tensor
    /// The colour; `nil` takes `Palette.color(i)` for layer number `i`.
    public var color: Color?
    public var style: MaskStyle

    public init(_ name: String, mask: Tensor, color: Color? = nil, style: MaskStyle = .filledContour) {
        self.name = name
        self.mask = mask
        self.color = color
        self.style = style
    }
}

/// Masks drawn over a radiograph: translucent fills and/or 1-pixel contours in distinct
/// colours, with a legend of structure names.
///
/// ```swift
/// let overlay = MaskOverlay(fillAlpha: 0.3)
/// let img = try overlay(radiograph, layers: [
///     MaskLayer("ground truth", mask: gt, color: Palette.groundTruth, style: .contour),
///     MaskLayer("prediction", mask: pred, color: Palette.prediction, style: .contour),
/// ])
/// ```
///
/// All fills are drawn first (in layer order), then all contours, then the legend. A mask
/// whose size differs from the image is resized to it by nearest neighbour. Pixels outside
/// the image count as outside the mask, so a structure touching the border gets a closed contour.
public struct MaskOverlay: Sendable {
    /// Opacity of the fills, in [0, 1].
    public var fillAlpha: Float
    /// Values above this are inside a mask.
    public var threshold: Float
    /// Where the legend goes: `.right` or `.below` (outside: it never hides the image), or
    /// inside (`.best`: the corner covering the least mask area).
    public var legend: LegendPlacement
    /// Integer text scale of the legend.
    public var legendScale: Int
    /// Pictures smaller than this (longer side, pixels) are first enlarged by a whole factor
    /// (nearest neighbour), so that contours and the legend text stay readable on a 64 px image
    /// (0: never).
    public var minimumSide: Int

    public init(
        fillAlpha: Float = 0.35, threshold: Float = 0.5, legend: LegendPlacement = .best, legendScale: Int = 1,
        minimumSide: Int = 0
    ) {
        self.fillAlpha = fillAlpha
        self.threshold = threshold
        self.legend = legend
        self.legendScale = legendScale
        self.minimumSide = minimumSide
    }

    /// The overlay on a gray image `[H, W]`, `[1, H, W]` or `[1, 1, H, W]` in [0, 1] (other
    /// ranges are stretched from minimum to maximum).
    public func callAsFunction(_ image: Tensor, layers: [MaskLayer]) throws -> RGBImage {
        _ = try planeSize(image, what: "the image under a mask overlay")
        var lo = Float.infinity, hi = -Float.infinity
        for x in image.scalars where x.isFinite { lo = min(lo, x); hi = max(hi, x) }
        return try self(RGBImage(gray: image, range: lo >= 0 && hi <= 1 ? 0...1 : nil), layers: layers)
    }

    /// The overlay on an RGB picture.
    public func callAsFunction(_ image: RGBImage, layers: [MaskLayer]) throws -> RGBImage {
        guard fillAlpha.isFinite, fillAlpha >= 0, fillAlpha <= 1 else {
            throw DataError("mask overlay: fillAlpha must be in [0, 1], got \(fillAlpha)")
        }
        let factor = max(1, (minimumSide + max(image.width, image.height) - 1) / max(image.width, image.height, 1))
        let image =
            factor > 1
            ? try image.resized(width: image.width * factor, height: image.height * factor, filter: .nearest) : image
        let w = image.width, h = image.height
        let masks = try layers.enumerated().map { (i, l) in
            try binary(l.mask, width: w, height: h, layer: i, name: l.name)
        }
        let colors = layers.enumerated().map { $0.element.color ?? Palette.color($0.offset) }
        var out = image
        for (i, l) in layers.enumerated() where l.style != .contour {
            for p in 0..<(w * h) where masks[i][p] { out.blendPixel(x: p % w, y: p / w, colors[i], alpha: fillAlpha) }
        }
        for (i, l) in layers.enumerated() where l.style != .fill {
            let c = try MaskOverlay.contour(masks[i], width: w, height: h)
            for p in 0..<(w * h) where c[p] { out.setPixel(x: p % w, y: p / w, colors[i]) }
        }
        let entries = layers.enumerated().filter { !$0.element.name.isEmpty }.map {
            LegendEntry($0.element.name, color: colors[$0.offset])
        }
        guard !entries.isEmpty, legend != .none else { return out }
        let (lw, lh) = LegendBox.size(entries, scale: legendScale)
        if legend == .below {
            var grown = try RGBImage(width: max(w, lw + 8), height: h + lh + 8, fill: .white)
            grown.draw(out, x: 0, y: 0)
            LegendBox.draw(entries, on: &grown, x: 4, y: h + 4, scale: legendScale, frame: nil)
            return grown
        }
        if legend == .right {
            var grown = try RGBImage(width: w + lw + 12, height: max(h, lh + 8), fill: .white)
            grown.draw(out, x: 0, y: 0)
            LegendBox.draw(entries, on: &grown, x: w + 6, y: 4, scale: legendScale, frame: nil)
            return grown
        }
        // Integral image of "any mask" for the best-corner search.
        var integral = [Int](repeating: 0, count: (w + 1) * (h + 1))
        for y in 0..<h {
            var row = 0
            for x in 0..<w {
                if masks.contains(where: { $0[y * w + x] }) { row += 1 }
                integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row
            }
        }
        func covered(_ x: Int, _ y: Int, _ bw: Int, _ bh: Int) -> Double {
            let x0 = min(max(x, 0), w), y0 = min(max(y, 0), h), x1 = min(max(x + bw, 0), w), y1 = min(max(y + bh, 0), h)
            return Double(
                integral[y1 * (w + 1) + x1] - integral[y0 * (w + 1) + x1] - integral[y1 * (w + 1) + x0]
                    + integral[y0 * (w + 1) + x0])
        }
        let (lx, ly) = LegendBox.origin(legend, w: lw, h: lh, in: (0, 0, w, h), margin: 3, cost: covered)
        LegendBox.draw(
            entries, on: &out, x: lx, y: ly, scale: legendScale, background: .black, backgroundAlpha: 0.55,
            textColor: .white, frame: nil)
        return out
    }

    /// Renders and writes a PNG atomically.
    public func write(_ image: Tensor, layers: [MaskLayer], to path: String) throws {
        try self(image, layers: layers).write(to: path)
    }

    /// Boolean mask at `width × height` (nearest-neighbour resize when the size differs).
    func binary(_ m: Tensor, width w: Int, height h: Int, layer: Int, name: String) throws -> [Bool] {
        let label = name.isEmpty ? "mask \(layer)" : "mask '\(name)'"
        let (mh, mw) = try planeSize(m, what: label)
        var v = m.scalars
        if mh != h || mw != w {
            v = Resample.resize(v, width: mw, height: mh, channels: 1, toWidth: w, toHeight: h, filter: .nearest)
        }
        return v.map { $0 > threshold }
    }

    /// Contour of a binary mask: inside pixels with at least one 4-neighbour outside the mask
    /// (or outside the image).
    public static func contour(_ mask: [Bool], width w: Int, height h: Int) throws -> [Bool] {
        guard w >= 1, h >= 1, mask.count == w * h else {
            throw DataError("contour: mask has \(mask.count) pixels, expected \(w)x\(h)")
        }
        var out = [Bool](repeating: false, count: w * h)
        for y in 0..<h {
            for x in 0..<w where mask[y * w + x] {
                let edge =
                    x == 0 || y == 0 || x == w - 1 || y == h - 1
                    || !mask[y * w + x - 1] || !mask[y * w + x + 1] || !mask[(y - 1) * w + x] || !mask[(y + 1) * w + x]
                out[y * w + x] = edge
            }
        }
        return out
    }
}
