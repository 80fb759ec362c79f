import Foundation

// MARK: - Anatomy model (canonical units)

/// One lung field: superellipse apex/lateral and medial arcs closed by a diaphragm dome.
/// `s` = -1 for the patient's right lung (image left), +1 for the patient's left lung (image right).
struct PhLung {
    var s: Float
    var apexX: Float, apexY: Float  // top of the apex
    var latX: Float, cpY: Float  // costophrenic angle (lateral-most, lowest point)
    var medX: Float, medBaseY: Float  // cardiophrenic end of the medial border
    var domeX: Float, domeY: Float  // top of the hemidiaphragm dome
    var nLat: Float, nMed: Float, pDia: Float

    func diaphragmY(_ x: Float) -> Float {
        if (x - domeX) * s >= 0 {
            let u = PhMath.clamp01((x - domeX) / (latX - domeX))
            return domeY + (cpY - domeY) * PhMath.pow(u, pDia)
        }
        let u = PhMath.clamp01((x - domeX) / (medX - domeX))
        return domeY + (medBaseY - domeY) * PhMath.pow(u, pDia)
    }

    /// |x| of the lateral lung border at height y (canonical).
    func lateralAbsX(_ y: Float) -> Float {
        let a = abs(apexX), l = abs(latX)
        if y >= cpY { return l }
        if y <= apexY { return a }
        let q = (cpY - y) / (cpY - apexY)
        return a + (l - a) * PhMath.pow(1 - PhMath.pow(q, nLat), 1 / nLat)
    }

    /// Closed outline (canonical), about 44 vertices.
    func polygon() -> [PhV2] {
        var pts: [PhV2] = []
        let nm = 12, nl = 18, nd = 14
        for i in 0...nm {  // medial arc: cardiophrenic end up to the apex
            let phi = PhMath.halfPi * Float(nm - i) / Float(nm)
            let fx = PhMath.pow(PhMath.sin(phi), 2 / nMed), fy = PhMath.pow(max(PhMath.cos(phi), 0), 2 / nMed)
            pts.append(PhV2(apexX + (medX - apexX) * fx, medBaseY - (medBaseY - apexY) * fy))
        }
        for i in 1...nl {  // lateral arc: apex down to the costophrenic angle
            let phi = PhMath.halfPi * Float(i) / Float(nl)
            let fx = PhMath.pow(PhMath.sin(phi), 2 / nLat), fy = PhMath.pow(max(PhMath.cos(phi), 0), 2 / nLat)
            pts.append(PhV2(apexX + (latX - apexX) * fx, cpY - (cpY - apexY) * fy))
        }
        for i in 1..<nd {  // diaphragm: costophrenic angle to the medial end
            let x = latX + (medX - latX) * Float(i) / Float(nd)
            pts.append(PhV2(x, diaphragmY(x)))
        }
        return pts
    }
}

/// Cardiac silhouette: rotated superellipse (lower half stretched; clipped at the diaphragm when rasterised).
struct PhHeart {
    var cx: Float, cy: Float, a: Float, b: Float, angle: Float, n: Float
    func polygon() -> [PhV2] {
        var pts: [PhV2] = []
        let k = 40
        let ca = PhMath.cos(angle), sa = PhMath.sin(angle)
        for i in 0..<k {
            let t = PhMath.twoPi * Float(i) / Float(k)
            let c = PhMath.cos(t), s = PhMath.sin(t)
            let ux = a * (c < 0 ? -1 : 1) * PhMath.pow(abs(c), 2 / n)
            let uy = b * (s < 0 ? -1 : 1) * PhMath.pow(abs(s), 2 / n)
            let y = cy + sa * ux + ca * uy
            // the lower half is stretched so that the silhouette always reaches the diaphragm
            pts.append(PhV2(cx + ca * ux - sa * uy, y > cy ? cy + (y - cy) * 1.7 : y))
        }
        return pts
    }
    /// Scaled about an anchor point (cardiomegaly grows mostly downward and to the image right).
    func enlarged(_ f: Float, anchorX: Float, anchorY: Float) -> PhHeart {
        var h = self
        h.cx = anchorX + (cx - anchorX) * f * 1.1
        h.cy = anchorY + (cy - anchorY) * f
        h.a = a * f
        h.b = b * f * 0.96
        return h
    }
}

/// Upper mediastinum (trachea level down into the heart): right/left borders as functions of y.
struct PhMediastinum {
    var shift: Float, knob: Float, knobY: Float, baseY: Float
    var widen: Float = 0  // relative widening of the upper mediastinum (Enlarged Cardiomediastinum)

    func bump(_ y: Float) -> Float { PhMath.sstep(-0.8, -0.55, y) * (1 - PhMath.sstep(-0.12, 0.1, y)) }

    func polygon() -> [PhV2] {
        var right: [PhV2] = [], left: [PhV2] = []
        let k = 28
        let y0: Float = -1.5
        for i in 0...k {
            let y = y0 + (baseY - y0) * Float(i) / Float(k)
            let w = 1 + widen * bump(y)
            let xr = -(0.095 + 0.07 * PhMath.sstep(-0.85, 0.05, y)) * w
            let g = (y - knobY) / 0.09
            let xl =
                (0.095 + 0.035 * PhMath.sstep(-0.85, -0.55, y) + 0.03 * PhMath.sstep(-0.35, 0.05, y)
                    + knob * PhMath.exp(-g * g)) * w
            right.append(PhV2(shift + xr, y))
            left.append(PhV2(shift + xl, y))
        }
        return right + left.reversed()
    }
}

// MARK: - Observation indices

enum PhObs {
    static let noFinding = 0, ecm = 1, cardiomegaly = 2, lungOpacity = 3, lesion = 4, edema = 5
    static let consolidation = 6, pneumonia = 7, atelectasis = 8, pneumothorax = 9, effusion = 10
    static let pleuralOther = 11, fracture = 12, devices = 13
}

// MARK: - Per-sample state

/// The patient of one sample, in canonical units (after finding-induced changes of the anatomy).
struct PhAnatomy {
    /// [patient's right (image left), patient's left (image right)].
    var lungs: [PhLung]
    /// Cardiac silhouette as drawn (enlarged in Cardiomegaly).
    var heart: PhHeart
    /// Upper mediastinum as drawn (widened in Enlarged Cardiomediastinum).
    var med: PhMediastinum
    /// Chest-wall half width and neck half width.
    var bodyW: Float
    var neckW: Float
    /// Hilar points [right, left].
    var hilum: [PhV2]
    /// Side of the atelectasis (−1 right, +1 left; meaningful only when present).
    var atelSide: Float
}

/// Rasterised anatomy. Arrays are `size*size`, row-major; signed distances are in pixels (negative
/// inside) and valid near each shape (see `PhRaster.polygonSD`); coverages are in [0, 1].
struct PhFields {
    let lungPoly: [[PhV2]]
    let heartPoly: [PhV2]
    let medPoly: [PhV2]
    let lungSD: [[Float]]
    let heartSD: [Float]
    let medSD: [Float]
    /// Visible lung per side: lung polygon minus mediastinum, 85 % hidden behind the heart.
    let lungCov: [[Float]]
    /// Lung polygon coverage per side (includes the parts behind heart and mediastinum).
    let lungPolyCov: [[Float]]
    /// Lung masks per side (polygon minus heart minus mediastinum) and their union.
    let lungMask: [[UInt8]]
    let lungUnion: [UInt8]
    let heartMask: [UInt8]
}

/// What the findings add to the image, and their masks.
struct PhLayers {
    /// Attenuation added inside the lungs (capped by the local lung air when composed).
    var opacityAdd: [Float]
    /// Attenuation added anywhere (nodules, pleural thickening, devices).
    var extraA: [Float]
    /// Pneumothorax air space in [0, 1] (extra lucency, no vessels).
    var ptxAmount: [Float]
    /// Signed distance to the retracted lung edge (pleural line), when a pneumothorax is present.
    var collapsedSD: [Float]? = nil
    var ptxSide = 0
    /// Union of the parenchymal opacity masks (the Lung Opacity mask).
    var opacityMask: [UInt8]
    var masks: [String: [UInt8]] = [:]
    var infectionMask: [UInt8]? = nil

    init(n: Int) {
        opacityAdd = [Float](repeating: 0, count: n)
        extraA = opacityAdd
        ptxAmount = opacityAdd
        opacityMask = [UInt8](repeating: 0, count: n)
    }

    mutating func addOpacity(_ amount: [Float], _ amp: Float) {
        for p in 0..<amount.count where amount[p] > 0 { opacityAdd[p] += amp * amount[p] }
    }
    mutating func addExtra(_ amount: [Float], _ amp: Float) {
        for p in 0..<amount.count where amount[p] > 0 { extraA[p] += amp * amount[p] }
    }
    mutating func unionOpacity(_ m: [UInt8]) {
        for p in 0..<m.count where m[p] != 0 { opacityMask[p] = 1 }
    }
    mutating func setMask(_ obs: Int, _ m: [UInt8]) { masks[phantomObservations[obs]] = m }
}

/// Bones and arms as pixel signed-distance fields.
struct PhSkeleton {
    var posteriorRibs: [Float]
    var anteriorRibs: [Float]
    /// [right, left].
    var clavicles: [[Float]]
    var humeri: [Float]
    var arms: [Float]
}
