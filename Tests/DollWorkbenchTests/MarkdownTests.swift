import DollPipeline
import Foundation
import Testing
@testable import DollWorkbench

@Suite("Markdown")
struct MarkdownTests {
    /// Tags the renderer emits; after removing them no `<` may remain (everything else is escaped).
    static let ownTags = [
        "<p>", "</p>", "<h1>", "</h1>", "<h2>", "</h2>", "<h3>", "</h3>", "<h4>", "</h4>", "<h5>", "</h5>",
        "<h6>", "</h6>", "<em>", "</em>", "<strong>", "</strong>", "<code>", "</code>", "<code class=\"",
        "<pre>", "</pre>", "<ul>", "</ul>", "<ol>", "</ol>", "<ol start=\"", "<li>", "</li>",
        "<blockquote>", "</blockquote>", "<hr>", "<br>", "<a href=\"", "</a>", "<img src=\"",
        "<table>", "</table>", "<thead>", "</thead>", "<tbody>", "</tbody>", "<tr>", "</tr>",
        "<th>", "</th>", "<th style=\"", "<td>", "</td>", "<td style=\"",
    ]

    @Test func emptyAndWhitespaceInput() {
        #expect(Markdown.html("") == "")
        #expect(Markdown.html("   \n\t\n\n") == "")
    }

    @Test func escapeFunction() {
        #expect(Markdown.escape("a & b <c> \"d\" 'e'") == "a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39;")
    }

    @Test func atxHeadings() {
        #expect(Markdown.html("# Title") == "<h1>Title</h1>")
        #expect(Markdown.html("###### Six ##") == "<h6>Six</h6>")
        #expect(Markdown.html("## *em* head") == "<h2><em>em</em> head</h2>")
        #expect(Markdown.html("#NoSpace") == "<p>#NoSpace</p>")
        #expect(Markdown.html("####### seven") == "<p>####### seven</p>")
        #expect(Markdown.html("#") == "<h1></h1>")
    }

    @Test func paragraphsAndBlankLines() {
        #expect(Markdown.html("one\ntwo") == "<p>one\ntwo</p>")
        #expect(Markdown.html("one\n\n\ntwo") == "<p>one</p>\n<p>two</p>")
        #expect(Markdown.html("# H\ntext") == "<h1>H</h1>\n<p>text</p>")
        #expect(Markdown.html("  indented\n   lines  ") == "<p>indented\nlines</p>")
    }

    @Test func fencedCode() {
        #expect(Markdown.html("```\na < b\n*x*\n```") == "<pre><code>a &lt; b\n*x*\n</code></pre>")
        #expect(
            Markdown.html("```swift\nlet x = 1\n```") == "<pre><code class=\"language-swift\">let x = 1\n</code></pre>")
        #expect(
            Markdown.html("~~~ lua extra\nprint(1)\n~~~\nafter")
                == "<pre><code class=\"language-lua\">print(1)\n</code></pre>\n<p>after</p>")
        #expect(Markdown.html("```\n```") == "<pre><code></code></pre>")
        #expect(Markdown.html("```\nunclosed\n\nmore") == "<pre><code>unclosed\n\nmore\n</code></pre>")
        #expect(Markdown.html("````\n```\n````") == "<pre><code>```\n</code></pre>")
        #expect(
            Markdown.html("```\"><script>\nx\n```")
                == "<pre><code class=\"language-&quot;&gt;&lt;script&gt;\">x\n</code></pre>")
    }

    @Test func bulletLists() {
        #expect(Markdown.html("- a\n- b") == "<ul>\n<li>a</li>\n<li>b</li>\n</ul>")
        #expect(Markdown.html("* a\n* b") == "<ul>\n<li>a</li>\n<li>b</li>\n</ul>")
        #expect(Markdown.html("+ a") == "<ul>\n<li>a</li>\n</ul>")
        #expect(Markdown.html("- a\n+ b") == "<ul>\n<li>a</li>\n</ul>\n<ul>\n<li>b</li>\n</ul>")
        #expect(Markdown.html("- a\ncontinued") == "<ul>\n<li>a\ncontinued</li>\n</ul>")
        #expect(Markdown.html("- a\n\n- b") == "<ul>\n<li>\n<p>a</p>\n</li>\n<li>\n<p>b</p>\n</li>\n</ul>")
        #expect(Markdown.html("para\n- item") == "<p>para</p>\n<ul>\n<li>item</li>\n</ul>")
        #expect(Markdown.html("-\n- b") == "<ul>\n<li></li>\n<li>b</li>\n</ul>")
    }

    @Test func orderedLists() {
        #expect(Markdown.html("1. a\n2. b") == "<ol>\n<li>a</li>\n<li>b</li>\n</ol>")
        #expect(Markdown.html("3) c\n4) d") == "<ol start=\"3\">\n<li>c</li>\n<li>d</li>\n</ol>")
        #expect(Markdown.html("1. a\n1) b") == "<ol>\n<li>a</li>\n</ol>\n<ol>\n<li>b</li>\n</ol>")
    }

    @Test func nestedLists() {
        #expect(
            Markdown.html("- a\n  - b\n  - c\n- d")
                == "<ul>\n<li>a\n<ul>\n<li>b</li>\n<li>c</li>\n</ul>\n</li>\n<li>d</li>\n</ul>")
        #expect(
            Markdown.html("1. one\n   - x\n2. two")
                == "<ol>\n<li>one\n<ul>\n<li>x</li>\n</ul>\n</li>\n<li>two</li>\n</ol>")
        #expect(
            Markdown.html("1. one\n  - two spaces deeper")
                == "<ol>\n<li>one\n<ul>\n<li>two spaces deeper</li>\n</ul>\n</li>\n</ol>")
        #expect(
            Markdown.html("- a\n    - b\n        - c")
                == "<ul>\n<li>a\n<ul>\n<li>b\n<ul>\n<li>c</li>\n</ul>\n</li>\n</ul>\n</li>\n</ul>")
        #expect(Markdown.html("- a\n - b") == "<ul>\n<li>a</li>\n<li>b</li>\n</ul>")
    }

    @Test func blockquotes() {
        #expect(Markdown.html("> quote") == "<blockquote>\n<p>quote</p>\n</blockquote>")
        #expect(Markdown.html("> a\nlazy") == "<blockquote>\n<p>a\nlazy</p>\n</blockquote>")
        #expect(Markdown.html("> # H\n>\n> - x") == "<blockquote>\n<h1>H</h1>\n<ul>\n<li>x</li>\n</ul>\n</blockquote>")
        #expect(Markdown.html("> > deep") == "<blockquote>\n<blockquote>\n<p>deep</p>\n</blockquote>\n</blockquote>")
        #expect(Markdown.html(">") == "<blockquote>\n</blockquote>")
        #expect(Markdown.html("> a\n\nb") == "<blockquote>\n<p>a</p>\n</blockquote>\n<p>b</p>")
    }

    @Test func horizontalRules() {
        #expect(Markdown.html("---") == "<hr>")
        #expect(Markdown.html("***") == "<hr>")
        #expect(Markdown.html("___") == "<hr>")
        #expect(Markdown.html("* * *") == "<hr>")
        #expect(Markdown.html("a\n\n---\n\nb") == "<p>a</p>\n<hr>\n<p>b</p>")
        #expect(Markdown.html("- a\n---") == "<ul>\n<li>a</li>\n</ul>\n<hr>")
        #expect(Markdown.html("--") == "<p>--</p>")
    }

    @Test func tables() {
        #expect(
            Markdown.html("| a | b |\n|---|---|\n| 1 | 2 |")
                == "<table>\n<thead>\n<tr><th>a</th><th>b</th></tr>\n</thead>\n<tbody>\n<tr><td>1</td><td>2</td></tr>\n</tbody>\n</table>"
        )
        #expect(
            Markdown.html("x | y | z\n:-- | :-: | --:\n1 | 2 | 3")
                == "<table>\n<thead>\n<tr><th style=\"text-align:left\">x</th><th style=\"text-align:center\">y</th>"
                + "<th style=\"text-align:right\">z</th></tr>\n</thead>\n<tbody>\n<tr><td style=\"text-align:left\">1</td>"
                + "<td style=\"text-align:center\">2</td><td style=\"text-align:right\">3</td></tr>\n</tbody>\n</table>"
        )
        #expect(Markdown.html("| a |\n| - |") == "<table>\n<thead>\n<tr><th>a</th></tr>\n</thead>\n</table>")
        #expect(
            Markdown.html("| a | b |\n|---|---|\n| only |\n| `x\\|y` | **z** | extra |\n\nafter")
                == "<table>\n<thead>\n<tr><th>a</th><th>b</th></tr>\n</thead>\n<tbody>\n<tr><td>only</td><td></td></tr>\n"
                + "<tr><td><code>x|y</code></td><td><strong>z</strong></td></tr>\n</tbody>\n</table>\n<p>after</p>")
        #expect(
            Markdown.html("text\n| a | b |\n|---|---|")
                == "<p>text</p>\n<table>\n<thead>\n<tr><th>a</th><th>b</th></tr>\n</thead>\n</table>")
        #expect(Markdown.html("| a | b |\n|---|") == "<p>| a | b |\n|---|</p>")
        #expect(
            Markdown.html("| a \\| b |\n|---|\n| x\\ |")
                == "<table>\n<thead>\n<tr><th>a | b</th></tr>\n</thead>\n<tbody>\n<tr><td>x\\</td></tr>\n</tbody>\n</table>"
        )
    }

    @Test func codeSpans() {
        #expect(Markdown.html("use `a < b` here") == "<p>use <code>a &lt; b</code> here</p>")
        #expect(Markdown.html("`*not em*`") == "<p><code>*not em*</code></p>")
        #expect(Markdown.html("``a ` b``") == "<p><code>a ` b</code></p>")
        #expect(Markdown.html("`` `x` ``") == "<p><code>`x`</code></p>")
        #expect(Markdown.html("lone ` tick") == "<p>lone ` tick</p>")
        #expect(Markdown.html("`") == "<p>`</p>")
    }

    @Test func emphasis() {
        #expect(Markdown.html("**strong** and __also__") == "<p><strong>strong</strong> and <strong>also</strong></p>")
        #expect(Markdown.html("*em* and _em_") == "<p><em>em</em> and <em>em</em></p>")
        #expect(Markdown.html("***both***") == "<p><em><strong>both</strong></em></p>")
        #expect(Markdown.html("*a **b** c*") == "<p><em>a <strong>b</strong> c</em></p>")
        #expect(Markdown.html("*foo**bar**baz*") == "<p><em>foo<strong>bar</strong>baz</em></p>")
        #expect(Markdown.html("in**word**s") == "<p>in<strong>word</strong>s</p>")
        #expect(Markdown.html("**unclosed") == "<p>**unclosed</p>")
        #expect(Markdown.html("a * b * c") == "<p>a * b * c</p>")
        #expect(Markdown.html("**a*") == "<p>*<em>a</em></p>")
    }

    @Test func snakeCaseIsNotEmphasis() {
        #expect(Markdown.html("snake_case_name and other_var_x") == "<p>snake_case_name and other_var_x</p>")
        #expect(Markdown.html("__init__") == "<p><strong>init</strong></p>")
        #expect(Markdown.html("_a_b_") == "<p><em>a_b</em></p>")
    }

    @Test func links() {
        #expect(
            Markdown.html("[site](https://example.org/a?b=1&c=2)")
                == "<p><a href=\"https://example.org/a?b=1&amp;c=2\">site</a></p>")
        #expect(Markdown.html("[**bold** link](x.html)") == "<p><a href=\"x.html\"><strong>bold</strong> link</a></p>")
        #expect(Markdown.html("[wiki](https://w.org/A_(b))") == "<p><a href=\"https://w.org/A_(b)\">wiki</a></p>")
        #expect(Markdown.html("[a](\"onmouseover=\"x)") == "<p><a href=\"&quot;onmouseover=&quot;x\">a</a></p>")
        #expect(Markdown.html("[not a link] (x)") == "<p>[not a link] (x)</p>")
        #expect(Markdown.html("[unclosed](x") == "<p>[unclosed](x</p>")
        #expect(Markdown.html("[spaced](a b)") == "<p>[spaced](a b)</p>")
        #expect(Markdown.html("[angle](<x.html>)") == "<p><a href=\"x.html\">angle</a></p>")
    }

    @Test func javascriptLinksAreRejected() {
        #expect(Markdown.html("[click](javascript:alert(1))") == "<p>click</p>")
        #expect(Markdown.html("[click](JavaScript:alert(1))") == "<p>click</p>")
        #expect(Markdown.html("[x](vbscript:msgbox)") == "<p>x</p>")
        #expect(Markdown.html("[x](data:text/html,hi)") == "<p>x</p>")
        #expect(Markdown.html("![pic](javascript:alert(1))") == "<p>pic</p>")
        #expect(Markdown.html("<javascript:alert(1)>") == "<p>&lt;javascript:alert(1)&gt;</p>")
    }

    @Test func images() {
        #expect(Markdown.html("![a chart](fig/loss.png)") == "<p><img src=\"fig/loss.png\" alt=\"a chart\"></p>")
        #expect(Markdown.html("![x\"y](a\"b.png)") == "<p><img src=\"a&quot;b.png\" alt=\"x&quot;y\"></p>")
        #expect(
            Markdown.html("![i](data:image/png;base64,AAAA)")
                == "<p><img src=\"data:image/png;base64,AAAA\" alt=\"i\"></p>")
        #expect(
            Markdown.html("[![i](p.png)](big.png)") == "<p><a href=\"big.png\"><img src=\"p.png\" alt=\"i\"></a></p>")
        #expect(Markdown.html("wow!") == "<p>wow!</p>")
    }

    @Test func autolinks() {
        #expect(
            Markdown.html("see <https://example.org/x?a=1&b=2>")
                == "<p>see <a href=\"https://example.org/x?a=1&amp;b=2\">https://example.org/x?a=1&amp;b=2</a></p>")
        #expect(Markdown.html("<mailto:me@x.org>") == "<p><a href=\"mailto:me@x.org\">mailto:me@x.org</a></p>")
        #expect(Markdown.html("<https://>") == "<p>&lt;https://&gt;</p>")
    }

    @Test func backslashEscapes() {
        #expect(Markdown.html("\\*not em\\*") == "<p>*not em*</p>")
        #expect(Markdown.html("\\# not heading") == "<p># not heading</p>")
        #expect(Markdown.html("\\[x](y)") == "<p>[x](y)</p>")
        #expect(Markdown.html("a\\b \\\\ c\\") == "<p>a\\b \\ c\\</p>")
        #expect(Markdown.html("\\<b\\>") == "<p>&lt;b&gt;</p>")
    }

    @Test func hardLineBreaks() {
        #expect(Markdown.html("a  \nb") == "<p>a<br>\nb</p>")
        #expect(Markdown.html("a\\\nb") == "<p>a<br>\nb</p>")
        #expect(Markdown.html("a \nb") == "<p>a\nb</p>")
        #expect(Markdown.html("end  ") == "<p>end</p>")
    }

    @Test func rawHTMLIsEscaped() {
        #expect(
            Markdown.html("<script>alert('x')</script>") == "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>")
        #expect(Markdown.html("<img src=x onerror=alert(1)>") == "<p>&lt;img src=x onerror=alert(1)&gt;</p>")
        #expect(Markdown.html("# <b>\"q\"</b> & co") == "<h1>&lt;b&gt;&quot;q&quot;&lt;/b&gt; &amp; co</h1>")
    }

    @Test func unicodePassesThrough() {
        #expect(Markdown.html("3 × 4 μm → **β** 😀 e\u{301}") == "<p>3 × 4 μm → <strong>β</strong> 😀 e\u{301}</p>")
        #expect(Markdown.html("- ünïcödé\n- 日本語") == "<ul>\n<li>ünïcödé</li>\n<li>日本語</li>\n</ul>")
    }

    @Test func lineEndingsAndTabs() {
        #expect(Markdown.html("# a\r\n\r\nb\rc") == "<h1>a</h1>\n<p>b\nc</p>")
        #expect(Markdown.html("- a\n\t- b") == "<ul>\n<li>a\n<ul>\n<li>b</li>\n</ul>\n</li>\n</ul>")
    }

    @Test func pathologicalInputsTerminate() {
        let inputs = [
            String(repeating: "> ", count: 3000) + "x",
            (0..<400).map { String(repeating: "  ", count: $0) + "- x" }.joined(separator: "\n"),
            String(repeating: "[", count: 2000) + String(repeating: "](u)", count: 2000),
            String(repeating: "*a _b ", count: 2000),
            String(repeating: "`", count: 2000),
            String(repeating: "** __ ", count: 2000),
            String(repeating: "<", count: 2000),
        ]
        for input in inputs {
            #expect(Markdown.html(input).hasPrefix("<"))
        }
    }

    @Test func randomInputsNeverCrashOrLeakTags() {
        let alphabet = Array("#*_-+>`~[]()!<>|\\:./ \n\n\n1.)abcxyz_ ×μ\"'&\t")
        var state: UInt64 = 0x5EED
        func nextRandom() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        var rendered = 0
        for _ in 0..<2000 {
            let length = nextRandom() % 120
            let input = String((0..<length).map { _ in alphabet[nextRandom() % alphabet.count] })
            var output = Markdown.html(input)
            for tag in Self.ownTags { output = output.replacingOccurrences(of: tag, with: "") }
            #expect(!output.contains("<"), "unescaped < for input \(input.debugDescription)")
            rendered += 1
        }
        #expect(rendered == 2000)
    }
}
