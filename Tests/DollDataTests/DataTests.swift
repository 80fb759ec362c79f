import Foundation
import Testing
import DollTestSupport
@testable import DollData
@testable import DollTensor

func tempDir(_ name: String) throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("doll-\(name)-\(getpid())").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

@Suite("Image codecs")
struct CodecTests {
    @Test func png8And16RoundTripExactly() throws {
        var rng = RandomGenerator(seed: 1)
        let w = 37, h = 23
        let s8 = (0..<(w * h)).map { _ in UInt16(rng.nextInt(below: 256)) }
        let r8 = try ImageIO.decodePNG(ImageIO.encodePNG(samples: s8, width: w, height: h, channels: 1), gray: true)
        #expect(r8.bitDepth == 8 && r8.width == w && r8.height == h && r8.samples == s8)
        let s16 = (0..<(w * h)).map { _ in UInt16(rng.nextInt(below: 65536)) }
        let r16 = try ImageIO.decodePNG(
            ImageIO.encodePNG(samples: s16, width: w, height: h, channels: 1, bitDepth: 16), gray: true)
        #expect(r16.bitDepth == 16 && r16.samples == s16)
        // Tensor path: [1,H,W] in [0,1] → 16-bit file → same values to 1/65535.
        let t = try Tensor.uniform([1, h, w], rng: &rng)
        let dir = try tempDir("png")
        try ImageIO.writeGray(t, to: dir + "/t.png", bitDepth: 16)
        let back = try ImageIO.readGray(path: dir + "/t.png")
        #expect(back.shape == [1, h, w])
        #expect(zip(back.scalars, t.scalars).allSatisfy { abs($0 - $1) <= 0.5 / 65535 + 1e-7 })
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func colourPNGBecomesLuminance() throws {
        // pure red, green, blue, white pixels (RGB) → increasing gray levels, white = 255
        let rgb: [UInt16] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]
        let g = try ImageIO.decodePNG(ImageIO.encodePNG(samples: rgb, width: 4, height: 1, channels: 3), gray: true)
        #expect(g.samples[3] == 255)
        #expect(g.samples[1] > g.samples[0] && g.samples[0] > g.samples[2])  // green brightest, blue darkest
    }

    /// `png` with an ancillary chunk inserted after IHDR (length, type, data, CRC-32).
    func inserting(_ type: String, _ body: [UInt8], into png: Data) -> Data {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in Array(type.utf8) + body {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        crc ^= 0xFFFF_FFFF
        func be(_ v: UInt32) -> [UInt8] {
            [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        }
        let chunk = be(UInt32(body.count)) + Array(type.utf8) + body + be(crc)
        var out = [UInt8](png)
        out.insert(contentsOf: chunk, at: 8 + 25)  // signature, then IHDR (4 + 4 + 13 + 4 bytes)
        return Data(out)
    }

    /// Samples are read as stored, whatever gAMA or sRGB say (issue 17, item 8: the simplified
    /// API read 128 under gAMA 1.0 as 0.729 and 16-bit 0x8080 under sRGB as 0.2195).
    @Test func pngSamplesIgnoreGammaAndColourChunks() throws {
        let gray8 = try ImageIO.encodePNG(samples: [128, 0, 255, 64], width: 2, height: 2, channels: 1)
        for (type, body): (String, [UInt8]) in [
            ("gAMA", [0, 1, 0x86, 0xA0]), ("gAMA", [0, 0, 0xAF, 0xC8]), ("sRGB", [0]),
        ] {
            let r = try ImageIO.decodePNG(inserting(type, body, into: stripped(gray8)), gray: true)
            #expect(r.samples == [128, 0, 255, 64], "\(type) \(body): \(r.samples)")
            let t = try ImageIO.decodeGray(inserting(type, body, into: stripped(gray8)))
            #expect(abs(t.scalars[0] - 128 / 255) < 1e-6)
        }
        let gray16 = try ImageIO.encodePNG(
            samples: [0x8080, 1, 65535, 300], width: 2, height: 2, channels: 1, bitDepth: 16)
        let r16 = try ImageIO.decodePNG(inserting("sRGB", [0], into: stripped(gray16)), gray: true)
        #expect(r16.bitDepth == 16 && r16.samples == [0x8080, 1, 65535, 300])
    }

    /// A PNG without its ancillary colour chunks (gAMA, sRGB, cHRM, iCCP) that the writer adds.
    func stripped(_ png: Data) -> Data {
        var bytes = [UInt8](png)
        var i = 8
        while i + 8 <= bytes.count {
            let len = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            let type = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
            if ["gAMA", "sRGB", "cHRM", "iCCP"].contains(type) {
                bytes.removeSubrange(i..<(i + 12 + len))
            } else {
                i += 12 + len
            }
        }
        return Data(bytes)
    }

    @Test func jpegDecodeIsCloseToSource() throws {
        var px = [UInt8](repeating: 0, count: 64 * 48)
        for y in 0..<48 { for x in 0..<64 { px[y * 64 + x] = UInt8((x * 3 + y * 2) % 256) } }
        let jpg = try ImageIO.encodeJPEG(pixels: px, width: 64, height: 48, channels: 1, quality: 95)
        let t = try ImageIO.decodeGray(jpg)
        #expect(t.shape == [1, 48, 64])
        let err = zip(t.scalars, px).map { abs($0 * 255 - Float($1)) }
        #expect(err.reduce(0, +) / Float(err.count) < 2.0)
    }

    /// Issue 17, item 7: a small file claiming 8192² pixels (a valid header, CRC included) is
    /// refused from its header with an error that names the limit and how to raise it.
    @Test func pixelLimitNamesItself() throws {
        var png = try ImageIO.encodePNG(samples: [0], width: 1, height: 1, channels: 1)
        png.replaceSubrange(16..<24, with: [0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x20, 0x00])  // 8192 x 8192
        var crc: UInt32 = 0xFFFF_FFFF  // CRC-32 of the IHDR type and data (bytes 12..<29)
        for byte in png[12..<29] {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        crc ^= 0xFFFF_FFFF
        png.replaceSubrange(
            29..<33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        #expect { try ImageIO.decodeGray(png) } throws: {
            "\($0)".contains("8192x8192 pixels, more than the limit") && "\($0)".contains("DOLL_MAX_PIXELS")
        }
    }

    @Test func absurdHeaderIsRejectedBeforeAllocation() throws {
        // A PNG header claiming 100000 x 100000 pixels.
        var png = try ImageIO.encodePNG(samples: [0], width: 1, height: 1, channels: 1)
        let dims: [UInt8] = [0x00, 0x01, 0x86, 0xA0, 0x00, 0x01, 0x86, 0xA0]
        png.replaceSubrange(16..<24, with: dims)
        #expect { try ImageIO.decodeGray(png) } throws: { "\($0)".contains("PNG") }
        #expect { try ImageIO.decodeGray(Data("hello world".utf8)) } throws: { "\($0)".contains("not a PNG or JPEG") }
        #expect { try ImageIO.readGray(path: "/nonexistent/x.png") } throws: { "\($0)".contains("cannot read") }
    }

    @Test func fuzzedFilesRaiseErrorsNeverCrash() throws {
        var rng = RandomGenerator(seed: 99)
        var px = [UInt16](repeating: 0, count: 32 * 32)
        for i in 0..<px.count { px[i] = UInt16(rng.nextInt(below: 256)) }
        let png = [UInt8](try ImageIO.encodePNG(samples: px, width: 32, height: 32, channels: 1))
        let jpg = [UInt8](try ImageIO.encodeJPEG(pixels: px.map { UInt8($0) }, width: 32, height: 32, channels: 1))
        var failures = 0, successes = 0
        for trial in 0..<3000 {
            var b = trial % 2 == 0 ? png : jpg
            switch rng.nextInt(below: 4) {
            case 0: b = Array(b.prefix(rng.nextInt(below: b.count)))  // truncate
            case 1:
                for _ in 0..<(1 + rng.nextInt(below: 8)) {
                    b[rng.nextInt(below: b.count)] = UInt8(rng.nextInt(below: 256))
                }  // flip bytes
            case 2:
                let at = rng.nextInt(below: b.count);
                b.insert(contentsOf: (0..<16).map { _ in UInt8(rng.nextInt(below: 256)) }, at: at)
            default: let at = 8 + rng.nextInt(below: 40); if at < b.count { b[at] ^= 0xFF }  // header damage
            }
            do { let t = try ImageIO.decodeGray(Data(b)); #expect(t.rank == 3); successes += 1 } catch { failures += 1 }
        }
        #expect(failures > 1000, "most mutations must be detected (\(failures) errors, \(successes) decoded)")
    }
}

@Suite("Image operations")
struct ImageOpsTests {
    @Test func areaResizeAveragesBlocks() throws {
        let t = try Tensor([1, 3, 5, 7, 2, 4, 6, 8, 0, 0, 1, 1, 0, 0, 1, 1], shape: [1, 4, 4])
        let r = try ImageOps.resize(t, height: 2, width: 2, interpolation: .area)
        #expect(r.scalars == [2.5, 6.5, 0, 1])
        let n = try ImageOps.resize(t, height: 8, width: 8, interpolation: .nearest)
        #expect(Set(n.scalars).isSubset(of: Set(t.scalars)))
    }

    @Test func fitModesGiveSquareOutputs() throws {
        let t = try Tensor(repeating: 1, shape: [1, 30, 60])
        for mode in [FitMode.squash, .pad, .crop] {
            let f = try ImageOps.fit(t, size: 20, mode: mode, interpolation: .area)
            #expect(f.shape == [1, 20, 20])
        }
        let padded = try ImageOps.fit(t, size: 20, mode: .pad, interpolation: .area)
        #expect(try padded.value(at: [0, 0, 10]) == 0 && padded.value(at: [0, 10, 10]) == 1)
    }

    @Test func equalisationAndClaheSpreadContrast() throws {
        var rng = RandomGenerator(seed: 3)
        let low = try Tensor.uniform([1, 32, 32], low: 0.4, high: 0.5, rng: &rng)
        for out in [try ImageOps.equalizeHistogram(low), try ImageOps.clahe(low, tiles: 4, clipLimit: 40)] {
            #expect(try out.quantile(0.95) - out.quantile(0.05) > 0.5)
            #expect(out.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
    }

    @Test func augmentationMovesImageAndMaskTogether() throws {
        var img = try Tensor.zeros([1, 32, 32]), mask = try Tensor.zeros([1, 32, 32])
        for y in 10..<16 {
            for x in 4..<10 { try img.setValue(1, at: [0, y, x]); try mask.setValue(1, at: [0, y, x]) }
        }
        let a = try Augment.affine(img, angle: 0.3, scale: 1.1, tx: 3, ty: -2, flip: false, nearest: false)
        let m = try Augment.affine(mask, angle: 0.3, scale: 1.1, tx: 3, ty: -2, flip: false, nearest: true)
        #expect(Set(m.scalars).isSubset(of: [0, 1]))
        // the bright region and the mask still coincide
        var inside = 0.0, outside = 0.0
        for (v, k) in zip(a.scalars, m.scalars) { if k == 1 { inside += Double(v) } else { outside += Double(v) } }
        #expect(inside > 4 * outside)
    }

    /// The radiograph augmentation of the study, with every default range on (photometric ones
    /// too): over 60 draws a small bright square on the patient's right (image left) and its mask
    /// land on the same pixels, and the square never crosses to the other side (no flips).
    @Test func augmentedSamplesKeepMasksAlignedAndNeverFlip() throws {
        final class Square: Dataset {
            var count: Int { 1 }
            var classes: [String] { [] }
            var structures: [String] { ["right_lung", "heart"] }
            var size: Int { 32 }
            var summary: String { "one square" }
            func sample(_ i: Int) throws -> Sample {
                var img = try Tensor.zeros([1, 32, 32])
                var mask = try Tensor.zeros([1, 32, 32])
                for y in 12..<17 {
                    for x in 4..<9 { try img.setValue(0.9, at: [0, y, x]); try mask.setValue(1, at: [0, y, x]) }
                }
                return Sample(id: "square", image: img, masks: ["right_lung": mask, "heart": mask])
            }
        }
        var flipping = AugmentConfig()
        flipping.horizontalFlip = true
        #expect(throws: DataError.self) { try AugmentedDataset(Square(), config: flipping) }
        let data = try AugmentedDataset(Square(), seed: 7)
        var moved = 0
        for epoch in 1...60 {
            data.epoch = epoch
            let s = try data.sample(0)
            let img = s.image.scalars
            let mask = s.masks["right_lung"]!.scalars
            #expect(Set(mask).isSubset(of: [0, 1]))
            func centroid(_ w: [Float]) -> (Double, Double) {
                var (sx, sy, sw) = (0.0, 0.0, 0.0)
                for (j, v) in w.enumerated() {
                    sx += Double(v) * Double(j % 32); sy += Double(v) * Double(j / 32); sw += Double(v)
                }
                return (sx / sw, sy / sw)
            }
            // the image's bright part (above its median, noise and blur aside) against the mask
            let threshold = img.sorted()[img.count / 2] + 0.25
            let (ix, iy) = centroid(img.map { $0 > threshold ? 1 : 0 })
            let (mx, my) = centroid(mask)
            #expect(abs(ix - mx) < 1 && abs(iy - my) < 1, "epoch \(epoch): image (\(ix), \(iy)) mask (\(mx), \(my))")
            #expect(mx < 12, "epoch \(epoch): the square moved to x = \(mx): a flip")
            if abs(mx - 6) > 0.5 || abs(my - 14) > 0.5 { moved += 1 }
            // the same (seed, epoch, index) gives the same sample, alone or prepared in parallel;
            // masks moved together stay equal
            #expect(try data.sample(0).image.scalars == s.image.scalars)
            #expect(try data.samples([0, 0]).allSatisfy { $0.masks["right_lung"]!.scalars == mask })
            #expect(s.masks["heart"]!.scalars == mask)
        }
        #expect(moved > 30, "augmentation should move the square in most epochs (moved in \(moved) of 60)")
    }
}

@Suite("Loaders on ../shared/data", .serialized)
struct LoaderTests {
    @Test func chexpertLabelFileCountsAndPolicies() throws {
        guard let csv = sharedFile("data/chexpert_labels_sample.csv") else { return }
        let all = try CheXpertDataset(csv: csv, policy: .ones, frontalOnly: false)
        #expect(all.count == 3000)
        #expect(all.classes.count == 14 && all.classes.first == "No Finding" && all.classes.last == "Support Devices")
        let counts = all.valueCounts().values
        #expect(counts.reduce(0) { $0 + $1.blank } == 30632)
        #expect(counts.reduce(0) { $0 + $1.positive } == 6517)
        #expect(counts.reduce(0) { $0 + $1.negative } == 3076)
        #expect(counts.reduce(0) { $0 + $1.uncertain } == 1775)
        // policies on a row with an uncertain entry
        let row = all.rows.first { $0.raw.contains { $0 == -1 } }!
        let j = row.raw.firstIndex { $0 == -1 }!
        #expect(all.labels(of: row).labels[j] == 1)
        let zeros = try CheXpertDataset(csv: csv, policy: .zeros, frontalOnly: false)
        #expect(zeros.labels(of: row).labels[j] == 0)
        let ignore = try CheXpertDataset(csv: csv, policy: .ignore, frontalOnly: false)
        #expect(ignore.labels(of: row).labels[j] == 0 && ignore.labels(of: row).mask[j] == 0)
        let frontal = try CheXpertDataset(csv: csv)
        #expect(frontal.count < 3000 && frontal.rows.allSatisfy { $0.view == "Frontal" })
        // images are not shipped: asking for one gives a clear error naming the file
        #expect { try frontal.sample(0) } throws: { "\($0)".contains("view1_frontal.jpg") }
    }

    @Test func nihLabelCSVWithSplits() throws {
        guard let csv = sharedFile("data/nih64/labels.csv") else { return }
        let all = try LabelCSVDataset(csv: csv, exclude: ["No Finding"], size: 64)
        #expect(all.count == 1004 && all.classes.count == 14)
        let cardio = all.classes.firstIndex(of: "Cardiomegaly")!, eff = all.classes.firstIndex(of: "Effusion")!
        #expect(all.labelRows.filter { $0[cardio] == 1 }.count == 84)
        #expect(all.labelRows.filter { $0[eff] == 1 }.count == 170)
        #expect(try LabelCSVDataset(csv: csv, split: "train", size: 64).count == 604)
        #expect(try LabelCSVDataset(csv: csv, split: "valid", size: 64).count == 200)
        let s = try all.sample(0)
        #expect(s.image.shape == [1, 64, 64] && s.labels!.count == 14)
        let (x, y, m) = try all.classificationBatch([0, 1, 2])
        #expect(x.shape == [3, 1, 64, 64] && y.shape == [3, 14] && m.scalars.allSatisfy { $0 == 1 })
    }

    /// Issue 17, item 9: line endings, numeric spellings of 0/1, duplicate columns, and files
    /// that would give 0 images or 0 classes.
    @Test func labelCSVEdgeCases() throws {
        let dir = NSTemporaryDirectory() + "doll-csv-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ name: String, _ text: String) throws -> String {
            let p = dir + "/" + name
            try text.write(toFile: p, atomically: true, encoding: .utf8)
            return p
        }
        let lf = "Path,A,B\na.png,1,0\nb.png,0,1\nc.png,1,1\n"
        for (name, text) in [
            ("lf", lf), ("crlf", lf.replacingOccurrences(of: "\n", with: "\r\n")),
            ("cr", lf.replacingOccurrences(of: "\n", with: "\r")),
            ("floats", "Path,A,B\na.png,1.0,0.0\nb.png, 0,1 \nc.png,1,1.0\n"),
        ] {
            let ds = try LabelCSVDataset(csv: try write(name + ".csv", text), size: 16)
            #expect(ds.count == 3 && ds.classes == ["A", "B"], "\(name): \(ds.count) images, classes \(ds.classes)")
            #expect(ds.labelRows == [[1, 0], [0, 1], [1, 1]], "\(name)")
        }
        #expect { try LabelCSVDataset(csv: try write("dup.csv", "Path,A,A\na.png,1,0\n"), size: 16) } throws: {
            "\($0)".contains("names column 'A' twice")
        }
        #expect { try LabelCSVDataset(csv: try write("empty.csv", "Path,A,B\n"), size: 16) } throws: {
            "\($0)".contains("no data rows")
        }
        #expect { try LabelCSVDataset(csv: try write("nolabels.csv", "Path,Note\na.png,hello\n"), size: 16) } throws: {
            "\($0)".contains("no label column")
        }
        let chex = "Path,Sex,Age,Frontal/Lateral,AP/PA,Cardiomegaly\np/view2.jpg,F,50,Lateral,,1.0\n"
        #expect { try CheXpertDataset(csv: try write("lateral.csv", chex)) } throws: { "\($0)".contains("frontal") }
    }

    @Test func jsrtFolderWithFoldsAndUnions() throws {
        guard let root = sharedFile("data/jsrt") else { return }
        let all = try SegmentationFolder(root: root, size: 128)
        #expect(all.count == 247)
        #expect(
            Set(all.structures) == [
                "heart", "left_clavicle", "left_lung", "right_clavicle", "right_lung", "lungs", "clavicles",
            ])
        #expect(try SegmentationFolder(root: root, filter: ("fold", "1")).count == 124)
        #expect(try SegmentationFolder(root: root, filter: ("fold", "2")).count == 123)
        let s = try all.sample(0)
        #expect(s.image.shape == [1, 128, 128])
        for (_, m) in s.masks { #expect(Set(m.scalars).isSubset(of: [0, 1])) }
        // laterality: the patient's left lung is on the image's right
        func centroidX(_ m: Tensor) -> Double {
            var sx = 0.0, n = 0.0
            for (i, v) in m.scalars.enumerated() where v > 0.5 { sx += Double(i % 128); n += 1 }
            return sx / n
        }
        #expect(centroidX(s.masks["left_lung"]!) > 64 && centroidX(s.masks["right_lung"]!) < 64)
        let lungs = s.masks["lungs"]!.scalars, l = s.masks["left_lung"]!.scalars, r = s.masks["right_lung"]!.scalars
        #expect(lungs.indices.allSatisfy { lungs[$0] == max(l[$0], r[$0]) })
        let (x, t, v) = try all.segmentationBatch([0, 1], structures: ["lungs", "heart"])
        #expect(x.shape == [2, 1, 128, 128] && t.shape == [2, 2, 128, 128] && v.scalars.allSatisfy { $0 == 1 })
        #expect { try all.segmentationBatch([0], structures: ["liver"]) } throws: {
            "\($0)".contains("unknown structure 'liver'")
        }
    }

    @Test func covidSegmentationFolder() throws {
        guard let root = sharedFile("data/covid_seg") else { return }
        let ds = try SegmentationFolder(root: root, size: 256)  // native size: small masks survive
        #expect(ds.count == 100)
        #expect(
            Set(ds.structures).isSuperset(of: [
                "left_lung", "right_lung", "cardiomediastinum", "ground_glass", "consolidation", "lungs", "infection",
            ]))
        var nonEmpty: [String: Int] = [:]
        for i in 0..<ds.count {
            for (k, m) in try ds.sample(i).masks where m.scalars.contains(where: { $0 > 0.5 }) {
                nonEmpty[k, default: 0] += 1
            }
        }
        #expect(nonEmpty["left_lung"] == 99 && nonEmpty["right_lung"] == 99 && nonEmpty["cardiomediastinum"] == 100)
        #expect(nonEmpty["ground_glass"] == 93 && nonEmpty["consolidation"] == 32)
        #expect(try SegmentationFolder(root: root, filter: ("finding", "COVID-19")).count == 59)
    }

    @Test func covidQuExLayout() throws {
        guard let root = sharedFile("data/covidquex") else { return }
        let ds = try CovidQuExDataset(root: root)
        #expect(ds.count == 12 && ds.classes == ["COVID-19", "Non-COVID", "Normal"])
        for i in 0..<ds.count {
            let s = try ds.sample(i)
            #expect(s.image.shape == [1, 256, 256])
            let infected = s.masks["infection"]!.scalars.contains { $0 > 0.5 }
            if !s.id.hasPrefix("COVID-19") { #expect(!infected, "\(s.id) should have an empty infection mask") }
            #expect(s.masks["lungs"]!.scalars.contains { $0 > 0.5 })
        }
    }

    @Test func subsetsAndSplitsAreDeterministic() throws {
        guard let root = sharedFile("data/jsrt") else { return }
        let ds = try SegmentationFolder(root: root, size: 32)
        let a = try ds.subset(fraction: 0.1, seed: 5), b = try ds.subset(fraction: 0.1, seed: 5),
            c = try ds.subset(fraction: 0.1, seed: 6)
        #expect(a.indices == b.indices && a.indices != c.indices && a.count == 25)
        let (tr, va) = try ds.split(fraction: 0.8, seed: 1)
        #expect(tr.count + va.count == 247 && Set(tr.indices).isDisjoint(with: va.indices))
        let cached = CachedDataset(ds, capacity: 4)
        #expect(try cached.sample(3).image.scalars == ds.sample(3).image.scalars)
    }

    @Test func csvParserHandlesQuotes() {
        let rows = CSV.parse("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",3\r\n,,\n")
        #expect(rows == [["a", "b", "c"], ["x, y", "say \"hi\"", "3"], ["", "", ""]])
    }
}
