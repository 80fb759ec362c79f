import Foundation

extension PhBuilder {
    // MARK: 3. Findings (amount field → mask → attenuation)

    /// Enlarged Cardiomediastinum: mask = the widened upper mediastinum (inlet to heart top).
    func findEnlargedMediastinum(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        var amount = zeros()
        let top = min(anat.lungs[0].apexY, anat.lungs[1].apexY)
        let bottom = anat.heart.cy - 0.6 * anat.heart.b
        for p in 0..<n where f.medSD[p] < 0 && f.heartSD[p] >= 0 && cY[p] >= top && cY[p] <= bottom { amount[p] = 1 }
        L.setMask(PhObs.ecm, mask(&amount, threshold: 0.5, fallback: PhV2(anat.med.shift, -0.35)))
    }

    /// Cardiomegaly: mask = the whole enlarged cardiac silhouette.
    func findCardiomegaly(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        var amount = f.heartMask.map { Float($0) }
        L.setMask(PhObs.cardiomegaly, mask(&amount, threshold: 0.5, fallback: PhV2(anat.heart.cx, anat.heart.cy)))
    }

    /// Consolidation: dense lobar (upper lobe with a sharp fissure border) or segmental opacity
    /// with air bronchograms, in one lung.
    func findConsolidation(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let s: Float = rng.chance(0.55) ? -1 : 1
        let li = PhBuilder.sideIndex(s)
        let lung = anat.lungs[li]
        let zone = rng.int(3)
        let nz = PhNoise(grid: 9, rng: &rng)
        var amount: [Float]
        let center: PhV2
        if zone == 0 {  // upper lobe, sharp inferior border along the fissure
            let fy = r(-0.22, -0.06)
            let tilt = r(-0.1, 0.1)
            center = PhV2(s * 0.5, fy - 0.2)
            amount = ellipse(
                cx: center.x, cy: fy - 0.25, rx: 0.42, ry: 0.42, angle: 0, soft: 0.45, noise: nz, ragged: 0.6)
            for p in 0..<n where amount[p] > 0 {
                let yl = cY[p] + tilt * (cX[p] - s * 0.4)
                amount[p] *= PhMath.sstep(fy + 0.012, fy - 0.012, yl)
            }
        } else if zone == 1 {  // lower zone
            center = PhV2(s * r(0.4, 0.58), min(lung.domeY - 0.12, r(0.05, 0.2)))
            amount = ellipse(
                cx: center.x, cy: center.y, rx: r(0.16, 0.26), ry: r(0.13, 0.2), angle: r(-0.3, 0.3),
                soft: 0.4, noise: nz, ragged: 0.7)
        } else {  // mid zone
            center = PhV2(s * r(0.3, 0.55), r(-0.25, 0.0))
            amount = ellipse(
                cx: center.x, cy: center.y, rx: r(0.13, 0.2), ry: r(0.1, 0.16), angle: r(-0.4, 0.4),
                soft: 0.4, noise: nz, ragged: 0.7)
        }
        let nzi = PhNoise(grid: 24, rng: &rng)
        for p in 0..<n where amount[p] > 0 {
            amount[p] = min(1, 1.15 * amount[p]) * (0.85 + 0.15 * nzi.at(cX[p], cY[p]))
        }
        clipToLungs(&amount, f, sides: [li])
        let m = mask(&amount, threshold: 0.5, fallback: PhV2(s * 0.5, -0.1), within: f.lungUnion)
        L.setMask(PhObs.consolidation, m)
        L.unionOpacity(m)
        L.addOpacity(amount, 0.30 * kf)
        // Air bronchograms: thin dark branching lines inside the consolidation.
        var bsd = newSD()
        let nb = 2 + rng.int(3)
        for _ in 0..<nb {
            let ang = r(-0.9, 0.9)
            let start = PhV2(center.x - s * r(0.02, 0.1), center.y + r(-0.06, 0.06))
            let len = r(0.08, 0.16)
            let mid = PhV2(start.x + s * len * 0.5 * PhMath.cos(ang), start.y + len * 0.5 * PhMath.sin(ang))
            let end = PhV2(start.x + s * len * PhMath.cos(ang + r(-0.3, 0.3)), start.y + len * PhMath.sin(ang))
            stamp(&bsd, PhStroke([start, mid, end], [0.006, 0.005, 0.003]), minPx: 0.4)
            let twig = PhV2(mid.x + s * 0.05 * PhMath.cos(ang + 0.6), mid.y + 0.05 * PhMath.sin(ang + 0.6))
            stamp(&bsd, PhStroke([mid, twig], [0.004, 0.003]), minPx: 0.4)
        }
        for p in 0..<n where bsd[p] < 2 && amount[p] > 0 {
            L.opacityAdd[p] -= 0.1 * kf * amount[p] * PhMath.cover(bsd[p], edge)
        }
    }

    /// Pneumonia: patchy air-space opacity (one focus, sometimes one per lung).
    func findPneumonia(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        var amount = zeros()
        let foci = rng.chance(0.3) ? 2 : 1
        let first: Float = rng.chance(0.55) ? -1 : 1
        var sides: [Int] = []
        for k in 0..<foci {
            let s: Float = k == 0 ? first : -first
            sides.append(PhBuilder.sideIndex(s))
            let nz = PhNoise(grid: 14, rng: &rng)
            let cy = rng.chance(0.65) ? r(0.0, 0.25) : r(-0.4, -0.05)
            let cx = s * r(0.35, 0.6)
            let ell = ellipse(cx: cx, cy: cy, rx: r(0.15, 0.26), ry: r(0.13, 0.22), angle: r(-0.5, 0.5), soft: 0.5)
            for p in 0..<n where ell[p] > 0 {
                let patch = PhMath.sstep(0.3, 0.62, nz.at(cX[p], cY[p]))
                amount[p] = max(amount[p], ell[p] * (0.35 + 0.65 * patch))
            }
        }
        clipToLungs(&amount, f, sides: sides)
        let m = mask(&amount, threshold: 0.45, fallback: PhV2(first * 0.5, 0.1), within: f.lungUnion)
        L.setMask(PhObs.pneumonia, m)
        L.unionOpacity(m)
        L.addOpacity(amount, 0.25 * kf)
    }

    /// Nonspecific ill-defined opacity (Lung Opacity drawn on its own; no separate mask key).
    func findNonspecificOpacity(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let s: Float = rng.sign()
        let nz = PhNoise(grid: 10, rng: &rng)
        let cx = s * r(0.3, 0.6), cy = r(-0.45, 0.2)
        var amount = ellipse(
            cx: cx, cy: cy, rx: r(0.1, 0.2), ry: r(0.1, 0.2), angle: 0, soft: 0.6, noise: nz, ragged: 0.5)
        clipToLungs(&amount, f, sides: [PhBuilder.sideIndex(s)])
        let m = mask(&amount, threshold: 0.45, fallback: PhV2(s * 0.45, -0.1), within: f.lungUnion)
        L.unionOpacity(m)
        L.addOpacity(amount, 0.2 * kf)
    }

    /// Edema: bilateral perihilar ("butterfly") haze plus basal Kerley B lines.
    func findEdema(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        var amount = zeros()
        let sx = r(0.24, 0.32), sy = r(0.28, 0.36)
        let strength = r(0.9, 1.2)
        for p in 0..<n {
            var g: Float = 0
            for h in anat.hilum {
                let dx = (cX[p] - h.x) / sx, dy = (cY[p] - h.y) / sy
                let q = dx * dx + dy * dy
                if q < 12 { g = max(g, PhMath.exp(-q)) }
            }
            amount[p] = min(1, strength * g)
        }
        var ksd = newSD()
        for lung in anat.lungs {
            let nk = 3 + rng.int(3)
            for _ in 0..<nk {
                let y = r(0.1, lung.cpY - 0.06)
                let xl = lung.lateralAbsX(y) * lung.s
                let len = r(0.04, 0.07)
                stamp(
                    &ksd,
                    PhStroke(
                        [PhV2(xl + lung.s * 0.01, y), PhV2(xl - lung.s * len, y + r(-0.01, 0.01))], radius: 0.006),
                    minPx: 0.45)
            }
        }
        for p in 0..<n where ksd[p] < 2 { amount[p] = max(amount[p], 0.8 * PhMath.cover(ksd[p], edge)) }
        clipToLungs(&amount, f, sides: [0, 1])
        let fb = PhV2(anat.hilum[1].x + 0.12, anat.hilum[1].y)
        let m = mask(&amount, threshold: 0.4, fallback: fb, within: f.lungUnion)
        L.setMask(PhObs.edema, m)
        L.unionOpacity(m)
        L.addOpacity(amount, 0.24 * kf)
    }

    /// Atelectasis: plate-like band above the (raised) hemidiaphragm.
    func findAtelectasis(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let side = anat.atelSide
        let li = PhBuilder.sideIndex(side)
        let lung = anat.lungs[li]
        let y0 = lung.domeY - r(0.07, 0.16)
        let xl = lung.lateralAbsX(y0)
        let a = PhV2(side * xl * r(0.38, 0.5), y0)
        let b = PhV2(side * xl * r(0.78, 0.9), y0 + r(-0.07, 0.05))
        let mid = PhV2(0.5 * (a.x + b.x), 0.5 * (a.y + b.y) + r(-0.02, 0.02))
        let rad = r(0.02, 0.038) * (1 - 0.3 * diff)
        var sd = newSD()
        stamp(&sd, PhStroke(PhGeom.spline([a, mid, b], 6), radius: rad), minPx: 1.0)
        var amount = zeros()
        for p in 0..<n where sd[p] < 3 { amount[p] = PhMath.cover(sd[p], 1.5 * edge) }
        clipToLungs(&amount, f, sides: [li])
        let m = mask(&amount, threshold: 0.5, fallback: mid, within: f.lungUnion)
        L.setMask(PhObs.atelectasis, m)
        L.unionOpacity(m)
        L.addOpacity(amount, 0.28 * kf)
    }

    /// Lung Lesion: lobulated nodule (or mass, 20 %) placed fully inside a visible lung field.
    func findLesion(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let isMass = rng.chance(0.2)
        let rad = (isMass ? r(0.09, 0.14) : r(0.035, 0.08)) * (1 - 0.25 * diff)
        var center = PhV2(anat.lungs[0].apexX - 0.08, -0.25)
        for _ in 0..<40 {
            let s = rng.sign()
            let c = PhV2(s * r(0.2, 0.75), r(-0.6, 0.3))
            let li = PhBuilder.sideIndex(s)
            guard PhGeom.inside(f.lungPoly[li], c), !PhGeom.inside(f.heartPoly, c), !PhGeom.inside(f.medPoly, c) else {
                continue
            }
            let margin = rad + 0.02
            if PhGeom.boundaryDistance(f.lungPoly[li], c) > margin && PhGeom.boundaryDistance(f.heartPoly, c) > margin
                && PhGeom.boundaryDistance(f.medPoly, c) > margin
            {
                center = c
                break
            }
        }
        let nz = PhNoise(grid: 20, rng: &rng)
        let rPx = max(rad * unit, 1.8)
        let cp = tf.px(center)
        var amount = zeros()
        var m = [UInt8](repeating: 0, count: n)
        var count = 0
        for p in 0..<n {
            let dx = Float(p % size) + 0.5 - cp.x, dy = Float(p / size) + 0.5 - cp.y
            let d = (dx * dx + dy * dy).squareRoot()
            if d > rPx * 1.6 + 2 { continue }
            let reff = rPx * (1 + 0.3 * (nz.at(cX[p], cY[p]) - 0.5))
            if d < reff { m[p] = 1; count += 1 }
            let q = PhMath.clamp01(1 - (d / reff) * (d / reff))
            amount[p] = q.squareRoot() * 0.85 + 0.15 * PhMath.cover(d - reff, edge)
        }
        if count == 0 { m = mask(&amount, threshold: 0.5, fallback: center) }
        L.setMask(PhObs.lesion, m)
        L.unionOpacity(m)
        L.addExtra(amount, 0.3 * kf)
    }

    /// Infection (extra): COVID-like peripheral, lower-zone ground-glass patches, usually bilateral.
    func findInfection(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        var amount = zeros()
        let bilateral = rng.chance(0.85)
        let firstSide = rng.int(2)
        let nz = PhNoise(grid: 10, rng: &rng)
        let nz2 = PhNoise(grid: 22, rng: &rng)
        let upper = r(-0.45, -0.15)
        let depthIn = r(0.16, 0.26)
        let thr = r(0.38, 0.5)
        for i in 0..<2 {
            if !bilateral && i != firstSide { continue }
            let cov = f.lungCov[i], sd = f.lungSD[i]
            for p in 0..<n where cov[p] > 0 {
                let din = -sd[p] / unit
                let periph = 1 - PhMath.sstep(0.05, depthIn, din)
                let lower = PhMath.sstep(upper, upper + 0.35, cY[p])
                let nv = 0.7 * nz.at(cX[p], cY[p]) + 0.3 * nz2.at(cX[p], cY[p])
                let patch = PhMath.sstep(thr, thr + 0.22, nv)
                amount[p] = cov[p] * periph * lower * patch
            }
        }
        let fb = PhV2(anat.lungs[firstSide].latX * 0.85, 0.2)
        let m = mask(&amount, threshold: 0.35, fallback: fb, within: f.lungUnion)
        L.infectionMask = m
        L.unionOpacity(m)
        L.addOpacity(amount, 0.2 * kf)
    }

    /// Pleural Effusion: dependent fluid in the hemithorax with a meniscus rising laterally,
    /// blunting the costophrenic angle (sometimes bilateral).
    func findEffusion(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers, bilateralChance: Float) {
        let bilateral = rng.chance(bilateralChance)
        let first = rng.sign()
        var amount = zeros(), density = zeros()
        for k in 0..<(bilateral ? 2 : 1) {
            let s = k == 0 ? first : -first
            let li = PhBuilder.sideIndex(s)
            let lung = anat.lungs[li]
            let height = (0.1 + r(0.0, 0.38)) * (1 - 0.45 * diff)
            let level = lung.cpY - height
            let meniscus = r(0.08, 0.16)
            let span = abs(lung.latX) - 0.1
            let pcov = f.lungPolyCov[li]
            for p in 0..<n where pcov[p] > 0 {
                let lat = PhMath.clamp01((s * cX[p] - 0.1) / span)
                let yf = level - meniscus * lat * lat
                let v = pcov[p] * PhMath.sstep(yf - 0.02, yf + 0.025, cY[p]) * (1 - PhMath.cover(f.heartSD[p], edge))
                if v > amount[p] {
                    amount[p] = v
                    density[p] = v * (0.8 + 0.2 * PhMath.sstep(yf, yf + 0.15, cY[p]))  // denser when deeper
                }
            }
        }
        let fbLung = anat.lungs[PhBuilder.sideIndex(first)]
        let m = mask(&amount, threshold: 0.5, fallback: PhV2(first * (abs(fbLung.latX) - 0.05), fbLung.cpY - 0.03))
        L.setMask(PhObs.effusion, m)
        for p in 0..<n { density[p] = max(density[p], m[p] != 0 ? amount[p] : 0) }
        L.addOpacity(density, 0.42 * (0.55 + 0.45 * kf))
    }

    /// Pleural Other: lumpy pleural thickening along the lateral chest wall of one lung.
    func findPleuralOther(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let s = rng.sign()
        let li = PhBuilder.sideIndex(s)
        let lung = anat.lungs[li]
        let y1 = r(-0.5, 0.0)
        let y2 = min(y1 + r(0.3, 0.6), lung.cpY - 0.05)
        let th = max(r(0.035, 0.065) * (1 - 0.35 * diff) * unit, 1.6)
        let nz = PhNoise(grid: 16, rng: &rng)
        var amount = zeros()
        let midX = 0.5 * (lung.apexX + lung.latX)
        let pcov = f.lungPolyCov[li], sd = f.lungSD[li]
        for p in 0..<n where pcov[p] > 0 {
            if s * (cX[p] - midX) < 0 { continue }
            let window = PhMath.sstep(y1 - 0.05, y1 + 0.05, cY[p]) * PhMath.sstep(y2 + 0.05, y2 - 0.05, cY[p])
            if window <= 0 { continue }
            let t = th * (0.55 + 0.75 * nz.at(cX[p], cY[p]))
            amount[p] = pcov[p] * PhMath.cover(-(sd[p] + t), edge) * window
        }
        let m = mask(&amount, threshold: 0.5, fallback: PhV2(lung.latX * 0.97, 0.5 * (y1 + y2)))
        L.setMask(PhObs.pleuralOther, m)
        L.addExtra(amount, 0.3 * kf)
    }

    /// Pneumothorax: the lung edge retracts toward the hilum (mostly apical/lateral), leaving an
    /// avascular lucent rim and a thin visceral pleural line.
    func findPneumothorax(_ anat: PhAnatomy, _ f: PhFields, _ L: inout PhLayers) {
        let s = rng.sign()
        let li = PhBuilder.sideIndex(s)
        let h = anat.hilum[li]
        let depth = r(0.18, 0.34) * (1 - 0.4 * diff)
        let latBias = r(0.3, 0.8)
        let collapsed = f.lungPoly[li].map { v -> PhV2 in
            let dx = v.x - h.x, dy = v.y - h.y
            let d = max((dx * dx + dy * dy).squareRoot(), 1e-3)
            let w = PhMath.sstep(-0.25, 0.55, (-dy + latBias * s * dx) / d)  // up / lateral retract most
            let k = 1 - depth * w
            return PhV2(h.x + dx * k, h.y + dy * k)
        }
        let csd = polySD(collapsed)
        var amount = zeros()
        let cov = f.lungCov[li]
        for p in 0..<n where cov[p] > 0 { amount[p] = cov[p] * (1 - PhMath.cover(csd[p], edge)) }
        let apex = PhV2(anat.lungs[li].apexX, anat.lungs[li].apexY + 0.03)
        let m = mask(&amount, threshold: 0.5, fallback: apex, within: f.lungUnion)
        L.setMask(PhObs.pneumothorax, m)
        L.ptxAmount = amount
        L.collapsedSD = csd
        L.ptxSide = li
    }

}
