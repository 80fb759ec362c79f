import DollTensor
import Foundation

/// Data augmentation settings for radiographs. Geometric transforms are applied identically to
/// the image and its masks (bilinear for the image, nearest for masks, so mask values stay
/// 0/0.5/1); the photometric ones (brightness, contrast, gamma, blur, noise) touch the image only.
/// Each range is drawn uniformly per sample.
public struct AugmentConfig: Codable, Equatable, Sendable {
    /// Maximum rotation in degrees (uniform in ±).
    public var rotation: Float = 10
    /// Maximum relative scale change (uniform in 1 ± scale).
    public var scale: Float = 0.1
    /// Maximum shift as a fraction of the size (uniform in ±).
    public var shift: Float = 0.05
    /// Left/right flips. Radiographs have laterality (heart on the patient's left): flipping is
    /// refused for data with left/right-specific masks or labels.
    public var horizontalFlip = false
    /// Maximum brightness offset (intensity units, images in 0…1) and relative contrast change.
    public var brightness: Float = 0.1
    public var contrast: Float = 0.15
    /// Maximum |log γ| for a random gamma.
    public var gamma: Float = 0.2
    /// Maximum Gaussian blur σ in pixels of the image's own size (σ below 0.3 px leaves it sharp).
    public var blur: Float = 1
    /// Maximum standard deviation of additive Gaussian noise.
    public var noise: Float = 0.02
    public init() {}
    /// No augmentation at all.
    public static let none: AugmentConfig = {
        var c = AugmentConfig(); c.rotation = 0; c.scale = 0; c.shift = 0; c.brightness = 0; c.contrast = 0;
        c.gamma = 0; c.blur = 0; c.noise = 0
        return c
    }()

    /// Refuses left/right flips for data with laterality (every radiograph data set).
    public func validate(for data: Dataset) throws {
        guard horizontalFlip else { return }
        let lateral = (data.structures + data.classes).filter {
            $0.lowercased().contains("left") || $0.lowercased().contains("right")
        }
        if !lateral.isEmpty || !data.classes.isEmpty || !data.structures.isEmpty {
            throw DataError(
                "horizontal flips would swap the patient's left and right (data has \(lateral.isEmpty ? "anatomy with laterality" : lateral.joined(separator: ", "))); leave horizontalFlip off for radiographs"
            )
        }
    }

    /// The draw for sample `index` in `epoch`: it depends only on `(seed, epoch, index)`.
    public func draw(seed: UInt64, epoch: Int, index: Int, size: Int) -> AugmentDraw {
        var rng = RandomGenerator(
            seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch) &* 0xBF58_476D_1CE4_E5B9 &+ UInt64(index))
        func sym(_ m: Float) -> Float { (rng.nextUniform() * 2 - 1) * m }
        var d = AugmentDraw()
        d.angle = sym(rotation) * .pi / 180
        d.scale = 1 + sym(scale)
        d.tx = sym(shift) * Float(size)
        d.ty = sym(shift) * Float(size)
        d.flip = horizontalFlip && rng.nextUniform() < 0.5
        d.brightness = sym(brightness)
        d.contrast = 1 + sym(contrast)
        d.gamma = Foundation.exp(sym(gamma))
        let sigma = rng.nextUniform() * blur
        d.blurSigma = sigma < 0.3 ? 0 : sigma
        d.noise = rng.nextUniform() * noise
        d.noiseSeed = rng.next()
        return d
    }
}

/// One random augmentation: the same geometry for an image and all its masks.
public struct AugmentDraw: Equatable, Sendable {
    /// Rotation (radians), scale factor, shift (pixels), flip.
    public var angle: Float = 0
    public var scale: Float = 1
    public var tx: Float = 0
    public var ty: Float = 0
    public var flip = false
    /// Brightness offset, contrast factor, gamma, blur σ (pixels), noise standard deviation.
    public var brightness: Float = 0
    public var contrast: Float = 1
    public var gamma: Float = 1
    public var blurSigma: Float = 0
    public var noise: Float = 0
    public var noiseSeed: UInt64 = 0

    var geometric: Bool { angle != 0 || scale != 1 || tx != 0 || ty != 0 || flip }

    /// The image `[C, H, W]` (values 0…1) moved, then blurred, re-toned and noised; clamped to 0…1.
    public func image(_ t: Tensor) throws -> Tensor {
        var img = geometric ? try Augment.affine(t, angle: angle, scale: scale, tx: tx, ty: ty, flip: flip) : t
        if blurSigma > 0 { img = try Smoothing.gaussian(img, sigma: blurSigma) }
        var rng = RandomGenerator(seed: noiseSeed)
        let (b, c, g, n) = (brightness, contrast, gamma, noise)
        img.withUnsafeMutableBufferPointer { p in
            for j in 0..<p.count {
                var v = Foundation.pow(Swift.min(Swift.max(p[j], 0), 1), g)
                v = (v - 0.5) * c + 0.5 + b
                if n > 0 { v += n * rng.nextNormal() }
                p[j] = Swift.min(Swift.max(v, 0), 1)
            }
        }
        return img
    }

    /// A mask `[C, H, W]` moved exactly as the image (nearest neighbour: values are kept).
    public func mask(_ t: Tensor) throws -> Tensor {
        geometric ? try Augment.affine(t, angle: angle, scale: scale, tx: tx, ty: ty, flip: flip, nearest: true) : t
    }

    /// Named masks moved together: those of one shape in a single pass.
    public func masks(_ named: [String: Tensor]) throws -> [String: Tensor] {
        guard geometric, named.count > 1 else { return try named.mapValues(mask) }
        var out: [String: Tensor] = [:]
        for group in Dictionary(grouping: named.keys.sorted(), by: { Array(named[$0]!.shape.dropFirst()) }).values {
            let parts = group.map { named[$0]! }
            let rest = Array(parts[0].shape.dropFirst())
            let stacked = try Tensor(parts.flatMap(\.scalars), shape: [parts.reduce(0) { $0 + $1.shape[0] }] + rest)
            let moved = try mask(stacked).scalars
            var offset = 0
            for (name, part) in zip(group, parts) {
                out[name] = try Tensor(Array(moved[offset..<(offset + part.count)]), shape: part.shape)
                offset += part.count
            }
        }
        return out
    }
}

/// Wraps a dataset with seeded random augmentation: the sample for index `i` in epoch `e` depends
/// only on `(seed, e, i)`. The trainer sets `epoch` at the start of every epoch.
public final class AugmentedDataset: Dataset {
    public let base: Dataset
    public let config: AugmentConfig
    public let seed: UInt64
    /// Set by the trainer each epoch to draw new transforms.
    public var epoch = 0

    public init(_ base: Dataset, config: AugmentConfig = AugmentConfig(), seed: UInt64 = 0) throws {
        try config.validate(for: base)
        self.base = base; self.config = config; self.seed = seed
    }

    public var count: Int { base.count }
    public var classes: [String] { base.classes }
    public var structures: [String] { base.structures }
    public var size: Int { base.size }
    public var summary: String { "augmented \(base.summary)" }

    public func sample(_ i: Int) throws -> Sample { try augment(try base.sample(i), index: i) }

    /// The base samples in order, then their augmentations in parallel (each depends only on
    /// its own draw, so the result is the same as one by one).
    public func samples(_ indices: [Int]) throws -> [Sample] {
        let raw = try base.samples(indices)
        let out = UnsafeMutableBufferPointer<Result<Sample, Error>>.allocate(capacity: raw.count)
        defer { out.deallocate() }
        let box = UncheckedSendable((self, out))
        DispatchQueue.concurrentPerform(iterations: raw.count) { j in
            let (data, out) = box.value
            (out.baseAddress! + j).initialize(to: Result { try data.augment(raw[j], index: indices[j]) })
        }
        defer { _ = out.baseAddress!.deinitialize(count: raw.count) }
        return try out.map { try $0.get() }
    }

    private func augment(_ sample: Sample, index: Int) throws -> Sample {
        var s = sample
        let d = config.draw(seed: seed, epoch: epoch, index: index, size: size)
        s.image = try d.image(s.image)
        s.masks = try d.masks(s.masks)
        return s
    }
}

public enum Augment {
    /// Rotates by `angle` (radians) and scales about the centre, then shifts by (tx, ty) pixels;
    /// optional horizontal flip. Outside samples are 0. `[C, H, W]` → same shape.
    public static func affine(
        _ t: Tensor, angle: Float, scale: Float, tx: Float, ty: Float, flip: Bool, nearest: Bool = false
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
