import ArgumentParser
import DollTensor
import Foundation

/// Version of the DoLL Workbench.
let dollVersion = "0.1.0"

struct Doll: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doll",
        abstract: "DoLL Workbench: explanation-driven pre-training for chest-radiograph segmentation.",
        version: "doll \(dollVersion) (BLAS kernel: \(BLAS.coreName), threads: \(BLAS.threads))",
        subcommands: [Run.self, StudyCommand.self, PhantomsCommand.self, Bench.self]
    )
}
