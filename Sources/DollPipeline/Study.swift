import DollData
import DollExplain
import DollNN
import DollTensor
import DollViz
import Foundation

/// One fine-tuning run's result.
public struct FinetuneRun: Codable, Sendable {
    public var initialization: String
    public var fraction: Double
    public var seed: UInt64
    /// Images trained on and images of the labelled subset held out for validation (0: the
    /// subset was too small and validated on its training images).
    public var trainImages: Int
    public var validationImages: Int
    /// Optimisation steps taken (early stopping ends a run before the budget), the step whose
    /// weights were kept (best validation Dice), and the first step reaching 95 % of that Dice.
    public var steps: Int
    public var bestStep: Int
    public var stepsTo95: Int
    public var stepsPerEpoch: Int
    public var seconds: Double
    public var dice: [String: Double]
    public var iou: [String: Double]
    public var meanDice: Double
    /// Validation mean Dice after every epoch (convergence curve; epoch e ends at step e·stepsPerEpoch).
    public var curve: [Double]
    /// Dice per structure and test image, in test-set order (for paired comparisons).
    public var imageDice: [String: [Double]] = [:]
    /// Dice per structure and image of the other hospital's set (`StudyConfig.crossData`).
    public var crossImageDice: [String: [Double]] = [:]
    /// Mean of `crossImageDice` per structure.
    public var crossDice: [String: Double] {
        crossImageDice.mapValues { $0.isEmpty ? .nan : $0.reduce(0, +) / Double($0.count) }
    }
}

/// The DoLL study: does pre-training a segmenter on explanation-derived labels make
/// segmentation more accurate and more label-efficient?
///
/// 1. train K classifiers on a classification set (phantoms by default);
/// 2. DoLL-label the training images (IG by default) and score the labels against ground truth;
/// 3. pre-train a U-Net (encoder initialised from classifier 1) on the DoLL labels;
/// 4. fine-tune on a downstream segmentation set for each label fraction × initialisation
///    (random, classifier encoder, DoLL pre-trained) × seed;
/// 5. evaluate Dice/IoU per structure on the held-out set, with convergence curves;
/// 6. write a report directory (CSV, Markdown, HTML, plots, overlays, config).
public final class Study {
    public let config: StudyConfig
    public let outputDirectory: String
    /// Progress lines (on stderr; under mpirun only rank 0 prints them).
    public var log: (String) -> Void = {
        if DataParallel.isLeader { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    }
    public var shouldStop: (() -> Bool)?

    public static let initializations = ["random", "classifier", "doll"]

    public init(config: StudyConfig, outputDirectory: String) {
        self.config = config; self.outputDirectory = outputDirectory
    }

    public struct Result: Sendable {
        public var classifierAUROC: [Double]
        public var localization: [String: Localization.Summary]
        public var runs: [FinetuneRun]
        public var seconds: Double
        public var reportPath: String
        /// The classifiers' observations (the DoLL label channels).
        public var classes: [String] = phantomObservations
    }

    /// Classification train/validation sets (see `StudyConfig.classification`).
    public func classificationData() throws -> (train: Dataset, val: Dataset) {
        let c = config
        switch c.classification {
        case "phantoms":
            let pcfg = PhantomConfig(size: c.imageSize, seed: c.seed, difficulty: c.difficulty)
            return (
                CachedDataset(try PhantomDataset(count: c.classifierImages, config: pcfg), capacity: 100_000),
                try PhantomDataset(count: c.classifierValImages, config: pcfg, first: c.classifierImages)
            )
        default:
            guard let csv = c.classificationCSV else {
                throw StudyError("classification '\(c.classification)' needs classification_csv (a labels CSV)")
            }
            let all: Dataset =
                c.classification == "chexpert"
                ? try CheXpertDataset(csv: csv, root: c.classificationRoot, size: c.imageSize)
                : try LabelCSVDataset(csv: csv, root: c.classificationRoot, size: c.imageSize)
            let cached = CachedDataset(all, capacity: 100_000)
            let (train, val) = try cached.split(fraction: 0.9, seed: c.seed)
            return (train, val)
        }
    }

    /// Downstream train/test sets.
    public func downstreamData() throws -> (train: Dataset, test: Dataset) {
        let c = config
        switch c.downstream {
        case .phantomAnatomy, .phantomInfection:
            let cfg = PhantomConfig(size: c.imageSize, seed: c.seed &+ 1000, difficulty: c.difficulty)
            return (
                try PhantomDataset(count: c.downstreamTrain, config: cfg),
                try PhantomDataset(count: c.downstreamTest, config: cfg, first: c.downstreamTrain)
            )
        case .jsrt:
            guard let root = c.dataRoot else {
                throw StudyError("the jsrt downstream task needs dataRoot (…/shared/data/jsrt)")
            }
            return (
                CachedDataset(try SegmentationFolder(root: root, size: c.imageSize, filter: ("fold", "1"))),
                CachedDataset(try SegmentationFolder(root: root, size: c.imageSize, filter: ("fold", "2")))
            )
        case .covid:
            guard let root = c.dataRoot else {
                throw StudyError("the covid downstream task needs dataRoot (…/shared/data/covid_seg)")
            }
            let all = CachedDataset(try SegmentationFolder(root: root, size: c.imageSize))
            let (a, b) = try all.split(fraction: 0.6, seed: c.seed)
            return (a, b)
        }
    }

    /// The classifiers of stage 1 with their best validation AUROC.
    public struct Classifiers {
        public var models: [ResNetClassifier]
        public var auroc: [Double]
        /// Per class, of the first classifier.
        public var perClassAUROC: [String: Double]
    }

    /// The U-Net of stage 3 and the localization of the labels refined by its predictions.
    public struct Pretrained {
        public var model: UNet
        public var boostScores: [String: Localization.Summary]
    }

    /// The fine-tuning sweep of stage 4: every run, and one model per initialisation (the last
    /// fraction, first seed) for the report's pictures.
    public struct Sweep {
        public var runs: [FinetuneRun]
        public var examples: [String: UNet]
    }

    /// Seconds since the study started (for the progress lines).
    private var started = Date()
    private func elapsed() -> Double { Date().timeIntervalSince(started) }

    /// Runs every stage in order and writes the report. Each stage is also callable on its own
    /// (Lua: `doll.stage.*`), and this is the only code path for all of them.
    public func run() throws -> Result {
        started = Date()
        try FileManager.default.createDirectory(atPath: outputDirectory + "/figures", withIntermediateDirectories: true)
        let (clsTrain, clsVal) = try classificationData()
        let classifiers = try trainClassifiers(train: clsTrain, val: clsVal)
        let labels = try label(with: classifiers.models, images: clsTrain)
        var localization = config.classification == "phantoms" ? try scoreLabels(labels, clsTrain) : [:]
        let pre = try pretrain(on: labels, images: clsTrain, encoder: classifiers.models[0])
        localization.merge(pre.boostScores) { _, new in new }
        let (dTrain, dTest) = try downstreamData()
        let sweep = try finetuneSweep(
            pretrained: pre.model, classifier: classifiers.models[0], train: dTrain, test: dTest)
        let result = Result(
            classifierAUROC: classifiers.auroc, localization: localization, runs: sweep.runs, seconds: elapsed(),
            reportPath: outputDirectory + "/report.md", classes: clsTrain.classes)
        try StudyReport(
            config: config, result: result, perClassAUROC: classifiers.perClassAUROC, outputDirectory: outputDirectory
        )
        .write(examples: sweep.examples, test: dTest, labels: labels, labelImages: clsTrain)
        return result
    }

    /// Stage 1: `config.classifiers` ResNet classifiers on the classification set.
    public func trainClassifiers(train clsTrain: Dataset, val clsVal: Dataset) throws -> Classifiers {
        let c = config
        let classes = clsTrain.classes
        var out = Classifiers(models: [], auroc: [], perClassAUROC: [:])
        for k in 0..<c.classifiers {
            let m = try ResNetClassifier(
                .init(
                    widths: c.classifierWidths, blocks: c.classifierBlocks, classes: classes, seed: c.seed &+ UInt64(k))
            )
            var tc = Trainer.Config()
            tc.epochs = c.classifierEpochs; tc.batchSize = c.batchSize; tc.learningRate = 3e-3;
            tc.seed = c.seed &+ UInt64(k)
            tc.schedule = .cosine(minFactor: 0.05)
            let trainer = try Trainer(model: m, task: .multiLabel(classes: classes), config: tc)
            trainer.shouldStop = shouldStop
            let h = try trainer.fit(train: ClassificationSource(clsTrain), validation: ClassificationSource(clsVal))
            let best = h.epochs[(h.bestEpoch ?? h.epochs.count) - 1].validation
            out.auroc.append(best["auroc_mean"] ?? .nan)
            if k == 0 { for n in classes { out.perClassAUROC[n] = best["auroc/\(n)"] } }
            log(
                String(
                    format: "classifier %d/%d: mean AUROC %.3f (%.0fs)", k + 1, c.classifiers, out.auroc.last!,
                    elapsed()))
            out.models.append(m)
        }
        return out
    }

    /// Stage 2: DoLL labels of `images` from the classifiers, written to `doll_labels/`.
    public func label(with classifiers: [ResNetClassifier], images: Dataset) throws -> DollLabelSet {
        let labeller = try DollLabeller(models: classifiers, config: config.labels)
        labeller.shouldStop = shouldStop
        let labels = try labeller.label(images)
        try labels.write(to: outputDirectory + "/doll_labels", images: images)
        log(String(format: "DoLL labels: %d images (%.0fs)", labels.ids.count, elapsed()))
        return labels
    }

    /// Stage 3: a U-Net (ResNet encoder from `encoder`) pre-trained on the DoLL labels; the labels
    /// refined by its predictions are scored (phantoms) and, with `config.boost`, trained on again.
    public func pretrain(
        on labels: DollLabelSet, images clsTrain: Dataset, encoder: ResNetClassifier
    ) throws -> Pretrained {
        let c = config
        let classes = labels.classes
        let unetConfig = UNet.Config(
            classes: classes.count, encoder: .resnet, widths: c.classifierWidths, blocks: c.classifierBlocks,
            seed: c.seed, upsampling: c.decoder)
        let pre = try UNet(unetConfig)
        try pre.loadEncoder(from: encoder)
        var pc = Trainer.Config()
        pc.epochs = c.pretrainEpochs; pc.batchSize = c.batchSize; pc.learningRate = c.learningRate; pc.seed = c.seed
        let ptrainer = try Trainer(
            model: pre, task: .segmentation(channels: classes, bceWeight: 1, diceWeight: 1), config: pc)
        ptrainer.shouldStop = shouldStop
        let augment = c.augment ? AugmentConfig() : nil
        _ = try ptrainer.fit(train: DollLabelSource(labels: labels, images: clsTrain, augment: augment, seed: c.seed))
        log(String(format: "pre-trained the U-Net on DoLL labels (%.0fs)", elapsed()))
        // Boost: score both refinements against ground truth; use one if configured.
        pre.eval()
        var predictions: [Tensor] = []
        for start in stride(from: 0, to: labels.sourceIndices.count, by: 32) {
            let idx = Array(labels.sourceIndices[start..<Swift.min(start + 32, labels.sourceIndices.count)])
            let p = try Autograd.noGrad { try pre(clsTrain.images(idx)).sigmoid() }
            for b in 0..<idx.count { predictions.append(try p.slice(axis: 0, start: b, end: b + 1).squeezed(0)) }
        }
        var scores: [String: Localization.Summary] = [:]
        for mode in DollLabelSet.BoostMode.allCases where c.classification == "phantoms" {
            let s = try scoreLabels(try labels.boosted(with: predictions, mode: mode), clsTrain)
            scores["boost_\(mode.rawValue)_pointing"] = s["pointing"]
            scores["boost_\(mode.rawValue)_dice"] = s["dice"]
        }
        if let mode = c.boost {
            let boosted = try labels.boosted(with: predictions, mode: mode)
            _ = try ptrainer.fit(
                train: DollLabelSource(labels: boosted, images: clsTrain, augment: augment, seed: c.seed &+ 1))
            log(String(format: "boost (%@): pre-trained again on refined labels (%.0fs)", mode.rawValue, elapsed()))
        }
        return Pretrained(model: pre, boostScores: scores)
    }

    /// Stage 4: fine-tuning for every label fraction × seed × initialisation (random,
    /// classifier encoder, DoLL pre-trained U-Net with a new head), scored on `test`.
    public func finetuneSweep(
        pretrained pre: UNet, classifier: ResNetClassifier, train dTrain: Dataset, test dTest: Dataset
    ) throws -> Sweep {
        let c = config
        let structures = c.structures
        let cross = try crossData()
        var sweep = Sweep(runs: [], examples: [:])
        for fraction in c.fractions {
            for seed in c.finetuneSeeds {
                let subset =
                    fraction >= 1
                    ? try Subset(dTrain, indices: Array(0..<dTrain.count))
                    : try dTrain.subset(fraction: fraction, seed: seed)
                for initName in Study.initializations {
                    let model = try UNet(
                        UNet.Config(
                            classes: structures.count, encoder: .resnet, widths: c.classifierWidths,
                            blocks: c.classifierBlocks, seed: seed &+ 77, upsampling: c.decoder))
                    switch initName {
                    case "classifier": try model.loadEncoder(from: classifier)
                    case "doll":
                        // everything but the 14-channel head comes from the DoLL pre-trained U-Net
                        try model.loadAllButHead(from: pre)
                    default: break
                    }
                    let run = try finetune(
                        model, initName: initName, fraction: fraction, seed: seed, train: subset, test: dTest,
                        cross: cross)
                    sweep.runs.append(run)
                    if c.saveModels && DataParallel.isLeader {
                        try saveModel(model, initName: initName, fraction: fraction, seed: seed)
                    }
                    if fraction == c.fractions.last && seed == c.finetuneSeeds.first {
                        sweep.examples[initName] = model
                    }
                    log(
                        String(
                            format:
                                "fine-tune %-10@ %5.1f%% seed %d: mean Dice %.3f (%d+%d images, %d steps, best %d, %.0fs)",
                            initName, fraction * 100, seed, run.meanDice, run.trainImages, run.validationImages,
                            run.steps, run.bestStep, elapsed()))
                }
            }
        }
        return sweep
    }

    /// Splits a labelled subset into (training, validation) parts; subsets of fewer than 4 images
    /// validate on their training images.
    func validationSplit(_ labelled: Dataset, seed: UInt64) throws -> (train: Dataset, validation: Dataset) {
        let n = labelled.count
        guard n >= 4 else { return (labelled, labelled) }
        let k = Swift.max(1, Int((Double(n) * config.validationFraction).rounded()))
        let (val, train) = try labelled.split(fraction: Double(k) / Double(n), seed: seed &+ 0x5EED)
        return (train, val)
    }

    /// Fine-tunes `model` on `labelled` by the study's rule (see `StudyConfig.finetuneSteps`) and
    /// scores it on `test` (and on `cross`, the other hospital, for the structures it has).
    func finetune(
        _ model: UNet, initName: String, fraction: Double, seed: UInt64, train labelled: Dataset, test: Dataset,
        cross: Dataset? = nil
    ) throws -> FinetuneRun {
        let c = config
        let (train, val) = try validationSplit(labelled, seed: seed)
        let stepsPerEpoch = (train.count + c.batchSize - 1) / c.batchSize
        var tc = Trainer.Config()
        tc.epochs = (c.finetuneSteps + stepsPerEpoch - 1) / stepsPerEpoch
        tc.batchSize = c.batchSize; tc.learningRate = c.learningRate; tc.seed = seed
        tc.schedule = .cosine(minFactor: 0.05)
        tc.patience = Swift.max(1, (c.patience + stepsPerEpoch - 1) / stepsPerEpoch)
        tc.minEpochs = (c.minSteps + stepsPerEpoch - 1) / stepsPerEpoch
        tc.monitor = "dice_mean"
        tc.restoreBest = true  // chosen on the validation part of the labelled subset, never on the test set
        if initName != "random" && c.encoderLearningRateScale != 1 {
            tc.learningRateScales = ["encoder.": c.encoderLearningRateScale]
        }
        let t0 = Date()
        let trainer = try Trainer(model: model, task: .segmentation(channels: c.structures), config: tc)
        trainer.shouldStop = shouldStop
        let source: Dataset = c.augment ? try AugmentedDataset(train, seed: seed &+ 0xA06) : train
        let h = try trainer.fit(
            train: SegmentationSource(source, structures: c.structures),
            validation: SegmentationSource(val, structures: c.structures))
        let last = try trainer.evaluate(SegmentationSource(test, structures: c.structures))
        let perImage = trainer.lastSegmentationMetrics?.perImageDice ?? []
        let curve = h.epochs.map { $0.validation["dice_mean"] ?? .nan }
        let best = h.bestValue ?? curve.last ?? .nan
        let e95 = (curve.firstIndex { $0 >= 0.95 * best } ?? (curve.count - 1)) + 1
        var run = FinetuneRun(
            initialization: initName, fraction: fraction, seed: seed, trainImages: train.count,
            validationImages: val === train ? 0 : val.count, steps: h.epochs.count * stepsPerEpoch,
            bestStep: (h.bestEpoch ?? h.epochs.count) * stepsPerEpoch, stepsTo95: e95 * stepsPerEpoch,
            stepsPerEpoch: stepsPerEpoch, seconds: Date().timeIntervalSince(t0),
            dice: Dictionary(uniqueKeysWithValues: c.structures.map { ($0, last["dice/\($0)"] ?? .nan) }),
            iou: Dictionary(uniqueKeysWithValues: c.structures.map { ($0, last["iou/\($0)"] ?? .nan) }),
            meanDice: last["dice_mean"] ?? .nan, curve: curve,
            imageDice: Dictionary(uniqueKeysWithValues: zip(c.structures, perImage).map { ($0, $1) }))
        if let cross { run.crossImageDice = try crossScores(model, cross) }
        return run
    }

    /// The other hospital's images (`crossData`) at the study's size, for the structures the
    /// downstream task shares with it; images where a part of such a structure was not drawn (an
    /// empty left or right lung mask) are left out. Nil without `crossData`.
    public func crossData() throws -> Dataset? {
        guard let root = config.crossData else { return nil }
        let raw = try SegmentationFolder(root: root, size: config.imageSize)
        let folder = CachedDataset(raw)
        let shared = config.structures.filter(folder.structures.contains)
        guard !shared.isEmpty else {
            throw StudyError(
                "cross_data \(root) has none of the structures \(config.structures) (it has \(folder.structures))")
        }
        let parts = shared.flatMap { raw.derived[$0] ?? [$0] }
        var keep: [Int] = []
        for i in 0..<folder.count {
            let masks = try folder.sample(i).masks
            if parts.allSatisfy({ p in masks[p]?.scalars.contains { $0 > 0.5 } ?? false }) { keep.append(i) }
        }
        return try Subset(folder, indices: keep, name: "cross \(root)")
    }

    /// Per-image Dice on `cross` for each structure it shares with the study (the U-Net's channel
    /// of that name, threshold 0.5).
    func crossScores(_ model: UNet, _ cross: Dataset) throws -> [String: [Double]] {
        let shared = config.structures.filter(cross.structures.contains)
        let channels = shared.map { config.structures.firstIndex(of: $0)! }
        var metrics = SegmentationMetrics(channels: shared.count)
        model.eval()
        for start in stride(from: 0, to: cross.count, by: 16) {
            let idx = Array(start..<Swift.min(start + 16, cross.count))
            let (x, t, v) = try cross.segmentationBatch(idx, structures: shared)
            let p = try Autograd.noGrad { try model(x).sigmoid() }
            let picked = try Tensor.concat(channels.map { try p.slice(axis: 1, start: $0, end: $0 + 1) }, axis: 1)
            try metrics.add(probabilities: picked, targets: t, mask: v)
        }
        return Dictionary(uniqueKeysWithValues: zip(shared, metrics.perImageDice).map { ($0, $1) })
    }

    /// `<out>/models/<init>-<percent>pct-seed<seed>.safetensors`, with the metadata `doll.load`
    /// reads (kind, configuration, structure names).
    func saveModel(_ model: UNet, initName: String, fraction: Double, seed: UInt64) throws {
        let dir = outputDirectory + "/models"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let name = String(format: "%@-%gpct-seed%d.safetensors", initName, fraction * 100, seed)
        try model.saveModelFile(to: dir + "/" + name, structures: config.structures)
    }

    /// Pointing game, Dice and AUPRC of the DoLL labels against the phantoms' finding masks.
    func scoreLabels(_ labels: DollLabelSet, _ images: Dataset) throws -> [String: Localization.Summary] {
        var pointing: [Double] = [], dice: [Double] = [], auprc: [Double] = [], chance: [Double] = []
        let s = images.size, hw = s * s
        for (j, i) in labels.sourceIndices.enumerated() {
            let sample = try images.sample(i)
            let soft = labels.soft[j].scalars, bin = labels.masks[j].scalars
            for (k, name) in labels.classes.enumerated() where (sample.labels?[k] ?? 0) == 1 && name != "No Finding" {
                guard let gt = sample.masks[name]?.scalars else { continue }
                let sm = Array(soft[(k * hw)..<((k + 1) * hw)]), bm = Array(bin[(k * hw)..<((k + 1) * hw)])
                pointing.append(Localization.pointingHit(map: sm, mask: gt, width: s, tolerance: 2) ? 1 : 0)
                chance.append(Localization.coverage(gt, width: s, tolerance: 2))
                dice.append(Localization.overlap(prediction: bm, mask: gt).dice)
                auprc.append(Localization.auprc(map: sm, mask: gt))
            }
        }
        return [
            "pointing": Localization.summarize(pointing, seed: config.seed),
            "pointing_chance": Localization.summarize(chance, seed: config.seed),
            "dice": Localization.summarize(dice, seed: config.seed),
            "auprc": Localization.summarize(auprc, seed: config.seed),
        ]
    }
}
