import DollTensor
import Foundation

/// How an image is fitted to a square model input.
public enum FitMode: String, Codable, Sendable {
    /// Resize the whole image to the target size, ignoring the aspect ratio (like the shared data).
    case squash
    /// Keep the aspect ratio and pad the short side with zeros (centred).
    case pad
    /// Keep the aspect ratio, resize the short side, crop the centre.
    case crop
}

/// Interpolation for resizing.
public enum Interpolation: String, Codable, Sendable, CaseIterable {
    /// Per axis: box average over the covered source pixels when shrinking (no aliasing),
    /// bilinear when enlarging. The default for pictures and images.
    case area
    /// Bilinear, half-pixel centres (PyTorch `align_corners=False`).
    case bilinear
    /// Nearest neighbour (for masks: keeps label values).
    case nearest
}

/// Single-image operations on `[C, H, W]` tensors (C is usually 1).
public enum ImageOps {
    static func dims(_ t: Tensor) throws -> (Int, Int, Int) {
        guard t.rank == 3 else { throw DataError("image operations need [C, H, W], got \(shapeString(t.shape))") }
        return (t.shape[0], t.shape[1], t.shape[2])
    }

    /// Resizes `[C, H, W]` to `[C, outH, outW]`.
    public static func resize(
        _ t: Tensor, height outH: Int, width outW: Int, interpolation: Interpolation
    ) throws -> Tensor {
        let (c, h, w) = try dims(t)
        guard outH >= 1, outW >= 1, outH * outW <= ImageIO.maxPixels else {
            throw DataError("resize target \(outH)x\(outW) is invalid")
        }
        if h == outH && w == outW { return t }
        switch interpolation {
        case .bilinear:
            return try t.unsqueezed(0).upsampleBilinear(size: Pair(outH, outW)).squeezed(0)
        case .nearest, .area:
            if interpolation == .area && (outH > h || outW > w) {
                return try resize(t, height: outH, width: outW, interpolation: .bilinear)
            }
            let src = t.scalars
            var out: [Float] = []
            out.reserveCapacity(c * outH * outW)
            for ch in 0..<c {
                let plane = Array(src[(ch * h * w)..<((ch + 1) * h * w)])
                out += Resample.resize(
                    plane, width: w, height: h, channels: 1, toWidth: outW, toHeight: outH, filter: interpolation)
            }
            return try Tensor(out, shape: [c, outH, outW])
        }
    }

    /// Fits an image (or mask, with `.nearest`) to `size × size` by the given mode.
    public static func fit(_ t: Tensor, size: Int, mode: FitMode, interpolation: Interpolation) throws -> Tensor {
        let (_, h, w) = try dims(t)
        switch mode {
        case .squash:
            return try resize(t, height: size, width: size, interpolation: interpolation)
        case .pad:
            let s = Double(size) / Double(Swift.max(h, w))
            let nh = Swift.max(1, Int((Double(h) * s).rounded())), nw = Swift.max(1, Int((Double(w) * s).rounded()))
            let r = try resize(t, height: nh, width: nw, interpolation: interpolation)
            let top = (size - nh) / 2, left = (size - nw) / 2
            return try r.padded([(top, size - nh - top), (left, size - nw - left)])
        case .crop:
            let s = Double(size) / Double(Swift.min(h, w))
            let nh = Swift.max(size, Int((Double(h) * s).rounded())),
                nw = Swift.max(size, Int((Double(w) * s).rounded()))
            return try centerCrop(
                resize(t, height: nh, width: nw, interpolation: interpolation), height: size, width: size)
        }
    }

    /// The central `height × width` window.
    public static func centerCrop(_ t: Tensor, height ch: Int, width cw: Int) throws -> Tensor {
        let (_, h, w) = try dims(t)
        guard ch >= 1, cw >= 1, ch <= h, cw <= w else { throw DataError("cannot crop \(ch)x\(cw) from \(h)x\(w)") }
        let top = (h - ch) / 2, left = (w - cw) / 2
        return try t.slice(axis: 1, start: top, end: top + ch).slice(axis: 2, start: left, end: left + cw)
    }

    /// Global histogram equalisation of a [0, 1] image (256 bins, per channel).
    public static func equalizeHistogram(_ t: Tensor) throws -> Tensor {
        let (c, h, w) = try dims(t)
        var v = t.scalars
        let n = h * w
        for ch in 0..<c {
            var hist = [Int](repeating: 0, count: 256)
            for i in 0..<n { hist[bin(v[ch * n + i])] += 1 }
            let cdf = cumulative(hist)
            let cmin = cdf.first { $0 > 0 } ?? 0
            let denom = Float(Swift.max(n - cmin, 1))
            for i in 0..<n { v[ch * n + i] = Float(cdf[bin(v[ch * n + i])] - cmin) / denom }
        }
        return try Tensor(v, shape: t.shape)
    }

    /// Contrast-limited adaptive histogram equalisation, simplified: the image is divided into
    /// `tiles × tiles` regions; each gets a clipped (limit × mean bin count) equalisation map, and
    /// pixels blend the four nearest tiles' maps bilinearly.
    public static func clahe(_ t: Tensor, tiles: Int = 8, clipLimit: Float = 2) throws -> Tensor {
        let (c, h, w) = try dims(t)
        guard tiles >= 1, tiles <= Swift.min(h, w), clipLimit >= 1 else {
            throw DataError("clahe: tiles in 1…min(H, W), clipLimit ≥ 1")
        }
        var v = t.scalars
        let n = h * w
        for ch in 0..<c {
            var maps = [[Float]](repeating: [], count: tiles * tiles)
            for ty in 0..<tiles {
                for tx in 0..<tiles {
                    let y0 = ty * h / tiles, y1 = (ty + 1) * h / tiles, x0 = tx * w / tiles, x1 = (tx + 1) * w / tiles
                    var hist = [Int](repeating: 0, count: 256)
                    for y in y0..<y1 { for x in x0..<x1 { hist[bin(v[ch * n + y * w + x])] += 1 } }
                    let count = (y1 - y0) * (x1 - x0)
                    let limit = Swift.max(1, Int(clipLimit * Float(count) / 256))
                    var excess = 0
                    for i in 0..<256 where hist[i] > limit { excess += hist[i] - limit; hist[i] = limit }
                    for i in 0..<256 { hist[i] += excess / 256 + (i < excess % 256 ? 1 : 0) }
                    let cdf = cumulative(hist)
                    maps[ty * tiles + tx] = cdf.map { Float($0) / Float(Swift.max(count, 1)) }
                }
            }
            var out = [Float](repeating: 0, count: n)
            for y in 0..<h {
                let fy = (Float(y) + 0.5) / Float(h) * Float(tiles) - 0.5
                let ty0 = Swift.max(0, Swift.min(tiles - 1, Int(fy.rounded(.down)))),
                    ty1 = Swift.min(tiles - 1, ty0 + 1)
                let ay = Swift.max(0, Swift.min(1, fy - Float(ty0)))
                for x in 0..<w {
                    let fx = (Float(x) + 0.5) / Float(w) * Float(tiles) - 0.5
                    let tx0 = Swift.max(0, Swift.min(tiles - 1, Int(fx.rounded(.down)))),
                        tx1 = Swift.min(tiles - 1, tx0 + 1)
                    let ax = Swift.max(0, Swift.min(1, fx - Float(tx0)))
                    let b = bin(v[ch * n + y * w + x])
                    let top = maps[ty0 * tiles + tx0][b] * (1 - ax) + maps[ty0 * tiles + tx1][b] * ax
                    let bot = maps[ty1 * tiles + tx0][b] * (1 - ax) + maps[ty1 * tiles + tx1][b] * ax
                    out[y * w + x] = top * (1 - ay) + bot * ay
                }
            }
            for i in 0..<n { v[ch * n + i] = out[i] }
        }
        return try Tensor(v, shape: t.shape)
    }

    /// Rescales to zero mean and unit standard deviation (a constant image becomes zeros).
    public static func standardize(_ t: Tensor) -> Tensor {
        let v = t.scalars
        let n = Double(Swift.max(v.count, 1))
        let mean = v.reduce(0.0) { $0 + Double($1) } / n
        let sd = (v.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n).squareRoot()
        return Autograd.noGrad { t.adding(Float(-mean)).scaled(sd > 1e-12 ? Float(1 / sd) : 0) }
    }

    /// Linearly stretches the values' [lowQuantile, highQuantile] range to [0, 1], clamping.
    public static func stretch(_ t: Tensor, low: Double = 0.005, high: Double = 0.995) throws -> Tensor {
        let lo = try t.quantile(low), hi = try t.quantile(high)
        guard hi > lo else { return Autograd.noGrad { t.scaled(0) } }
        return Autograd.noGrad { t.adding(-lo).scaled(1 / (hi - lo)).clamped(0, 1) }
    }

    @inline(__always) static func bin(_ v: Float) -> Int {
        v.isNaN ? 0 : Swift.min(255, Swift.max(0, Int(v * 255 + 0.5)))
    }

    static func cumulative(_ hist: [Int]) -> [Int] {
        var out = hist
        for i in 1..<out.count { out[i] += out[i - 1] }
        return out
    }
}
