import Foundation

/// A CommonMark subset rendered to HTML for notebook and study reports. Raw HTML in the input is escaped, never passed through.
///
/// Blocks: ATX headings, paragraphs, fenced code, bullet and ordered lists (nested by indentation),
/// blockquotes, thematic breaks and GFM pipe tables. Inlines: code spans, emphasis, links, images,
/// autolinks, backslash escapes and hard line breaks. Not supported: setext headings, indented code,
/// link titles, reference links and HTML. Nesting deeper than `maxDepth` is rendered as plain text.
public enum Markdown {
    /// Renders Markdown text to an HTML fragment (no <html>/<body> wrapper).
    public static func html(_ text: String) -> String {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .replacingOccurrences(of: "\0", with: "\u{FFFD}")
        let lines = normalized.split(separator: "\n", omittingEmptySubsequences: false).map { expandTabs(String($0)) }
        return render(blocks(lines, depth: 0))
    }

    /// Escapes &, <, >, " and ' for HTML text and attribute values.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// Deepest nesting of blockquotes/lists (and of links in link text) that is still parsed.
    private static let maxDepth = 32

    // MARK: Blocks

    /// A rendered block; `paragraph` holds a paragraph's inner HTML so tight list items can unwrap it.
    private struct Block { var html: String; var paragraph: String? = nil; var afterBlank = false }

    private static func render(_ blocks: [Block]) -> String { blocks.map(\.html).joined(separator: "\n") }

    private static func blocks(_ lines: [String], depth: Int) -> [Block] {
        if depth > maxDepth {
            let text = lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? [] : [Block(html: "<p>\(escape(text))</p>")]
        }
        var out: [Block] = [], i = 0, blank = false
        while i < lines.count {
            let line = lines[i]
            if isBlank(line) { blank = true; i += 1; continue }
            var block: Block
            if let f = fence(line) {
                (block, i) = codeBlock(lines, i, f)
            } else if let h = heading(line) {
                block = h; i += 1
            } else if isRule(line) {
                block = Block(html: "<hr>"); i += 1
            } else if quoteLine(line) != nil {
                (block, i) = blockquote(lines, i, depth)
            } else if let m = listMarker(line) {
                (block, i) = list(lines, i, m, depth)
            } else if let t = table(lines, i) {
                (block, i) = t
            } else {
                (block, i) = paragraph(lines, i)
            }
            block.afterBlank = blank
            blank = false
            out.append(block)
        }
        return out
    }

    private static func isBlank(_ line: String) -> Bool { line.utf8.allSatisfy { $0 == 32 || $0 == 9 } }
    /// The line without its indentation when that is at most 3 spaces (where blocks may start), else nil.
    private static func unindented(_ line: String) -> Substring? {
        indent(line) <= 3 ? line.dropFirst(indent(line)) : nil
    }
    private static func indent(_ line: String) -> Int { line.utf8.prefix { $0 == 32 }.count }
    private static func dropIndent(_ line: String, _ n: Int) -> String {
        String(decoding: line.utf8.dropFirst(min(n, indent(line))), as: UTF8.self)
    }

    /// Leading tabs become spaces (tab stops of 4) so indentation can be counted in spaces.
    private static func expandTabs(_ line: String) -> String {
        let lead = line.prefix { $0 == " " || $0 == "\t" }
        guard lead.contains("\t") else { return line }
        let width = lead.reduce(0) { col, c in c == "\t" ? col + 4 - col % 4 : col + 1 }
        return String(repeating: " ", count: width) + line.dropFirst(lead.count)
    }

    /// Whether `line` ends a paragraph (or a lazy continuation) by starting another block.
    private static func interrupts(_ line: String) -> Bool {
        if fence(line) != nil || heading(line) != nil || isRule(line) || quoteLine(line) != nil { return true }
        if let m = listMarker(line) { return !m.first.isEmpty && (!m.ordered || m.start == 1) }
        return false
    }

    private static func paragraph(_ lines: [String], _ start: Int) -> (Block, Int) {
        var j = start, parts: [String] = []
        while j < lines.count, !isBlank(lines[j]), j == start || !(interrupts(lines[j]) || alignments(lines, j) != nil)
        {
            parts.append(String(lines[j].drop { $0 == " " || $0 == "\t" }))
            j += 1
        }
        var text = parts.joined(separator: "\n")
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        let html = inline(text)
        return (Block(html: "<p>\(html)</p>", paragraph: html), j)
    }

    private static func heading(_ line: String) -> Block? {
        guard let rest = unindented(line) else { return nil }
        let level = rest.prefix { $0 == "#" }.count
        guard (1...6).contains(level) else { return nil }
        let after = rest.dropFirst(level)
        guard after.isEmpty || after.first == " " || after.first == "\t" else { return nil }
        var text = after.trimmingCharacters(in: .whitespaces)
        let closing = text.reversed().prefix { $0 == "#" }.count
        if closing == text.count {
            text = ""
        } else if closing > 0, let c = text.dropLast(closing).last, c == " " || c == "\t" {
            text = text.dropLast(closing).trimmingCharacters(in: .whitespaces)
        }
        return Block(html: "<h\(level)>\(inline(text))</h\(level)>")
    }

    private static func isRule(_ line: String) -> Bool {
        guard let rest = unindented(line), let c = rest.first, c == "-" || c == "*" || c == "_" else { return false }
        var n = 0
        for x in rest where x != " " && x != "\t" {
            guard x == c else { return false }
            n += 1
        }
        return n >= 3
    }

    private struct Fence { var indent: Int; var char: Character; var count: Int; var info: String }

    private static func fence(_ line: String) -> Fence? {
        guard let rest = unindented(line), let c = rest.first, c == "`" || c == "~" else { return nil }
        let n = rest.prefix { $0 == c }.count
        guard n >= 3 else { return nil }
        let info = rest.dropFirst(n).trimmingCharacters(in: .whitespaces)
        if c == "`" && info.contains("`") { return nil }
        return Fence(indent: indent(line), char: c, count: n, info: info)
    }

    private static func codeBlock(_ lines: [String], _ start: Int, _ f: Fence) -> (Block, Int) {
        var j = start + 1, body = ""
        while j < lines.count {
            let line = lines[j]
            j += 1
            if let rest = unindented(line), rest.prefix(while: { $0 == f.char }).count >= f.count,
                rest.drop(while: { $0 == f.char }).allSatisfy({ $0 == " " || $0 == "\t" })
            {
                break
            }
            body += dropIndent(line, f.indent) + "\n"
        }
        let lang = f.info.split(separator: " ").first.map { " class=\"language-\(escape(String($0)))\"" } ?? ""
        return (Block(html: "<pre><code\(lang)>\(escape(body))</code></pre>"), j)
    }

    /// The content of a `>` line (one optional space after the marker removed), else nil.
    private static func quoteLine(_ line: String) -> String? {
        guard let rest = unindented(line), rest.first == ">" else { return nil }
        let content = rest.dropFirst()
        return String(content.first == " " ? content.dropFirst() : content)
    }

    private static func blockquote(_ lines: [String], _ start: Int, _ depth: Int) -> (Block, Int) {
        var inner: [String] = [], j = start
        while j < lines.count {
            if let q = quoteLine(lines[j]) {
                inner.append(q)
            } else if let last = inner.last, !isBlank(last), !isBlank(lines[j]), !interrupts(lines[j]) {
                inner.append(lines[j])  // lazy continuation
            } else {
                break
            }
            j += 1
        }
        let body = render(blocks(inner, depth: depth + 1))
        return (Block(html: "<blockquote>\n" + (body.isEmpty ? "" : body + "\n") + "</blockquote>"), j)
    }

    /// A list item marker: `first` is the text after it, `content` the column its content starts at.
    private struct Marker {
        var indent: Int, ordered: Bool, char: Character, start: Int, content: Int, first: String
    }

    private static func listMarker(_ line: String) -> Marker? {
        guard let rest = unindented(line), let f = rest.first, f.isASCII, f.isNumber || "-*+".contains(f) else {
            return nil
        }
        let ind = indent(line), s = Array(rest)
        var k = 0
        while k < s.count, k < 9, s[k].isASCII, s[k].isNumber { k += 1 }
        let ordered = k > 0
        guard ordered ? k < s.count && (s[k] == "." || s[k] == ")") : ["-", "*", "+"].contains(s.first) else {
            return nil
        }
        let end = ordered ? k + 1 : 1
        guard end == s.count || s[end] == " " || s[end] == "\t" else { return nil }
        let spaces = s[end...].prefix { $0 == " " || $0 == "\t" }.count
        let start = ordered ? Int(String(s[0..<k])) ?? 1 : 1
        var m = Marker(indent: ind, ordered: ordered, char: s[end - 1], start: start, content: ind + end + 1, first: "")
        if end + spaces == s.count { return m }
        if spaces <= 4 { m.content = ind + end + spaces }
        m.first = String(s[(spaces <= 4 ? end + spaces : end + 1)...])
        return m
    }

    private static func list(_ lines: [String], _ start: Int, _ first: Marker, _ depth: Int) -> (Block, Int) {
        var items: [[Block]] = [], loose = false, marker = first, i = start
        while true {
            var body = [marker.first], j = i + 1
            while j < lines.count {
                let line = lines[j]
                if isBlank(line) {
                    body.append("")
                } else if indent(line) >= marker.indent + 2 {
                    body.append(dropIndent(line, marker.content))
                } else if listMarker(line) == nil, let last = body.last, !isBlank(last), !interrupts(line) {
                    body.append(String(line.drop { $0 == " " }))  // lazy continuation
                } else {
                    break
                }
                j += 1
            }
            while body.count > 1, let last = body.last, isBlank(last) { body.removeLast(); j -= 1 }
            let children = blocks(body, depth: depth + 1)
            if children.dropFirst().contains(where: \.afterBlank) { loose = true }
            items.append(children)
            var k = j
            while k < lines.count, isBlank(lines[k]) { k += 1 }
            guard k < lines.count, !isRule(lines[k]), let next = listMarker(lines[k]),
                next.ordered == first.ordered, next.char == first.char
            else { i = j; break }
            if k > j { loose = true }
            marker = next
            i = k
        }
        let tag = first.ordered ? "ol" : "ul"
        var html = "<\(tag)" + (first.ordered && first.start != 1 ? " start=\"\(first.start)\"" : "") + ">\n"
        for children in items {
            var li = "<li>"
            for b in children {
                if !loose, let p = b.paragraph {
                    li += p
                } else {
                    li += (li.hasSuffix("\n") ? "" : "\n") + b.html + "\n"
                }
            }
            html += li + "</li>\n"
        }
        return (Block(html: html + "</\(tag)>"), i)
    }

    // MARK: Tables

    /// Splits a table row on unescaped pipes; `\|` becomes a literal pipe in the cell.
    private static func cells(_ line: String) -> [String] {
        var row = Substring(line.trimmingCharacters(in: .whitespaces))
        if row.first == "|" { row = row.dropFirst() }
        var out: [String] = [], cell = "", escaped = false
        for c in row {
            if escaped {
                cell += c == "|" ? "|" : "\\\(c)"; escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "|" {
                out.append(cell.trimmingCharacters(in: .whitespaces)); cell = ""
            } else {
                cell.append(c)
            }
        }
        if escaped { cell += "\\" }
        if !cell.isEmpty || out.isEmpty { out.append(cell.trimmingCharacters(in: .whitespaces)) }
        return out
    }

    /// Column alignments when `lines[i]` is a table header followed by a matching separator row.
    private static func alignments(_ lines: [String], _ i: Int) -> [String?]? {
        let pipe: Character = "|"
        guard i + 1 < lines.count, lines[i].contains(pipe), lines[i + 1].contains(pipe) else { return nil }
        var out: [String?] = []
        for c in cells(lines[i + 1]) {
            let left = c.hasPrefix(":"), right = c.hasSuffix(":")
            let dashes = c.dropFirst(left ? 1 : 0).dropLast(right ? 1 : 0)
            guard !dashes.isEmpty, dashes.allSatisfy({ $0 == "-" }) else { return nil }
            out.append(left && right ? "center" : left ? "left" : right ? "right" : nil)
        }
        return out.count == cells(lines[i]).count ? out : nil
    }

    private static func table(_ lines: [String], _ start: Int) -> (Block, Int)? {
        guard let aligns = alignments(lines, start) else { return nil }
        func row(_ line: String, _ tag: String) -> String {
            let values = cells(line)
            var s = "<tr>"
            for (k, align) in aligns.enumerated() {
                let style = align.map { " style=\"text-align:\($0)\"" } ?? ""
                s += "<\(tag)\(style)>\(inline(k < values.count ? values[k] : ""))</\(tag)>"
            }
            return s + "</tr>"
        }
        var html = "<table>\n<thead>\n\(row(lines[start], "th"))\n</thead>\n"
        var j = start + 2, rows: [String] = []
        while j < lines.count, !isBlank(lines[j]), !interrupts(lines[j]) {
            rows.append(row(lines[j], "td"))
            j += 1
        }
        if !rows.isEmpty { html += "<tbody>\n" + rows.joined(separator: "\n") + "\n</tbody>\n" }
        return (Block(html: html + "</table>"), j)
    }

    // MARK: Inlines

    /// Inline output: HTML text, or an emphasis delimiter run with the tags it gained while matching.
    private struct Token {
        var text = ""
        var delim: Character? = nil
        var length = 0, count = 0  // the run's length, and how many of its characters are still unmatched
        var canOpen = false, canClose = false
        var opens: [String] = [], closes: [String] = []
        var html: String {
            closes.joined() + (delim.map { String(repeating: $0, count: count) } ?? text) + opens.reversed().joined()
        }
    }

    /// Characters that may start an inline construct (or a hard break).
    private static func isSpecial(_ c: Character) -> Bool {
        switch c {
        case "\\", " ", "`", "*", "_", "[", "!", "<": true
        default: false
        }
    }

    private static func isPunct(_ c: Character) -> Bool { c.isPunctuation || c.isSymbol }
    private static func isASCIIPunct(_ c: Character) -> Bool { c.isASCII && isPunct(c) }

    private static func inline(_ text: String, depth: Int = 0) -> String {
        let s = Array(text)
        let brackets = matchBrackets(s)
        var tokens: [Token] = [], buf = "", i = 0
        while i < s.count {
            let c = s[i]
            let next: Character? = i + 1 < s.count ? s[i + 1] : nil
            switch c {
            case "\\":
                if next == "\n" {
                    buf += "<br>\n"; i += 2
                } else if let n = next, isASCIIPunct(n) {
                    buf += escape(String(n)); i += 2
                } else {
                    buf += "\\"; i += 1
                }
            case " ":
                var j = i
                while j < s.count, s[j] == " " { j += 1 }
                if j < s.count, s[j] == "\n" {
                    buf += j - i >= 2 ? "<br>\n" : "\n"; i = j + 1
                } else {
                    buf += String(repeating: " ", count: j - i); i = j
                }
            case "`":
                var j = i
                while j < s.count, s[j] == "`" { j += 1 }
                if let end = closingBackticks(s, from: j, count: j - i) {
                    var code = String(s[j..<end]).replacingOccurrences(of: "\n", with: " ")
                    if code.count >= 2, code.first == " ", code.last == " ", code.contains(where: { $0 != " " }) {
                        code = String(code.dropFirst().dropLast())
                    }
                    buf += "<code>\(escape(code))</code>"
                    i = end + (j - i)
                } else {
                    buf += String(s[i..<j]); i = j
                }
            case "*", "_":
                var j = i
                while j < s.count, s[j] == c { j += 1 }
                let before = i > 0 ? s[i - 1] : " ", after = j < s.count ? s[j] : " "
                let left = !after.isWhitespace && (!isPunct(after) || before.isWhitespace || isPunct(before))
                let right = !before.isWhitespace && (!isPunct(before) || after.isWhitespace || isPunct(after))
                if !buf.isEmpty { tokens.append(Token(text: buf)); buf = "" }
                tokens.append(
                    Token(
                        delim: c, length: j - i, count: j - i,
                        canOpen: c == "*" ? left : left && (!right || isPunct(before)),
                        canClose: c == "*" ? right : right && (!left || isPunct(after))))
                i = j
            case "[",
                "!" where next == "[":
                let open = c == "!" ? i + 1 : i
                if depth < maxDepth, let close = brackets[open], let link = destination(s, close) {
                    let label = String(s[(open + 1)..<close])
                    if c == "!" {
                        buf +=
                            isSafe(link.url, image: true)
                            ? "<img src=\"\(escape(link.url))\" alt=\"\(escape(label))\">" : escape(label)
                    } else {
                        let inner = inline(label, depth: depth + 1)
                        buf += isSafe(link.url, image: false) ? "<a href=\"\(escape(link.url))\">\(inner)</a>" : inner
                    }
                    i = link.end
                } else {
                    buf += String(c); i += 1
                }
            case "<":
                if let (url, end) = autolink(s, i) {
                    buf += "<a href=\"\(escape(url))\">\(escape(url))</a>"; i = end
                } else {
                    buf += "&lt;"; i += 1
                }
            default:
                var j = i + 1
                while j < s.count, !isSpecial(s[j]) { j += 1 }
                buf += escape(String(s[i..<j]))
                i = j
            }
        }
        if !buf.isEmpty { tokens.append(Token(text: buf)) }
        matchEmphasis(&tokens)
        return tokens.map(\.html).joined()
    }

    /// Start of the next run of exactly `count` backticks at or after `from`.
    private static func closingBackticks(_ s: [Character], from: Int, count: Int) -> Int? {
        var j = from
        while j < s.count {
            guard s[j] == "`" else { j += 1; continue }
            let start = j
            while j < s.count, s[j] == "`" { j += 1 }
            if j - start == count { return start }
        }
        return nil
    }

    /// For each `[`, the index of its matching `]` (backslash-escaped brackets skipped).
    private static func matchBrackets(_ s: [Character]) -> [Int: Int] {
        var pairs: [Int: Int] = [:], open: [Int] = []
        var i = 0
        while i < s.count {
            if s[i] == "[" { open.append(i) } else if s[i] == "]", let o = open.popLast() { pairs[o] = i }
            i += s[i] == "\\" ? 2 : 1
        }
        return pairs
    }

    /// `(url)` right after the label's `]` at `close`: the URL and the index after `)`.
    private static func destination(_ s: [Character], _ close: Int) -> (url: String, end: Int)? {
        guard close + 1 < s.count, s[close + 1] == "(" else { return nil }
        var url = "", k = close + 2, parens = 0
        while k < s.count {
            let c = s[k]
            if c.isWhitespace { return nil }
            if c == "\\", k + 1 < s.count, isASCIIPunct(s[k + 1]) { url.append(s[k + 1]); k += 2; continue }
            if c == "(" { parens += 1; if parens > 32 { return nil } }
            if c == ")" && parens == 0 {
                let bracketed = url.count >= 2 && url.first == "<" && url.last == ">"
                return (bracketed ? String(url.dropFirst().dropLast()) : url, k + 1)
            }
            if c == ")" { parens -= 1 }
            url.append(c)
            k += 1
        }
        return nil
    }

    private static func autolink(_ s: [Character], _ open: Int) -> (String, Int)? {
        var j = open + 1
        while j < s.count, s[j] != ">", s[j] != "<", !s[j].isWhitespace { j += 1 }
        guard j < s.count, s[j] == ">" else { return nil }
        let url = String(s[(open + 1)..<j])
        let lower = url.lowercased()
        let schemes = ["http://", "https://", "mailto:"]
        guard schemes.contains(where: { lower.hasPrefix($0) && lower.count > $0.count }) else { return nil }
        return (url, j + 1)
    }

    /// Rejects script URLs (ignoring the control characters and spaces browsers skip); `data:` only for images.
    private static func isSafe(_ url: String, image: Bool) -> Bool {
        let scheme = String(String.UnicodeScalarView(url.unicodeScalars.filter { $0.value > 0x20 })).lowercased()
        if scheme.hasPrefix("javascript:") || scheme.hasPrefix("vbscript:") { return false }
        return !scheme.hasPrefix("data:") || (image && scheme.hasPrefix("data:image/"))
    }

    /// CommonMark's delimiter matching with one opener stack per character (only its top is tried).
    private static func matchEmphasis(_ t: inout [Token]) {
        var stacks: [[Int]] = [[], []]  // openers for `*` and `_`
        for k in t.indices {
            guard let c = t[k].delim else { continue }
            let mine = c == "*" ? 0 : 1
            while t[k].canClose, t[k].count > 0, let o = stacks[mine].last {
                let (a, b) = (t[o].length, t[k].length)
                if (t[o].canClose || t[k].canOpen) && (a + b) % 3 == 0 && !(a % 3 == 0 && b % 3 == 0) { break }
                let n = t[o].count >= 2 && t[k].count >= 2 ? 2 : 1
                t[o].opens.append(n == 2 ? "<strong>" : "<em>")
                t[k].closes.append(n == 2 ? "</strong>" : "</em>")
                t[o].count -= n
                t[k].count -= n
                if t[o].count == 0 { stacks[mine].removeLast() }
                // unmatched in between
                while let top = stacks[1 - mine].last, top > o { stacks[1 - mine].removeLast() }
            }
            if t[k].count > 0 && t[k].canOpen { stacks[mine].append(k) }
        }
    }
}
