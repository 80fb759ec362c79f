import Foundation
import Testing
@testable import DollData
@testable import DollTensor
@testable import DollViz

/// Renders over the real JSRT radiograph JPCLN001 (from ../shared/data/jsrt). With
/// `DOLL_VIZ_OUT=/some/dir` the pictures are also written there for inspection.
@Suite("JSRT pictures and samples")
struct SampleTests {
    static let structures = ["right_lung", "left_lung", "heart", "right_clavicle", "left_clavicle"]

    /// Centroid `(x, y)` of a mask `[1, H, W]`.
    static func centroid(_ m: Tensor) -> (Double, Double) {
        let h = m.shape[1], w = m.shape[2]
        var sx = 0.0, sy = 0.0, n = 0.0
        for (i, v) in m.scalars.enumerated() where v > 0.5 { sx += Double(i % w); sy += Double(i / w); n += 1 }
        return n > 0 ? (sx / n, sy / n) : (Double(w) / 2, Double(h) / 2)
    }

    /// A plausible 64×64 attribution: positive over the heart, negative in the right lung, noise.
    static func attribution(heart: (Double, Double), lung: (Double, Double), imageSize: Int) throws -> Tensor {
        let n = 64, f = Double(n) / Double(imageSize)
        var rng = RandomGenerator(seed: 7)
        var v = [Float](repeating: 0, count: n * n)
        for y in 0..<n {
            for x in 0..<n {
                let dh = pow(Double(x) - heart.0 * f, 2) + pow(Double(y) - heart.1 * f, 2)
                let dl = pow(Double(x) - lung.0 * f, 2) + pow(Double(y) - lung.1 * f, 2)
                v[y * n + x] = Float(exp(-dh / 60) - 0.5 * exp(-dl / 30)) + 0.08 * (rng.nextUniform() - 0.5)
            }
        }
        return try Tensor(v, shape: [1, 1, n, n])
    }

    @Test func heatmapOverJSRTRadiograph() throws {
        guard let path = sharedFile("data/jsrt/images/JPCLN001.png"),
            let heartPath = sharedFile("data/jsrt/masks/heart/JPCLN001.png"),
            let lungPath = sharedFile("data/jsrt/masks/right_lung/JPCLN001.png")
        else { return }
        let xray = try ImageIO.readGray(path: path)
        let (h, w) = (xray.shape[1], xray.shape[2])
        let heart = Self.centroid(try ImageIO.readGray(path: heartPath))
        let lung = Self.centroid(try ImageIO.readGray(path: lungPath))
        let a = try Self.attribution(heart: heart, lung: lung, imageSize: w)
        let pos = try Heatmap(sign: .positive, colormap: .inferno, alpha: 0.5)(a, over: xray)
        #expect(pos.width == w && pos.height == h)
        // Hot over the heart: brighter and yellower than the radiograph (inferno's top is pale
        // yellow); elsewhere the gray is darkened by inferno's near-black low end.
        let g = try RGBImage(gray: xray)
        let c = pos.pixel(x: Int(heart.0), y: Int(heart.1))!, gh = g.pixel(x: Int(heart.0), y: Int(heart.1))!
        #expect(c.r > gh.r && Int(c.r) - Int(c.b) > 30, "heart centre \(c) over \(gh) is not tinted hot")
        let corner = pos.pixel(x: 2, y: h - 3)!, gc = g.pixel(x: 2, y: h - 3)!
        #expect(abs(Int(corner.r) - Int(gc.r) / 2) <= 3, "corner \(corner) vs radiograph \(gc)")
        let signed = try Heatmap(sign: .all, alpha: 0.55)(a, over: xray)
        let lc = signed.pixel(x: Int(lung.0), y: Int(lung.1))!
        #expect(lc.b > lc.r, "negative attribution in the right lung should be blue, got \(lc)")
        #expect(try Heatmap(sign: .all, alpha: 0.55)(a, over: xray) == signed)  // deterministic
        try saveSample(pos, "jsrt-heatmap-positive")
        try saveSample(signed, "jsrt-heatmap-all")
        try saveSample(
            try Heatmap(sign: .absolute, colormap: .turbo, alpha: 0.6, alphaByMagnitude: true)(a, over: xray),
            "jsrt-heatmap-weighted-turbo")
    }

    @Test func maskOverlayOverJSRT() throws {
        guard let path = sharedFile("data/jsrt/images/JPCLN001.png") else { return }
        var masks: [String: Tensor] = [:]
        for s in Self.structures {
            guard let p = sharedFile("data/jsrt/masks/\(s)/JPCLN001.png") else { return }
            masks[s] = try ImageIO.readGray(path: p)
        }
        let xray = try ImageIO.readGray(path: path)
        let names = ["right lung", "left lung", "heart", "right clavicle", "left clavicle"]
        let layers = zip(Self.structures, names).map { MaskLayer($0.1, mask: masks[$0.0]!) }
        let overlay = try MaskOverlay(fillAlpha: 0.3)(xray, layers: layers)
        #expect(overlay.width == xray.shape[2] && overlay.height == xray.shape[1])
        // Each structure's contour colour appears exactly on its border pixels (where not overdrawn).
        let heart = masks["heart"]!.scalars.map { $0 > 0.5 }
        let w = overlay.width, hgt = overlay.height
        let border = try MaskOverlay.contour(heart, width: w, height: hgt)
        let hc = Palette.color(2)
        let onBorder = (0..<(w * hgt)).filter { border[$0] && overlay.pixel(x: $0 % w, y: $0 / w) == hc }.count
        #expect(onBorder > border.filter { $0 }.count / 2)
        // GT vs prediction: the heart shifted 6 px right as a stand-in prediction.
        let shifted = try Tensor(
            (0..<(w * hgt)).map { i in
                let x = i % w; return x >= 6 && heart[i - 6] ? 1 : 0
            }, shape: [hgt, w])
        let cmp = try MaskOverlay(legend: .topRight)(
            xray,
            layers: [
                MaskLayer("ground truth", mask: masks["heart"]!, color: Palette.groundTruth, style: .contour),
                MaskLayer("prediction", mask: shifted, color: Palette.prediction, style: .contour),
            ])
        try saveSample(overlay, "jsrt-overlay")
        try saveSample(cmp, "jsrt-compare")
        // Montage of the pictures above.
        let a = try SampleTests.attribution(
            heart: SampleTests.centroid(masks["heart"]!), lung: SampleTests.centroid(masks["right_lung"]!), imageSize: w
        )
        let tiles = [
            try RGBImage(gray: xray), try Heatmap(sign: .all)(a, over: xray), overlay, cmp,
            try Heatmap(colormap: .viridis)(a), try RGBImage(gray: masks["heart"]!),
        ]
        let m = try Montage(columns: 3, tileWidth: 192, tileHeight: 192, title: "JPCLN001")(
            tiles,
            titles: ["radiograph", "IG (signed)", "structures", "heart: GT vs pred", "|IG| 64x64", "heart mask"])
        #expect(m.width == 6 + 3 * 198)
        try saveSample(m, "montage")
    }

    @Test func chartAndTextSamples() throws {
        let fr: [Double] = [1, 5, 10, 25, 100]
        var eff = LinePlot(
            series: [
                Series("random init", x: fr, y: [0.612, 0.781, 0.842, 0.897, 0.941]),
                Series("classifier encoder", x: fr, y: [0.688, 0.822, 0.866, 0.909, 0.944], marker: .diamond),
                Series("DoLL pre-trained", x: fr, y: [0.741, 0.853, 0.887, 0.921, 0.949], marker: .square),
            ], title: "Lung segmentation: sample efficiency", xLabel: "labelled training images (%)",
            yLabel: "Dice (validation)",
            logX: true, yRange: 0.55...1)
        eff.xTicks = fr
        eff.xTickLabels = fr.map { "\(Int($0))%" }
        let effImg = try eff.render()
        #expect(effImg.width == 640 && effImg.height == 420)
        try saveSample(effImg, "lineplot-efficiency")
        let epochs = 60
        let train: [Double] = (1...epochs).map { (e: Int) -> Double in
            let t = Double(e)
            return 0.9 * exp(-t / 12) + 0.12 + 0.01 * sin(t)
        }
        let val: [Double] = (1...epochs).map { (e: Int) -> Double in
            let t = Double(e), late = Double(max(0, e - 35))
            return 0.85 * exp(-t / 14) + 0.18 + 0.0006 * late
        }
        let trainPlot = LinePlot(
            series: [Series("train loss", y: train), Series("val loss", y: val)],
            title: "U-Net training", xLabel: "epoch", yLabel: "BCE + Dice loss", width: 520, height: 340, textScale: 1)
        try saveSample(try trainPlot.render(), "lineplot-training")
        let bars = BarChart(
            categories: ["lungs", "heart", "clavicles", "COVID-19"],
            series: [
                BarSeries("random init", values: [0.897, 0.842, 0.601, 0.512]),
                BarSeries("classifier encoder", values: [0.909, 0.861, 0.655, 0.571]),
                BarSeries("DoLL", values: [0.921, 0.884, 0.702, 0.618]),
            ], title: "Dice with 25% of the labels", xLabel: "task", yLabel: "Dice", yRange: 0...1, valueLabels: true)
        try saveSample(try bars.render(), "barchart")
        // Text sample: every glyph at scales 1–3.
        let ascii = String((32...126).map { Character(UnicodeScalar(UInt8($0))) })
        let lines = stride(from: 0, to: ascii.count, by: 32).map { String(ascii.dropFirst($0).prefix(32)) }.joined(
            separator: "\n")
        var text = try RGBImage(width: 600, height: 250, fill: .white)
        text.drawText(lines, x: 6, y: 6, scale: 1)
        text.drawText(lines, x: 6, y: 50, color: Color(0, 70, 160), scale: 2)
        text.drawText("Dice 0.921 | IoU 0.853 | p < 0.05", x: 6, y: 150, color: Color(150, 0, 0), scale: 3)
        text.drawText("rotated", x: 580, y: 170, rotated: true)
        try saveSample(text, "text")
        // Colormap strips.
        var cm = try RGBImage(width: 420, height: 7 * 24 + 6, fill: .white)
        for (i, m) in Colormap.builtins.enumerated() {
            for x in 0..<256 { cm.fillRect(x: 80 + x, y: 6 + i * 24, width: 1, height: 18, color: m[x]) }
            cm.drawText(m.name, x: 6, y: 10 + i * 24)
        }
        try saveSample(cm, "colormaps")
        if let d = sampleDir {
            let dump = Colormap.builtins.map { m in m.name + " " + m.table.map(String.init).joined(separator: " ") }
                .joined(separator: "\n")
            try AtomicFile.write(Data((dump + "\n").utf8), to: d + "/colormaps.txt")
        }
    }
}
