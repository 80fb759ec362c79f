import ArgumentParser
import DollExplain
import DollLua
import DollNN
import DollPipeline
import DollTensor
import Foundation

/// `doll study`: the DoLL experiment end to end, writing a report directory.
struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study",
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

    @Option(
        help: "Boost round: refine DoLL labels with the pre-trained U-Net (intersect or union) and pre-train again.")
    var boost: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override a setting, e.g. --set seeds=1,2,3 --set threshold=p90 (repeatable). Settings: \(StudyConfig.settableKeys.joined(separator: ", ")).",
            valueName: "key=value"))
    var settings: [String] = []

    func run() throws {
        var cfg = try StudyConfig.preset(preset)
        do {
            try cfg.set("downstream", downstream)
            if let data { try cfg.set("data", data) }
            if let seed { try cfg.set("seed", String(seed)) }
            if let boost { try cfg.set("boost", boost) }
            for s in settings {
                guard let eq = s.firstIndex(of: "=") else { throw ValidationError("--set needs key=value, got '\(s)'") }
                try cfg.set(String(s[..<eq]), String(s[s.index(after: eq)...]))
            }
        } catch let e as DollError { throw ValidationError(e.message) }
        installInterruptHandler()
        // Under mpirun every rank runs every stage (training data-parallel, labelling sharded);
        // rank 0 writes the report, the others work in a scratch folder they remove.
        let leader = DataParallel.isLeader
        let directory = leader ? out : NSTemporaryDirectory() + "doll-study-rank\(DataParallel.rank)-\(getpid())"
        defer { if !leader { try? FileManager.default.removeItem(atPath: directory) } }
        let study = Study(config: cfg, outputDirectory: directory)
        study.shouldStop = interruptRequested
        let r = try study.run()
        if leader { print("report: \(r.reportPath) (\(String(format: "%.0f", r.seconds)) s)") }
    }
}

/// `doll phantoms --montage PATH`: a picture of the embedded phantom data with ground truth.
struct PhantomsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phantoms", abstract: "Write a montage of phantom radiographs with their ground truth.")
    @Option(help: "Output PNG.") var montage = "phantoms.png"
    @Option(help: "Number of phantoms.") var n = 12
    @Option(help: "Image size.") var size = 128
    @Option(help: "Seed.") var seed: UInt64 = 1

    func validate() throws {
        guard (1...64).contains(n), (32...512).contains(size) else {
            throw ValidationError("--n must be in 1…64 and --size in 32…512")
        }
    }

    func run() throws {
        try PhantomMontage.write(to: montage, count: n, size: size, seed: seed)
        print("wrote \(montage)")
    }
}
