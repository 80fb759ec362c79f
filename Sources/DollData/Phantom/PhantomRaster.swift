import Foundation

// MARK: - Rasterisation (pixel space)

enum PhRaster {
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
            ax.withUnsafeBufferPointer { ax in
                ay.withUnsafeBufferPointer { ay in
                    ex.withUnsafeBufferPointer { ex in
                        ey.withUnsafeBufferPointer { ey in
                            il.withUnsafeBufferPointer { il in
                                loX.withUnsafeBufferPointer { loX in
                                    hiX.withUnsafeBufferPointer { hiX in
                                        loY.withUnsafeBufferPointer { loY in
                                            hiY.withUnsafeBufferPointer { hiY in
                                                rowEdges.withUnsafeMutableBufferPointer { re in
                                                    crossings.withUnsafeMutableBufferPointer { cr in
                                                        for yy in y0..<y1 {
                                                            let py = Float(yy) + 0.5
                                                            var ne = 0, nc = 0
                                                            for i in 0..<m {
                                                                if py >= loY[i] && py <= hiY[i] { re[ne] = i; ne += 1 }
                                                                if (ay[i] > py) != (ay[i] + ey[i] > py) {
                                                                    cr[nc] = ax[i] + (py - ay[i]) * ex[i] / ey[i];
                                                                    nc += 1
                                                                }
                                                            }
                                                            // insertion sort of the (few) crossings
                                                            if nc > 1 {
                                                                for i in 1..<nc {
                                                                    let v = cr[i]
                                                                    var j = i - 1
                                                                    while j >= 0 && cr[j] > v {
                                                                        cr[j + 1] = cr[j]; j -= 1
                                                                    }
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
                                                                    let t = min(
                                                                        max((wx * ex[i] + wy * ey[i]) * il[i], 0), 1)
                                                                    let dx = wx - ex[i] * t, dy = wy - ey[i] * t
                                                                    d2 = min(d2, dx * dx + dy * dy)
                                                                }
                                                                let d = d2.squareRoot()
                                                                o[yy * size + xx] = inside ? -d : d
                                                            }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
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
                        let d = PhMath.capsule(px, py, a: a, ex: ex, ey: ey, il: il, ra: ra, dr: dr).d
                        let p = yy * size + xx
                        if d < o[p] { o[p] = d }
                    }
                }
            }
        }
    }
}
