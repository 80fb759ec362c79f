import Foundation

/// Separable resampling of interleaved float planes: per axis, each output sample is a weighted
/// sum of source samples ("taps"). Images (`ImageOps.resize`) and pictures (`RGBImage`) share it.
public enum Resample {
    /// Taps `(source index, weight)` for every output index along one axis.
    public static func taps(_ n: Int, _ m: Int, _ filter: Interpolation) -> [[(Int, Float)]] {
        let scale = Double(n) / Double(m)
        return (0..<m).map { o in
            switch filter {
            case .nearest:
                return [(min(n - 1, Int((Double(o) + 0.5) * Double(n) / Double(m))), Float(1))]
            case .area where m < n:
                let a = Double(o) * scale, b = Double(o + 1) * scale
                var ws: [(Int, Float)] = []
                var i = Int(a.rounded(.down))
                while Double(i) < b && i < n {
                    let cover = min(b, Double(i + 1)) - max(a, Double(i))
                    if cover > 1e-9 { ws.append((i, Float(cover / scale))) }
                    i += 1
                }
                return ws
            default:
                let s = max(0, (Double(o) + 0.5) * scale - 0.5)
                let i0 = min(n - 1, Int(s.rounded(.down))), i1 = min(i0 + 1, n - 1)
                let f = Float(s - Double(i0))
                return i1 == i0 || f == 0 ? [(i0, Float(1))] : [(i0, 1 - f), (i1, f)]
            }
        }
    }

    /// Resizes `height × width × channels` interleaved values to `toHeight × toWidth × channels`.
    public static func resize(
        _ src: [Float], width w: Int, height h: Int, channels c: Int, toWidth ow: Int, toHeight oh: Int,
        filter: Interpolation
    ) -> [Float] {
        if w == ow && h == oh { return src }
        // Rows first ([h, w·c] → [h, ow·c]), then columns ([h, ow·c] → [oh, ow·c]).
        let rows = pass(src, outer: h, n: w, inner: c, taps: taps(w, ow, filter))
        return pass(rows, outer: 1, n: h, inner: ow * c, taps: taps(h, oh, filter))
    }

    /// Resamples the middle axis of `[outer, n, inner]` values with `taps` (one list per output index).
    static func pass(_ src: [Float], outer: Int, n: Int, inner: Int, taps: [[(Int, Float)]]) -> [Float] {
        let m = taps.count
        var out = [Float](repeating: 0, count: outer * m * inner)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for a in 0..<outer {
                    for j in 0..<m {
                        for k in 0..<inner {
                            var acc: Float = 0
                            for (i, wt) in taps[j] { acc += s[(a * n + i) * inner + k] * wt }
                            o[(a * m + j) * inner + k] = acc
                        }
                    }
                }
            }
        }
        return out
    }
}
