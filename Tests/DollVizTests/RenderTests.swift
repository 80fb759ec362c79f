import Foundation
import Testing
@testable import DollData
@testable import DollTensor
@testable import DollViz

@Suite("Canvas and text")
struct CanvasTests {
    @Test func primitivesClipAndBlend() throws {
        var img = try RGBImage(width: 8, height: 6, fill: .black)
        img.fillRect(x: -3, y: -3, width: 5, height: 5, color: .white)
        #expect(img.pixel(x: 1, y: 1) == .white && img.pixel(x: 2, y: 2) == .black)
        img.blendPixel(x: 5, y: 5, .white, alpha: 0.5)
        #expect(img.pixel(x: 5, y: 5) == Color(gray: 128))
        img.setPixel(x: 100, y: -1, .white)  // outside: ignored
        img.drawLine(x0: 0, y0: 5, x1: 7, y1: 5, color: Color(255, 0, 0))
        #expect((0..<8).allSatisfy { img.pixel(x: $0, y: 5) == Color(255, 0, 0) })
        img.drawPolyline([(x: -50, y: -50), (x: .nan, y: 0), (x: 1e300, y: 4)], color: .white, width: 3)  // no crash
        #expect(img.pixel(x: 8, y: 0) == nil)
        #expect(throws: DataError.self) { try RGBImage(width: 0, height: 3) }
        #expect(throws: DataError.self) { try RGBImage(width: 2, height: 2, pixels: [1, 2, 3]) }
        #expect(throws: DataError.self) { try img.cropped(x: 4, y: 0, width: 5, height: 1) }
        let c = try img.cropped(x: 0, y: 4, width: 8, height: 2)
        #expect(c.pixel(x: 3, y: 1) == Color(255, 0, 0))
    }

    @Test func grayTensorsAndResizing() throws {
        let t = try Tensor([0, 0.5, 1, 2, -1, .nan], shape: [1, 1, 2, 3])
        let g = try RGBImage(gray: t)
        #expect(g.width == 3 && g.height == 2)
        #expect(g.pixels.enumerated().filter { $0.offset % 3 == 0 }.map { $0.element } == [0, 128, 255, 255, 0, 0])
        let s = try RGBImage(gray: try Tensor([2, 4, 6, 8], shape: [2, 2]), range: nil)
        #expect(s.pixel(x: 0, y: 0) == .black && s.pixel(x: 1, y: 1) == .white)
        #expect(throws: DataError.self) { try RGBImage(gray: try Tensor(repeating: 0, shape: [3, 4, 4])) }
        #expect(throws: DataError.self) { try RGBImage(gray: try Tensor(repeating: 0, shape: [4])) }
        // Bilinear enlarging of a 2-pixel ramp matches PyTorch (align_corners=False): 0, .25, .75, 1.
        let r = Resample.resize([0, 1], width: 2, height: 1, channels: 1, toWidth: 4, toHeight: 1, filter: .bilinear)
        #expect(r == [0, 0.25, 0.75, 1])
        // Area shrinking averages.
        #expect(
            Resample.resize([0, 1, 2, 3], width: 4, height: 1, channels: 1, toWidth: 2, toHeight: 1, filter: .area) == [
                0.5, 2.5,
            ])
        let big = try g.resized(width: 30, height: 20)
        #expect(big.width == 30 && big.height == 20)
        let fit = try g.fitted(width: 10, height: 10, background: Color(1, 2, 3))
        #expect(fit.width == 10 && fit.pixel(x: 0, y: 0) == Color(1, 2, 3))
    }

    @Test func fontCoversPrintableASCII() throws {
        #expect(BitmapFont.glyphs.count == 95)
        for (i, g) in BitmapFont.glyphs.enumerated() {
            #expect(g.count == BitmapFont.glyphHeight, "glyph \(i + 32) has \(g.count) rows")
            #expect(g.allSatisfy { $0 < 32 }, "glyph \(i + 32) is wider than 5 columns")
            #expect(
                BitmapFont.source[i].split(separator: " ").allSatisfy {
                    $0.count == 5 && $0.allSatisfy { $0 == "#" || $0 == "." }
                })
            if i > 0 { #expect(g.contains { $0 != 0 }, "glyph '\(Character(UnicodeScalar(UInt8(i + 32))))' is blank") }
        }
        #expect(
            Set(BitmapFont.glyphs.map { $0.map(String.init).joined(separator: ",") }).count == 95,
            "two glyphs are identical")
        #expect(BitmapFont.glyph("é") == BitmapFont.glyph("?"))
        #expect(BitmapFont.measure("abc").width == 17 && BitmapFont.measure("abc").height == 9)
        #expect(BitmapFont.measure("ab\nc", scale: 2) == (22, 40))
        #expect(BitmapFont.measure("") == (0, 0))
        #expect(BitmapFont.truncate("abcdefghij", toWidth: 35) == "abcd..")
        #expect(BitmapFont.truncate("abc", toWidth: 35) == "abc")
    }

    @Test func textGolden() throws {
        var img = try RGBImage(width: 200, height: 62, fill: .white)
        img.drawText("DoLL 0.93 Dice!", x: 2, y: 2, color: .black, scale: 1)
        img.drawText("gjpqy {[x]} 1e-4\n~ @#$% & ABC xyz", x: 2, y: 14, color: Color(200, 0, 0))
        img.drawText("Big", x: 120, y: 2, color: Color(0, 0, 160), scale: 3)
        img.drawText("up", x: 188, y: 30, color: .black, rotated: true)
        // Rotated text runs bottom to top: "u" is at the bottom.
        #expect(img.pixel(x: 188 + 2, y: 30 + 10) != .white)
        // Letters stay inside their cell: nothing drawn right of "DoLL 0.93 Dice!".
        let w = BitmapFont.measure("DoLL 0.93 Dice!").width
        #expect((0..<12).allSatisfy { img.pixel(x: 2 + w, y: $0) == .white })
        try expectGolden(img, 0xC760_C046_4141_E8B9, "text")
        let t = try RGBImage.text("hello", scale: 2, padding: 3)
        #expect(t.width == 29 * 2 + 6 && t.height == 18 + 6)
    }
}

@Suite("Heatmaps")
struct HeatmapTests {
    @Test func goldenSignedAndAbsolute() throws {
        let a = try blobs(16, 16, pos: (5, 5), neg: (11, 10), sigma: 2.5)
        let img = try grayPhantom(32, 32)
        let all = try Heatmap(sign: .all)(a, over: img)
        #expect(all.width == 32 && all.height == 32)
        try expectGolden(all, 0x5784_58B4_BAA4_2EAC, "heatmap-all")
        let abs = try Heatmap(sign: .absolute, colormap: .inferno)(a)
        try expectGolden(abs, 0x17D3_20C7_8BD3_186F, "heatmap-absolute")
    }

    @Test func brightestWhereAttributionPeaks() throws {
        let a = try blobs(20, 24, pos: (17.3, 6.6), neg: (5.2, 14.7), sigma: 3)
        let v = a.scalars
        let argmax = v.indices.max { v[$0] < v[$1] }!
        let argmin = v.indices.min { v[$0] < v[$1] }!
        let pos = try Heatmap(sign: .positive, colormap: .gray)(a)
        #expect(pos.pixel(x: argmax % 24, y: argmax / 24) == .white)
        #expect(pos.pixel(x: argmin % 24, y: argmin / 24) == .black)
        let neg = try Heatmap(sign: .negative, colormap: .gray)(a)
        #expect(neg.pixel(x: argmin % 24, y: argmin / 24) == .white)
        #expect(neg.pixel(x: argmax % 24, y: argmax / 24) == .black)
        let all = try Heatmap(sign: .all)(a)
        #expect(all.pixel(x: argmax % 24, y: argmax / 24) == Colormap.rdBuR[255])
        #expect(all.pixel(x: 0, y: 0)!.g > 235)  // ≈ 0 → near-white centre
        // The 98th percentile saturates about 2 % of the pixels.
        let n = try Heatmap(sign: .absolute).normalize(a)
        #expect(n.shape == [20, 24])
        let saturated = n.scalars.filter { $0 >= 1 }.count
        #expect(saturated == 10, "\(saturated) of 480 saturated")
        let q = try Tensor(v.map { Swift.abs($0) }, shape: [480]).quantile(0.98)
        #expect(try Heatmap().scale(of: a) == q)
        #expect(try Heatmap(outlierPercent: 0).scale(of: a) == v.map { Swift.abs($0) }.max()!)
    }

    @Test func captumCumulativeSumThreshold() throws {
        // Sorted magnitudes 1…10 sum to 55; 98 % is 53.9, first reached at 10 (running 55).
        // 80 % is 44, first reached at 9 (running 45).
        let a = try Tensor((1...10).map { Float($0) * ($0 % 2 == 0 ? 1 : -1) }, shape: [2, 5])
        #expect(try Heatmap(clipping: .cumulativeSum(2)).scale(of: a) == 10)
        #expect(try Heatmap(clipping: .cumulativeSum(20)).scale(of: a) == 9)
        // 2+…+10 = 30, 24 reached at 10
        #expect(try Heatmap(sign: .positive, clipping: .cumulativeSum(20)).scale(of: a) == 10)
        #expect(try Heatmap(clipping: OutlierClipping.none).scale(of: a) == 10)
        #expect(throws: DataError.self) { try Heatmap(outlierPercent: 100).scale(of: a) }
    }

    @Test func channelsAreSummedLikeCaptum() throws {
        let a = try Tensor([1, -1, 2, 0, 1, 3, -2, 1], shape: [1, 2, 2, 2])
        let n = try Heatmap(sign: .all, clipping: .none).normalize(a)
        #expect(n.scalars == [1, 1, 0, 0.5])  // channel sums 2, 2, 0, 1 over max 2
        #expect(throws: DataError.self) { try Heatmap()(try Tensor(repeating: 0, shape: [2, 1, 4, 4])) }
    }

    @Test func degenerateInputsGiveSensiblePictures() throws {
        let zero = try Heatmap(colormap: .viridis)(try Tensor(repeating: 0, shape: [6, 7]))
        #expect((0..<42).allSatisfy { zero.pixel(x: $0 % 7, y: $0 / 7) == Colormap.viridis[0] })
        let const = try Heatmap(colormap: .viridis)(try Tensor(repeating: -3, shape: [1, 6, 7]))
        #expect(const.pixel(x: 3, y: 3) == Colormap.viridis[255] && const.pixel(x: 0, y: 0) == Colormap.viridis[255])
        let signedZero = try Heatmap(sign: .all)(try Tensor(repeating: 0, shape: [3, 3]))
        #expect(signedZero.pixel(x: 1, y: 1) == Colormap.rdBuR.color(at: 0.5))
        // NaN → 0, +Inf saturates, -Inf saturates on the negative side.
        var v = [Float](repeating: 0.1, count: 16)
        v[0] = .nan; v[1] = .infinity; v[2] = -.infinity; v[3] = 0.5
        let t = try Tensor(v, shape: [4, 4])
        let n = try Heatmap(sign: .all, clipping: .none).normalize(t)
        #expect(n.scalars[0] == 0 && n.scalars[1] == 1 && n.scalars[2] == -1 && n.scalars[3] == 1)
        #expect(n.scalars.allSatisfy { $0.isFinite })
        for sign in AttributionSign.allCases {
            let img = try Heatmap(sign: sign)(t, over: try grayPhantom(9, 9))
            #expect(img.width == 9 && img.height == 9)
        }
        let allNaN = try Heatmap(colormap: .gray)(try Tensor(repeating: .nan, shape: [2, 2]))
        #expect(allNaN.pixel(x: 1, y: 1) == .black)
        let allInf = try Heatmap(colormap: .gray)(try Tensor(repeating: .infinity, shape: [2, 2]))
        #expect(allInf.pixel(x: 1, y: 1) == .white)
        // Huge finite values do not overflow the scale.
        let huge = try Heatmap(colormap: .gray)(
            try Tensor([Float.greatestFiniteMagnitude, 0, -Float.greatestFiniteMagnitude, 1], shape: [2, 2]))
        #expect(huge.pixel(x: 0, y: 0) == .white)
    }

    @Test func sizesAreMatchedOrRejectedClearly() throws {
        let a = try blobs(8, 8, pos: (2, 2), neg: (6, 6), sigma: 1.5)
        let over = try Heatmap()(a, over: try grayPhantom(40, 30))
        #expect(over.width == 30 && over.height == 40)
        let shrunk = try Heatmap()(
            try blobs(64, 64, pos: (10, 10), neg: (50, 50), sigma: 5), over: try grayPhantom(16, 16))
        #expect(shrunk.width == 16)
        let e1 = #expect(throws: DataError.self) {
            try Heatmap()(try Tensor(repeating: 1, shape: [5]), over: try grayPhantom(8, 8))
        }
        #expect(e1?.message.contains("[H, W], [C, H, W] or [1, C, H, W]") == true)
        let e2 = #expect(throws: DataError.self) {
            try Heatmap()(a, over: try Tensor(repeating: 0.5, shape: [3, 8, 8]))
        }
        #expect(e2?.message.contains("image under a heatmap") == true)
        let e3 = #expect(throws: DataError.self) { try Heatmap()(try Tensor(repeating: 1, shape: [0, 4])) }
        #expect(e3?.message.contains("empty") == true)
        #expect(throws: DataError.self) { try Heatmap(alpha: 1.5)(a, over: try grayPhantom(8, 8)) }
        // An image outside [0, 1] (e.g. standardised) is stretched rather than clipped to black.
        let std = try Tensor((0..<64).map { Float($0) / 10 - 3 }, shape: [8, 8])
        let s = try Heatmap(alpha: 0)(a, over: std)
        #expect(s.pixel(x: 0, y: 0) == .black && s.pixel(x: 7, y: 7) == .white)
    }
}

@Suite("Mask overlays, montages, determinism")
struct OverlayTests {
    static func masks(_ h: Int, _ w: Int) throws -> (Tensor, Tensor) {
        var a = [Float](repeating: 0, count: h * w), b = a
        for y in 0..<h {
            for x in 0..<w {
                if x >= 3 && x < 13 && y >= 4 && y < 16 { a[y * w + x] = 1 }
                let dx = Double(x) - 15, dy = Double(y) - 14
                if dx * dx + dy * dy <= 36 { b[y * w + x] = 1 }
            }
        }
        return (try Tensor(a, shape: [h, w]), try Tensor(b, shape: [1, h, w]))
    }

    @Test func goldenOverlayWithContours() throws {
        let (a, b) = try Self.masks(24, 24)
        let overlay = MaskOverlay(fillAlpha: 0.4, legend: .none)
        let img = try overlay(
            try grayPhantom(24, 24),
            layers: [
                MaskLayer("left", mask: a), MaskLayer("right", mask: b, style: .contour),
            ])
        try expectGolden(img, 0xBE66_5F64_D2E8_50C3, "overlay")
    }

    @Test func contoursLieOnMaskBorders() throws {
        let (a, b) = try Self.masks(24, 24)
        let red = Color(255, 0, 0), green = Color(0, 255, 0)
        let img = try MaskOverlay(legend: .none)(
            try Tensor(repeating: 0, shape: [24, 24]),
            layers: [
                MaskLayer("a", mask: a, color: red, style: .contour),
                MaskLayer("b", mask: b, color: green, style: .contour),
            ])
        let av = a.scalars.map { $0 > 0.5 }, bv = b.scalars.map { $0 > 0.5 }
        func border(_ m: [Bool], _ x: Int, _ y: Int) -> Bool {
            guard m[y * 24 + x] else { return false }
            let neighbours: [(Int, Int)] = [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
            for (nx, ny) in neighbours {
                if nx < 0 || ny < 0 || nx >= 24 || ny >= 24 { return true }
                if !m[ny * 24 + nx] { return true }
            }
            return false
        }
        for y in 0..<24 {
            for x in 0..<24 {
                let p = img.pixel(x: x, y: y)!
                if p == green {
                    #expect(border(bv, x, y), "green at (\(x), \(y)) is not on b's border")
                } else if p == red {
                    #expect(border(av, x, y), "red at (\(x), \(y)) is not on a's border")
                } else {
                    #expect(p == .black, "unexpected colour \(p) at (\(x), \(y))")
                    #expect(!border(av, x, y) && !border(bv, x, y), "border pixel (\(x), \(y)) not drawn")
                }
            }
        }
        // A mask touching the image edge is closed by the edge.
        let edge = try MaskOverlay.contour([true, true, true, true, true, true, true, true, true], width: 3, height: 3)
        #expect(edge == [true, true, true, true, false, true, true, true, true])
        #expect(throws: DataError.self) { try MaskOverlay.contour([true], width: 2, height: 2) }
    }

    @Test func legendIsDrawnInTheEmptiestCorner() throws {
        var m = [Float](repeating: 0, count: 80 * 120)
        for y in 0..<40 { for x in 0..<120 { m[y * 120 + x] = 1 } }  // top half covered
        for y in 40..<80 { for x in 0..<40 { m[y * 120 + x] = 1 } }  // and bottom-left
        let color = Color(10, 200, 30)
        let img = try MaskOverlay(fillAlpha: 0.5)(
            try Tensor(repeating: 0, shape: [80, 120]),
            layers: [MaskLayer("lung", mask: try Tensor(m, shape: [80, 120]), color: color, style: .fill)])
        // Bottom-right: the swatch in its exact colour and white text pixels.
        var swatch = 0, text = 0
        for y in 40..<80 {
            for x in 40..<120 {
                let p = img.pixel(x: x, y: y)!
                if p == color { swatch += 1 }
                if p == .white { text += 1 }
            }
        }
        #expect(swatch == 49 && text > 20, "swatch \(swatch) px, text \(text) px")
        let below = try MaskOverlay(legend: .below)(
            try Tensor(repeating: 0, shape: [20, 20]),
            layers: [MaskLayer("x", mask: try Tensor(m.prefix(400).map { $0 }, shape: [20, 20]))])
        #expect(below.height > 20)
    }

    @Test func overlayInputsAreChecked() throws {
        let (a, _) = try Self.masks(24, 24)
        // A mask of another size is resized by nearest neighbour.
        let img = try MaskOverlay(legend: .none)(
            try grayPhantom(48, 48), layers: [MaskLayer("a", mask: a, color: .white, style: .contour)])
        #expect(img.width == 48 && img.pixel(x: 6, y: 8) == .white)
        let e = #expect(throws: DataError.self) {
            try MaskOverlay()(
                try grayPhantom(8, 8), layers: [MaskLayer("heart", mask: try Tensor(repeating: 1, shape: [2, 8, 8]))])
        }
        #expect(e?.message.contains("mask 'heart'") == true)
        #expect(throws: DataError.self) { try MaskOverlay(fillAlpha: -1)(try grayPhantom(8, 8), layers: []) }
        let none = try MaskOverlay()(try grayPhantom(8, 8), layers: [])
        #expect(none == (try RGBImage(gray: try grayPhantom(8, 8))))
    }

    @Test func montageGoldenAndChecks() throws {
        let a = try Heatmap()(try blobs(12, 12, pos: (3, 3), neg: (8, 8), sigma: 2))
        let b = try RGBImage(gray: try grayPhantom(20, 10))
        let c = try RGBImage(width: 30, height: 30, fill: Color(0, 120, 200))
        let m = try Montage(columns: 2, tileWidth: 24, tileHeight: 24, padding: 3)(
            [a, b, c], titles: ["ig", "xray", "a long title"])
        #expect(m.width == 3 + 2 * 27 && m.height == 3 + 2 * (24 + 13 + 3))
        try expectGolden(m, 0xB90E_98EC_28F8_AFF3, "montage")
        let auto = try Montage()([a, c, c, c, c])
        #expect(auto.width == 6 + 3 * 18)  // 3 columns of the first tile's 12-px width
        #expect(throws: DataError.self) { try Montage()([]) }
        #expect(throws: DataError.self) { try Montage()([a, b], titles: ["one"]) }
        #expect(throws: DataError.self) { try Montage(columns: 0)([a]) }
    }

    @Test func outputIsDeterministicAndAtomic() throws {
        let a = try blobs(16, 16, pos: (5, 5), neg: (11, 10), sigma: 2.5)
        let r1 = try Heatmap(sign: .all)(a, over: try grayPhantom(32, 32)).png()
        let r2 = try Heatmap(sign: .all)(a, over: try grayPhantom(32, 32)).png()
        #expect(r1 == r2)
        let dir = try tempDir("atomic")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let img = try Heatmap(sign: .all)(a, over: try grayPhantom(32, 32))
        try img.write(to: dir + "/h.png")
        try img.write(to: dir + "/h.png")  // overwrite in place
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["h.png"])
        let back = try ImageIO.decodePNG(try Data(contentsOf: URL(fileURLWithPath: dir + "/h.png")), gray: false)
        #expect(back.width == 32 && back.channels == 4)
        var rgb: [UInt8] = []
        for i in 0..<(32 * 32) { for c in 0..<3 { rgb.append(UInt8(back.samples[4 * i + c])) } }
        #expect(rgb == img.pixels)
        #expect(throws: (any Error).self) { try img.write(to: dir + "/missing/dir/h.png") }
    }
}
