import Foundation

extension PhBuilder {
    // MARK: 2. Anatomy

    /// Draws the patient: lungs, heart, mediastinum, body outline; applies the geometric findings
    /// (atelectatic volume loss, cardiomegaly, mediastinal widening).
    func drawAnatomy(_ has: [Bool]) -> PhAnatomy {
        var lungs: [PhLung] = []
        for s: Float in [-1, 1] {
            let cp = r(0.47, 0.55) + (s > 0 ? 0.03 : 0)
            let dome = s < 0 ? r(0.24, 0.32) : r(0.31, 0.38)  // right hemidiaphragm higher
            lungs.append(
                PhLung(
                    s: s, apexX: s * r(0.33, 0.4), apexY: r(-0.8, -0.72),
                    latX: s * r(0.78, 0.86), cpY: cp, medX: s * 0.04, medBaseY: dome + r(0.08, 0.13),
                    domeX: s * r(0.38, 0.48), domeY: dome, nLat: r(1.9, 2.3), nMed: r(2.2, 2.6), pDia: r(2.0, 2.5)))
        }
        var heart = PhHeart(
            cx: r(0.08, 0.14), cy: r(0.17, 0.23), a: r(0.31, 0.36), b: r(0.2, 0.24),
            angle: r(0.35, 0.6), n: r(2.1, 2.5))
        var med = PhMediastinum(shift: r(-0.015, 0.015), knob: r(0.05, 0.09), knobY: r(-0.36, -0.28), baseY: 0.2)
        let bodyW = r(0.88, 0.96)
        let neckW = r(0.15, 0.19)

        var atelSide: Float = 1
        if has[PhObs.atelectasis] {  // volume loss: raised hemidiaphragm
            atelSide = rng.chance(0.55) ? 1 : -1
            let i = PhBuilder.sideIndex(atelSide)
            let vl = r(0.05, 0.09) * (1 - 0.4 * diff)
            lungs[i].domeY -= vl
            lungs[i].medBaseY -= vl
            lungs[i].cpY -= 0.6 * vl
        }
        if has[PhObs.cardiomegaly] {  // cardiothoracic ratio about 0.55–0.65
            let f = r(1.22, 1.36) + 0.1 * (1 - diff)
            heart = heart.enlarged(f, anchorX: heart.cx - 0.12, anchorY: heart.cy - 0.22)
        }
        if has[PhObs.ecm] { med.widen = r(0.55, 0.85) - 0.2 * diff }
        let hilum = [PhV2(-0.2 + med.shift, -0.06), PhV2(0.21 + med.shift, -0.1)]
        return PhAnatomy(
            lungs: lungs, heart: heart, med: med, bodyW: bodyW, neckW: neckW, hilum: hilum, atelSide: atelSide)
    }

    /// Rasterises lungs, heart (clipped at the diaphragm) and mediastinum; derives the anatomy masks.
    func rasterize(_ anat: PhAnatomy) -> PhFields {
        let lungs = anat.lungs
        let lungPoly = lungs.map { $0.polygon() }
        let lungSD = lungPoly.map { polySD($0, cap: 0.27 * unit) }
        let heartPoly = anat.heart.polygon()
        var heartSD = polySD(heartPoly)
        // The heart sits on the diaphragm: below it is abdomen.
        for p in 0..<n where heartSD[p] < PhRaster.far {
            let X = cX[p]
            let yd: Float
            if X <= lungs[0].medX {
                yd = lungs[0].diaphragmY(X)
            } else if X >= lungs[1].medX {
                yd = lungs[1].diaphragmY(X)
            } else {
                let t = (X - lungs[0].medX) / (lungs[1].medX - lungs[0].medX)
                yd = PhMath.lerp(lungs[0].medBaseY, lungs[1].medBaseY, t)
            }
            heartSD[p] = max(heartSD[p], (cY[p] - yd) * unit)
        }
        let medPoly = anat.med.polygon()
        let medSD = polySD(medPoly)

        var lungCov: [[Float]] = [], lungMask: [[UInt8]] = [], lungPolyCov: [[Float]] = []
        let e = edge
        for i in 0..<2 {
            var cov = zeros(), pcov = zeros()
            var msk = [UInt8](repeating: 0, count: n)
            let sd = lungSD[i]
            for p in 0..<n {
                let sdl = sd[p]
                if sdl > e + 2 { continue }
                let pc = PhMath.cover(sdl, e)
                pcov[p] = pc
                cov[p] = pc * (1 - PhMath.cover(medSD[p], 1.5 * e)) * (1 - 0.85 * PhMath.cover(heartSD[p], 1.5 * e))
                if sdl < 0 && medSD[p] >= 0 && heartSD[p] >= 0 { msk[p] = 1 }
            }
            lungCov.append(cov); lungPolyCov.append(pcov); lungMask.append(msk)
        }
        let lungUnion = zip(lungMask[0], lungMask[1]).map { $0 | $1 }
        var heartMask = [UInt8](repeating: 0, count: n)
        for p in 0..<n where heartSD[p] < 0 { heartMask[p] = 1 }
        return PhFields(
            lungPoly: lungPoly, heartPoly: heartPoly, medPoly: medPoly, lungSD: lungSD,
            heartSD: heartSD, medSD: medSD, lungCov: lungCov, lungPolyCov: lungPolyCov,
            lungMask: lungMask, lungUnion: lungUnion, heartMask: heartMask)
    }

}
