import Foundation

/// The embedded bitmap font: printable ASCII (32–126), 5×7 pixel glyphs with 2 rows of
/// descender in a 6×11 cell, drawn at any integer scale. The glyphs were designed for this
/// project (no font file involved), so text looks the same on every machine.
///
/// Metrics at scale 1: each character advances 6 px; a line of text is 9 px tall (7 px capitals
/// plus descenders) and lines are 11 px apart. Characters outside printable ASCII draw as `?`.
public enum BitmapFont {
    /// Glyph width in pixels (scale 1).
    public static let glyphWidth = 5
    /// Glyph height including descenders (scale 1): capitals use rows 0–6, descenders rows 7–8.
    public static let glyphHeight = 9
    /// Horizontal advance per character (scale 1).
    public static let advance = 6
    /// Distance between baselines of consecutive lines (scale 1).
    public static let lineHeight = 11

    /// Size in pixels of `text` (lines split at `\n`) drawn at `scale`.
    public static func measure(_ text: String, scale: Int = 1) -> (width: Int, height: Int) {
        let s = max(1, scale)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let cols = lines.map { $0.count }.max() ?? 0
        guard cols > 0 || lines.count > 1 else { return (0, 0) }
        return ((max(cols, 1) * advance - 1) * s, ((lines.count - 1) * lineHeight + glyphHeight) * s)
    }

    /// `text` shortened with a trailing `..` so that it fits in `width` pixels at `scale`.
    public static func truncate(_ text: String, toWidth width: Int, scale: Int = 1) -> String {
        let s = max(1, scale)
        let maxChars = (width / s + 1) / advance
        if text.count <= maxChars { return text }
        if maxChars <= 2 { return String(text.prefix(max(0, maxChars))) }
        var head = String(text.prefix(maxChars - 2))
        while head.last == " " { head.removeLast() }
        return head + ".."
    }

    /// Rows of the glyph for `c` (bit 4 = leftmost column), `glyphHeight` of them.
    public static func glyph(_ c: Character) -> [UInt8] {
        guard let a = c.asciiValue, a >= 32, a <= 126 else { return glyphs[Int(UInt8(ascii: "?")) - 32] }
        return glyphs[Int(a) - 32]
    }

    /// The parsed glyph table (95 glyphs × 9 rows).
    static let glyphs: [[UInt8]] = source.map { g in
        g.split(separator: " ").map { row in row.reduce(UInt8(0)) { ($0 << 1) | ($1 == "#" ? 1 : 0) } }
    }

    /// A 1-bit coverage mask of `text` at `scale`: `(width, height, bits)` with `bits[y * width + x]`.
    static func rasterize(_ text: String, scale: Int) -> (Int, Int, [Bool]) {
        let s = max(1, scale)
        let (w, h) = measure(text, scale: s)
        guard w > 0, h > 0 else { return (0, 0, []) }
        var bits = [Bool](repeating: false, count: w * h)
        for (li, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            for (ci, ch) in line.enumerated() {
                let rows = glyph(ch)
                for (ry, row) in rows.enumerated() where row != 0 {
                    for rx in 0..<glyphWidth where row & (1 << (glyphWidth - 1 - rx)) != 0 {
                        let x0 = (ci * advance + rx) * s, y0 = (li * lineHeight + ry) * s
                        for dy in 0..<s { for dx in 0..<s { bits[(y0 + dy) * w + x0 + dx] = true } }
                    }
                }
            }
        }
        return (w, h, bits)
    }

    // Glyphs for ASCII 32…126 in order: 9 rows of 5 columns, `#` on, `.` off.
    static let source: [String] = [
        "..... ..... ..... ..... ..... ..... ..... ..... .....",  // space
        "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#.. ..... .....",  // !
        ".#.#. .#.#. .#.#. ..... ..... ..... ..... ..... .....",  // "
        ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#. ..... .....",  // #
        "..#.. .#### #.#.. .###. ..#.# ####. ..#.. ..... .....",  // $
        "##... ##..# ...#. ..#.. .#... #..## ...## ..... .....",  // %
        ".##.. #..#. #.#.. .#... #.#.# #..#. .##.# ..... .....",  // &
        "..#.. ..#.. .#... ..... ..... ..... ..... ..... .....",  // '
        "...#. ..#.. .#... .#... .#... ..#.. ...#. ..... .....",  // (
        ".#... ..#.. ...#. ...#. ...#. ..#.. .#... ..... .....",  // )
        "..... ..#.. #.#.# .###. #.#.# ..#.. ..... ..... .....",  // *
        "..... ..#.. ..#.. ##### ..#.. ..#.. ..... ..... .....",  // +
        "..... ..... ..... ..... ..... .##.. ..#.. .#... .....",  // ,
        "..... ..... ..... ##### ..... ..... ..... ..... .....",  // -
        "..... ..... ..... ..... ..... .##.. .##.. ..... .....",  // .
        "..... ....# ...#. ..#.. .#... #.... ..... ..... .....",  // /
        ".###. #...# #..## #.#.# ##..# #...# .###. ..... .....",  // 0
        "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###. ..... .....",  // 1
        ".###. #...# ....# ...#. ..#.. .#... ##### ..... .....",  // 2
        "##### ...#. ..#.. ...#. ....# #...# .###. ..... .....",  // 3
        "...#. ..##. .#.#. #..#. ##### ...#. ...#. ..... .....",  // 4
        "##### #.... ####. ....# ....# #...# .###. ..... .....",  // 5
        "..##. .#... #.... ####. #...# #...# .###. ..... .....",  // 6
        "##### ....# ...#. ..#.. .#... .#... .#... ..... .....",  // 7
        ".###. #...# #...# .###. #...# #...# .###. ..... .....",  // 8
        ".###. #...# #...# .#### ....# ...#. .##.. ..... .....",  // 9
        "..... .##.. .##.. ..... .##.. .##.. ..... ..... .....",  // :
        "..... .##.. .##.. ..... .##.. ..#.. .#... ..... .....",  // ;
        "...#. ..#.. .#... #.... .#... ..#.. ...#. ..... .....",  // <
        "..... ..... ##### ..... ##### ..... ..... ..... .....",  // =
        ".#... ..#.. ...#. ....# ...#. ..#.. .#... ..... .....",  // >
        ".###. #...# ....# ...#. ..#.. ..... ..#.. ..... .....",  // ?
        ".###. #...# #.### #.#.# #.### #.... .###. ..... .....",  // @
        ".###. #...# #...# ##### #...# #...# #...# ..... .....",  // A
        "####. #...# #...# ####. #...# #...# ####. ..... .....",  // B
        ".###. #...# #.... #.... #.... #...# .###. ..... .....",  // C
        "###.. #..#. #...# #...# #...# #..#. ###.. ..... .....",  // D
        "##### #.... #.... ####. #.... #.... ##### ..... .....",  // E
        "##### #.... #.... ####. #.... #.... #.... ..... .....",  // F
        ".###. #...# #.... #.### #...# #...# .#### ..... .....",  // G
        "#...# #...# #...# ##### #...# #...# #...# ..... .....",  // H
        ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###. ..... .....",  // I
        "..### ...#. ...#. ...#. ...#. #..#. .##.. ..... .....",  // J
        "#...# #..#. #.#.. ##... #.#.. #..#. #...# ..... .....",  // K
        "#.... #.... #.... #.... #.... #.... ##### ..... .....",  // L
        "#...# ##.## #.#.# #.#.# #...# #...# #...# ..... .....",  // M
        "#...# #...# ##..# #.#.# #..## #...# #...# ..... .....",  // N
        ".###. #...# #...# #...# #...# #...# .###. ..... .....",  // O
        "####. #...# #...# ####. #.... #.... #.... ..... .....",  // P
        ".###. #...# #...# #...# #.#.# #..#. .##.# ..... .....",  // Q
        "####. #...# #...# ####. #.#.. #..#. #...# ..... .....",  // R
        ".#### #.... #.... .###. ....# ....# ####. ..... .....",  // S
        "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..... .....",  // T
        "#...# #...# #...# #...# #...# #...# .###. ..... .....",  // U
        "#...# #...# #...# #...# #...# .#.#. ..#.. ..... .....",  // V
        "#...# #...# #...# #.#.# #.#.# #.#.# .#.#. ..... .....",  // W
        "#...# #...# .#.#. ..#.. .#.#. #...# #...# ..... .....",  // X
        "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#.. ..... .....",  // Y
        "##### ....# ...#. ..#.. .#... #.... ##### ..... .....",  // Z
        ".###. .#... .#... .#... .#... .#... .###. ..... .....",  // [
        "..... #.... .#... ..#.. ...#. ....# ..... ..... .....",  // backslash
        ".###. ...#. ...#. ...#. ...#. ...#. .###. ..... .....",  // ]
        "..#.. .#.#. #...# ..... ..... ..... ..... ..... .....",  // ^
        "..... ..... ..... ..... ..... ..... ..... ##### .....",  // _
        ".#... ..#.. ...#. ..... ..... ..... ..... ..... .....",  // `
        "..... ..... .###. ....# .#### #...# .#### ..... .....",  // a
        "#.... #.... #.##. ##..# #...# #...# ####. ..... .....",  // b
        "..... ..... .###. #.... #.... #...# .###. ..... .....",  // c
        "....# ....# .##.# #..## #...# #...# .#### ..... .....",  // d
        "..... ..... .###. #...# ##### #.... .###. ..... .....",  // e
        "..##. .#..# .#... ###.. .#... .#... .#... ..... .....",  // f
        "..... ..... .#### #...# #...# #...# .#### ....# .###.",  // g
        "#.... #.... #.##. ##..# #...# #...# #...# ..... .....",  // h
        "..#.. ..... .##.. ..#.. ..#.. ..#.. .###. ..... .....",  // i
        "...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..",  // j
        "#.... #.... #..#. #.#.. ##... #.#.. #..#. ..... .....",  // k
        ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###. ..... .....",  // l
        "..... ..... ##.#. #.#.# #.#.# #.#.# #.#.# ..... .....",  // m
        "..... ..... #.##. ##..# #...# #...# #...# ..... .....",  // n
        "..... ..... .###. #...# #...# #...# .###. ..... .....",  // o
        "..... ..... ####. #...# #...# #...# ####. #.... #....",  // p
        "..... ..... .#### #...# #...# #...# .#### ....# ....#",  // q
        "..... ..... #.##. ##..# #.... #.... #.... ..... .....",  // r
        "..... ..... .#### #.... .###. ....# ####. ..... .....",  // s
        ".#... .#... ###.. .#... .#... .#..# ..##. ..... .....",  // t
        "..... ..... #...# #...# #...# #..## .##.# ..... .....",  // u
        "..... ..... #...# #...# #...# .#.#. ..#.. ..... .....",  // v
        "..... ..... #...# #...# #.#.# #.#.# .#.#. ..... .....",  // w
        "..... ..... #...# .#.#. ..#.. .#.#. #...# ..... .....",  // x
        "..... ..... #...# #...# #...# #...# .#### ....# .###.",  // y
        "..... ..... ##### ...#. ..#.. .#... ##### ..... .....",  // z
        "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#. ..... .....",  // {
        "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. .....",  // |
        ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#... ..... .....",  // }
        "..... ..... .#... #.#.# ...#. ..... ..... ..... .....",  // ~
    ]
}

extension RGBImage {
    /// Draws `text` (lines split at `\n`) with its top-left corner at `(x, y)`, each font pixel
    /// as a `scale × scale` block. With `rotated`, the text runs bottom to top (turned 90°
    /// counter-clockwise, as for a y-axis label) and `(x, y)` is the top-left of the turned box.
    public mutating func drawText(
        _ text: String, x: Int, y: Int, color: Color = .black, scale: Int = 1, rotated: Bool = false
    ) {
        let (w, h, bits) = BitmapFont.rasterize(text, scale: scale)
        guard w > 0 else { return }
        for ty in 0..<h {
            for tx in 0..<w where bits[ty * w + tx] {
                if rotated {
                    setPixel(x: x + ty, y: y + (w - 1 - tx), color)
                } else {
                    setPixel(x: x + tx, y: y + ty, color)
                }
            }
        }
    }

    /// Draws `text` centred horizontally on `centerX` with its top at `y`.
    public mutating func drawText(_ text: String, centerX: Int, y: Int, color: Color = .black, scale: Int = 1) {
        let (w, _) = BitmapFont.measure(text, scale: scale)
        drawText(text, x: centerX - w / 2, y: y, color: color, scale: scale)
    }

    /// A canvas holding `text` on `background` with `padding` pixels around it.
    public static func text(
        _ text: String, color: Color = .black, background: Color = .white, scale: Int = 1, padding: Int = 2
    ) throws -> RGBImage {
        let (w, h) = BitmapFont.measure(text, scale: scale)
        var img = try RGBImage(width: max(1, w + 2 * padding), height: max(1, h + 2 * padding), fill: background)
        img.drawText(text, x: padding, y: padding, color: color, scale: scale)
        return img
    }
}
