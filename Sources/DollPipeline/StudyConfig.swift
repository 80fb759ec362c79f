import DollExplain
import DollNN
import Foundation

/// The study's settings: presets (`preset`), and `set` to change one from text (CLI `--set`, Lua).
public struct StudyConfig: Codable, Sendable {
    public enum Downstream: String, Codable, Sendable {
        case phantomAnatomy = "phantom", phantomInfection = "phantom-infection", jsrt, covid
    }

    public var name = "quick"
    public var seed: UInt64 = 1
    // classification
    public var imageSize = 64
    public var classifierImages = 1000
    public var classifierValImages = 200
    public var classifiers = 1
    public var classifierWidths = [16, 32, 64, 128]
    public var classifierBlocks = [1, 1, 1, 1]
    public var classifierEpochs = 8
    public var difficulty = 0.3
    /// Classification data: `phantoms` (generated, with finding masks to score the DoLL labels),
    /// or a CheXpert-format (`chexpert`) or generic label CSV (`labelcsv`) at `classificationCSV`
    /// with image paths relative to `classificationRoot`; 10% of it validates the classifiers.
    public var classification = "phantoms"
    public var classificationCSV: String? = nil
    public var classificationRoot: String? = nil
    // DoLL labels
    public var labels = DollLabelConfig()
    // pre-training
    public var pretrainEpochs = 3
    /// Boost round: refine the DoLL labels with the pre-trained U-Net's predictions and
    /// pre-train again on them (nil: score the refinements but keep the original labels).
    public var boost: DollLabelSet.BoostMode? = nil
    // fine-tuning
    public var downstream = Downstream.phantomAnatomy
    public var dataRoot: String? = nil
    public var structures = ["lungs", "heart", "clavicles"]
    public var downstreamTrain = 200
    public var downstreamTest = 64
    public var fractions = [0.05, 0.10, 0.25, 1.0]
    public var finetuneSeeds: [UInt64] = [1]
    /// Fine-tuning rule, the same for every initialisation and fraction: at most `finetuneSteps`
    /// optimisation steps (cosine learning rate over them), validation Dice on a held-out part of
    /// the labelled subset after every epoch, early stop after `patience` steps without
    /// improvement, and the best validation epoch's weights kept. The test set is never looked at.
    public var finetuneSteps = 600
    public var patience = 200
    /// Steps before early stopping may end a run (with validation sets of 1–2 images an early,
    /// lucky validation Dice would otherwise end runs after a few dozen steps).
    public var minSteps = 300
    /// Part of the labelled subset held out for validation (at least one image; subsets of fewer
    /// than 4 images validate on their training images).
    public var validationFraction = 0.2
    /// Seeded radiograph augmentation (`AugmentConfig()`: rotation ±10°, scale 0.9–1.1, shifts,
    /// brightness, contrast, gamma, blur, noise; never flips) while pre-training and fine-tuning.
    public var augment = true
    /// A second segmentation folder (another hospital: `…/shared/data/covid_seg`) on which every
    /// fine-tuned U-Net is scored, without training there, for the structures both sets have.
    public var crossData: String? = nil
    public var batchSize = 16
    public var learningRate: Float = 2e-3
    /// Learning-rate multiplier for a pre-trained encoder while fine-tuning (classifier and
    /// DoLL initialisations; random initialisation always uses the full rate).
    public var encoderLearningRateScale: Float = 1
    /// How the U-Nets' decoders upsample. Bilinear + 3×3 convolution by default: with 2×2
    /// transposed convolutions the ResNet-encoder U-Net, fine-tuned briefly on JSRT, left the heart
    /// channel near 0.4 over the whole background in a 2-pixel checkerboard (heart Dice 0.23).
    public var decoder = UNet.Upsampling.bilinear
    /// Save every fine-tuned U-Net in `<out>/models/` (loadable with `doll.load`).
    public var saveModels = false

    public init() {}

    /// Settings that `set` accepts (`doll study --set key=value`, `doll.study{key = value}`).
    public static let settableKeys = [
        "seed", "image_size", "classifier_images", "classifiers", "classifier_epochs", "difficulty",
        "classification", "classification_csv", "classification_root",
        "explainer", "ig_steps", "threshold", "sigma", "min_component", "keep", "pretrain_epochs", "boost",
        "downstream", "data", "train_images", "test_images", "fractions", "seeds", "finetune_steps", "patience",
        "min_steps",
        "val_fraction", "augment", "cross_data", "batch", "lr", "encoder_lr_scale", "save_models", "decoder",
    ]

    /// Changes one setting from text (lists are comma-separated).
    public mutating func set(_ key: String, _ value: String) throws {
        func int(_ range: ClosedRange<Int>) throws -> Int {
            guard let v = Int(value), range.contains(v) else {
                throw StudyError(
                    "study setting '\(key)' must be an integer in \(range.lowerBound)…\(range.upperBound), got '\(value)'"
                )
            }
            return v
        }
        func double(_ range: ClosedRange<Double>) throws -> Double {
            guard let v = Double(value), range.contains(v) else {
                throw StudyError(
                    "study setting '\(key)' must be a number in \(range.lowerBound)…\(range.upperBound), got '\(value)'"
                )
            }
            return v
        }
        func bool() throws -> Bool {
            guard let b = ["true": true, "false": false][value] else {
                throw StudyError("study setting '\(key)' must be true or false, got '\(value)'")
            }
            return b
        }
        func list<T>(_ parse: (String) -> T?) throws -> [T] {
            let parts = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let out = parts.compactMap(parse)
            guard !out.isEmpty, out.count == parts.count else {
                throw StudyError("study setting '\(key)' must be a comma-separated list, got '\(value)'")
            }
            return out
        }
        switch key {
        case "seed": seed = UInt64(try int(0...Int(Int32.max)))
        case "image_size": imageSize = try int(16...1024)
        case "classifier_images": classifierImages = try int(8...1_000_000)
        case "classifiers": classifiers = try int(1...16)
        case "classifier_epochs": classifierEpochs = try int(1...10_000)
        case "difficulty": difficulty = try double(0...1)
        case "classification":
            guard ["phantoms", "chexpert", "labelcsv"].contains(value) else {
                throw StudyError("study setting 'classification' must be phantoms, chexpert or labelcsv")
            }
            classification = value
        case "classification_csv": classificationCSV = value
        case "classification_root": classificationRoot = value
        case "explainer":
            guard let e = DollLabelConfig.Explainer(rawValue: value) else {
                throw StudyError("study setting 'explainer' must be ig, saliency, smoothgrad, gradcam or occlusion")
            }
            labels.explainer = e
        case "ig_steps": labels.igSteps = try int(1...10_000)
        case "threshold": labels.threshold = try .init(parsing: value)
        case "sigma": let s = try double(0...64); labels.smoothing = s > 0 ? .gaussian(sigma: Float(s)) : .none
        case "min_component": labels.minComponent = try int(0...1_000_000)
        case "keep": let k = try int(0...1000); labels.keepLargest = k == 0 ? nil : k
        case "pretrain_epochs": pretrainEpochs = try int(1...10_000)
        case "boost":
            if value == "none" {
                boost = nil
            } else {
                guard let m = DollLabelSet.BoostMode(rawValue: value) else {
                    throw StudyError("study setting 'boost' must be intersect, union or none")
                }
                boost = m
            }
        case "downstream":
            guard let d = Downstream(rawValue: value) else {
                throw StudyError("study setting 'downstream' must be phantom, phantom-infection, jsrt or covid")
            }
            downstream = d
            switch d {
            case .phantomAnatomy, .jsrt: structures = ["lungs", "heart", "clavicles"]
            case .phantomInfection: structures = ["infection"]
            case .covid: structures = ["lungs", "infection"]
            }
        case "data": dataRoot = value
        case "train_images": downstreamTrain = try int(1...1_000_000)
        case "test_images": downstreamTest = try int(1...1_000_000)
        case "fractions":
            fractions = try list { Double($0) }
            guard fractions.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
                throw StudyError("study setting 'fractions' must lie in (0, 1]")
            }
        case "seeds": finetuneSeeds = try list { UInt64($0).flatMap { $0 <= UInt64(Int32.max) ? $0 : nil } }
        case "finetune_steps": finetuneSteps = try int(1...1_000_000)
        case "patience": patience = try int(1...1_000_000)
        case "min_steps": minSteps = try int(0...1_000_000)
        case "val_fraction": validationFraction = try double(0.01...0.9)
        case "augment": augment = try bool()
        case "cross_data": crossData = value
        case "batch": batchSize = try int(1...4096)
        case "lr": learningRate = Float(try double(1e-7...1))
        case "encoder_lr_scale": encoderLearningRateScale = Float(try double(0...10))
        case "decoder":
            guard let d = UNet.Upsampling(rawValue: value) else {
                throw StudyError("study setting 'decoder' must be bilinear or transposed, got '\(value)'")
            }
            decoder = d
        case "save_models": saveModels = try bool()
        default:
            throw StudyError(
                "unknown study setting '\(key)'; settings are: \(StudyConfig.settableKeys.joined(separator: ", "))")
        }
    }

    /// `quick` (minutes, `make demo`) and `full` (hours) presets.
    public static func preset(_ name: String) throws -> StudyConfig {
        var c = StudyConfig()
        c.labels.igSteps = 8
        switch name {
        case "quick":  // make demo: under 10 minutes on 2 cores at 64 px
            c.finetuneSeeds = [1, 2, 3]  // seeds disagree a lot at these sizes: never quote one
            c.finetuneSteps = 240; c.minSteps = 120; c.patience = 80
            c.fractions = [0.05, 0.25, 1.0]
        case "tiny":  // for tests: seconds
            c.name = "tiny"; c.imageSize = 32; c.classifierImages = 96; c.classifierValImages = 32;
            c.classifierWidths = [4, 8, 16]; c.classifierBlocks = [1, 1, 1]
            c.classifierEpochs = 1; c.labels.igSteps = 4; c.pretrainEpochs = 1; c.downstreamTrain = 24;
            c.downstreamTest = 12
            c.fractions = [0.25, 1.0]; c.finetuneSteps = 3; c.patience = 3; c.minSteps = 0; c.batchSize = 8
        case "full":
            c.name = "full"; c.imageSize = 256; c.classifierImages = 2000; c.classifierValImages = 400
            c.classifierEpochs = 10
            c.labels.igSteps = 16; c.pretrainEpochs = 5; c.downstreamTrain = 1000; c.downstreamTest = 200
            c.fractions = [0.1, 0.25, 1.0]; c.finetuneSeeds = [1, 2, 3, 4, 5]
        default: throw StudyError("unknown preset '\(name)' (quick, full, tiny)")
        }
        return c
    }
}
