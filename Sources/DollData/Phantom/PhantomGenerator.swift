// Phantom/ — synthetic frontal (PA) chest-radiograph phantoms with pixel-exact ground truth.
//
// Overview
// --------
// `PhantomGenerator(config:).sample(i)` renders one square grey-level image (row-major, row 0 = top,
// values in [0, 1], air dark / bone bright) together with CheXpert-style labels and binary masks.
// The image is displayed the usual way, facing the patient: the patient's LEFT is on the image's RIGHT.
//
// Pipeline (per sample, `PhBuilder`):
//   1. labels   – findings drawn with `prevalence` (fixed draw order) plus a few co-occurrence rules;
//   2. anatomy  – a patient drawn in a canonical frame (x to the image right, y down, body midline at
//                 x = 0, lung fields about x ∈ [-0.86, 0.86], y ∈ [-0.8, 0.6]) and mapped to pixels by a
//                 random pose (scale, anisotropic habitus, rotation ±0.05 rad, shift);
//   3. fields   – closed structures (lungs, heart, mediastinum) become signed-distance fields in pixels
//                 (negative inside); bones, vessels, tubes are unions of tapered capsules;
//   4. findings – each finding is an "amount" field in [0, 1] (its local strength) and its mask is
//                 where amount ≥ a threshold, so the mask is where the sign is drawn;
//   5. compose  – an attenuation map (body + bone − lung air + vessels + findings; ≈ 0 air … ≈ 0.9 bone
//                 over soft tissue) goes through a film-like curve with random exposure and gamma, a
//                 slight blur and Gaussian noise (std = noise · (0.5 + difficulty) · U(0.8, 1.2)).
// Masks are evaluated at pixel centres from the same geometry that is rendered (only blur and noise
// come after them). Parenchymal finding masks are restricted to the lung masks. A mask that would be
// empty (tiny images, overlapping findings) falls back to the strongest pixels of its sign, or to a
// small disc that is then also drawn, so a mask is non-empty exactly when its label is 1.
//
// Difficulty d ∈ [0, 1] scales finding contrast by (1 − 0.55 d) and shrinks sizes of several signs
// (effusion height, pneumothorax depth, nodule radius, fracture gap/step, heart/mediastinum
// enlargement); it also raises the noise.
//
// Masks (all `size*size` UInt8, 0/1)
// ----------------------------------
// Anatomy (always present):
//   left_lung / right_lung  – the patient's lung field (polygon of the hemithorax air space, apex to
//                             diaphragm / costophrenic angle) minus heart and mediastinum. It keeps the
//                             nominal anatomical region even where a finding overlies it (effusion,
//                             pneumothorax), but follows volume loss (raised hemidiaphragm in atelectasis)
//                             and the enlarged heart / widened mediastinum.
//   heart                   – the cardiac silhouette actually drawn (the enlarged one in Cardiomegaly).
//   left_clavicle / right_clavicle – the clavicle bone.
// Findings (present exactly when the label is 1, never empty):
//   Enlarged Cardiomediastinum – the whole widened upper mediastinum (thoracic inlet to the top of the
//                                heart, heart excluded).
//   Cardiomegaly       – the whole enlarged cardiac silhouette (equal to the "heart" mask in that image).
//   Lung Opacity       – union of all parenchymal opacity masks: its own nonspecific opacity plus Lung
//                        Lesion, Edema, Consolidation, Pneumonia, Atelectasis and the infection.
//   Lung Lesion        – the nodule / mass disc.
//   Edema              – bilateral perihilar ("butterfly") haze plus basal Kerley B lines, inside the lungs.
//   Consolidation      – the dense lobar / segmental opacity inside one lung.
//   Pneumonia          – the patchy air-space opacity (one or two foci) inside the lungs.
//   Atelectasis        – the plate-like basal band (the raised hemidiaphragm is rendered but not masked).
//   Pneumothorax       – the pleural air space between the retracted lung edge and the chest wall.
//   Pleural Effusion   – the dependent fluid (meniscus at the costophrenic angle) inside the hemithorax.
//   Pleural Other      – the pleural thickening band along the lateral chest wall.
//   Fracture           – a small disc around the rib break (gap / step).
//   Support Devices    – device pixels: tubes, lines, pacemaker, ECG electrodes and wires.
//   infection (extra)  – COVID-like peripheral, lower-zone ground-glass opacities (usually bilateral).
//
// Labels
// ------
// Each observation except "No Finding" is drawn independently with probability `prevalence[name]`.
// Co-occurrence rules add findings (only where the added finding's own prevalence is > 0):
//   Edema ⇒ Cardiomegaly (p 0.4) and Pleural Effusion (p 0.4); Pneumonia ⇒ Consolidation (p 0.4);
//   Pleural Effusion ⇒ Atelectasis (p 0.25); Edema / Effusion / Pneumothorax ⇒ Support Devices (p 0.3).
// Lung Opacity is the CheXpert parent: it is 1 when drawn itself OR when any parenchymal opacity is
// present (Lung Lesion, Edema, Consolidation, Pneumonia, Atelectasis, infection), so its observed
// frequency is well above `prevalence["Lung Opacity"]`. No Finding = 1 iff none of observations 1…12 is
// present (Support Devices is not a pathology, so it may co-occur with No Finding).
//
// Determinism
// -----------
// sample(i) depends only on (config, i). A per-index xoshiro256** generator is seeded through SplitMix64
// from (seed, index); all transcendental functions (exp, log, sin, cos, pow) are implemented here with
// plain IEEE arithmetic, so results do not depend on the platform's libm. No Dictionary/Set iteration
// order affects the output.

// Files (this folder)
// -----
// PhantomGenerator.swift (this overview, the public API) · PhantomRandom.swift (SplitMix64, xoshiro256**)
// · PhantomMath.swift (exp/log/sin/cos/pow without libm) · PhantomGeometry.swift (points, strokes,
// transforms, noise) · PhantomRaster.swift (signed distances, polygons, blur) · PhantomAnatomy.swift
// (lungs, heart, mediastinum and per-sample state) · PhantomBuilder.swift (one sample: orchestration
// and labels) · PhantomBody.swift (anatomy drawing) · PhantomFindings.swift (the 12 findings) ·
// PhantomBones.swift (ribs, clavicles, spine, vessels, devices) · PhantomComposition.swift
// (attenuation, display, helpers).

import DollTensor
import Foundation

// MARK: - Public API

/// CheXpert's 14 observations in CSV column order (index = label position).
public let phantomObservations: [String] = LabelPreset.chexpert

/// Anatomy masks always produced: "left_lung", "right_lung", "heart", "left_clavicle", "right_clavicle" (patient's left/right).
public let phantomAnatomy: [String] = ["left_lung", "right_lung", "heart", "left_clavicle", "right_clavicle"]

/// Error thrown for an invalid `PhantomConfig`.
public struct PhantomError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

/// Settings of the phantom generator. All probabilities are in [0, 1].
public struct PhantomConfig: Codable, Equatable, Sendable {
    /// Square image side in pixels (32...1024; 64...512 is the intended range).
    public var size: Int = 128
    /// Dataset seed; sample `i` depends only on (config, i).
    public var seed: UInt64 = 1
    /// Probability that each observation (not "No Finding") is drawn. Keys missing from the dictionary
    /// passed to `init` fall back to `defaultPrevalence`; 0 disables a finding (except Lung Opacity,
    /// which is also implied by the parenchymal opacities, see the file header).
    public var prevalence: [String: Double]
    /// Probability of COVID-like bilateral peripheral ground-glass opacities (mask "infection").
    public var infectionPrevalence: Double = 0.2
    /// 0 = very conspicuous findings, 1 = subtle (lower finding contrast / smaller signs, more noise).
    public var difficulty: Double = 0.5
    /// Gaussian pixel-noise std in [0, 1] intensity units at difficulty 0.5 (std = noise · (0.5 + difficulty)).
    public var noise: Double = 0.02

    public init(
        size: Int = 128, seed: UInt64 = 1, prevalence: [String: Double]? = nil,
        infectionPrevalence: Double = 0.2, difficulty: Double = 0.5, noise: Double = 0.02
    ) {
        self.size = size
        self.seed = seed
        var merged = PhantomConfig.defaultPrevalence
        if let prevalence {
            for (name, p) in prevalence { merged[name] = p }
        }
        self.prevalence = merged
        self.infectionPrevalence = infectionPrevalence
        self.difficulty = difficulty
        self.noise = noise
    }

    private enum CodingKeys: String, CodingKey {
        case size, seed, prevalence, infectionPrevalence, difficulty, noise
    }

    /// Decodes a config; missing keys take their defaults (missing prevalence entries too).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            size: try c.decodeIfPresent(Int.self, forKey: .size) ?? 128,
            seed: try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1,
            prevalence: try c.decodeIfPresent([String: Double].self, forKey: .prevalence),
            infectionPrevalence: try c.decodeIfPresent(Double.self, forKey: .infectionPrevalence) ?? 0.2,
            difficulty: try c.decodeIfPresent(Double.self, forKey: .difficulty) ?? 0.5,
            noise: try c.decodeIfPresent(Double.self, forKey: .noise) ?? 0.02)
    }

    /// Default per-observation probabilities (before co-occurrence rules; see the file header).
    public static let defaultPrevalence: [String: Double] = [
        "Enlarged Cardiomediastinum": 0.10,
        "Cardiomegaly": 0.15,
        "Lung Opacity": 0.10,
        "Lung Lesion": 0.10,
        "Edema": 0.10,
        "Consolidation": 0.10,
        "Pneumonia": 0.10,
        "Atelectasis": 0.12,
        "Pneumothorax": 0.10,
        "Pleural Effusion": 0.15,
        "Pleural Other": 0.08,
        "Fracture": 0.10,
        "Support Devices": 0.20,
    ]

    /// Throws PhantomError with a clear message when size < 32 or > 1024, probabilities outside [0,1],
    /// unknown observation names, difficulty outside [0,1] (or noise outside [0,1]).
    public func validate() throws {
        guard size >= 32 && size <= 1024 else {
            throw PhantomError(message: "PhantomConfig.size must be in 32...1024, got \(size)")
        }
        guard difficulty.isFinite && difficulty >= 0 && difficulty <= 1 else {
            throw PhantomError(message: "PhantomConfig.difficulty must be in [0, 1], got \(difficulty)")
        }
        guard noise.isFinite && noise >= 0 && noise <= 1 else {
            throw PhantomError(message: "PhantomConfig.noise must be in [0, 1], got \(noise)")
        }
        guard infectionPrevalence.isFinite && infectionPrevalence >= 0 && infectionPrevalence <= 1 else {
            throw PhantomError(
                message: "PhantomConfig.infectionPrevalence must be in [0, 1], got \(infectionPrevalence)")
        }
        for name in prevalence.keys.sorted() {
            guard name != "No Finding", phantomObservations.contains(name) else {
                let valid = phantomObservations.dropFirst().joined(separator: ", ")
                throw PhantomError(
                    message: "PhantomConfig.prevalence: unknown observation name \"\(name)\" (valid: \(valid))")
            }
            let p = prevalence[name] ?? 0
            guard p.isFinite && p >= 0 && p <= 1 else {
                throw PhantomError(message: "PhantomConfig.prevalence[\"\(name)\"] must be in [0, 1], got \(p)")
            }
        }
    }
}

/// One rendered phantom.
public struct PhantomSample: Sendable {
    /// "phantom-" followed by the index, zero-padded to 6 digits (e.g. "phantom-000042").
    public var id: String
    /// size*size values in [0,1], row-major, row 0 = top of the image.
    public var pixels: [Float]
    /// Image side in pixels.
    public var size: Int
    /// 14 values (0 or 1) in `phantomObservations` order.
    public var labels: [Float]
    /// size*size masks with values 0/1: every `phantomAnatomy` name, every present observation except
    /// "No Finding", and "infection" when present.
    public var masks: [String: [UInt8]]
    /// Whether the COVID-like infection pattern is present.
    public var infection: Bool

    public init(id: String, pixels: [Float], size: Int, labels: [Float], masks: [String: [UInt8]], infection: Bool) {
        self.id = id
        self.pixels = pixels
        self.size = size
        self.labels = labels
        self.masks = masks
        self.infection = infection
    }
}

/// Deterministic, random-access generator of chest-radiograph phantoms.
public struct PhantomGenerator: Sendable {
    public let config: PhantomConfig
    /// Prevalence per observation index (index 0, "No Finding", unused).
    private let prevalenceTable: [Double]

    /// Validates `config` (throws `PhantomError`).
    public init(config: PhantomConfig) throws {
        try config.validate()
        self.config = config
        var table = [Double](repeating: 0, count: phantomObservations.count)
        for k in 1..<phantomObservations.count {
            let name = phantomObservations[k]
            table[k] = config.prevalence[name] ?? PhantomConfig.defaultPrevalence[name] ?? 0
        }
        prevalenceTable = table
    }

    /// Deterministic: sample(i) depends only on (config, i) — random access, same bytes every run on
    /// every machine.
    public func sample(_ index: Int) -> PhantomSample {
        let builder = PhBuilder(config: config, prevalence: prevalenceTable, index: index)
        return builder.run()
    }
}
