import Foundation
import Testing
import DollTestSupport
@testable import DollPipeline
import DollNN
import DollTensor

@Suite("DoLL study end to end", .serialized)
struct StudyTests {
    /// Pre-training from a real labelled set (NIH ChestX-ray14 at 64 px, label CSV) instead of phantoms.
    @Test func studyPretrainsFromALabelCSV() throws {
        let root = sharedDirectory() + "/data/nih64"
        guard FileManager.default.fileExists(atPath: root + "/labels.csv") else {
            Issue.record("shared data missing: \(root) — set DOLL_SHARED or lay out ../shared next to the repository")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("doll-study-nih-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var cfg = try StudyConfig.preset("tiny")
        try cfg.set("classification", "labelcsv")
        try cfg.set("classification_csv", root + "/labels.csv")
        try cfg.set("classification_root", root)
        let study = Study(config: cfg, outputDirectory: dir)
        study.log = { _ in }
        let r = try study.run()
        #expect(r.classes.count == 15 && r.classes.contains("Cardiomegaly") && !r.classes.contains("split"))
        #expect(r.runs.count == 6 && r.runs.allSatisfy { $0.meanDice.isFinite })
        #expect(r.localization.isEmpty, "no finding masks: the labels are not scored")
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        #expect(md.contains("labelcsv data from") && md.contains("| Hernia |"))
    }

    @Test func tinyStudyWritesAParsableReport() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("doll-study-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = try StudyConfig.preset("tiny")
        try config.set("save_models", "true")
        let study = Study(config: config, outputDirectory: dir)
        study.log = { _ in }
        let r = try study.run()
        // 2 fractions × 3 inits × 1 seed
        #expect(r.runs.count == 6)
        #expect(r.runs.allSatisfy { $0.meanDice.isFinite && $0.meanDice >= 0 && $0.meanDice <= 1 && !$0.curve.isEmpty })
        // the labelled subset is split into training and validation parts (24 → 19 + 5, 6 → 5 + 1)
        #expect(r.runs.filter { $0.fraction == 1 }.allSatisfy { $0.trainImages == 19 && $0.validationImages == 5 })
        #expect(r.runs.filter { $0.fraction == 0.25 }.allSatisfy { $0.trainImages == 5 && $0.validationImages == 1 })
        #expect(r.runs.allSatisfy { $0.bestStep <= $0.steps && $0.stepsTo95 <= $0.bestStep && $0.steps == 3 })
        let csv = try String(contentsOfFile: dir + "/runs.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 7 && csv[0].hasPrefix("initialization,fraction,seed"))
        #expect(csv.dropFirst().allSatisfy { $0.split(separator: ",").count == csv[0].split(separator: ",").count })
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        #expect(
            md.contains("| labels (train+val) | init |") && md.contains("DoLL minus random")
                && md.contains("steps used"))
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains("<table>") && html.contains("data:image/png;base64,"))
        let cfg = try JSONDecoder().decode(
            StudyConfig.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
        #expect(cfg.name == "tiny" && cfg.saveModels)
        let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
        #expect((raw as? [String: Any])?["size"] as? Int == 32)
        // One fine-tuned U-Net per init × fraction × seed, with what doll.load needs.
        let models = try FileManager.default.contentsOfDirectory(atPath: dir + "/models").sorted()
        #expect(models.count == 6 && models.contains("doll-25pct-seed1.safetensors"), "\(models)")
        let file = try SafeTensors.read(path: dir + "/models/doll-100pct-seed1.safetensors")
        #expect(file.metadata["doll.kind"] == "unet" && file.metadata["doll.structures"] == "lungs,heart,clavicles")
        let unet = try UNet(JSONDecoder().decode(UNet.Config.self, from: Data(file.metadata["doll.config"]!.utf8)))
        try unet.loadStateDict(file.tensors)
        for f in ["efficiency_mean.png", "convergence_25pct.png", "convergence_100pct.png", "overlay_doll.png"] {
            let d = try Data(contentsOf: URL(fileURLWithPath: dir + "/figures/" + f))
            #expect(d.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "\(f)")
        }
        #expect(FileManager.default.fileExists(atPath: dir + "/doll_labels/manifest.json"))
    }
}
