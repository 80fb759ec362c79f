import DollData
import DollExplain
import DollNN
import DollTensor
import DollViz
import Foundation

/// Writes the study's report directory: `runs.csv`, `report.md`, `report.html` (pictures
/// inline), `config.json`, and `figures/*.png`.
public struct StudyReport {
    let config: StudyConfig
    let result: Study.Result
    let perClassAUROC: [String: Double]
    let outputDirectory: String

    func path(_ p: String) -> String { outputDirectory + "/" + p }

    /// Mean and sample standard deviation.
    static func meanSD(_ v: [Double]) -> (Double, Double) {
        let f = v.filter { $0.isFinite }
        guard !f.isEmpty else { return (.nan, .nan) }
        let m = f.reduce(0, +) / Double(f.count)
        let sd = f.count > 1 ? (f.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(f.count - 1)).squareRoot() : 0
        return (m, sd)
    }

    func runs(_ initName: String, _ fraction: Double) -> [FinetuneRun] {
        result.runs.filter { $0.initialization == initName && $0.fraction == fraction }
    }

    /// Pictures are drawn at no less than 256 px so that small study images stay readable.
    func up(_ t: Tensor, mask: Bool) throws -> Tensor {
        let s = t.shape[t.rank - 1]
        guard s < 256 else { return t }
        let f = (256 + s - 1) / s
        let x = t.rank == 2 ? try t.unsqueezed(0) : t
        return try ImageOps.resize(x, height: s * f, width: s * f, interpolation: mask ? .nearest : .bilinear)
    }

    /// What the held-out set is, in words.
    var testDescription: String {
        switch config.downstream {
        case .jsrt: return "trained on JSRT fold 1, tested on fold 2"
        case .covid: return "covid_seg, a fixed random 60/40 split by the study seed"
        case .phantomAnatomy, .phantomInfection: return "\(config.downstreamTest) held-out phantoms"
        }
    }

    func write(examples: [String: UNet], test: Dataset, labels: DollLabelSet, labelImages: Dataset) throws {
        // CSV of every run
        let crossStructures = result.runs.first.map { config.structures.filter($0.crossImageDice.keys.contains) } ?? []
        var csv =
            "initialization,fraction,seed,train_images,validation_images,steps,best_step,steps_to_95,seconds,mean_dice,"
            + config.structures.map { "dice_\($0)" }.joined(separator: ",") + ","
            + config.structures.map { "iou_\($0)" }.joined(separator: ",")
            + crossStructures.map { ",cross_dice_\($0)" }.joined() + "\n"
        for r in result.runs {
            csv += "\(r.initialization),\(r.fraction),\(r.seed),\(r.trainImages),\(r.validationImages),"
            csv += "\(r.steps),\(r.bestStep),\(r.stepsTo95),\(String(format: "%.2f", r.seconds)),"
            csv += String(format: "%.4f,", r.meanDice)
            csv += config.structures.map { String(format: "%.4f", r.dice[$0] ?? .nan) }.joined(separator: ",") + ","
            csv += config.structures.map { String(format: "%.4f", r.iou[$0] ?? .nan) }.joined(separator: ",")
            csv += crossStructures.map { String(format: ",%.4f", r.crossDice[$0] ?? .nan) }.joined() + "\n"
        }
        try AtomicFile.write(Data(csv.utf8), to: path("runs.csv"))
        // The configuration, plus `size` (the image size every model of the study was trained at).
        var json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(config)) as? [String: Any] ?? [:]
        json["size"] = config.imageSize
        try AtomicFile.write(
            try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]),
            to: path("config.json"))

        // figures
        var figures: [(String, String)] = []
        let fractions = config.fractions
        let xs = fractions.map { $0 * 100 }
        for s in config.structures + ["mean"] {
            let series = Study.initializations.map { ini in
                Series(
                    ini, x: xs,
                    y: fractions.map { f in
                        StudyReport.meanSD(runs(ini, f).map { s == "mean" ? $0.meanDice : ($0.dice[s] ?? .nan) }).0
                    }, marker: .circle)
            }
            let file = "figures/efficiency_\(s).png"
            try LinePlot(
                series: series, title: "Dice vs labelled fraction (\(s))", xLabel: "labelled training images (%)",
                yLabel: "Dice",
                logX: true, xTicks: xs, xTickLabels: xs.map { String(format: $0 < 10 ? "%.0f%%" : "%.0f%%", $0) }
            ).write(to: path(file))
            figures.append(("Sample efficiency: \(s)", file))
        }
        for f in fractions.count > 1 ? [fractions[0], fractions[fractions.count - 1]] : fractions {
            // Mean validation Dice over seeds while a run lasted (runs that stopped early drop out).
            let series = Study.initializations.map { ini -> Series in
                let rs = runs(ini, f)
                let n = rs.map(\.curve.count).max() ?? 0
                let y = (0..<n).map { e in
                    StudyReport.meanSD(rs.compactMap { e < $0.curve.count ? $0.curve[e] : nil }).0
                }
                let per = rs.first?.stepsPerEpoch ?? 1
                return Series(ini, x: (1...Swift.max(n, 1)).map { Double($0 * per) }, y: y)
            }
            let file = String(format: "figures/convergence_%gpct.png", f * 100)
            try LinePlot(
                series: series, title: String(format: "Convergence at %g%% labels", f * 100),
                xLabel: "optimisation step", yLabel: "validation mean Dice"
            )
            .write(to: path(file))
            figures.append(
                (String(format: "Convergence at %g%% labels (validation part of the labelled subset)", f * 100), file))
        }
        // example overlays: prediction vs truth for each initialization on test image 1
        let sample = try test.sample(0)
        for (ini, model) in examples.sorted(by: { $0.key < $1.key }) {
            model.eval()
            let pred = try Autograd.noGrad { try model(sample.image.unsqueezed(0)).sigmoid() }
            var layers: [MaskLayer] = []
            for (k, s) in config.structures.enumerated() {
                guard let gt = sample.masks[s] else { continue }
                let p = try pred.slice(axis: 1, start: k, end: k + 1).reshaped([1, test.size, test.size])
                layers.append(
                    MaskLayer("\(s) truth", mask: try up(gt, mask: true), color: Palette.color(2 * k), style: .contour))
                layers.append(
                    MaskLayer(
                        "\(s) pred", mask: try up(p, mask: true), color: Palette.color(2 * k + 1), style: .contour))
            }
            let file = "figures/overlay_\(ini).png"
            try MaskOverlay(legend: .below).write(try up(sample.image, mask: false), layers: layers, to: path(file))
            figures.append(("Prediction vs truth, \(ini) init, 100% labels (\(sample.id))", file))
        }
        // DoLL label examples
        var shown = 0
        for (j, i) in labels.sourceIndices.enumerated() where shown < 4 {
            let m = labels.masks[j]
            let s = labelImages.size
            let present = (0..<labels.classes.count).filter { k in
                m.scalars[(k * s * s)..<((k + 1) * s * s)].contains { $0 > 0.5 }
            }
            guard !present.isEmpty else { continue }
            let img = try labelImages.sample(i)
            var layers: [MaskLayer] = []
            for k in present {
                let name = labels.classes[k]
                layers.append(
                    MaskLayer(
                        "DoLL \(name)", mask: try up(m.slice(axis: 0, start: k, end: k + 1), mask: true),
                        color: Palette.color(k), style: .filledContour))
                if let gt = img.masks[name] {
                    layers.append(MaskLayer("", mask: try up(gt, mask: true), color: .white, style: .contour))
                }
            }
            let file = "figures/doll_\(shown).png"
            try MaskOverlay(legend: .below).write(try up(img.image, mask: false), layers: layers, to: path(file))
            figures.append(
                (
                    "DoLL label, \(img.id): \(present.map { labels.classes[$0] }.joined(separator: ", ")) (white: ground truth)",
                    file
                ))
            shown += 1
        }

        // Markdown
        var md = "# DoLL study (\(config.name))\n\n"
        md +=
            "Generated \(ISO8601DateFormatter().string(from: Date())) by doll \(dollVersion), convolutions \(EngineInfo.convolutions), BLAS kernel \(BLAS.coreName); "
        md += String(format: "run time %.0f s; seed %d.\n\n", result.seconds, config.seed)
        md += "## Classifiers\n\n"
        let data =
            config.classification == "phantoms"
            ? "\(config.classifierImages) phantoms"
            : "\(config.classification) data from \(config.classificationCSV ?? "?")"
        md += "\(config.classifiers) × ResNet widths \(config.classifierWidths), \(data) at \(config.imageSize) px, "
        md +=
            "mean validation AUROC: "
            + result.classifierAUROC.map { String(format: "%.3f", $0) }.joined(separator: ", ") + "\n\n"
        md += "| observation | AUROC (classifier 1) |\n|---|---|\n"
        for n in result.classes { md += "| \(n) | \(String(format: "%.3f", perClassAUROC[n] ?? .nan)) |\n" }
        md += "\n## DoLL labels against phantom ground truth\n\n"
        if result.localization.isEmpty { md += "Not scored: the classification data has no finding masks.\n\n" }
        md +=
            "Explainer \(config.labels.explainer.rawValue) (\(config.labels.igSteps) steps), threshold \(config.labels.threshold). Mean [95% bootstrap CI]:\n\n"
        for k in ["pointing", "pointing_chance", "dice", "auprc"] {
            md += "- \(k): \(result.localization[k].map { "\($0)" } ?? "n/a")\n"
        }
        md +=
            "\nBoost round (labels refined with the DoLL-pre-trained U-Net's predictions\(config.boost.map { "; used: \($0.rawValue)" } ?? "; scored only, not used")):\n\n"
        for mode in DollLabelSet.BoostMode.allCases {
            for k in ["pointing", "dice"] {
                md +=
                    "- \(mode.rawValue) \(k): \(result.localization["boost_\(mode.rawValue)_\(k)"].map { "\($0)" } ?? "n/a")\n"
            }
        }
        md += "\n## Fine-tuning: Dice on the held-out set (mean ± sd over \(config.finetuneSeeds.count) seed(s))\n\n"
        md += "Downstream: \(config.downstream.rawValue) (\(testDescription)), structures "
        md += config.structures.joined(separator: ", ") + ". "
        md +=
            "Every initialisation follows the same rule: \(Int((config.validationFraction * 100).rounded())) % of the "
        md += "labelled images validate (subsets under 4 images validate on their training images), at most "
        md += "\(config.finetuneSteps) steps of batch \(config.batchSize) with a cosine learning rate from "
        md += "\(config.learningRate), early stop (from step \(config.minSteps) on) after \(config.patience) steps "
        md += "without a better validation Dice, "
        md += "the best validation epoch's weights kept; BCE + soft Dice per structure; augmentation "
        md +=
            config.augment
            ? "on (rotation ±10°, scale ±10 %, shifts, brightness, contrast, gamma, blur, noise; no flips).\n\n"
            : "off.\n\n"
        md += "| labels (train+val) | init | " + config.structures.joined(separator: " | ")
        md += " | mean | steps used | best step | steps to 95 % |\n"
        md += "|---|---|" + String(repeating: "---|", count: config.structures.count + 4) + "\n"
        for f in fractions {
            for ini in Study.initializations {
                let rs = runs(ini, f)
                guard !rs.isEmpty else { continue }
                var row = String(
                    format: "| %g%% (%d+%d) | %@ |", f * 100, rs[0].trainImages, rs[0].validationImages, ini)
                for s in config.structures {
                    let (m, sd) = StudyReport.meanSD(rs.map { $0.dice[s] ?? .nan })
                    row += String(format: " %.3f ± %.3f |", m, sd)
                }
                let (m, sd) = StudyReport.meanSD(rs.map(\.meanDice))
                row += String(
                    format: " %.3f ± %.3f | %.0f | %.0f | %.0f |", m, sd,
                    StudyReport.meanSD(rs.map { Double($0.steps) }).0,
                    StudyReport.meanSD(rs.map { Double($0.bestStep) }).0,
                    StudyReport.meanSD(rs.map { Double($0.stepsTo95) }).0)
                md += row + "\n"
            }
        }
        if !crossStructures.isEmpty, let cross = config.crossData {
            let n = result.runs.first?.crossImageDice[crossStructures[0]]?.count ?? 0
            md += "\n### Another hospital, no training there: Dice on \(n) images of `\(cross)`\n\n"
            md += "The fine-tuned U-Nets above, scored on the other set's "
            md += crossStructures.joined(separator: ", ") + " (mean ± sd over seeds).\n\n"
            md += "| labels | init | " + crossStructures.joined(separator: " | ") + " |\n"
            md += "|---|---|" + String(repeating: "---|", count: crossStructures.count) + "\n"
            for f in fractions {
                for ini in Study.initializations {
                    let rs = runs(ini, f)
                    guard !rs.isEmpty else { continue }
                    md += String(format: "| %g%% | %@ |", f * 100, ini)
                    for s in crossStructures {
                        let (m, sd) = StudyReport.meanSD(rs.map { $0.crossDice[s] ?? .nan })
                        md += String(format: " %.3f ± %.3f |", m, sd)
                    }
                    md += "\n"
                }
            }
        }
        md += "\n### DoLL minus random init (mean Dice)\n\n| labels | gap |\n|---|---|\n"
        for f in fractions {
            let d =
                StudyReport.meanSD(runs("doll", f).map(\.meanDice)).0
                - StudyReport.meanSD(runs("random", f).map(\.meanDice)).0
            md += String(format: "| %g%% | %+.3f |\n", f * 100, d)
        }
        md += StudyReport.pairedSection(
            structures: config.structures, fractions: fractions, runs: runs, seed: config.seed)
        md += "\n## Figures\n\n"
        for (title, file) in figures { md += "**\(title)**\n\n![\(title)](\(file))\n\n" }
        md += "Every run: `runs.csv`. Exact configuration: `config.json`. DoLL masks: `doll_labels/`.\n"
        if config.saveModels {
            md +=
                "Fine-tuned U-Nets: `models/<init>-<percent>pct-seed<seed>.safetensors` (load one with `doll.load`).\n"
        }
        try AtomicFile.write(Data(md.utf8), to: path("report.md"))
        try AtomicFile.write(
            Data(StudyReport.html(markdown: md, figures: figures, directory: outputDirectory).utf8),
            to: path("report.html"))
    }

    /// DoLL − random and DoLL − classifier-encoder init as paired differences of per-image Dice
    /// (same seeds, same test images), with 95 % bootstrap intervals over seeds and images, and a
    /// sentence saying which differences are significant (interval excluding 0) and which are not.
    static func pairedSection(
        structures: [String], fractions: [Double], runs: (String, Double) -> [FinetuneRun], seed: UInt64
    ) -> String {
        var md = "\n### Paired differences (per-image Dice, 95 % bootstrap intervals over seeds and test images)\n\n"
        md += "| labels | structure | DoLL − random | DoLL − classifier |\n|---|---|---|---|\n"
        var significant: [String] = []
        var not: [String] = []
        for f in fractions {
            for s in structures {
                var cells: [String] = []
                for other in ["random", "classifier"] {
                    let doll = runs("doll", f).sorted { $0.seed < $1.seed }
                    let base = runs(other, f).sorted { $0.seed < $1.seed }
                    let a = doll.map { $0.imageDice[s] ?? [] }
                    let b = base.map { $0.imageDice[s] ?? [] }
                    guard doll.map(\.seed) == base.map(\.seed), !a.isEmpty,
                        let d = try? PairedBootstrap.difference(a, b, seed: seed), d.n > 0
                    else {
                        cells.append("n/a")
                        continue
                    }
                    let sig = d.low > 0 || d.high < 0
                    let what = String(format: "%@ at %.0f%% labels, DoLL − %@ %+.3f", s, f * 100, other, d.mean)
                    if sig { significant.append(what) } else { not.append(what) }
                    cells.append(String(format: "%+.3f [%+.3f, %+.3f]%@", d.mean, d.low, d.high, sig ? " *" : ""))
                }
                md += String(format: "| %.0f%% | %@ | ", f * 100, s) + cells.joined(separator: " | ") + " |\n"
            }
        }
        md += "\n\\* the interval excludes 0. "
        let seeds = Set(fractions.flatMap { f in runs("doll", f).map(\.seed) }).count
        if seeds < 2 {
            md +=
                "With \(seeds) fine-tuning seed the intervals show the spread over test images only, not over seeds: "
                + "run at least 3 seeds before calling a difference real. "
        }
        md +=
            significant.isEmpty
            ? "No difference is significant at this size. "
            : "Significant: " + significant.joined(separator: "; ") + ". "
        md += not.isEmpty ? "Not significant (the interval includes 0): " + not.joined(separator: "; ") + ".\n" : "\n"
        return md
    }

    /// A self-contained HTML page: the Markdown rendered by `Markdown.html`, figures inlined as
    /// data URIs.
    public static func html(markdown: String, figures: [(String, String)], directory: String) -> String {
        var body = Markdown.html(markdown)
        for (_, file) in figures {
            guard let data = FileManager.default.contents(atPath: directory + "/" + file) else { continue }
            body = body.replacingOccurrences(
                of: "src=\"\(Markdown.escape(file))\"",
                with: "src=\"data:image/png;base64,\(data.base64EncodedString())\"")
        }
        return
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>DoLL study</title><style>body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}img{max-width:100%;border:1px solid #ddd}</style></head><body>\n"
            + body + "\n</body></html>\n"
    }
}
