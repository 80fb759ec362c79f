import Foundation
import Testing
@testable import DollNN
@testable import DollTensor

/// Two-class synthetic images: class 0 puts a bright square top-left, class 1 bottom-right
/// (independently, p = ½ each), on noise.
struct QuadrantTask: BatchSource {
    let images: [Tensor], labels: [[Float]]
    init(count: Int, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        var imgs: [Tensor] = [], labs: [[Float]] = []
        for _ in 0..<count {
            var img = try! Tensor.randn([1, 16, 16], std: 0.3, rng: &rng)
            let a: Float = rng.nextUniform() < 0.5 ? 1 : 0, b: Float = rng.nextUniform() < 0.5 ? 1 : 0
            img.withUnsafeMutableBufferPointer { p in
                for y in 2..<6 { for x in 2..<6 { p[y * 16 + x] += a } }
                for y in 10..<14 { for x in 10..<14 { p[y * 16 + x] += b } }
            }
            imgs.append(img); labs.append([a, b])
        }
        images = imgs; labels = labs
    }
    var count: Int { images.count }
    func batch(_ indices: [Int]) throws -> Batch {
        Batch(
            input: try Tensor.stack(indices.map { images[$0] }),
            target: try Tensor(indices.flatMap { labels[$0] }, shape: [indices.count, 2]))
    }
}

/// Disks of random centre and radius on a noisy background; the target is the disk.
struct DiskTask: BatchSource {
    let images: [Tensor], masks: [Tensor]
    init(count: Int, size: Int = 32, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        var imgs: [Tensor] = [], ms: [Tensor] = []
        for _ in 0..<count {
            let r = 4 + 6 * rng.nextUniform()
            let cx = r + (Float(size) - 2 * r) * rng.nextUniform(), cy = r + (Float(size) - 2 * r) * rng.nextUniform()
            var img = try! Tensor.randn([1, size, size], std: 0.2, rng: &rng)
            var m = try! Tensor.zeros([1, size, size])
            img.withUnsafeMutableBufferPointer { p in
                m.withUnsafeMutableBufferPointer { q in
                    for y in 0..<size {
                        for x in 0..<size {
                            let d = ((Float(x) - cx) * (Float(x) - cx) + (Float(y) - cy) * (Float(y) - cy)).squareRoot()
                            if d <= r { p[y * size + x] += 1; q[y * size + x] = 1 }
                        }
                    }
                }
            }
            imgs.append(img); ms.append(m)
        }
        images = imgs; masks = ms
    }
    var count: Int { images.count }
    func batch(_ indices: [Int]) throws -> Batch {
        Batch(input: try Tensor.stack(indices.map { images[$0] }), target: try Tensor.stack(indices.map { masks[$0] }))
    }
}

@Suite("Training and metrics", .serialized)
struct TrainingTests {
    @Test func smallClassifierLearnsSeparableTask() throws {
        let model = try ResNetClassifier(.init(widths: [8, 16], blocks: [1, 1], classes: ["tl", "br"], seed: 1))
        var cfg = Trainer.Config()
        cfg.epochs = 6; cfg.batchSize = 16; cfg.learningRate = 3e-3; cfg.seed = 3; cfg.progress = false
        let trainer = try Trainer(model: model, task: .multiLabel(classes: ["tl", "br"]), config: cfg)
        let h = try trainer.fit(
            train: QuadrantTask(count: 192, seed: 10), validation: QuadrantTask(count: 64, seed: 11))
        let auroc = h.epochs.last!.validation["auroc_mean"]!
        let best = h.bestValue!
        #expect(best >= 0.95, "best validation AUROC \(best), last \(auroc)")
        #expect(h.epochs.first!.trainLoss > h.epochs.last!.trainLoss)
    }

    /// Early stopping restores the best epoch's weights: on a validation set whose labels are the
    /// opposite of the training labels, learning makes validation worse, so the best epoch is an
    /// early one; after `fit` the model scores exactly the best value (and, without restoring, the
    /// last one).
    @Test func earlyStoppingRestoresTheBestWeights() throws {
        struct Inverted: BatchSource {
            let base: QuadrantTask
            var count: Int { base.count }
            func batch(_ indices: [Int]) throws -> Batch {
                let b = try base.batch(indices)
                return Batch(input: b.input, target: try (b.target * -1).adding(1))
            }
        }
        let val = Inverted(base: QuadrantTask(count: 64, seed: 11))
        for restore in [true, false] {
            let model = try ResNetClassifier(.init(widths: [8, 16], blocks: [1, 1], classes: ["tl", "br"], seed: 1))
            var cfg = Trainer.Config()
            cfg.epochs = 12; cfg.batchSize = 16; cfg.learningRate = 3e-3; cfg.seed = 3; cfg.progress = false
            cfg.patience = 2; cfg.restoreBest = restore
            let trainer = try Trainer(model: model, task: .multiLabel(classes: ["tl", "br"]), config: cfg)
            let h = try trainer.fit(train: QuadrantTask(count: 192, seed: 10), validation: val)
            let best = try #require(h.bestValue)
            let last = try #require(h.epochs.last?.validation["auroc_mean"])
            #expect(h.stoppedEarly && h.epochs.count < 12, "stopped after \(h.epochs.count) epochs")
            #expect(last < best, "validation got worse after the best epoch \(h.bestEpoch ?? 0)")
            let now = try #require(trainer.evaluate(val)["auroc_mean"])
            #expect(now == (restore ? best : last), "restoreBest \(restore): the model scores \(now)")
        }
        // With minEpochs the same run may not stop before that epoch, and still keeps the best weights.
        let model = try ResNetClassifier(.init(widths: [8, 16], blocks: [1, 1], classes: ["tl", "br"], seed: 1))
        var cfg = Trainer.Config()
        cfg.epochs = 12; cfg.batchSize = 16; cfg.learningRate = 3e-3; cfg.seed = 3; cfg.progress = false
        cfg.patience = 2; cfg.minEpochs = 9
        let trainer = try Trainer(model: model, task: .multiLabel(classes: ["tl", "br"]), config: cfg)
        let h = try trainer.fit(train: QuadrantTask(count: 192, seed: 10), validation: val)
        #expect(h.epochs.count >= 9, "stopped after \(h.epochs.count) epochs, before minEpochs")
        #expect(try trainer.evaluate(val)["auroc_mean"] == h.bestValue)
    }

    @Test func smallUNetSegmentsDisks() throws {
        let model = try UNet(.init(classes: 1, widths: [8, 16, 32], seed: 2))
        var cfg = Trainer.Config()
        cfg.epochs = 8; cfg.batchSize = 8; cfg.learningRate = 1e-2; cfg.seed = 4; cfg.progress = false
        let trainer = try Trainer(model: model, task: .segmentation(channels: ["disk"]), config: cfg)
        let h = try trainer.fit(train: DiskTask(count: 96, seed: 20), validation: DiskTask(count: 32, seed: 21))
        let dice = h.bestValue!
        #expect(
            dice >= 0.9,
            "best validation Dice \(dice); per epoch \(h.epochs.map { $0.validation["dice_mean"] ?? .nan })")
    }

    @Test func aurocMatchesBruteForcePairsWithTies() {
        var rng = RandomGenerator(seed: 5)
        for trial in 0..<20 {
            let n = 5 + rng.nextInt(below: 60)
            // coarse scores → many ties
            let scores = (0..<n).map { _ in Float(rng.nextInt(below: 6)) }
            let labels = (0..<n).map { _ in Float(rng.nextInt(below: 2)) }
            var wins = 0.0, pairs = 0.0
            for i in 0..<n where labels[i] == 1 {
                for j in 0..<n where labels[j] == 0 {
                    pairs += 1; wins += scores[i] > scores[j] ? 1 : (scores[i] == scores[j] ? 0.5 : 0)
                }
            }
            let a = Metrics.auroc(scores: scores, labels: labels)
            if pairs == 0 { #expect(a.isNaN) } else { #expect(abs(a - wins / pairs) < 1e-12, "trial \(trial)") }
        }
    }

    @Test func diceAndIoUFromCounts() throws {
        let p = try Tensor([0.9, 0.8, 0.2, 0.1], shape: [1, 1, 2, 2]),
            t = try Tensor([1, 0, 1, 0], shape: [1, 1, 2, 2])
        var m = SegmentationMetrics(channels: 1)
        try m.add(probabilities: p, targets: t)
        #expect(m.counts[0] == ConfusionCounts(tp: 1, fp: 1, fn: 1, tn: 1))
        #expect(abs(m.meanDice[0] - 0.5) < 1e-12 && abs(m.meanIoU[0] - 1.0 / 3) < 1e-12)
        var ignored = SegmentationMetrics(channels: 1)
        try ignored.add(probabilities: p, targets: t, mask: Tensor([1, 0, 0, 1], shape: [1, 1, 2, 2]))
        #expect(ignored.meanDice[0] == 1)
    }

    @Test func optimizersFollowTheirFormulas() throws {
        // One parameter, gradient of ½(θ−3)² is θ−3.
        func run(_ make: ([Parameter]) throws -> Optimizer, steps: Int) throws -> Float {
            let p = Parameter(try Tensor([0], shape: [1]))
            let opt = try make([p])
            for _ in 0..<steps {
                opt.zeroGrad()
                try (p.value.adding(-3)).square().scaled(0.5).sum().backward()
                try opt.step()
            }
            return p.value.scalars[0]
        }
        // SGD with momentum 0.9, lr 0.1: v1 = g1 = −3 → θ = 0.3; g2 = −2.7, v2 = −5.4 → θ = 0.84
        #expect(abs(try run({ try SGD($0, learningRate: 0.1, momentum: 0.9) }, steps: 2) - 0.84) < 1e-6)
        // Adam's first step moves by lr (bias-corrected m/√v = sign(g)).
        #expect(abs(try run({ try Adam($0, learningRate: 0.01) }, steps: 1) - 0.01) < 1e-6)
        // AdamW's decoupled decay at θ = 0 has no effect on the first step.
        #expect(abs(try run({ try Adam.adamW($0, learningRate: 0.01, weightDecay: 0.1) }, steps: 1) - 0.01) < 1e-6)
        #expect(abs(try run({ try Adam($0, learningRate: 0.1) }, steps: 300) - 3) < 0.05)
    }

    @Test func schedulesAndClipping() throws {
        let cos = LRSchedule.cosine(minFactor: 0)
        #expect(cos.rate(base: 1, step: 0, totalSteps: 10) == 1)
        #expect(abs(cos.rate(base: 1, step: 5, totalSteps: 10) - 0.5) < 1e-6)
        #expect(abs(cos.rate(base: 1, step: 10, totalSteps: 10)) < 1e-6)
        #expect(abs(LRSchedule.step(every: 3, gamma: 0.1).rate(base: 1, step: 7, totalSteps: 10) - 0.01) < 1e-7)
        #expect(LRSchedule.constant.rate(base: 2, step: 0, totalSteps: 10, warmup: 4) == 0.5)
        let p = Parameter(try Tensor([0, 0], shape: [2]))
        try (p.value * Tensor([3, 4], shape: [2])).sum().backward()
        let norm = try clipGradNorm([p], maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        #expect(abs(p.grad!.scalars[0] - 0.6) < 1e-5 && abs(p.grad!.scalars[1] - 0.8) < 1e-5)
    }
}

@Suite("Modules, names and state dicts", .serialized)
struct ModuleTests {
    @Test func pytorchStyleNames() throws {
        let m = try ResNetClassifier()
        let names = Set(m.namedParameters().map(\.0))
        for n in [
            "stem.0.weight", "stem.1.running_var", "layer2.0.down.0.weight", "layer4.1.bn2.bias", "fc.weight",
            "fc.bias",
        ] {
            #expect(names.contains(n), "missing \(n)")
        }
        #expect(!names.contains("layer1.0.down.0.weight"))
        let u = try UNet()
        let un = Set(u.namedParameters().map(\.0))
        for n in [
            "enc1.0.weight", "enc1.4.running_mean", "bott.3.weight", "up3.weight", "up3.bias", "dec1.4.weight",
            "head.bias",
        ] {
            #expect(un.contains(n), "missing \(n)")
        }
    }

    @Test func saveLoadRoundTripIsExact() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("doll-nn-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let models: [(Module, Module)] = [
            (try ResNetClassifier(.init(seed: 1)), try ResNetClassifier(.init(seed: 2))),
            (try UNet(.init(seed: 1)), try UNet(.init(seed: 2))),
        ]
        for (a, b) in models {
            try a.save(to: dir + "/m.safetensors")
            try b.load(from: dir + "/m.safetensors")
            let sa = a.stateDict(), sb = b.stateDict()
            #expect(sa.keys.sorted() == sb.keys.sorted())
            for (k, v) in sa { #expect(v.scalars == sb[k]!.scalars, "\(k) differs") }
            let x = randomInput(a is UNet ? [1, 1, 64, 64] : [1, 1, 32, 32])
            a.eval(); b.eval()
            #expect(try a(x).scalars == b(x).scalars)
        }
    }

    @Test func badStateDictsNameTheTensor() throws {
        let m = try ResNetClassifier(.init(widths: [4, 8], blocks: [1, 1], classes: ["a"]))
        var missing = m.stateDict(); missing["fc.bias"] = nil
        #expect { try m.loadStateDict(missing) } throws: {
            ($0 as? ModelError)?.message.contains("missing tensor 'fc.bias'") == true
        }
        var extra = m.stateDict(); extra["fc.extra"] = Tensor([1])
        #expect { try m.loadStateDict(extra) } throws: {
            ($0 as? ModelError)?.message.contains("unexpected tensor 'fc.extra'") == true
        }
        var shaped = m.stateDict(); shaped["stem.0.weight"] = try Tensor.zeros([4, 1, 5, 5])
        #expect { try m.loadStateDict(shaped) } throws: {
            ($0 as? ModelError)?.message.contains("'stem.0.weight' has shape [4, 1, 5, 5]") == true
        }
        let before = m.stateDict()["fc.weight"]!.scalars
        #expect(m.stateDict()["fc.weight"]!.scalars == before)  // nothing changed by failed loads
    }

    @Test func resnetEncoderUNetTakesClassifierWeights() throws {
        let clf = try ResNetClassifier(.init(widths: [8, 16, 32], blocks: [1, 1, 1], seed: 7))
        let seg = try UNet(.init(classes: 14, encoder: .resnet, widths: [8, 16, 32], blocks: [1, 1, 1], seed: 8))
        let copied = try seg.loadEncoder(from: clf)
        #expect(copied == clf.stateDict().count - 2)
        #expect(
            seg.stateDict()["encoder.layer2.0.conv1.weight"]!.scalars
                == clf.stateDict()["layer2.0.conv1.weight"]!.scalars)
        let y = try seg(randomInput([2, 1, 32, 32]))
        #expect(y.shape == [2, 14, 32, 32])
        #expect(throws: ModelError.self) { try seg(randomInput([1, 1, 30, 30])) }
    }

    /// The bilinear decoder: `up{i}` is bilinear ×2 then a 3×3 convolution; configurations written
    /// before the option existed read as transposed, and the default is not written (same bytes).
    @Test func bilinearDecoderAndOlderConfigurations() throws {
        let cfg = UNet.Config(
            classes: 3, encoder: .resnet, widths: [8, 16], blocks: [1, 1], seed: 2, upsampling: .bilinear)
        let seg = try UNet(cfg)
        let names = Set(seg.stateDict().keys)
        #expect(names.contains("up1.1.weight") && !names.contains("up1.weight"))
        #expect(try seg(randomInput([1, 1, 16, 16])).shape == [1, 3, 16, 16])
        let transposed = try JSONEncoder().encode(UNet.Config(classes: 3))
        #expect(!String(decoding: transposed, as: UTF8.self).contains("upsampling"))
        let old = #"{"inChannels":1,"classes":2,"encoder":"doubleConv","widths":[4,8],"blocks":[2,2],"seed":0}"#
        #expect(try JSONDecoder().decode(UNet.Config.self, from: Data(old.utf8)).upsampling == .transposed)
        let back = try JSONDecoder().decode(UNet.Config.self, from: JSONEncoder().encode(cfg))
        #expect(back == cfg)
        // The ResNet encoder's full-resolution decoder stage: the first width now, half of it (8)
        // in files written before the field.
        #expect(cfg.fullResolutionWidth == 8)
        let wide = UNet.Config(classes: 3, encoder: .resnet, widths: [16, 32], blocks: [1, 1], upsampling: .bilinear)
        #expect(wide.fullResolutionWidth == 16)
        let oldResNet = #"{"inChannels":1,"classes":3,"encoder":"resnet","widths":[16,32],"blocks":[1,1],"seed":0}"#
        let legacy = try JSONDecoder().decode(UNet.Config.self, from: Data(oldResNet.utf8))
        #expect(legacy.fullResolutionWidth == 8)
        #expect(try UNet(legacy).stateDict()["head.weight"]!.shape == [3, 8, 1, 1])
        #expect(try UNet(wide).stateDict()["head.weight"]!.shape == [3, 16, 1, 1])
        #expect(try JSONDecoder().decode(UNet.Config.self, from: JSONEncoder().encode(wide)) == wide)
        // Bilinear ×2 of a constant is that constant; of a ramp, a ramp (no checkerboard).
        let ramp = try Tensor((0..<16).map { Float($0 % 4) }, shape: [1, 1, 4, 4])
        let up = try Upsample()(ramp).scalars
        #expect(up.count == 64)
        for row in 0..<8 {
            let r = Array(up[(row * 8)..<(row * 8 + 8)])
            #expect(zip(r, r.dropFirst()).allSatisfy { $1 >= $0 && $1 - $0 <= 0.5 }, "row \(row): \(r)")
        }
    }
}

func randomInput(_ shape: [Int], seed: UInt64 = 1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return try! Tensor.randn(shape, rng: &rng)
}
