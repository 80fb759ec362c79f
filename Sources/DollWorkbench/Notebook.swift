import Foundation

/// A percent-format notebook: a Lua file whose `-- %%` lines start code cells and whose
/// `-- %% [markdown]` lines start text cells (each text line written as `-- text`). The file
/// stays a valid Lua script; cells share globals (locals stay in their cell, as in the REPL).
public struct Notebook: Sendable {
    public enum Kind: String, Sendable { case code, markdown }

    /// One cell. `firstLine` is the 1-based file line of the cell's first content line.
    public struct Cell: Sendable {
        /// Code cells: 1, 2, … in order (markdown cells between them are not counted; they carry
        /// the number of the code cell before them).
        public let number: Int
        public let kind: Kind
        public let firstLine: Int
        /// Code as written, or Markdown text with the `-- ` prefixes removed.
        public let source: String
        /// Text after the `-- %%` marker (a cell title), if any.
        public let title: String
    }

    public let path: String
    public let cells: [Cell]

    /// Code cells only.
    public var codeCells: [Cell] { cells.filter { $0.kind == .code } }

    /// Whether `text` uses cell markers at all (otherwise it is a plain script).
    public static func isNotebook(_ text: String) -> Bool {
        lines(of: text).contains { marker($0) != nil }
    }

    /// The lines of a file as Lua counts them: ends at "\n", "\r" or "\r\n" (Swift keeps "\r\n"
    /// as one Character, so splitting on "\n" alone misses it); a leading UTF-8 byte-order mark
    /// is dropped. The one line splitter for notebooks, whatever wrote them.
    public static func lines(of text: String) -> [String] {
        let body = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        return body.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }.map(
            String.init)
    }

    /// Parses a cell marker line: nil if the line is not one.
    static func marker(_ line: String) -> (kind: Kind, title: String)? {
        let t = line.trimmingCharacters(in: .whitespaces)
        guard t.hasPrefix("-- %%") else { return nil }
        var rest = t.dropFirst(5).trimmingCharacters(in: .whitespaces)
        var kind = Kind.code
        if rest.hasPrefix("[markdown]") || rest.hasPrefix("[md]") {
            kind = .markdown
            rest = String(rest.drop { $0 != "]" }.dropFirst()).trimmingCharacters(in: .whitespaces)
        }
        return (kind, rest)
    }

    public init(path: String, text: String) {
        self.path = path
        let lines = Notebook.lines(of: text)
        var cells: [Cell] = []
        var kind = Kind.code, title = "", start = 1, body: [String] = []
        func flush() {
            var b = body
            while let last = b.last, last.trimmingCharacters(in: .whitespaces).isEmpty { b.removeLast() }
            let isPreamble = cells.isEmpty && start == 1
            if isPreamble && b.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { return }
            let source =
                kind == .markdown ? b.map(Notebook.uncomment).joined(separator: "\n") : b.joined(separator: "\n")
            // Code cells are numbered 1, 2, … (what run summaries, errors and --cells count);
            // markdown cells carry the number of the code cell before them.
            let codeCells = cells.filter { $0.kind == .code }.count
            cells.append(
                Cell(
                    number: kind == .code ? codeCells + 1 : codeCells, kind: kind, firstLine: start, source: source,
                    title: title))
        }
        for (i, line) in lines.enumerated() {
            if let m = Notebook.marker(line) {
                flush()
                kind = m.kind; title = m.title; start = i + 2; body = []
            } else {
                body.append(line)
            }
        }
        flush()
        self.cells = cells
    }

    /// Reads and parses a notebook file.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WorkbenchError("cannot read notebook '\(path)'")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WorkbenchError("notebook '\(path)' is not UTF-8 text")
        }
        self.init(path: path, text: text)
    }

    /// `-- text` → `text` (a Markdown line in a text cell).
    static func uncomment(_ line: String) -> String {
        if line.hasPrefix("-- ") { return String(line.dropFirst(3)) }
        if line.hasPrefix("--") { return String(line.dropFirst(2)) }
        return line
    }

    /// Parses a cell selection like `2-4`, `1,3,5-6` or `3-` against `count` cells.
    public static func parseSelection(_ spec: String, count: Int) throws -> Set<Int> {
        var out = Set<Int>()
        for part in spec.split(separator: ",") {
            let p = part.trimmingCharacters(in: .whitespaces)
            let bounds = p.split(separator: "-", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard (1...2).contains(bounds.count) else {
                throw WorkbenchError("bad cell range '\(p)' (use forms like 2, 2-4 or 3-)")
            }
            guard let lo = bounds[0].isEmpty ? 1 : Int(bounds[0]) else {
                throw WorkbenchError("bad cell number in '\(p)'")
            }
            let hi: Int
            if bounds.count == 1 {
                hi = lo
            } else if bounds[1].isEmpty {
                hi = count
            } else {
                guard let h = Int(bounds[1]) else { throw WorkbenchError("bad cell number in '\(p)'") }
                hi = h
            }
            guard lo >= 1, hi >= lo, hi <= count else {
                throw WorkbenchError("cell range '\(p)' is outside 1…\(count)")
            }
            out.formUnion(lo...hi)
        }
        guard !out.isEmpty else { throw WorkbenchError("empty cell selection '\(spec)'") }
        return out
    }
}

/// An error of the workbench (notebooks, sessions, REPL), with a message for the user.
public struct WorkbenchError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
