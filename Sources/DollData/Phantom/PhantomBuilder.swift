import Foundation

// MARK: - Sample builder

/// Builds one sample. Created per call to `sample(_:)`; never shared between threads.
/// Methods run in a fixed order, so the random stream (and the output) depends only on (config, index).
final class PhBuilder {
    let size: Int
    let n: Int
    let index: Int
    let prev: [Double]
    let infectionPrev: Double
    let noiseLevel: Float
    let diff: Float
    /// Finding conspicuity factor: 1 at difficulty 0, 0.45 at difficulty 1.
    let kf: Float
    var rng: PhRNG
    /// Canonical → pixel transform of this sample (random pose / habitus).
    let tf: PhTransform
    /// Pixels per canonical unit.
    let unit: Float
    /// Default anti-aliasing edge width in pixels.
    let edge: Float
    /// Canonical coordinates of every pixel centre (size*size each).
    let cX: [Float]
    let cY: [Float]

    init(config: PhantomConfig, prevalence: [Double], index: Int) {
        size = config.size
        n = config.size * config.size
        self.index = index
        prev = prevalence
        infectionPrev = config.infectionPrevalence
        diff = Float(config.difficulty)
        noiseLevel = Float(config.noise)
        kf = 1 - 0.55 * Float(config.difficulty)
        var g = PhRNG(seed: config.seed, index: index)
        // Pose: scale, habitus (anisotropic), small rotation, shift.
        let half = Float(config.size) * 0.5
        let scale = g.range(0.88, 1.0)
        let habX = g.range(0.92, 1.04), habY = g.range(1.0, 1.12)
        let rot = g.range(-0.05, 0.05)
        let sy = half * scale * habY
        // canonical (0, -0.1) (mid lung fields) lands near 47 % of the image height
        let t = PhTransform(
            cosT: PhMath.cos(rot), sinT: PhMath.sin(rot),
            sx: half * scale * habX, sy: sy,
            tx: half * (1 + g.range(-0.04, 0.04)),
            ty: Float(config.size) * (0.47 + g.range(-0.03, 0.03)) + 0.1 * sy)
        rng = g
        tf = t
        unit = t.unit
        edge = max(0.8, 0.008 * t.unit)
        var xs = [Float](repeating: 0, count: n), ys = [Float](repeating: 0, count: n)
        for yy in 0..<size {
            for xx in 0..<size {
                let c = t.canonical(PhV2(Float(xx) + 0.5, Float(yy) + 0.5))
                xs[yy * size + xx] = c.x
                ys[yy * size + xx] = c.y
            }
        }
        cX = xs
        cY = ys
    }

    @inline(__always) func r(_ a: Float, _ b: Float) -> Float { rng.range(a, b) }
    @inline(__always) static func sideIndex(_ s: Float) -> Int { s < 0 ? 0 : 1 }

    // MARK: Raster conveniences

    func toPx(_ pts: [PhV2]) -> [PhV2] { pts.map { tf.px($0) } }

    /// Stamps a canonical stroke into a pixel SDF; radii below `minPx` pixels are raised to `minPx`.
    func stamp(_ sd: inout [Float], _ s: PhStroke, minPx: Float = 0.6) {
        let rr = s.radii.map { max($0 * unit, minPx) }
        PhRaster.strokeSD(&sd, size: size, pts: toPx(s.pts), radii: rr, margin: edge + 2)
    }

    func newSD() -> [Float] { [Float](repeating: PhRaster.far, count: n) }
    func zeros() -> [Float] { [Float](repeating: 0, count: n) }

    func polySD(_ poly: [PhV2], cap: Float = 0) -> [Float] {
        PhRaster.polygonSD(toPx(poly), size: size, margin: edge + 3, cap: max(cap, edge + 4))
    }

    /// Coverage field of a soft rotated ellipse in canonical coordinates, optionally with a ragged edge.
    func ellipse(
        cx: Float, cy: Float, rx: Float, ry: Float, angle: Float, soft: Float,
        noise: PhNoise? = nil, ragged: Float = 0
    ) -> [Float] {
        var out = zeros()
        let ca = PhMath.cos(angle), sa = PhMath.sin(angle)
        for p in 0..<n {
            let dx = cX[p] - cx, dy = cY[p] - cy
            let u = (ca * dx + sa * dy) / rx, v = (-sa * dx + ca * dy) / ry
            let q = u * u + v * v
            if q > 9 { continue }
            var e = q.squareRoot()
            if let noise { e += ragged * (noise.at(cX[p], cY[p]) - 0.5) }
            out[p] = PhMath.sstep(1 + soft, 1 - soft, e)
        }
        return out
    }

    /// Multiplies `a` by the visible-lung coverage of the given sides.
    func clipToLungs(_ a: inout [Float], _ f: PhFields, sides: [Int]) {
        for p in 0..<n where a[p] > 0 {
            var c: Float = 0
            for i in sides { c += f.lungCov[i][p] }
            a[p] *= min(c, 1)
        }
    }

    /// Binary mask `amount >= threshold` (restricted to `within` when given); never empty: falls
    /// back to the strongest pixels, then to a small disc around `fallback` (canonical). Fallback
    /// pixels are raised to `threshold` in `amount` so that the sign is rendered where it is masked.
    func mask(_ amount: inout [Float], threshold: Float, fallback: PhV2, within: [UInt8]? = nil) -> [UInt8] {
        var m = [UInt8](repeating: 0, count: n)
        var count = 0
        var peak: Float = 0
        for p in 0..<n {
            if let within, within[p] == 0 { continue }
            let a = amount[p]
            if a >= threshold { m[p] = 1; count += 1 }
            if a > peak { peak = a }
        }
        if count > 0 { return m }
        if peak > 1e-3 {
            for p in 0..<n where amount[p] >= 0.5 * peak && (within == nil || within![p] != 0) {
                m[p] = 1
                amount[p] = max(amount[p], threshold)
            }
            return m
        }
        let c = tf.px(fallback)
        let rad = max(1.5, 0.03 * unit)
        let ci = min(max(Int(c.x.rounded(.down)), 0), size - 1)
        let cj = min(max(Int(c.y.rounded(.down)), 0), size - 1)
        let ri = Int(rad.rounded(.up))
        for pass in 0..<2 {
            for yy in max(cj - ri, 0)...min(cj + ri, size - 1) {
                for xx in max(ci - ri, 0)...min(ci + ri, size - 1) {
                    let dx = Float(xx - ci), dy = Float(yy - cj)
                    let p = yy * size + xx
                    if pass == 0, let within, within[p] == 0 { continue }
                    if dx * dx + dy * dy <= rad * rad {
                        m[p] = 1
                        amount[p] = max(amount[p], threshold)
                        count += 1
                    }
                }
            }
            if count > 0 { break }
        }
        return m
    }

    // MARK: Orchestration

    func run() -> PhantomSample {
        let (drawn, ownOpacity, infection) = drawLabels()
        var has = drawn
        let anat = drawAnatomy(has)
        let f = rasterize(anat)

        var L = PhLayers(n: n)
        if has[PhObs.ecm] { findEnlargedMediastinum(anat, f, &L) }
        if has[PhObs.cardiomegaly] { findCardiomegaly(anat, f, &L) }
        if has[PhObs.consolidation] { findConsolidation(anat, f, &L) }
        if has[PhObs.pneumonia] { findPneumonia(anat, f, &L) }
        if ownOpacity { findNonspecificOpacity(anat, f, &L) }
        if has[PhObs.edema] { findEdema(anat, f, &L) }
        if has[PhObs.atelectasis] { findAtelectasis(anat, f, &L) }
        if has[PhObs.lesion] { findLesion(anat, f, &L) }
        if infection { findInfection(anat, f, &L) }
        if has[PhObs.effusion] { findEffusion(anat, f, &L, bilateralChance: has[PhObs.edema] ? 0.5 : 0.15) }
        if has[PhObs.pleuralOther] { findPleuralOther(anat, f, &L) }
        if has[PhObs.pneumothorax] { findPneumothorax(anat, f, &L) }

        let bones = drawSkeleton(anat, fracture: has[PhObs.fracture], &L)
        let vessels = drawVessels(anat)
        if has[PhObs.devices] { drawDevices(anat, &L) }

        let att = compose(anat, f, L, bones, vessels)
        let pixels = display(att)

        // Masks: anatomy, findings, Lung Opacity (union), infection.
        var masks = L.masks
        masks["right_lung"] = f.lungMask[0]
        masks["left_lung"] = f.lungMask[1]
        masks["heart"] = f.heartMask
        for (i, name) in ["right_clavicle", "left_clavicle"].enumerated() {
            var m = [UInt8](repeating: 0, count: n)
            for p in 0..<n where bones.clavicles[i][p] < 0 { m[p] = 1 }
            masks[name] = m
        }
        if has[PhObs.lungOpacity] {
            var opacity = L.opacityMask
            if !opacity.contains(1) {
                var dummy = zeros()
                opacity = mask(&dummy, threshold: 0.5, fallback: PhV2(-0.5, 0), within: f.lungUnion)
            }
            masks[phantomObservations[PhObs.lungOpacity]] = opacity
        }
        if let m = L.infectionMask { masks["infection"] = m }
        has[PhObs.noFinding] = !(1...12).contains { has[$0] }
        let labels = has.map { $0 ? Float(1) : Float(0) }
        return PhantomSample(
            id: PhBuilder.sampleID(index), pixels: pixels, size: size, labels: labels,
            masks: masks, infection: infection)
    }

    // MARK: 1. Labels

    /// Draws the 14 labels (index 0 left false), whether Lung Opacity was drawn on its own, and the
    /// infection flag. A fixed number of uniforms is drawn, so the stream does not depend on the labels.
    func drawLabels() -> ([Bool], Bool, Bool) {
        var has = [Bool](repeating: false, count: 14)
        var u = [Double](repeating: 0, count: 20)
        for i in 0..<20 { u[i] = rng.uniformDouble() }
        has[PhObs.ecm] = u[0] < prev[PhObs.ecm]
        has[PhObs.cardiomegaly] = u[1] < prev[PhObs.cardiomegaly]
        has[PhObs.edema] = u[2] < prev[PhObs.edema]
        has[PhObs.pneumonia] = u[3] < prev[PhObs.pneumonia]
        has[PhObs.consolidation] = u[4] < prev[PhObs.consolidation]
        let ownOpacity = u[5] < prev[PhObs.lungOpacity]
        has[PhObs.atelectasis] = u[6] < prev[PhObs.atelectasis]
        has[PhObs.lesion] = u[7] < prev[PhObs.lesion]
        has[PhObs.pneumothorax] = u[8] < prev[PhObs.pneumothorax]
        has[PhObs.effusion] = u[9] < prev[PhObs.effusion]
        has[PhObs.pleuralOther] = u[10] < prev[PhObs.pleuralOther]
        has[PhObs.fracture] = u[11] < prev[PhObs.fracture]
        has[PhObs.devices] = u[12] < prev[PhObs.devices]
        let infection = u[13] < infectionPrev
        // Co-occurrence (only where the added finding's own prevalence is > 0).
        if has[PhObs.edema] {
            if prev[PhObs.cardiomegaly] > 0 && u[14] < 0.4 { has[PhObs.cardiomegaly] = true }
            if prev[PhObs.effusion] > 0 && u[15] < 0.4 { has[PhObs.effusion] = true }
        }
        if has[PhObs.pneumonia] && prev[PhObs.consolidation] > 0 && u[16] < 0.4 { has[PhObs.consolidation] = true }
        if has[PhObs.effusion] && prev[PhObs.atelectasis] > 0 && u[17] < 0.25 { has[PhObs.atelectasis] = true }
        if (has[PhObs.edema] || has[PhObs.effusion] || has[PhObs.pneumothorax]) && prev[PhObs.devices] > 0
            && u[18] < 0.3
        {
            has[PhObs.devices] = true
        }
        // Lung Opacity is the parent of every parenchymal opacity (CheXpert hierarchy).
        let parenchymal = [PhObs.lesion, PhObs.edema, PhObs.consolidation, PhObs.pneumonia, PhObs.atelectasis]
        has[PhObs.lungOpacity] = ownOpacity || infection || parenchymal.contains { has[$0] }
        return (has, ownOpacity, infection)
    }

}
