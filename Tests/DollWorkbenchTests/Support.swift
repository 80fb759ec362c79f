import Foundation
import Testing

/// The repository root (two levels above this file's directory).
let repositoryRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A fresh temporary directory for one test.
func temporaryDirectory(_ tag: String) -> String {
    let p = NSTemporaryDirectory() + "doll-wb-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

/// The `doll` executable built next to the test bundle (`swift test` builds every product).
func dollExecutable(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    var candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("doll").path
    ]
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("doll").path)
        candidates.append(
            URL(fileURLWithPath: exe).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("doll").path)
    }
    for c in ["release", "debug"] { candidates.append(repositoryRoot + "/.build/\(c)/doll") }
    if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
    Issue.record(
        "the doll executable was not found (looked in \(candidates.joined(separator: ", "))); build it first",
        sourceLocation: sourceLocation)
    return nil
}

/// Runs a process to completion and returns its status and combined output (`exited` is false
/// when a signal ended it; `status` is then the signal number).
@discardableResult
func runProcess(
    _ path: String, _ args: [String], environment: [String: String] = [:], directory: String? = nil
) throws
    -> (status: Int32, output: String, exited: Bool)
{
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self), p.terminationReason == .exit)
}
