import DollTensor
import Foundation

/// conv(3, s, p1, no bias) → BN → ReLU → conv(3, 1, p1, no bias) → BN, plus a shortcut
/// (identity, or 1×1 conv + BN named `down.0`/`down.1` when the shape changes); ReLU of the sum.
public final class BasicBlock: Module, @unchecked Sendable {
    public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    public let down: Sequential?

    public init(_ cin: Int, _ cout: Int, stride: Int, rng: inout RandomGenerator) throws {
        conv1 = try Conv2d(cin, cout, kernelSize: 3, stride: Pair(stride, stride), padding: 1, bias: false, rng: &rng)
        bn1 = try BatchNorm2d(cout)
        conv2 = try Conv2d(cout, cout, kernelSize: 3, padding: 1, bias: false, rng: &rng)
        bn2 = try BatchNorm2d(cout)
        down =
            (stride != 1 || cin != cout)
            ? Sequential([
                try Conv2d(cin, cout, kernelSize: 1, stride: Pair(stride, stride), bias: false, rng: &rng),
                try BatchNorm2d(cout),
            ])
            : nil
    }

    public override func children() -> [(String, Module)] {
        [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)] + (down.map { [("down", $0)] } ?? [])
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let main = try bn2.forward(bn1.forward(x, after: conv1, relu: true), after: conv2, relu: false)
        return try (main + (down.map { try $0(x) } ?? x)).relu()
    }
}

/// ResNet-style multi-label classifier. Default configuration = ResNetCXR:
/// input `[N, 1, 224, 224]`; `stem` conv3×3 s2 (1→32) + BN + ReLU; `layer1…layer4` of two
/// BasicBlocks each with widths 32, 64, 128, 256 (stride 2 from layer 2); global average pool;
/// `fc` Linear(256 → classes). Output: logits `[N, classes]`.
public final class ResNetClassifier: Module, @unchecked Sendable {
    public struct Config: Codable, Equatable, Sendable {
        public var inChannels = 1
        public var widths = [32, 64, 128, 256]
        public var blocks = [2, 2, 2, 2]
        public var classes = LabelPreset.chexpert
        public var seed: UInt64 = 0
        /// [H, W] of the images it was trained on (set by training from Lua); nil when unknown.
        /// Explaining images of another size gives lattice artefacts, so callers check it.
        public var imageSize: [Int]? = nil
        public init(
            inChannels: Int = 1, widths: [Int] = [32, 64, 128, 256], blocks: [Int] = [2, 2, 2, 2],
            classes: [String] = LabelPreset.chexpert, seed: UInt64 = 0
        ) {
            self.inChannels = inChannels; self.widths = widths; self.blocks = blocks; self.classes = classes;
            self.seed = seed
        }
    }

    public internal(set) var config: Config

    /// Records the image size the classifier was trained on (`Config.imageSize`).
    public func setTrainedImageSize(_ hw: [Int]) { config.imageSize = hw }

    /// An error naming both sizes when `x` (`[N, C, H, W]` or `[C, H, W]`) differs from the
    /// trained image size; nil when they match or the trained size is unknown.
    public func sizeMismatch(_ x: Tensor) -> String? {
        guard let s = config.imageSize, x.rank >= 2 else { return nil }
        let hw = Array(x.shape.suffix(2))
        guard hw != s else { return nil }
        return "the classifier was trained on \(s[0])×\(s[1]) images, these are \(hw[0])×\(hw[1]); "
            + "resize them first (image:resize(\(s[0]), \(s[1]))) or train at this size"
    }
    public let stem: Sequential
    public let layers: [Sequential]
    public let fc: Linear

    public init(_ config: Config = Config()) throws {
        guard !config.widths.isEmpty, config.widths.count == config.blocks.count, config.widths.allSatisfy({ $0 >= 1 }),
            config.blocks.allSatisfy({ $0 >= 1 }), !config.classes.isEmpty, config.inChannels >= 1
        else {
            throw ModelError(
                "ResNetClassifier: widths and blocks must be non-empty, equally long and positive, with at least one class"
            )
        }
        self.config = config
        var rng = RandomGenerator(seed: config.seed)
        stem = Sequential([
            try Conv2d(
                config.inChannels, config.widths[0], kernelSize: 3, stride: 2, padding: 1, bias: false, rng: &rng),
            try BatchNorm2d(config.widths[0]), ReLU(),
        ])
        var layers: [Sequential] = []
        var cin = config.widths[0]
        for (i, (w, b)) in zip(config.widths, config.blocks).enumerated() {
            var blocks: [Module] = []
            for j in 0..<b {
                blocks.append(try BasicBlock(j == 0 ? cin : w, w, stride: (i > 0 && j == 0) ? 2 : 1, rng: &rng))
            }
            layers.append(Sequential(blocks))
            cin = w
        }
        self.layers = layers
        fc = try Linear(cin, config.classes.count, rng: &rng)
    }

    public var classes: [String] { config.classes }

    public override func children() -> [(String, Module)] {
        [("stem", stem)] + layers.enumerated().map { ("layer\($0.offset + 1)", $0.element) } + [("fc", fc)]
    }

    /// Feature maps after the stem and after each stage (used by U-Net encoders and Grad-CAM).
    public func features(_ x: Tensor) throws -> [Tensor] {
        guard x.rank == 4, x.shape[1] == config.inChannels else {
            throw ModelError("ResNetClassifier expects [N, \(config.inChannels), H, W], got \(shapeString(x.shape))")
        }
        var h = try stem(x)
        var out = [h]
        for l in layers { h = try l(h); out.append(h) }
        return out
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        try fc(features(x).last!.globalAvgPool2d())
    }

    /// Stage names usable as Grad-CAM layers: `stem`, `layer1` … `layerK`.
    public var stageNames: [String] { ["stem"] + (1...layers.count).map { "layer\($0)" } }

    /// A table of the stages, as `print(clf)` shows it: what each does, its output shape (for
    /// the trained image size, when known) and its trainable parameters.
    public var layerSummary: String {
        let counts = Dictionary(
            grouping: namedParameters().filter(\.1.trainable), by: { String($0.0.prefix { $0 != "." }) }
        )
        .mapValues { $0.reduce(0) { $0 + $1.1.value.count } }
        func grouped(_ n: Int) -> String {
            let s = String(n)
            return String(
                s.reversed().enumerated().map {
                    $0.offset > 0 && $0.offset % 3 == 0 ? [",", $0.element] : [$0.element]
                }.joined().reversed())
        }
        var size = config.imageSize  // [H, W] after each stage (3×3 stride-2 convolutions: ⌈H/2⌉)
        func shape(_ c: Int, halve: Bool) -> String {
            guard var s = size else { return "[\(c), …]" }
            if halve { s = s.map { ($0 + 1) / 2 } }
            size = s
            return "[\(c), \(s[0]), \(s[1])]"
        }
        var rows: [(String, String, String, Int)] = []
        rows.append(
            (
                "stem", "conv 3×3 \(config.inChannels)→\(config.widths[0]) /2, BN, ReLU",
                shape(config.widths[0], halve: true), counts["stem"] ?? 0
            ))
        var cin = config.widths[0]
        for (i, (w, b)) in zip(config.widths, config.blocks).enumerated() {
            let name = "layer\(i + 1)"
            rows.append(
                (name, "\(b) × BasicBlock \(cin)→\(w)\(i == 0 ? "" : " /2")", shape(w, halve: i > 0), counts[name] ?? 0)
            )
            cin = w
        }
        rows.append(
            (
                "fc", "global average, Linear \(cin)→\(config.classes.count)", "[\(config.classes.count)]",
                counts["fc"] ?? 0
            ))
        let w0 = rows.map(\.1.count).max() ?? 0, w1 = rows.map(\.2.count).max() ?? 0
        var out = rows.map { r in
            "  " + r.0.padding(toLength: 8, withPad: " ", startingAt: 0)
                + r.1.padding(toLength: w0 + 2, withPad: " ", startingAt: 0)
                + r.2.padding(toLength: w1 + 2, withPad: " ", startingAt: 0)
                + String(repeating: " ", count: max(0, 10 - grouped(r.3).count)) + grouped(r.3)
        }
        out.append(
            "  total " + String(repeating: " ", count: max(0, w0 + w1 + 14 - grouped(parameterCount).count))
                + grouped(parameterCount) + " parameters")
        return out.joined(separator: "\n")
    }

    /// Runs the network from the output of stage `stage` (0 = stem, k = layer k) to the logits.
    public func logits(fromStage stage: Int, _ h: Tensor) throws -> Tensor {
        guard stage >= 0 && stage <= layers.count else {
            throw ModelError("stage \(stage) out of range 0…\(layers.count)")
        }
        var h = h
        for l in layers[stage...] { h = try l(h) }
        return try fc(h.globalAvgPool2d())
    }

    /// Index of a class by name.
    public func classIndex(_ name: String) throws -> Int {
        guard let i = classes.firstIndex(of: name) else {
            throw ModelError("unknown class '\(name)'; classes are: \(classes.joined(separator: ", "))")
        }
        return i
    }
}

/// [conv3×3 (no bias) → BN → ReLU] × 2, as a Sequential named `0`…`5`.
func doubleConv(_ cin: Int, _ cout: Int, rng: inout RandomGenerator) throws -> Sequential {
    Sequential([
        try Conv2d(cin, cout, kernelSize: 3, padding: 1, bias: false, rng: &rng), try BatchNorm2d(cout), ReLU(),
        try Conv2d(cout, cout, kernelSize: 3, padding: 1, bias: false, rng: &rng), try BatchNorm2d(cout), ReLU(),
    ])
}

/// The contracting half of a U-Net: the input → skips (shallow to deep) and the deepest
/// features. The decoder takes one upsampling stage per skip; the encoder says each stage's width.
public protocol UNetEncoder: AnyObject {
    /// The encoder's modules under their names in the U-Net's state dict (PyTorch's).
    var namedModules: [(String, Module)] { get }
    /// Channels of the deepest features.
    var bottomWidth: Int { get }
    /// Per decoder stage, from the deepest: (channels of its skip, channels it outputs).
    var decoderWidths: [(skip: Int, out: Int)] { get }
    /// Spatial divisor the input size must be a multiple of.
    var sizeMultiple: Int { get }
    /// Skips in decoder order reversed (shallowest first) and the deepest features.
    func encode(_ x: Tensor) throws -> (skips: [Tensor], bottom: Tensor)
}

/// UNetCXR's encoder: `enc1…encD` DoubleConv stages with max-pool 2 between, then `bott`.
public final class DoubleConvEncoder: UNetEncoder {
    let stages: [Sequential]
    let bottleneck: Sequential
    let widths: [Int]

    init(inChannels: Int, widths: [Int], rng: inout RandomGenerator) throws {
        var stages: [Sequential] = []
        var cin = inChannels
        for c in widths.dropLast() {
            stages.append(try doubleConv(cin, c, rng: &rng))
            cin = c
        }
        self.stages = stages
        bottleneck = try doubleConv(cin, widths.last!, rng: &rng)
        self.widths = widths
    }

    public var namedModules: [(String, Module)] {
        stages.enumerated().map { ("enc\($0.offset + 1)", $0.element as Module) } + [("bott", bottleneck)]
    }
    public var bottomWidth: Int { widths.last! }
    public var decoderWidths: [(skip: Int, out: Int)] { widths.dropLast().reversed().map { ($0, $0) } }
    public var sizeMultiple: Int { 1 << (widths.count - 1) }

    public func encode(_ x: Tensor) throws -> (skips: [Tensor], bottom: Tensor) {
        var h = x
        var skips: [Tensor] = []
        for e in stages {
            h = try e(h)
            skips.append(h)
            h = try h.maxPool2d(kernel: 2)
        }
        return (skips, try bottleneck(h))
    }
}

/// The trunk of a `ResNetClassifier` (`encoder.stem`, `encoder.layer1…K`), so a classifier's
/// weights initialise the segmenter (the DoLL transfer path). Skips: the input itself, then
/// layer1…layerK−1; the last decoder stage restores the input resolution.
public final class ResNetEncoder: UNetEncoder {
    public let trunk: ResNetClassifier
    let inChannels: Int

    /// Channels of the decoder's last stage, at the input's resolution.
    let fullResolutionWidth: Int

    init(inChannels: Int, widths: [Int], blocks: [Int], fullResolutionWidth: Int, seed: UInt64) throws {
        guard blocks.count == widths.count else {
            throw ModelError("UNet resnet encoder: blocks and widths must have the same length")
        }
        trunk = try ResNetClassifier(
            .init(inChannels: inChannels, widths: widths, blocks: blocks, classes: ["unused"], seed: seed))
        self.inChannels = inChannels
        self.fullResolutionWidth = fullResolutionWidth
    }

    public var namedModules: [(String, Module)] { [("encoder", trunk)] }
    var widths: [Int] { trunk.config.widths }
    public var bottomWidth: Int { widths.last! }
    /// Stages: stem (w0, /2), layer1 (w0, /2), layer2 (w1, /4) … layerK (wK−1, /2^K).
    public var decoderWidths: [(skip: Int, out: Int)] {
        let w = widths
        let inner = stride(from: w.count - 1, through: 1, by: -1).map { (skip: w[$0 - 1], out: w[$0 - 1]) }
        return inner + [(skip: inChannels, out: fullResolutionWidth)]
    }
    public var sizeMultiple: Int { 1 << widths.count }

    public func encode(_ x: Tensor) throws -> (skips: [Tensor], bottom: Tensor) {
        let f = try trunk.features(x)  // stem, layer1, …, layerK
        return ([x] + Array(f[1..<(f.count - 1)]), f.last!)
    }
}

/// U-Net segmenter producing raw logits `[N, classes, H, W]` for input `[N, inChannels, H, W]`:
/// an encoder (`UNetEncoder`), then per skip `up{i}` ConvTranspose(k2, s2) + concat [up, skip] +
/// `dec{i}` DoubleConv, and a 1×1 `head`. Encoders:
/// - `.doubleConv` (default = UNetCXR, `DoubleConvEncoder`); H and W divisible by 2^depth.
/// - `.resnet` (`ResNetEncoder`), a classifier's trunk; H and W divisible by 2^(stages).
public final class UNet: Module, @unchecked Sendable {
    public enum Encoder: String, Codable, Sendable { case doubleConv, resnet }
    /// How decoder stages double the resolution: a stride-2 transposed convolution (UNetCXR's), or
    /// bilinear upsampling then a 3×3 convolution, which cannot print the 2-pixel checkerboard a
    /// non-overlapping 2×2 transposed kernel leaves in the output until training smooths it away.
    public enum Upsampling: String, Codable, Sendable { case transposed, bilinear }

    public struct Config: Codable, Equatable, Sendable {
        public var inChannels = 1
        public var classes = 1
        public var encoder = Encoder.doubleConv
        /// Stage widths: DoubleConv encoder (the last is the bottleneck), or the ResNet trunk's widths.
        public var widths = [16, 32, 64, 128]
        /// Blocks per ResNet stage (ResNet encoder only).
        public var blocks = [2, 2, 2, 2]
        public var seed: UInt64 = 0
        public var upsampling = Upsampling.transposed
        /// Channels of the last decoder stage, the one at the input's resolution (ResNet encoder
        /// only): the first width (at least 8). Files written before this field existed read as
        /// half of it; with those 8 channels at 128 px the clavicles (3–5 px thick) often never
        /// separated from the background on JSRT while lungs and heart did.
        public var fullResolutionWidth: Int
        public init(
            inChannels: Int = 1, classes: Int = 1, encoder: Encoder = .doubleConv, widths: [Int]? = nil,
            blocks: [Int] = [2, 2, 2, 2], seed: UInt64 = 0, upsampling: Upsampling = .transposed,
            fullResolutionWidth: Int? = nil
        ) {
            self.inChannels = inChannels
            self.classes = classes
            self.encoder = encoder
            self.widths = widths ?? (encoder == .doubleConv ? [16, 32, 64, 128] : [32, 64, 128, 256])
            self.blocks = blocks
            self.seed = seed
            self.upsampling = upsampling
            self.fullResolutionWidth =
                fullResolutionWidth
                ?? (encoder == .resnet
                    ? Swift.max(self.widths.first ?? 8, 8) : Config.legacyFullResolutionWidth(self.widths))
        }

        /// The full-resolution width of files written before `fullResolutionWidth` existed.
        static func legacyFullResolutionWidth(_ widths: [Int]) -> Int { Swift.max((widths.first ?? 16) / 2, 8) }

        private enum CodingKeys: String, CodingKey {
            case inChannels, classes, encoder, widths, blocks, seed, upsampling, fullResolutionWidth
        }

        /// Files written before `upsampling` existed read as `transposed`.
        public init(from decoder: Swift.Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            inChannels = try c.decode(Int.self, forKey: .inChannels)
            classes = try c.decode(Int.self, forKey: .classes)
            encoder = try c.decode(Encoder.self, forKey: .encoder)
            widths = try c.decode([Int].self, forKey: .widths)
            blocks = try c.decode([Int].self, forKey: .blocks)
            seed = try c.decode(UInt64.self, forKey: .seed)
            upsampling = try c.decodeIfPresent(Upsampling.self, forKey: .upsampling) ?? .transposed
            fullResolutionWidth =
                try c.decodeIfPresent(Int.self, forKey: .fullResolutionWidth)
                ?? Config.legacyFullResolutionWidth(widths)
        }

        /// `upsampling` and `fullResolutionWidth` are written only when they differ from what older
        /// files meant (those stay the same bytes).
        public func encode(to encoder: Swift.Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(inChannels, forKey: .inChannels)
            try c.encode(classes, forKey: .classes)
            try c.encode(self.encoder, forKey: .encoder)
            try c.encode(widths, forKey: .widths)
            try c.encode(blocks, forKey: .blocks)
            try c.encode(seed, forKey: .seed)
            if upsampling != .transposed { try c.encode(upsampling, forKey: .upsampling) }
            if self.encoder == .resnet && fullResolutionWidth != Config.legacyFullResolutionWidth(widths) {
                try c.encode(fullResolutionWidth, forKey: .fullResolutionWidth)
            }
        }
    }

    public let config: Config
    public let encoder: UNetEncoder
    let ups: [Module]
    let decs: [Sequential]
    let head: Conv2d

    public init(_ config: Config = Config()) throws {
        guard config.classes >= 1, config.inChannels >= 1, config.widths.count >= 2,
            config.widths.allSatisfy({ $0 >= 1 })
        else {
            throw ModelError("UNet: need ≥ 1 class, ≥ 1 input channel and at least two positive widths")
        }
        self.config = config
        var rng = RandomGenerator(seed: config.seed)
        switch config.encoder {
        case .doubleConv:
            encoder = try DoubleConvEncoder(inChannels: config.inChannels, widths: config.widths, rng: &rng)
        case .resnet:
            guard config.fullResolutionWidth >= 1 else {
                throw ModelError("UNet: fullResolutionWidth must be ≥ 1, got \(config.fullResolutionWidth)")
            }
            encoder = try ResNetEncoder(
                inChannels: config.inChannels, widths: config.widths, blocks: config.blocks,
                fullResolutionWidth: config.fullResolutionWidth, seed: config.seed)
        }
        var ups: [Module] = []
        var decs: [Sequential] = []
        var cin = encoder.bottomWidth
        for (skip, out) in encoder.decoderWidths {
            switch config.upsampling {
            case .transposed: ups.append(try ConvTranspose2d(cin, out, kernelSize: 2, stride: 2, rng: &rng))
            case .bilinear:
                ups.append(Sequential([Upsample(), try Conv2d(cin, out, kernelSize: 3, padding: 1, rng: &rng)]))
            }
            decs.append(try doubleConv(out + skip, out, rng: &rng))
            cin = out
        }
        self.ups = ups
        self.decs = decs
        head = try Conv2d(cin, config.classes, kernelSize: 1, rng: &rng)
    }

    /// Spatial divisor the input size must be a multiple of.
    public var sizeMultiple: Int { encoder.sizeMultiple }

    public override func children() -> [(String, Module)] {
        var out = encoder.namedModules
        let d = ups.count
        for (j, (u, dc)) in zip(ups, decs).enumerated() {
            out.append(("up\(d - j)", u))
            out.append(("dec\(d - j)", dc))
        }
        out.append(("head", head))
        return out
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4, x.shape[1] == config.inChannels else {
            throw ModelError("UNet expects [N, \(config.inChannels), H, W], got \(shapeString(x.shape))")
        }
        guard x.shape[2] % sizeMultiple == 0, x.shape[3] % sizeMultiple == 0 else {
            throw ModelError(
                "UNet input \(x.shape[2])x\(x.shape[3]) must be a multiple of \(sizeMultiple) in each dimension")
        }
        var (skips, h) = try encoder.encode(x)
        for (u, d) in zip(ups, decs) {
            h = try u(h)
            h = try d(Tensor.concat([h, skips.removeLast()], axis: 1))
        }
        return try head(h)
    }

    /// Copies every weight but the output head from a U-Net of the same architecture (DoLL
    /// pre-training → fine-tuning on other structures: the head is this U-Net's own, fresh).
    /// Returns how many tensors were copied.
    @discardableResult
    public func loadAllButHead(from other: UNet) throws -> Int {
        var a = config, b = other.config
        a.classes = 0; b.classes = 0; a.seed = 0; b.seed = 0
        guard a == b else {
            throw ModelError(
                "the U-Nets differ in more than their head (\(other.config.encoder.rawValue) widths \(other.config.widths) "
                    + "blocks \(other.config.blocks) vs \(config.encoder.rawValue) widths \(config.widths) blocks \(config.blocks))"
            )
        }
        var dict = other.stateDict().filter { !$0.key.hasPrefix("head.") }
        for (k, v) in stateDict() where k.hasPrefix("head.") { dict[k] = v }
        try loadStateDict(dict)
        return dict.count - 2
    }

    /// Copies the trunk weights of a classifier into the ResNet encoder (the DoLL transfer).
    /// Returns how many tensors were copied.
    @discardableResult
    public func loadEncoder(from classifier: ResNetClassifier) throws -> Int {
        guard let trunk = (encoder as? ResNetEncoder)?.trunk else {
            throw ModelError("loadEncoder needs a UNet with the resnet encoder")
        }
        var dict = classifier.stateDict().filter { !$0.key.hasPrefix("fc.") }
        for (k, v) in trunk.stateDict() where k.hasPrefix("fc.") { dict[k] = v }
        try trunk.loadStateDict(dict)
        return dict.count - 2
    }
}
