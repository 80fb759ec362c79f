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
        let tx = taps(w, ow, filter), ty = taps(h, oh, filter)
        var tmp = [Float](repeating: 0, count: h * ow * c)
        src.withUnsafeBufferPointer { s in
            tmp.withUnsafeMutableBufferPointer { t in
                for y in 0..<h {
                    for x in 0..<ow {
                        for ch in 0..<c {
                            var acc: Float = 0
                            for (i, wt) in tx[x] { acc += s[(y * w + i) * c + ch] * wt }
                            t[(y * ow + x) * c + ch] = acc
                        }
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: oh * ow * c)
        tmp.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<oh {
                    for x in 0..<ow {
                        for ch in 0..<c {
                            var acc: Float = 0
                            for (i, wt) in ty[y] { acc += t[(i * ow + x) * c + ch] * wt }
                            o[(y * ow + x) * c + ch] = acc
                        }
                    }
                }
            }
        }
        return out
    }
}
