import CLineEditor
import DollTensor
import Foundation

/// Line input for the REPL: GNU readline (history, Ctrl-R, completion) on a terminal, where
/// Ctrl-C cancels the line being typed; plain line reads otherwise.
final class LineEditor {
    enum Input: Equatable { case line(String), interrupted, eof }

    let interactive: Bool
    let historyPath: String?
    let historyLimit: Int32 = 2000
    let completer: (String, Int, Int) -> Completer.Result

    /// The editor readline's completion callback talks to (one REPL per process).
    nonisolated(unsafe) static var current: LineEditor?

    init(interactive: Bool, historyPath: String?, completer: @escaping (String, Int, Int) -> Completer.Result) {
        self.interactive = interactive
        self.historyPath = historyPath
        self.completer = completer
        guard interactive else { return }
        LineEditor.current = self
        if let historyPath {
            try? FileManager.default.createDirectory(
                atPath: parentDirectory(historyPath), withIntermediateDirectories: true)
        }
        doll_le_setup(
            Completer.wordBreaks,
            { line, start, end, append in
                guard let editor = LineEditor.current, let line else { return nil }
                let r = editor.completer(String(cString: line), Int(start), Int(end))
                guard !r.items.isEmpty else { return nil }
                append?.pointee = r.append.map { Int32($0.asciiValue ?? 0) } ?? 0
                return LineEditor.matches(r.items)
            }, historyPath, historyLimit)
    }

    /// readline's match list: the common prefix first, then the matches, then NULL (malloc'ed;
    /// readline frees it). A single match stands alone.
    static func matches(_ items: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let n = items.count
        let out = malloc((n + 2) * MemoryLayout<UnsafeMutablePointer<CChar>?>.stride)!
            .bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: n + 2)
        if n == 1 {
            out[0] = strdup(items[0]); out[1] = nil
            return out
        }
        let common = items.dropFirst().reduce(items[0]) { String($0.commonPrefix(with: $1)) }
        out[0] = strdup(common)
        for (i, s) in items.enumerated() { out[i + 1] = strdup(s) }
        out[n + 1] = nil
        return out
    }

    /// Reads one line showing `prompt`. Ctrl-C while typing gives `.interrupted`, Ctrl-D on an
    /// empty line `.eof`.
    func read(prompt: String) -> Input {
        guard interactive else {
            guard let line = Swift.readLine(strippingNewline: true) else { return .eof }
            return .line(line)
        }
        var raw: UnsafeMutablePointer<CChar>? = nil
        switch doll_le_read(prompt, &raw) {
        case 1:
            defer { free(raw) }
            return .line(raw.map { String(cString: $0) } ?? "")
        case -1: return .interrupted
        default: return .eof
        }
    }

    /// Adds a line to the history and appends it to the history file right away.
    func remember(_ line: String) {
        guard interactive, !line.trimmingCharacters(in: .whitespaces).isEmpty else { return }
        doll_le_remember(line, historyPath)
    }

    /// Trims the history file to its cap.
    func close() {
        guard interactive else { return }
        doll_le_close(historyPath, historyLimit)
        LineEditor.current = nil
    }
}
