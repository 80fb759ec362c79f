import Foundation

extension PhBuilder {
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
                let hh: Float = (0.12 - 0.004 * fi) * r(0.85, 1.15)  // rise near the spine
                let droop: Float = (0.13 + 0.004 * fi) * r(0.85, 1.15)  // fall along the lateral wall
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
                    b.insert(
                        PhV2(
                            PhMath.lerp(pts[jb].x, pts[jb + 1].x, fb), PhMath.lerp(pts[jb].y, pts[jb + 1].y, fb) + stepY
                        ), at: 0)
                    rb.insert(rads[jb], at: 0)
                    if a.count >= 2 { stamp(&postSD, PhStroke(a, ra)) }
                    if b.count >= 2 { stamp(&postSD, PhStroke(b, rb)) }
                    let jc = min(max(Int((fracT * Float(k)).rounded()), 0), k)
                    fracCenter = PhV2(pts[jc].x, pts[jc].y + 0.5 * stepY)
                    fracRadius = max(2.2 * ribRadius * unit, 2.5)
                } else {
                    stamp(&postSD, PhStroke(pts, rads))
                }
                if i < 8 {  // anterior rib: from the lateral end, medially and downward
                    let pe = pts[k]
                    let p1 = PhV2(pe.x + side * 0.035, pe.y + 0.11)
                    let p2 = PhV2(side * r(0.22, 0.3), pe.y + 0.26 + 0.012 * fi)
                    let curve = PhGeom.bezier(pe, p1, p2, 10)
                    var ar: [Float] = []
                    for j in 0..<curve.count {
                        ar.append(ribRadius * (0.95 - 0.25 * Float(j) / Float(curve.count - 1)))
                    }
                    stamp(&antSD, PhStroke(curve, ar))
                }
            }
        }
        if fracture {  // mask: disc around the break
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
            stamp(
                &armSD, PhStroke([PhV2(hx + side * 0.06, hy - 0.05), PhV2(hx + side * 0.16, hy + 1.2)], [0.15, 0.13]))
        }
        return PhSkeleton(posteriorRibs: postSD, anteriorRibs: antSD, clavicles: clavSD, humeri: humSD, arms: armSD)
    }

    /// Pulmonary vessel trees radiating from the hila: tapered, slightly wavy branches
    /// (max-composited attenuation, fading to sub-pixel calibre in the periphery).
    func drawVessels(_ anat: PhAnatomy) -> [Float] {
        var vessels = zeros()
        for (li, h) in anat.hilum.enumerated() {
            let s: Float = li == 0 ? -1 : 1
            var stack: [(PhV2, Float, Float, Float, Int)] = []  // start, angle, length, radius, depth
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
            switch rng.int(4) {
            case 0: et = true;
            case 1: cvc = true;
            case 2: ng = true;
            default: ecg = true
            }
        }
        let tx = med.shift - 0.01
        if et {
            let tip = r(-0.42, -0.28)
            stamp(
                &strongSD,
                PhStroke([PhV2(tx + r(-0.01, 0.01), -1.5), PhV2(tx, -0.9), PhV2(tx + 0.005, tip)], radius: 0.011))
        }
        if cvc {
            let s = rng.sign()
            let tipY = r(-0.25, -0.05)
            let ctrl: [PhV2]
            if rng.chance(0.5) {  // subclavian
                ctrl = [
                    PhV2(s * 0.85, -0.82), PhV2(s * 0.55, -0.7), PhV2(s * 0.25, -0.62), PhV2(-0.09 + med.shift, -0.45),
                    PhV2(-0.11 + med.shift, tipY),
                ]
            } else {  // internal jugular
                ctrl = [
                    PhV2(s * 0.14, -1.5), PhV2(s * 0.13, -0.95), PhV2(s * 0.1 - 0.04, -0.62),
                    PhV2(-0.09 + med.shift, -0.4), PhV2(-0.11 + med.shift, tipY),
                ]
            }
            stamp(&strongSD, PhStroke(PhGeom.spline(ctrl, 8), radius: 0.009))
        }
        if ng {
            let d = anat.lungs[1].domeY
            let ctrl = [
                PhV2(tx + 0.03, -1.5), PhV2(tx + 0.035, -0.6), PhV2(0.06, 0.1), PhV2(0.16, d + 0.1),
                PhV2(0.38, d + 0.22), PhV2(0.5, d + 0.2),
            ]
            stamp(&strongSD, PhStroke(PhGeom.spline(ctrl, 8), radius: 0.010))
        }
        if ecg {
            let count = 3 + rng.int(3)
            let spots: [PhV2] = [
                PhV2(-0.62, -0.6), PhV2(0.62, -0.6), PhV2(0.6, 0.5), PhV2(-0.55, 0.55), PhV2(0.3, 0.6),
            ]
            for k in 0..<count {
                let c = PhV2(spots[k].x + r(-0.08, 0.08), spots[k].y + r(-0.06, 0.06))
                stamp(&weakSD, PhStroke([c, c], radius: 0.04))  // pad
                stamp(&strongSD, PhStroke([c, c], radius: 0.013))  // snap
                let out = PhV2(c.x < 0 ? -1.4 : 1.4, c.y + r(-0.5, 0.5))
                let mid = PhV2(0.5 * (c.x + out.x) + r(-0.1, 0.1), 0.5 * (c.y + out.y) + r(-0.2, 0.2))
                stamp(&weakSD, PhStroke(PhGeom.spline([c, mid, out], 8), radius: 0.006), minPx: 0.5)
            }
        }
        if pm {
            let g = PhV2(r(0.45, 0.6), r(-0.62, -0.5))
            stamp(&strongSD, PhStroke([PhV2(g.x - 0.04, g.y), PhV2(g.x + 0.04, g.y)], radius: 0.055))
            let lead = [
                g, PhV2(0.25, -0.62), PhV2(0.02, -0.5), PhV2(-0.1 + med.shift, -0.2), PhV2(-0.02, 0.12),
                PhV2(heart.cx + 0.15, heart.cy + 0.12),
            ]
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

}
