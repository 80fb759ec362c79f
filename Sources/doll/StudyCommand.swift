import ArgumentParser
import DollExplain
import DollLua
import DollPipeline
import Foundation

/// `doll study`: the DoLL experiment end to end, writing a report directory.
struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "study",
        abstract: "Run the DoLL study: classifiers → DoLL labels → U-Net pre-training → fine-tuning sweep → report.")

    @Option(help: "Preset: quick (minutes), full (hours) or tiny (seconds, for tests).")
    var preset = "quick"

    @Option(help: "Report directory.")
    var out = "reports/study"

    @Option(help: "Downstream task: phantom, phantom-infection, jsrt, covid.")
    var downstream = "phantom"

    @Option(help: "Root of the downstream data (jsrt or covid_seg folder) for real-data tasks.")
    var data: String?

    @Option(help: "Override the study seed.")
    var seed: UInt64?

    @Option(help: "Boost round: refine DoLL labels with the pre-trained U-Net (intersect or union) and pre-train again.")
    var boost: String?

    func run() throws {
        var cfg = try StudyConfig.preset(preset)
        guard let d = StudyConfig.Downstream(rawValue: downstream) else {
            throw ValidationError("unknown downstream task '\(downstream)' (phantom, phantom-infection, jsrt, covid)")
        }
        cfg.downstream = d
        switch d {
        case .phantomAnatomy: cfg.structures = ["lungs", "heart", "clavicles"]
        case .phantomInfection: cfg.structures = ["infection"]
        case .jsrt: cfg.structures = ["lungs", "heart", "clavicles"]
        case .covid: cfg.structures = ["lungs", "infection"]
        }
        cfg.dataRoot = data
        if let seed { cfg.seed = seed }
        if let boost {
            guard let m = DollLabelSet.BoostMode(rawValue: boost) else { throw ValidationError("--boost must be intersect or union") }
            cfg.boost = m
        }
        installInterruptHandler()
        let study = Study(config: cfg, outputDirectory: out)
        study.shouldStop = interruptRequested
        let r = try study.run()
        print("report: \(r.reportPath) (\(String(format: "%.0f", r.seconds)) s)")
    }
}

/// `doll phantoms --montage PATH`: a picture of the embedded phantom data with ground truth.
struct PhantomsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "phantoms", abstract: "Write a montage of phantom radiographs with their ground truth.")
    @Option(help: "Output PNG.") var montage = "phantoms.png"
    @Option(help: "Number of phantoms.") var n = 12
    @Option(help: "Image size.") var size = 128
    @Option(help: "Seed.") var seed: UInt64 = 1

    func validate() throws {
        guard (1...64).contains(n), (32...512).contains(size) else { throw ValidationError("--n must be in 1…64 and --size in 32…512") }
    }

    func run() throws {
        try PhantomMontage.write(to: montage, count: n, size: size, seed: seed)
        print("wrote \(montage)")
    }
}
