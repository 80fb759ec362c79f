import CDollSupport
import CLua
import DollData
import DollTensor
import DollViz
import Foundation

/// `doll.png.*` and `doll.plot.*`: pictures written as PNG files (atomically).
enum LuaPictures {
    static func fn(_ n: String, _ b: @escaping LuaFunction) -> (String, Int32) { (n, LuaModule.fn("doll.\(n)", b)) }

    static func install(_ L: OpaquePointer) {
        for (table, fns) in [("png", pngFunctions()), ("plot", plotFunctions())] {
            lua_createtable(L, 0, Int32(fns.count))
            for (name, id) in fns {
                lua_pushstring(L, String(name.split(separator: ".").last!))
                doll_lua_push_function(L, id)
                lua_rawset(L, -3)
            }
            LuaModule.setField(L, table)
        }
    }

    static func pngFunctions() -> [(String, Int32)] {
        [
            fn("png.write") { a in
                let image = try LuaTensor.tensor(a, 1, "image")
                let path = try a.string(2, "path")
                let ext = (path as NSString).pathExtension.lowercased()
                if ext == "jpg" || ext == "jpeg" {
                    guard image.rank == 2 || (image.rank == 3 && image.shape[0] == 1) else {
                        throw LuaBindingError(
                            "a gray image must be [H, W] or [1, H, W], got \(shapeString(image.shape))")
                    }
                    let h = image.shape[image.rank - 2], w = image.shape[image.rank - 1]
                    let px = image.scalars.map {
                        UInt8(($0.isNaN ? 0 : Swift.min(Swift.max($0, 0), 1) * 255).rounded())
                    }
                    try AtomicFile.write(
                        try ImageIO.encodeJPEG(pixels: px, width: w, height: h, channels: 1, quality: 90), to: path)
                } else {
                    try ImageIO.writeGray(image, to: path)
                }
                return 0
            },
            fn("png.read") { a in LuaTensor.push(a, try ImageIO.readGray(path: try a.string(1, "path"))) },
            fn("png.montage") { a in
                let path = try a.string(1, "path")
                // Pictures side by side: gray images [H, W] / [1, H, W], or PNG files (heatmaps, overlays, plots).
                let images = try a.list(2, "pictures", limit: 256) { i -> RGBImage in
                    if a.type(i) == LUA_TSTRING {
                        let file = try a.string(i, "picture")
                        guard let data = FileManager.default.contents(atPath: file) else {
                            throw LuaBindingError("cannot read '\(file)'")
                        }
                        let raw = try ImageIO.decodePNG(data, gray: false)
                        var rgb = [UInt8](repeating: 0, count: raw.width * raw.height * 3)
                        for p in 0..<(raw.width * raw.height) {
                            for c in 0..<3 { rgb[3 * p + c] = UInt8(clamping: raw.samples[4 * p + c]) }
                        }
                        return try RGBImage(width: raw.width, height: raw.height, pixels: rgb)
                    }
                    return try RGBImage(gray: try LuaTensor.tensor(a, i, "picture"))
                }
                let o = try a.options(3)
                let titles = try o.strings("titles") ?? []
                let montage = Montage(columns: try o.integer("columns", in: 1...64), title: try o.string("title") ?? "")
                try montage(images, titles: titles).write(to: path)
                return 0
            },
            fn("png.heatmap") { a in
                let attr = try LuaTensor.tensor(a, 1, "attribution")
                let path = try a.string(2, "path")
                let o = try a.options(3)
                let sign = AttributionSign(
                    rawValue: try o.choice("sign", AttributionSign.allCases.map(\.rawValue)) ?? "absolute")!
                var cmap: Colormap? = nil
                if let name = try o.string("cmap") {
                    guard let c = Colormap.named(name) else {
                        throw LuaBindingError(
                            "unknown colormap '\(name)'; choose one of \(Colormap.builtins.map(\.name).joined(separator: ", "))"
                        )
                    }
                    cmap = c
                }
                let clip = try o.number("clip") ?? 2
                guard clip >= 0 && clip < 50 else {
                    throw LuaBindingError("option 'clip' (outlier percent) must be in [0, 50)")
                }
                let alpha = try o.number("alpha") ?? 0.6
                guard alpha >= 0 && alpha <= 1 else { throw LuaBindingError("option 'alpha' must be in [0, 1]") }
                let over = try o.object("over", TensorBox.self)?.t
                let hm = Heatmap(sign: sign, colormap: cmap, outlierPercent: clip, alpha: Float(alpha))
                // As a figure: small maps enlarged (scale), a title, and a colour bar with its values.
                let k = try o.integer("scale", in: 1...32)
                let picture = try hm(attr, over: over)
                let side = k.map { $0 * Swift.max(picture.width, picture.height) } ?? 256
                try hm.figure(
                    picture, scale: try hm.scale(of: attr), title: try o.string("title") ?? "",
                    colorBar: try o.bool("colorbar") ?? true,
                    minimumSide: side
                ).write(to: path)
                return 0
            },
            fn("png.overlay") { a in
                let image = try LuaTensor.tensor(a, 1, "image")
                guard a.type(2) == LUA_TTABLE else {
                    throw LuaBindingError("argument #2 (masks) must be a table {name = mask}, got \(a.describe(2))")
                }
                var layers: [MaskLayer] = []
                var names: [(String, Tensor)] = []
                lua_pushnil(a.L)
                var bad = false
                while lua_next(a.L, 2) != 0 {
                    if lua_type(a.L, -2) == LUA_TSTRING, let k = lua_tolstring(a.L, -2, nil),
                        let t = try? a.object(-1, TensorBox.self, "mask")
                    {
                        names.append((String(cString: k), t.t)); lua_settop(a.L, -2)
                    } else {
                        bad = true; lua_settop(a.L, -3); break
                    }
                }
                if bad { throw LuaBindingError("masks must be a table of name = tensor") }
                for (i, (n, t)) in names.sorted(by: { $0.0 < $1.0 }).enumerated() {
                    layers.append(MaskLayer(n, mask: t, color: Palette.color(i)))
                }
                let o = try a.options(4)
                // Legend beside the picture, small pictures enlarged: names are never clipped and never hide the image.
                try MaskOverlay(fillAlpha: Float(try o.number("alpha") ?? 0.35), legend: .right, minimumSide: 256)
                    .write(image, layers: layers, to: try a.string(3, "path"))
                return 0
            },
        ]
    }

    /// Reads `{ {name=, x={...}, y={...}}, ... }` series.
    static func series(_ a: LuaArgs, _ o: LuaOptions) throws -> [(String, [Double], [Double])] {
        guard o.present.contains("series") else {
            throw LuaBindingError("option 'series' is required: { {name=, x={...}, y={...}}, ... }")
        }
        lua_pushstring(a.L, "series"); lua_rawget(a.L, o.index)
        defer { lua_settop(a.L, -2) }
        return try a.list(-1, "series", limit: 64) { i in
            let idx = lua_absindex(a.L, i)
            let so = try a.options(idx, allowed: LuaDocs.seriesKeys)
            let y = try so.numbers("y") ?? []
            let x = try so.numbers("x") ?? y.indices.map { Double($0 + 1) }
            guard x.count == y.count, !y.isEmpty else {
                throw LuaBindingError("each series needs y values and, if given, as many x values")
            }
            return (try so.string("name") ?? "series", x, y)
        }
    }

    static func plotFunctions() -> [(String, Int32)] {
        [
            fn("plot.line") { a in
                let path = try a.string(1, "path")
                let o = try a.options(2)
                let s = try series(a, o).map { Series($0.0, x: $0.1, y: $0.2) }
                let plot = LinePlot(
                    series: s, title: try o.string("title") ?? "", xLabel: try o.string("xlabel") ?? "",
                    yLabel: try o.string("ylabel") ?? "",
                    width: try o.integer("width", in: 160...4096) ?? 640,
                    height: try o.integer("height", in: 120...4096) ?? 420,
                    logX: try o.bool("logx") ?? false, logY: try o.bool("logy") ?? false)
                try plot.write(to: path)
                return 0
            },
            fn("plot.bar") { a in
                let path = try a.string(1, "path")
                let o = try a.options(2)
                guard let cats = try o.strings("categories") else {
                    throw LuaBindingError("option 'categories' is required")
                }
                let s = try series(a, o)
                for x in s where x.2.count != cats.count {
                    throw LuaBindingError("series '\(x.0)' has \(x.2.count) values for \(cats.count) categories")
                }
                try BarChart(
                    categories: cats, series: s.map { BarSeries($0.0, values: $0.2) },
                    title: try o.string("title") ?? "",
                    xLabel: try o.string("xlabel") ?? "", yLabel: try o.string("ylabel") ?? ""
                ).write(to: path)
                return 0
            },
        ]
    }
}
