import DollPipeline
import Foundation

/// Facts printed at the top of a notebook report.
public struct ReportHeader: Sendable {
    public var title: String
    public var notebookPath: String
    public var date: Date
    public var seedAtStart: UInt64
    /// Seeds the notebook set with `doll.seed(n)`, in order.
    public var seedsSet: [UInt64]
    public var versions: [(String, String)]
    public var seconds: Double

    public init(
        title: String, notebookPath: String, date: Date, seedAtStart: UInt64, seedsSet: [UInt64],
        versions: [(String, String)], seconds: Double
    ) {
        self.title = title; self.notebookPath = notebookPath; self.date = date; self.seedAtStart = seedAtStart
        self.seedsSet = seedsSet; self.versions = versions; self.seconds = seconds
    }

    /// "1", or "0 at start; doll.seed(7) in the notebook" (the seeds it set, not where the
    /// default seed ended up after random calls advanced it).
    public var seedText: String {
        guard !seedsSet.isEmpty else { return "\(seedAtStart)" }
        return "\(seedAtStart) at start; " + seedsSet.map { "doll.seed(\($0))" }.joined(separator: ", ")
            + " in the notebook"
    }

    var dateText: String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}

/// A ran notebook rendered as a self-contained HTML page (PNGs inline as base64) or Markdown
/// (PNGs as relative links).
public struct NotebookReport {
    public let notebook: Notebook
    public let runs: [CellRun]
    public let header: ReportHeader

    public init(notebook: Notebook, runs: [CellRun], header: ReportHeader) {
        self.notebook = notebook; self.runs = runs; self.header = header
    }

    /// The first Markdown heading of the notebook, or its file name.
    public static func title(of nb: Notebook) -> String {
        for c in nb.cells where c.kind == .markdown {
            for line in c.source.split(separator: "\n") where line.hasPrefix("#") {
                return line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)
            }
        }
        return (nb.path as NSString).lastPathComponent
    }

    var failures: Int { runs.filter { $0.error != nil }.count }

    /// A Markdown cell's text; the first cell's leading `# title` is dropped (the header shows it).
    func text(of cell: Notebook.Cell) -> String {
        guard cell.firstLine == notebook.cells.first?.firstLine, cell.source.hasPrefix("# ") else { return cell.source }
        return cell.source.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).dropFirst().joined()
    }

    // MARK: HTML

    public func html() -> String {
        let e = Markdown.escape
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(e(header.title))</title>
            <style>
            body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #1d1d1f; }
            header.meta { border-bottom: 1px solid #ddd; margin-bottom: 1.5em; padding-bottom: .5em; }
            header.meta table { border-collapse: collapse; font-size: 13px; }
            header.meta td { padding: 1px 12px 1px 0; vertical-align: top; }
            header.meta td:first-child { color: #666; }
            .cell { margin: 1.2em 0; }
            .label { font: 12px ui-monospace, Menlo, Consolas, monospace; color: #666; margin-bottom: 2px; }
            pre { margin: 0; padding: .6em .8em; overflow-x: auto; font: 13px/1.4 ui-monospace, Menlo, Consolas, monospace; border-radius: 4px; }
            pre.code { background: #f5f6f8; border-left: 3px solid #6b8fd6; }
            pre.out { background: #fff; border: 1px solid #e4e4e4; border-top: none; white-space: pre-wrap; }
            pre.err { background: #fff0f0; border: 1px solid #e8b4b4; color: #9b1c1c; white-space: pre-wrap; }
            .images { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 8px; }
            figure { margin: 0; }
            figure img { max-width: 100%; min-width: 192px; image-rendering: pixelated; border: 1px solid #ddd; }
            figcaption { font-size: 12px; color: #666; }
            .md table { border-collapse: collapse; } .md th, .md td { border: 1px solid #ccc; padding: 2px 8px; }
            .md code { background: #f1f1f1; padding: 0 3px; border-radius: 3px; }
            .skipped { color: #999; font-style: italic; }
            </style>
            </head>
            <body>
            <header class="meta">
            <h1>\(e(header.title))</h1>
            <table>
            <tr><td>notebook</td><td>\(e(header.notebookPath))</td></tr>
            <tr><td>run</td><td>\(e(header.dateText)), \(String(format: "%.1f", header.seconds)) s, \(runs.filter { $0.ran && $0.cell.kind == .code }.count) code cells\(failures > 0 ? ", <b>\(failures) failed</b>" : "")</td></tr>
            <tr><td>seed</td><td>\(e(header.seedText))</td></tr>

            """
        for (k, v) in header.versions { out += "<tr><td>\(e(k))</td><td>\(e(v))</td></tr>\n" }
        out += "</table>\n</header>\n"
        for r in runs {
            switch r.cell.kind {
            case .markdown:
                out +=
                    "<section class=\"cell md\" id=\"md-line-\(r.cell.firstLine)\">\n\(Markdown.html(text(of: r.cell)))\n</section>\n"
            case .code:
                out += "<section class=\"cell code\" id=\"cell-\(r.cell.number)\">\n"
                let status = r.ran ? String(format: "%.2f s", r.seconds) : "not run"
                out +=
                    "<div class=\"label\">[\(r.cell.number)] line \(r.cell.firstLine)\(r.cell.title.isEmpty ? "" : " · " + e(r.cell.title)) · \(status)</div>\n"
                out += "<pre class=\"code\"><code class=\"language-lua\">\(e(r.cell.source))</code></pre>\n"
                if !r.output.isEmpty { out += "<pre class=\"out\">\(e(r.output))</pre>\n" }
                if let err = r.error { out += "<pre class=\"err\">\(e(err))</pre>\n" }
                if !r.images.isEmpty {
                    out += "<div class=\"images\">\n"
                    for img in r.images {
                        let name = (img.path as NSString).lastPathComponent
                        out +=
                            "<figure><img src=\"data:image/png;base64,\(img.data.base64EncodedString())\" alt=\"\(e(name))\"><figcaption>\(e(img.path))</figcaption></figure>\n"
                    }
                    out += "</div>\n"
                }
                if !r.ran { out += "<p class=\"skipped\">(not run)</p>\n" }
                out += "</section>\n"
            }
        }
        out += "</body>\n</html>\n"
        return out
    }

    // MARK: Markdown

    /// Markdown with image links relative to `directory` (where the .md file goes).
    public func markdown(relativeTo directory: String) -> String {
        var out = "# \(header.title)\n\n"
        out += "| | |\n|---|---|\n"
        out += "| notebook | `\(header.notebookPath)` |\n"
        out +=
            "| run | \(header.dateText), \(String(format: "%.1f", header.seconds)) s\(failures > 0 ? ", **\(failures) failed**" : "") |\n"
        out += "| seed | \(header.seedText) |\n"
        for (k, v) in header.versions { out += "| \(k) | \(v.replacingOccurrences(of: "|", with: "\\|")) |\n" }
        out += "\n"
        for r in runs {
            switch r.cell.kind {
            case .markdown:
                out += text(of: r.cell) + "\n\n"
            case .code:
                let status = r.ran ? String(format: "%.2f s", r.seconds) : "not run"
                out += "*[\(r.cell.number)] line \(r.cell.firstLine) · \(status)*\n\n"
                out += "```lua\n\(r.cell.source)\n```\n\n"
                if !r.output.isEmpty {
                    out += "```text\n\(r.output.hasSuffix("\n") ? String(r.output.dropLast()) : r.output)\n```\n\n"
                }
                if let err = r.error { out += "> **Error:** \(err.replacingOccurrences(of: "\n", with: "\n> "))\n\n" }
                for img in r.images {
                    let rel = relativePath(from: directory, to: img.path)
                    out +=
                        "![\((img.path as NSString).lastPathComponent)](\(rel.replacingOccurrences(of: " ", with: "%20")))\n\n"
                }
            }
        }
        return out
    }
}

/// The path of `file` relative to `directory` (both made absolute against the current directory).
func relativePath(from directory: String, to file: String) -> String {
    let cwd = FileManager.default.currentDirectoryPath
    func parts(_ p: String) -> [String] {
        let abs = p.hasPrefix("/") ? p : cwd + "/" + p
        return (URL(fileURLWithPath: abs).standardizedFileURL.path as NSString).pathComponents.filter { $0 != "/" }
    }
    let d = parts(directory), f = parts(file)
    var i = 0
    while i < d.count, i < f.count, d[i] == f[i] { i += 1 }
    let rel = Array(repeating: "..", count: d.count - i) + f[i...]
    return rel.isEmpty ? "." : rel.joined(separator: "/")
}
