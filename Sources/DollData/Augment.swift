import DollTensor
import Foundation

/// Data augmentation settings. Geometric transforms are applied identically to the image and
/// its masks (bilinear for the image, nearest for masks, so mask values stay 0/0.5/1).
public struct AugmentConfig: Codable, Equatable, Sendable {
    /// Maximum rotation in degrees (uniform in ±).
    public var rotation: Float = 5
    /// Maximum relative scale change (uniform in 1 ± scale).
    public var scale: Float = 0.05
    /// Maximum shift as a fraction of the size (uniform in ±).
    public var shift: Float = 0.04
    /// Left/right flips. Radiographs have laterality (heart on the patient's left): flipping is
    /// refused for data with left/right-specific masks or labels.
    public var horizontalFlip = false
    /// Maximum brightness offset and relative contrast change.
    public var brightness: Float = 0.05
    public var contrast: Float = 0.1
    /// Maximum |log γ| for a random gamma.
    public var gamma: Float = 0.1
    /// Standard deviation of additive Gaussian noise.
    public var noise: Float = 0.01
    public init() {}
    /// No augmentation at all.
    public static let none: AugmentConfig = {
        var c = AugmentConfig(); c.rotation = 0; c.scale = 0; c.shift = 0; c.brightness = 0; c.contrast = 0;
        c.gamma = 0; c.noise = 0
        return c
    }()
}

/// Wraps a dataset with seeded random augmentation: the sample for index `i` in epoch `e` depends
/// only on `(seed, e, i)`.
public final class AugmentedDataset: Dataset {
    public let base: Dataset
    public let config: AugmentConfig
    public let seed: UInt64
    /// Set by the trainer each epoch to draw new transforms.
    public var epoch = 0

    public init(_ base: Dataset, config: AugmentConfig = AugmentConfig(), seed: UInt64 = 0) throws {
        if config.horizontalFlip {
            let lateral = (base.structures + base.classes).filter {
                $0.lowercased().contains("left") || $0.lowercased().contains("right")
            }
            if !lateral.isEmpty || !base.classes.isEmpty || !base.structures.isEmpty {
                throw DataError(
                    "horizontal flips would swap the patient's left and right (data has \(lateral.isEmpty ? "anatomy with laterality" : lateral.joined(separator: ", "))); leave horizontalFlip off for radiographs"
                )
            }
        }
        self.base = base; self.config = config; self.seed = seed
    }

    public var count: Int { base.count }
    public var classes: [String] { base.classes }
    public var structures: [String] { base.structures }
    public var size: Int { base.size }
    public var summary: String { "augmented \(base.summary)" }

    public func sample(_ i: Int) throws -> Sample {
        var s = try base.sample(i)
        var rng = RandomGenerator(
            seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch) &* 0xBF58_476D_1CE4_E5B9 &+ UInt64(i))
        func sym(_ m: Float) -> Float { (rng.nextUniform() * 2 - 1) * m }
        let angle = sym(config.rotation) * .pi / 180, sc = 1 + sym(config.scale)
        let tx = sym(config.shift) * Float(size), ty = sym(config.shift) * Float(size)
        let flip = config.horizontalFlip && rng.nextUniform() < 0.5
        let geometric = angle != 0 || sc != 1 || tx != 0 || ty != 0 || flip
        if geometric {
            s.image = try Augment.affine(s.image, angle: angle, scale: sc, tx: tx, ty: ty, flip: flip, nearest: false)
            for (k, m) in s.masks {
                s.masks[k] = try Augment.affine(m, angle: angle, scale: sc, tx: tx, ty: ty, flip: flip, nearest: true)
            }
        }
        let b = sym(config.brightness), c = 1 + sym(config.contrast), g = Foundation.exp(sym(config.gamma))
        let noise = config.noise
        var img = s.image
        img.withUnsafeMutableBufferPointer { p in
            for j in 0..<p.count {
                var v = Swift.max(p[j], 0)
                v = Foundation.pow(v, g)
                v = (v - 0.5) * c + 0.5 + b
                if noise > 0 { v += noise * rng.nextNormal() }
                p[j] = Swift.min(Swift.max(v, 0), 1)
            }
        }
        s.image = img
        return s
    }
}

public enum Augment {
    /// Rotates by `angle` (radians) and scales about the centre, then shifts by (tx, ty) pixels;
    /// optional horizontal flip. Outside samples are 0. `[C, H, W]` → same shape.
    public static func affine(
        _ t: Tensor, angle: Float, scale: Float, tx: Float, ty: Float, flip: Bool, nearest: Bool
    ) throws -> Tensor {
        let (c, h, w) = try ImageOps.dims(t)
        let src = t.scalars
        var out = [Float](repeating: 0, count: src.count)
        let cx = Float(w - 1) / 2, cy = Float(h - 1) / 2
        let ca = Foundation.cos(angle) / scale, sa = Foundation.sin(angle) / scale
        for y in 0..<h {
            for x in 0..<w {
                // inverse map: output pixel → source position
                let dx = (flip ? Float(w - 1 - x) : Float(x)) - cx - tx, dy = Float(y) - cy - ty
                let sx = ca * dx + sa * dy + cx, sy = -sa * dx + ca * dy + cy
                for ch in 0..<c {
                    let plane = ch * h * w
                    var v: Float = 0
                    if nearest {
                        let ix = Int(sx.rounded()), iy = Int(sy.rounded())
                        if ix >= 0 && ix < w && iy >= 0 && iy < h { v = src[plane + iy * w + ix] }
                    } else {
                        let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                        let fx = sx - Float(x0), fy = sy - Float(y0)
                        func at(_ xx: Int, _ yy: Int) -> Float {
                            (xx >= 0 && xx < w && yy >= 0 && yy < h) ? src[plane + yy * w + xx] : 0
                        }
                        v =
                            (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy)
                            + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy
                    }
                    out[plane + y * w + x] = v
                }
            }
        }
        return try Tensor(out, shape: t.shape)
    }
}
