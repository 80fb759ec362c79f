import Foundation
import Testing
@_exported import DollTestSupport
@testable import DollData
@testable import DollTensor
@testable import DollViz

/// FNV-1a, 64 bit, of a byte buffer.
func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    return h
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16, uppercase: true) }

/// Folder for sample pictures, from `DOLL_VIZ_OUT` (nil when unset: nothing is written).
let sampleDir: String? = {
    guard let d = ProcessInfo.processInfo.environment["DOLL_VIZ_OUT"], !d.isEmpty else { return nil }
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}()

/// Writes `img` to the sample folder when one is set.
func saveSample(_ img: RGBImage, _ name: String) throws {
    if let d = sampleDir { try img.write(to: d + "/" + name + ".png") }
}

/// Checks the FNV-1a hash of the RGB pixels against a golden value produced and inspected by hand.
func expectGolden(
    _ img: RGBImage, _ expected: UInt64, _ name: String, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let h = fnv1a64(img.pixels)
    try saveSample(img, "golden-" + name)
    #expect(
        h == expected, "golden \(name) (\(img.width)x\(img.height)): pixel hash \(hex(h)), expected \(hex(expected))",
        sourceLocation: sourceLocation)
}

func tempDir(_ name: String) throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("doll-viz-\(name)-\(getpid())").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// A smooth synthetic attribution `[h, w]`: a positive blob at (px, py), a weaker negative one at (nx, ny).
func blobs(_ h: Int, _ w: Int, pos: (Double, Double), neg: (Double, Double), sigma: Double) throws -> Tensor {
    var v = [Float](repeating: 0, count: h * w)
    for y in 0..<h {
        for x in 0..<w {
            let dp = (Double(x) - pos.0) * (Double(x) - pos.0) + (Double(y) - pos.1) * (Double(y) - pos.1)
            let dn = (Double(x) - neg.0) * (Double(x) - neg.0) + (Double(y) - neg.1) * (Double(y) - neg.1)
            v[y * w + x] = Float(exp(-dp / (2 * sigma * sigma)) - 0.6 * exp(-dn / (2 * sigma * sigma)))
        }
    }
    return try Tensor(v, shape: [h, w])
}

/// A gray test image `[1, h, w]`: a vertical gradient with a darker disc.
func grayPhantom(_ h: Int, _ w: Int) throws -> Tensor {
    var v = [Float](repeating: 0, count: h * w)
    for y in 0..<h {
        for x in 0..<w {
            let dx = Double(x) - Double(w) / 2, dy = Double(y) - Double(h) / 2
            let inDisc = dx * dx + dy * dy < Double(min(h, w) * min(h, w)) / 9
            v[y * w + x] = Float(0.2 + 0.6 * Double(y) / Double(max(1, h - 1))) * (inDisc ? 0.5 : 1)
        }
    }
    return try Tensor(v, shape: [1, h, w])
}
