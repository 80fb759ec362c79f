import CDollSupport
import DollLua
import DollTensor
import Foundation

/// What running one cell produced.
public struct CellRun: Sendable {
    public let cell: Notebook.Cell
    /// Everything the cell printed (stdout and stderr, in order) when output was captured.
    public let output: String
    /// PNG files written during the cell, in order of first write, with their bytes right after it.
    public let images: [(path: String, data: Data)]
    /// "cell N, line L: message" when the cell failed.
    public let error: String?
    /// The file line the error points at, when known.
    public let errorLine: Int?
    public let seconds: Double
    /// Whether it ran (false for cells outside the selection or after a failure).
    public let ran: Bool
}

/// Runs a notebook's code cells in order in one Lua state, each cell a separate chunk named
/// after the file so error lines are file lines.
public final class NotebookRunner {
    public let lua: LuaState

    public init(lua: LuaState) { self.lua = lua }

    /// Runs the selected cells (all when nil). Stops at the first error unless `keepGoing`.
    /// With `capture`, file descriptors 1 and 2 are redirected per cell so the output of Lua,
    /// Swift and C code is collected; `progress` still reaches the real stderr.
    public func run(
        _ nb: Notebook, selection: Set<Int>? = nil, keepGoing: Bool = false, capture: Bool = false,
        willRun: (Notebook.Cell) -> Void = { _ in }, didRun: (CellRun) -> Void = { _ in }
    ) -> [CellRun] {
        var results: [CellRun] = []
        var failed = false
        // os.exit would end the process before the report is written: in a notebook it stops
        // the run at that cell instead, as an error the report shows.
        _ = try? lua.run(
            """
            os.exit = function(code)
              error('os.exit(' .. tostring(code == nil and true or code) .. ') called: a notebook stops here instead of exiting', 2)
            end
            """)
        for cell in nb.cells {
            // Markdown is always shown; a selection picks code cells by their numbers.
            let selected = cell.kind == .markdown || (selection?.contains(cell.number) ?? true)
            guard cell.kind == .code, selected, !failed else {
                let r = CellRun(
                    cell: cell, output: "", images: [], error: nil, errorLine: nil, seconds: 0,
                    ran: cell.kind == .markdown && selected)
                results.append(r); didRun(r); continue
            }
            willRun(cell)
            let r = runCell(cell, path: nb.path, capture: capture)
            results.append(r)
            didRun(r)
            if r.error != nil && !keepGoing { failed = true }
        }
        return results
    }

    func runCell(_ cell: Notebook.Cell, path: String, capture: Bool) -> CellRun {
        var written: [String] = []
        let lock = NSLock()
        // Only this thread's writes belong to the cell (the observer list is process-wide, and
        // other notebooks or tests may be writing PNGs at the same time).
        let thread = pthread_self()
        let token = AtomicFile.addObserver { p in
            guard p.lowercased().hasSuffix(".png"), pthread_equal(pthread_self(), thread) != 0 else { return }
            lock.lock(); if !written.contains(p) { written.append(p) }; lock.unlock()
        }
        let capturer = capture ? try? OutputCapture() : nil
        let start = DispatchTime.now().uptimeNanoseconds
        var failure: String? = nil, line: Int? = nil
        do {
            // Leading newlines make Lua's line numbers the file's line numbers.
            let code = String(repeating: "\n", count: cell.firstLine - 1) + cell.source
            if let shown = try runEndingInExpression(code, path: path) {
                lua.flushOutput()
                if !shown.isEmpty { lua.output(shown.joined(separator: "\t") + "\n") }
            } else {
                try lua.run(code, name: "@" + path)
            }
        } catch let e as LuaRunError {
            line = Self.errorLine(in: e, path: path)
            failure = "cell \(cell.number)\(line.map { ", line \($0)" } ?? ""): \(e.message)"
        } catch {
            failure = "cell \(cell.number): \(error)"
        }
        lua.flushOutput()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let output = capturer?.finish() ?? ""
        AtomicFile.removeObserver(token)
        let images = written.compactMap { p in FileManager.default.contents(atPath: p).map { (p, $0) } }
        return CellRun(
            cell: cell, output: output, images: images, error: failure, errorLine: line, seconds: seconds, ran: true)
    }

    /// A cell whose last line is a bare expression (not a Lua statement, so the cell does not
    /// compile as it is) runs with that line returned, and its value is shown as the REPL
    /// shows it. Nil when the cell is not of that form (it then runs as statements).
    func runEndingInExpression(_ code: String, path: String) throws -> [String]? {
        switch lua.compile(code, name: "@" + path) {
        case .ok: lua.discardCompiled(); return nil
        case .incomplete: return nil
        case .error: break
        }
        var lines = code.components(separatedBy: "\n")
        while let last = lines.last,
            last.trimmingCharacters(in: .whitespaces).isEmpty
                || last.trimmingCharacters(in: .whitespaces).hasPrefix("--")
        {
            lines.removeLast()
        }
        guard let last = lines.popLast() else { return nil }
        let candidate = (lines + ["return " + last]).joined(separator: "\n")
        guard lua.compile(candidate, name: "@" + path) == .ok else { return nil }
        return try lua.callCompiled()
    }

    /// The first `file:LINE:` position of `path` in the error message or, failing that, its traceback.
    static func errorLine(in e: LuaRunError, path: String) -> Int? {
        let name = (path as NSString).lastPathComponent + ":"
        for text in [e.message, e.traceback ?? ""] {
            var rest = Substring(text)
            while let r = rest.range(of: name) {
                let digits = rest[r.upperBound...].prefix { $0.isNumber }
                if !digits.isEmpty, rest[r.upperBound...].dropFirst(digits.count).first == ":" { return Int(digits) }
                rest = rest[r.upperBound...]
            }
        }
        return nil
    }
}

/// Redirects file descriptors 1 and 2 into a temporary file until `finish`.
final class OutputCapture {
    private let savedOut: Int32, savedErr: Int32, fd: Int32
    private let path: String
    private var finished = false

    init() throws {
        doll_stdio_flush()
        path = NSTemporaryDirectory() + "doll-cell-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw WorkbenchError("cannot create a capture file in \(NSTemporaryDirectory())") }
        unlink(path)
        savedOut = dup(1); savedErr = dup(2)
        dup2(fd, 1); dup2(fd, 2)
    }

    /// Restores stdout/stderr and returns what was written meanwhile.
    func finish() -> String {
        guard !finished else { return "" }
        finished = true
        doll_stdio_flush()
        dup2(savedOut, 1); dup2(savedErr, 2)
        close(savedOut); close(savedErr)
        var data = Data()
        lseek(fd, 0, SEEK_SET)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data.append(buffer, count: n)
        }
        close(fd)
        return String(decoding: data, as: UTF8.self)
    }

    deinit { _ = finish() }
}
