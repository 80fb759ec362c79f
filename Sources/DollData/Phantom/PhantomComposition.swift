import Foundation

extension PhBuilder {
    // MARK: 5. Composition

    /// Attenuation map (≈ 0 air … ≈ 0.9 dense bone over soft tissue): body − lung air + bone +
    /// vessels + findings.
    func compose(_ anat: PhAnatomy, _ f: PhFields, _ L: PhLayers, _ bones: PhSkeleton, _ vessels: [Float]) -> [Float] {
        let lungs = anat.lungs, hilum = anat.hilum
        let lungTex = PhNoise(grid: 7, rng: &rng)
        let lungTex2 = PhNoise(grid: 26, rng: &rng)
        let airAmp = r(0.42, 0.48)
        let bubble = rng.chance(0.7)
        let bubbleC = PhV2(r(0.38, 0.52), lungs[1].domeY + r(0.1, 0.16))
        let bubbleR = PhV2(r(0.07, 0.12), r(0.04, 0.065))
        let spineW = r(0.065, 0.08)
        let vertPitch = r(0.1, 0.115)
        let vertPhase = r(0, 1)
        let female = rng.chance(0.45)
        let breastY = r(0.25, 0.45)
        let hilumAmp = r(0.035, 0.055)
        var trachSD = newSD()
        let carinaY = r(-0.26, -0.18)
        let tX = anat.med.shift - 0.01
        stamp(&trachSD, PhStroke([PhV2(tX, -1.5), PhV2(tX, carinaY)], radius: 0.036))
        stamp(&trachSD, PhStroke([PhV2(tX, carinaY), PhV2(hilum[0].x + 0.05, hilum[0].y + 0.02)], [0.027, 0.018]))
        stamp(&trachSD, PhStroke([PhV2(tX, carinaY), PhV2(hilum[1].x - 0.06, hilum[1].y + 0.02)], [0.025, 0.017]))

        let e = edge
        let cw = max(0.7, 0.012 * unit)  // cortical shell width (px)
        let bodyW = anat.bodyW, neckW = anat.neckW
        let lc0 = f.lungCov[0], lc1 = f.lungCov[1], sd0 = f.lungSD[0], sd1 = f.lungSD[1]
        let lungPolyAll = zip(f.lungPolyCov[0], f.lungPolyCov[1]).map { min($0 + $1, 1) }
        let clavAll = zip(bones.clavicles[0], bones.clavicles[1]).map { min($0, $1) }
        let postSD = bones.posteriorRibs, antSD = bones.anteriorRibs, humSD = bones.humeri, armSD = bones.arms
        let opacityAdd = L.opacityAdd, ptxAmount = L.ptxAmount, extraA = L.extraA
        let depthScale = 1 / (0.12 * unit)
        var att = zeros()
        for p in 0..<n {
            let X = cX[p], Y = cY[p]
            let ax = abs(X)
            // body outline: neck + sloping shoulders + chest wall (smooth union of two half-planes)
            let neck = 1 - PhMath.sstep(neckW, neckW + 0.12, ax)
            let yTop = -0.95 + 0.2 * PhMath.sstep(neckW, bodyW + 0.05, ax) - 1.2 * neck
            let wB = bodyW * (1 + 0.03 * Y)
            let dTop = Y - yTop, dSide = wB - ax
            let kS: Float = 0.08
            let hS = PhMath.clamp01(0.5 + 0.5 * (dSide - dTop) / kS)
            let inside = PhMath.lerp(dSide, dTop, hS) - kS * hS * (1 - hS)  // smooth min
            let bodyCov = PhMath.sstep(-0.015, 0.015, inside)
            let xr = X / (wB + 0.03)
            let prof = max(0, 1 - xr * xr).squareRoot()  // chest thickness profile
            var a = bodyCov * (0.32 + 0.26 * prof)
            if armSD[p] < 4 * e { a += 0.3 * PhMath.cover(armSD[p], 3 * e) * (1 - bodyCov) }
            // breasts: soft density over the lower zones with a curved lower border
            if female && Y > -0.1 {
                let by = (Y - breastY) / 0.25, bx = (ax - 0.55) / 0.35
                let q = bx * bx + by * by
                if q < 1.5 { a += 0.035 * PhMath.sstep(1.1, 0.5, q) * (Y < breastY ? 1 : PhMath.sstep(1.0, 0.8, q)) }
            }
            // spine: vertebral bodies with end plates, pedicles, spinous processes
            if ax < 0.14 {
                let w = spineW * (1 + 0.25 * PhMath.clamp01((Y + 1) * 0.5))
                let fl = Y / vertPitch + vertPhase
                let fr = fl - fl.rounded(.down)
                let body =
                    PhMath.sstep(w + 0.01, w - 0.01, ax) * PhMath.sstep(0.0, 0.08, fr) * PhMath.sstep(0.86, 0.76, fr)
                let rim = PhMath.sstep(w + 0.01, w - 0.002, ax) * PhMath.sstep(w - 0.025, w - 0.008, ax)
                let dpx = (ax - (w - 0.02)) / 0.015, dpy = (fr - 0.35) / 0.17
                let ped = PhMath.sstep(1.2, 0.7, dpx * dpx + dpy * dpy)
                let spx = X / 0.012, spy = (fr - 0.8) / 0.12
                let spin = PhMath.sstep(1.2, 0.6, spx * spx + spy * spy)
                a +=
                    bodyCov * (0.035 * body + 0.025 * rim * body + 0.035 * ped + 0.02 * spin)
                    * (1 - 0.4 * PhMath.sstep(0.3, 0.6, Y))
            }
            // bones: ribs (more visible against lung air), clavicles, humeri
            let ribVis = bodyCov * (0.45 + 0.55 * lungPolyAll[p])
            if postSD[p] < 3 * e {
                let c = PhMath.cover(postSD[p], e), cortex = c - PhMath.cover(postSD[p] + cw, e)
                a += ribVis * (0.055 * c + 0.06 * cortex)
            }
            if antSD[p] < 3 * e {
                let c = PhMath.cover(antSD[p], e), cortex = c - PhMath.cover(antSD[p] + cw, e)
                a += ribVis * (0.028 * c + 0.03 * cortex)
            }
            if clavAll[p] < 3 * e {
                let c = PhMath.cover(clavAll[p], e), cortex = c - PhMath.cover(clavAll[p] + cw, e)
                a += 0.15 * c + 0.1 * cortex
            }
            if humSD[p] < 3 * e {
                let c = PhMath.cover(humSD[p], e), cortex = c - PhMath.cover(humSD[p] + cw, e)
                a += 0.13 * c + 0.07 * cortex
            }
            // trachea and main bronchi (air)
            if trachSD[p] < 3 { a -= 0.09 * PhMath.cover(trachSD[p], 2 * e) * bodyCov }
            // gastric bubble under the left hemidiaphragm
            if bubble {
                let gx = (X - bubbleC.x) / bubbleR.x, gy = (Y - bubbleC.y) / bubbleR.y
                let q = gx * gx + gy * gy
                if q < 1.5 && Y > lungs[1].diaphragmY(X) + 0.02 {
                    a -= 0.12 * PhMath.sstep(1.1, 0.8, q) * (0.6 + 0.4 * PhMath.sstep(-0.2, 0.5, gy))
                }
            }
            // hila
            for h in hilum {
                let dx = (X - h.x) / 0.08, dy = (Y - h.y) / 0.11
                let q = dx * dx + dy * dy
                if q < 6 { a += hilumAmp * PhMath.exp(-q) }
            }
            // lungs: air (darker centrally, lighter at the bases and apices), texture, vessels, findings
            let lc = lc0[p] + lc1[p]
            if lc > 0 {
                let depth = PhMath.clamp01(-min(sd0[p], sd1[p]) * depthScale)
                let tex = 1 + 0.12 * (lungTex.at(X, Y) - 0.5) + 0.1 * (lungTex2.at(X, Y) - 0.5)
                let zone = 1 - 0.2 * PhMath.sstep(0.05, 0.55, Y) - 0.12 * (1 - PhMath.sstep(-0.75, -0.45, Y))
                var air = airAmp * lc * (0.84 + 0.16 * depth) * tex * zone
                air += 0.07 * kf * ptxAmount[p]
                let add = min(opacityAdd[p], air + 0.03)  // fluid/tissue cannot exceed soft tissue
                let fill = PhMath.clamp01(add / (air + 0.02))
                let vis = lc * (1 - ptxAmount[p]) * (1 - 0.85 * fill)  // vessels hidden by dense opacity
                a += vessels[p] * vis - air + add
            }
            att[p] = a + extraA[p]
        }
        // Pneumothorax: thin bright visceral pleural line at the retracted lung edge.
        if let csd = L.collapsedSD {
            let lw = max(0.55, 0.006 * unit)
            let pcov = f.lungPolyCov[L.ptxSide]
            for p in 0..<n where abs(csd[p]) < lw + 2 && pcov[p] > 0 {
                att[p] += 0.1 * (0.5 + 0.5 * kf) * PhMath.cover(abs(csd[p]) - lw, e) * pcov[p]
            }
        }
        return att
    }

    // MARK: 6. Display

    /// Film-like display curve (random exposure and gamma), slight blur, Gaussian noise; values in [0, 1].
    func display(_ att: [Float]) -> [Float] {
        // v = 1 - exp(-g·a), normalised at a reference attenuation, then gamma; tabulated
        // (deterministic and cheap) and linearly interpolated.
        let gain = r(0.9, 1.6)
        let aRef = r(0.82, 0.95)
        let ref = 1 - PhMath.exp(-gain * aRef)
        let lo = r(-0.02, 0.05) * ref
        let gamma = r(0.95, 1.35)
        let heel = r(-0.05, 0.05)  // anode heel effect: exposure gradient from top to bottom
        let lutN = 1024
        let lutMax: Float = 1.6
        var lut = [Float](repeating: 0, count: lutN + 2)
        for k in 0...(lutN + 1) {
            let a = lutMax * Float(k) / Float(lutN)
            let v = 1 - PhMath.exp(-gain * a)
            let t = PhMath.clamp01((v - lo) / (ref - lo))
            lut[k] = t > 0 ? PhMath.pow(t, gamma) : 0
        }
        var img = zeros()
        let lutScale = Float(lutN) / lutMax
        for p in 0..<n {
            let a = min(max(att[p], 0) * (1 + heel * cY[p]), lutMax) * lutScale
            let k = min(Int(a), lutN)
            img[p] = lut[k] + (lut[k + 1] - lut[k]) * (a - Float(k))
        }
        // separable [w, 1-2w, w] blur, one pass per 128 px of image size
        let blurW = r(0.08, 0.22)
        let passes = max(1, size / 128)
        var tmp = zeros()
        for _ in 0..<passes {
            for yy in 0..<size {
                let row = yy * size
                for xx in 0..<size {
                    let l = img[row + max(xx - 1, 0)], c = img[row + xx], rr = img[row + min(xx + 1, size - 1)]
                    tmp[row + xx] = c + blurW * (l + rr - 2 * c)
                }
            }
            for yy in 0..<size {
                let up = max(yy - 1, 0) * size, dn = min(yy + 1, size - 1) * size, row = yy * size
                for xx in 0..<size {
                    let c = tmp[row + xx]
                    img[row + xx] = c + blurW * (tmp[up + xx] + tmp[dn + xx] - 2 * c)
                }
            }
        }
        let sigma = noiseLevel * (0.5 + diff) * r(0.8, 1.2)
        if sigma > 0 {
            var p = 0
            while p < n {
                let (z0, z1) = rng.normalPair()
                img[p] = PhMath.clamp01(img[p] + sigma * z0)
                if p + 1 < n { img[p + 1] = PhMath.clamp01(img[p + 1] + sigma * z1) }
                p += 2
            }
        } else {
            for p in 0..<n { img[p] = PhMath.clamp01(img[p]) }
        }
        return img
    }

    // MARK: Helpers

    /// Draws one vessel segment (pixel space) with max-compositing of `amp × coverage`;
    /// radii below 0.6 px are drawn at 0.6 px with proportionally reduced amplitude.
    func stampMaxSegment(_ field: inout [Float], _ a: PhV2, _ b: PhV2, _ r0: Float, _ r1: Float, _ amp: Float) {
        let fs = Float(size)
        let ra = max(r0, 0.6), rb = max(r1, 0.6)
        let fa = min(1, r0 / 0.6), fb = min(1, r1 / 0.6)
        let reach = max(ra, rb) + edge + 1
        let x0 = Int(min(max(min(a.x, b.x) - reach, 0), fs))
        let x1 = Int(min(max(max(a.x, b.x) + reach + 1, 0), fs))
        let y0 = Int(min(max(min(a.y, b.y) - reach, 0), fs))
        let y1 = Int(min(max(max(a.y, b.y) + reach + 1, 0), fs))
        if x0 >= x1 || y0 >= y1 { return }
        let ex = b.x - a.x, ey = b.y - a.y
        let l2 = ex * ex + ey * ey
        let il: Float = l2 > 0 ? 1 / l2 : 0
        let w = edge
        field.withUnsafeMutableBufferPointer { f in
            for yy in y0..<y1 {
                let py = Float(yy) + 0.5
                for xx in x0..<x1 {
                    let px = Float(xx) + 0.5
                    let (d, t) = PhMath.capsule(px, py, a: a, ex: ex, ey: ey, il: il, ra: ra, dr: rb - ra)
                    if d >= 0.5 * w { continue }
                    let v = amp * (fa + (fb - fa) * t) * PhMath.cover(d, w)
                    let p = yy * size + xx
                    if v > f[p] { f[p] = v }
                }
            }
        }
    }

    static func sampleID(_ index: Int) -> String {
        let digits = String(index.magnitude)
        let padded = String(repeating: "0", count: max(0, 6 - digits.count)) + digits
        return "phantom-" + (index < 0 ? "-" : "") + padded
    }
}
