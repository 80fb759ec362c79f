import DollData
import Foundation

/// One line of a `LinePlot`.
public struct Series: Sendable {
    /// Legend label (empty: not listed).
    public var name: String
    public var x: [Double]
    /// Values; NaN or ±Inf leave a gap in the line.
    public var y: [Double]
    /// `nil` takes `Palette.color(i)` for series number `i`.
    public var color: Color?
    /// `nil`: circles when the series has at most 30 points, no markers otherwise.
    public var marker: Marker?
    /// Stroke width in pixels.
    public var lineWidth: Double

    public init(
        _ name: String, x: [Double], y: [Double], color: Color? = nil, marker: Marker? = nil, lineWidth: Double = 2
    ) {
        self.name = name
        self.x = x
        self.y = y
        self.color = color
        self.marker = marker
        self.lineWidth = lineWidth
    }

    /// A series over `x = 1, 2, …, y.count` (epochs, steps).
    public init(_ name: String, y: [Double], color: Color? = nil, marker: Marker? = nil, lineWidth: Double = 2) {
        self.init(
            name, x: (0..<y.count).map { Double($0 + 1) }, y: y, color: color, marker: marker, lineWidth: lineWidth)
    }

    /// A series from any floating-point values (e.g. `Float` losses).
    public init<T: BinaryFloatingPoint>(
        _ name: String, x: [T], y: [T], color: Color? = nil, marker: Marker? = nil, lineWidth: Double = 2
    ) {
        self.init(
            name, x: x.map { Double($0) }, y: y.map { Double($0) }, color: color, marker: marker, lineWidth: lineWidth)
    }
}

/// Line chart with axes, nice round ticks, grid, axis labels, title and legend, e.g. training
/// curves or a Dice-vs-label-fraction curve on a log x axis.
///
/// ```swift
/// var plot = LinePlot(series: [Series("DoLL", x: [1, 5, 10, 25, 100], y: dice)],
///                     title: "Lungs", xLabel: "labelled fraction (%)", yLabel: "Dice", logX: true)
/// plot.xTicks = [1, 5, 10, 25, 100]
/// try plot.write(to: "efficiency.png")
/// ```
///
/// Ranges default to the finite data ±5 % (in log space for `logX`); linear ticks are
/// 1-, 2- or 5-multiples of a power of ten, log ticks are powers of ten (with 2× and 5×
/// labelled when the range spans less than two decades) plus unlabelled minor ticks.
public struct LinePlot: Sendable {
    public var series: [Series]
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// Canvas size in pixels.
    public var width: Int
    public var height: Int
    /// Logarithmic x axis (all finite x must be > 0).
    public var logX: Bool
    /// Logarithmic y axis (all finite y must be > 0), e.g. for losses.
    public var logY: Bool
    /// Axis ranges; `nil` fits the data.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    /// Explicit x tick positions (labelled with `xTickLabels`, or the numbers themselves).
    public var xTicks: [Double]?
    public var xTickLabels: [String]?
    /// Light grid lines at the major ticks.
    public var grid: Bool
    public var legend: LegendPlacement
    /// Integer scale of tick labels, axis labels and legend (the title is drawn twice as large).
    public var textScale: Int

    public init(
        series: [Series], title: String = "", xLabel: String = "", yLabel: String = "",
        width: Int = 640, height: Int = 420, logX: Bool = false, logY: Bool = false,
        xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil,
        xTicks: [Double]? = nil, xTickLabels: [String]? = nil,
        grid: Bool = true, legend: LegendPlacement = .best, textScale: Int = 1
    ) {
        self.series = series
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.width = width
        self.height = height
        self.logX = logX
        self.logY = logY
        self.xRange = xRange
        self.yRange = yRange
        self.xTicks = xTicks
        self.xTickLabels = xTickLabels
        self.grid = grid
        self.legend = legend
        self.textScale = textScale
    }

    /// Draws the chart.
    public func render() throws -> RGBImage {
        for s in series {
            guard s.x.count == s.y.count else {
                throw DataError("line plot: series '\(s.name)' has \(s.x.count) x values but \(s.y.count) y values")
            }
            guard s.lineWidth.isFinite, s.lineWidth > 0, s.lineWidth <= 50 else {
                throw DataError("line plot: series '\(s.name)' lineWidth must be in (0, 50]")
            }
            if logX, let i = s.x.indices.first(where: { s.x[$0].isFinite && s.x[$0] <= 0 && s.y[$0].isFinite }) {
                throw DataError(
                    "line plot: a log x axis needs x > 0, but series '\(s.name)' has x = \(s.x[i]) at index \(i)")
            }
            if logY, let i = s.y.indices.first(where: { s.y[$0].isFinite && s.y[$0] <= 0 && s.x[$0].isFinite }) {
                throw DataError(
                    "line plot: a log y axis needs y > 0, but series '\(s.name)' has y = \(s.y[i]) at index \(i)")
            }
        }
        let pts = series.flatMap { s in zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite } }
        let ts = max(1, textScale)
        let xAxis = try Axis.fit(
            pts.map { $0.0 }, range: xRange, log: logX, ticks: xTicks, labels: xTickLabels, what: "x",
            target: max(2, min(8, (width - 80) / (60 * ts))))
        let markers = series.map { s in
            s.marker ?? (zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite }.count <= 30 ? .circle : Marker.none)
        }
        let entries = series.indices.filter { !series[$0].name.isEmpty }
            .map { LegendEntry(series[$0].name, color: series[$0].color ?? Palette.color($0), key: .line(markers[$0])) }
        return try ChartFrame.withLegend(entries, placement: legend, textScale: textScale) { reserve in
            let plotH = ChartFrame.plotHeight(
                height: height, title: title, xLabel: xLabel, textScale: ts, reserveBottom: reserve)
            let yAxis = try Axis.fit(
                pts.map { $0.1 }, range: yRange, log: logY, ticks: nil, labels: nil, what: "y",
                target: max(2, min(6, plotH / (25 * ts))))
            var frame = try ChartFrame(
                width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
                x: xAxis, y: yAxis, textScale: textScale, grid: grid, reserveBottom: reserve)
            let clip = (frame.px, frame.py, frame.pw, frame.ph)
            for (i, s) in series.enumerated() {
                let color = s.color ?? Palette.color(i)
                let points = zip(s.x, s.y).map { (x: frame.xPix($0.0), y: frame.yPix($0.1)) }
                frame.img.drawPolyline(points, color: color, width: s.lineWidth, clip: clip)
                guard markers[i] != .none else { continue }
                let r = max(2.5, s.lineWidth * 1.5 + 0.5)
                for p in points
                where p.x.isFinite && p.y.isFinite
                    && p.x >= Double(frame.px) - 0.5 && p.x <= Double(frame.px + frame.pw) + 0.5
                    && p.y >= Double(frame.py) - 0.5 && p.y <= Double(frame.py + frame.ph) + 0.5
                {
                    drawMarker(markers[i], on: &frame.img, x: p.x, y: p.y, radius: r, color: color)
                }
            }
            frame.finish()
            return frame
        }
    }

    /// PNG bytes of the chart.
    public func png() throws -> Data { try render().png() }

    /// Writes the chart as PNG atomically.
    public func write(to path: String) throws { try render().write(to: path) }
}

/// One group member of a `BarChart`: a name and one value per category.
public struct BarSeries: Sendable {
    public var name: String
    /// One value per category; NaN leaves the bar out.
    public var values: [Double]
    public var color: Color?

    public init(_ name: String, values: [Double], color: Color? = nil) {
        self.name = name
        self.values = values
        self.color = color
    }
}

/// Grouped bar chart: for each category, one bar per series side by side, with axes, ticks,
/// grid, title and legend. The y axis always includes 0; bars grow from 0 (downwards for
/// negative values).
///
/// ```swift
/// let chart = BarChart(categories: ["lungs", "heart", "clavicles"],
///                      series: [BarSeries("random init", values: a), BarSeries("DoLL", values: b)],
///                      title: "Dice at 5 % labels", yLabel: "Dice")
/// try chart.write(to: "dice.png")
/// ```
public struct BarChart: Sendable {
    public var categories: [String]
    public var series: [BarSeries]
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var width: Int
    public var height: Int
    /// `nil` fits `0 … max` (or `min … 0`) of the data with some headroom.
    public var yRange: ClosedRange<Double>?
    /// Print each bar's value above it.
    public var valueLabels: Bool
    /// Decimals of the value labels.
    public var valueDecimals: Int
    public var grid: Bool
    public var legend: LegendPlacement
    public var textScale: Int

    public init(
        categories: [String], series: [BarSeries], title: String = "", xLabel: String = "", yLabel: String = "",
        width: Int = 640, height: Int = 420, yRange: ClosedRange<Double>? = nil,
        valueLabels: Bool = false, valueDecimals: Int = 2, grid: Bool = true,
        legend: LegendPlacement = .best, textScale: Int = 1
    ) {
        self.categories = categories
        self.series = series
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.width = width
        self.height = height
        self.yRange = yRange
        self.valueLabels = valueLabels
        self.valueDecimals = valueDecimals
        self.grid = grid
        self.legend = legend
        self.textScale = textScale
    }

    /// Draws the chart.
    public func render() throws -> RGBImage {
        guard !categories.isEmpty else { throw DataError("bar chart: no categories given") }
        for s in series where s.values.count != categories.count {
            throw DataError(
                "bar chart: series '\(s.name)' has \(s.values.count) values for \(categories.count) categories")
        }
        let vals = series.flatMap { $0.values }.filter { $0.isFinite }
        var data = vals + [0]
        if yRange == nil, let mx = vals.max(), mx > 0 { data.append(mx * 1.08) }  // headroom for labels
        let n = Double(categories.count)
        let xAxis = Axis(lo: 0, hi: n, log: false, ticks: [], labels: [], minor: [])
        let s = max(1, textScale)
        let entries = series.enumerated().filter { !$0.element.name.isEmpty }
            .map { LegendEntry($0.element.name, color: $0.element.color ?? Palette.color($0.offset)) }
        return try ChartFrame.withLegend(entries, placement: legend, textScale: textScale) { reserve in
            let plotH = ChartFrame.plotHeight(
                height: height, title: title, xLabel: xLabel, textScale: s, reserveBottom: reserve)
            let yAxis = try Axis.fit(
                data, range: yRange, log: false, ticks: nil, labels: nil, what: "y", margin: 0,
                snap: yRange == nil, target: max(2, min(6, plotH / (25 * s))))
            var frame = try ChartFrame(
                width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
                x: xAxis, y: yAxis, textScale: textScale, grid: grid, verticalGrid: false, reserveBottom: reserve)
            let slot = Double(frame.pw) / n
            let groupW = slot * 0.8
            let k = max(1, series.count)
            let barW = groupW / Double(k)
            let zeroY = frame.yPix(max(yAxis.lo, min(yAxis.hi, 0)))
            for (c, name) in categories.enumerated() {
                let cx = Double(frame.px) + slot * (Double(c) + 0.5)
                let label = BitmapFont.truncate(name, toWidth: Int(slot) - 2, scale: s)
                frame.img.drawText(label, centerX: Int(cx), y: frame.py + frame.ph + 8, color: .black, scale: s)
                frame.img.fillRect(x: Int(cx), y: frame.py + frame.ph, width: 1, height: 4, color: ChartFrame.axisColor)
                for (j, ser) in series.enumerated() {
                    let v = ser.values[c]
                    guard v.isFinite else { continue }
                    let color = ser.color ?? Palette.color(j)
                    let x0 = cx - groupW / 2 + Double(j) * barW
                    let xa = Int(x0.rounded()), xb = Int((x0 + barW).rounded()) - (k > 1 ? 1 : 0)
                    let vy = frame.yPix(max(yAxis.lo, min(yAxis.hi, v)))
                    let ya = Int(min(vy, zeroY).rounded()), yb = Int(max(vy, zeroY).rounded())
                    frame.img.fillRect(x: xa, y: ya, width: max(1, xb - xa), height: max(1, yb - ya), color: color)
                    if valueLabels {
                        let t = String(format: "%.\(max(0, min(valueDecimals, 6)))f", v)
                        let tw = BitmapFont.measure(t, scale: s).width
                        let ty = v >= 0 ? ya - BitmapFont.glyphHeight * s - 2 : yb + 3
                        if tw <= xb - xa + 6 || k == 1 {
                            frame.img.drawText(t, centerX: (xa + xb) / 2, y: ty, color: .black, scale: s)
                        }
                    }
                }
            }
            frame.finish()
            return frame
        }
    }

    /// PNG bytes of the chart.
    public func png() throws -> Data { try render().png() }

    /// Writes the chart as PNG atomically.
    public func write(to path: String) throws { try render().write(to: path) }
}

// MARK: - axes

/// An axis range with its ticks.
struct Axis {
    var lo: Double, hi: Double
    var log: Bool
    var ticks: [Double]
    var labels: [String]
    var minor: [Double]

    /// Position of `v` along the axis, 0 at `lo`, 1 at `hi`.
    func fraction(_ v: Double) -> Double {
        if log { return (Foundation.log10(v) - Foundation.log10(lo)) / (Foundation.log10(hi) - Foundation.log10(lo)) }
        return (v - lo) / (hi - lo)
    }

    /// Fits an axis to `data` (finite values) or to an explicit range.
    static func fit(
        _ data: [Double], range: ClosedRange<Double>?, log: Bool, ticks custom: [Double]?, labels: [String]?,
        what: String, margin: Double = 0.05, snap: Bool = false, target: Int = 6
    ) throws -> Axis {
        var lo: Double, hi: Double
        if let range {
            lo = range.lowerBound; hi = range.upperBound
            guard lo.isFinite, hi.isFinite, lo < hi else {
                throw DataError("\(what) range \(range) must be finite with lower < upper")
            }
            if log && lo <= 0 { throw DataError("log \(what) range must be positive, got \(range)") }
        } else {
            let d = data.filter { $0.isFinite && (!log || $0 > 0) }
            if let mn = d.min(), let mx = d.max() {
                lo = mn; hi = mx
            } else {
                lo = log ? 1 : 0; hi = log ? 10 : 1
            }
            if log {
                var a = Foundation.log10(lo), b = Foundation.log10(hi)
                if b - a < 1e-9 { a -= 0.5; b += 0.5 }
                let m = (b - a) * margin
                lo = pow(10, a - m); hi = pow(10, b + m)
            } else {
                if hi - lo <= max(abs(hi), abs(lo)) * 1e-12 {
                    let d = lo == 0 ? 1 : abs(lo) * 0.1
                    lo -= d; hi += d
                }
                let m = (hi - lo) * margin
                lo -= m; hi += m
            }
        }
        if let custom {
            if let labels, labels.count != custom.count {
                throw DataError("\(what) axis: \(labels.count) tick labels for \(custom.count) ticks")
            }
            guard custom.allSatisfy({ $0.isFinite && (!log || $0 > 0) }) else {
                throw DataError("\(what) axis: tick positions must be finite\(log ? " and positive" : "")")
            }
            let tol = (hi - lo) * 1e-9
            let inside = custom.indices.filter { custom[$0] >= lo - tol && custom[$0] <= hi + tol }
            return Axis(
                lo: lo, hi: hi, log: log, ticks: inside.map { custom[$0] },
                labels: inside.map { labels?[$0] ?? formatNumber(custom[$0]) }, minor: log ? logMinor(lo, hi) : [])
        }
        if log { return logAxis(lo, hi) }
        let parts = Double(max(1, target))
        var step = niceStep((hi - lo) / parts)
        if snap {
            lo = (lo / step + 1e-9).rounded(.down) * step
            hi = (hi / step - 1e-9).rounded(.up) * step
            step = niceStep((hi - lo) / parts)
            lo = (lo / step + 1e-9).rounded(.down) * step
            hi = (hi / step - 1e-9).rounded(.up) * step
        }
        var t: [Double] = []
        var k = (lo / step - 1e-9).rounded(.up)
        while k * step <= hi + step * 1e-9 && t.count < 100 {
            let v = abs(k * step) < step * 1e-9 ? 0 : k * step
            t.append(v)
            k += 1
        }
        let decimals = max(0, Int(-Foundation.log10(step).rounded(.down) + 1e-9))
        let big = t.contains { abs($0) >= 1e6 } || step < 1e-5
        let labels = t.map { big ? String(format: "%.3g", $0) : String(format: "%.\(min(decimals, 8))f", $0) }
        return Axis(lo: lo, hi: hi, log: false, ticks: t, labels: labels, minor: [])
    }

    /// 1, 2 or 5 times a power of ten, near `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let mag = pow(10, Foundation.log10(raw).rounded(.down))
        let n = raw / mag
        return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag
    }

    static func logAxis(_ lo: Double, _ hi: Double) -> Axis {
        let a = Int(Foundation.log10(lo).rounded(.down)), b = Int(Foundation.log10(hi).rounded(.up))
        var major: [Double] = []
        for e in a...b {
            let v = pow(10, Double(e)); if v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12) { major.append(v) }
        }
        var ticks = major
        if major.count < 2 {
            ticks = []
            for e in a...b {
                for m in [1.0, 2, 5] {
                    let v = m * pow(10, Double(e))
                    if v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12) { ticks.append(v) }
                }
            }
        }
        // Thin out very long ranges to at most ~8 labelled decades.
        if ticks.count > 8 {
            let stride = (ticks.count + 7) / 8;
            ticks = ticks.enumerated().filter { $0.offset % stride == 0 }.map { $0.element }
        }
        return Axis(lo: lo, hi: hi, log: true, ticks: ticks, labels: ticks.map(formatNumber), minor: logMinor(lo, hi))
    }

    static func logMinor(_ lo: Double, _ hi: Double) -> [Double] {
        let a = Int(Foundation.log10(lo).rounded(.down)), b = Int(Foundation.log10(hi).rounded(.up))
        guard b - a <= 12 else { return [] }
        var out: [Double] = []
        for e in a...b {
            for m in 1...9 {
                let v = Double(m) * pow(10, Double(e))
                if v >= lo && v <= hi { out.append(v) }
            }
        }
        return out
    }
}

/// Shortest plain decimal for a tick value (up to 6 decimals; exponent form outside 1e-4…1e6).
func formatNumber(_ v: Double) -> String {
    if v == 0 { return "0" }
    if abs(v) >= 1e6 || abs(v) < 1e-4 { return String(format: "%.3g", v) }
    for d in 0...6 {
        let s = String(format: "%.\(d)f", v)
        if let back = Double(s), abs(back - v) <= abs(v) * 1e-9 { return s }
    }
    return String(format: "%.6f", v)
}

/// Canvas, plot rectangle, axes, labels and title shared by the charts.
struct ChartFrame {
    static let axisColor = Color(gray: 50)
    static let gridColor = Color(gray: 228)

    var img: RGBImage
    /// Plot rectangle (interior pixels).
    let px: Int, py: Int, pw: Int, ph: Int
    let x: Axis, y: Axis
    let scale: Int
    let grid: Bool, verticalGrid: Bool
    let xLabel: String, yLabel: String
    let reserveBottom: Int

    init(
        width: Int, height: Int, title: String, xLabel: String, yLabel: String, x: Axis, y: Axis,
        textScale: Int, grid: Bool, verticalGrid: Bool = true, reserveBottom: Int = 0
    ) throws {
        guard textScale >= 1, textScale <= 8 else { throw DataError("chart: textScale must be 1…8, got \(textScale)") }
        let s = textScale
        let gh = BitmapFont.glyphHeight * s
        let pad = 10
        let yTickW = y.labels.map { BitmapFont.measure($0, scale: s).width }.max() ?? 0
        let left = pad + (yLabel.isEmpty ? 0 : gh + 8) + yTickW + 8
        let (top, bottom) = ChartFrame.verticalMargins(
            title: title, xLabel: xLabel, textScale: s, reserveBottom: reserveBottom)
        let lastLabel = x.labels.last.map { BitmapFont.measure($0, scale: s).width / 2 } ?? 0
        let right = max(pad + 6, lastLabel + 4)
        guard width >= left + right + 40, height >= top + bottom + 30, width * height <= RGBImage.maxPixels else {
            throw DataError(
                "chart: \(width)x\(height) pixels is too small for the axes and labels (need at least \(left + right + 40)x\(top + bottom + 30))"
            )
        }
        img = try RGBImage(width: width, height: height, fill: .white)
        px = left; py = top; pw = width - left - right; ph = height - top - bottom
        self.x = x; self.y = y
        scale = s
        self.grid = grid
        self.verticalGrid = verticalGrid
        self.xLabel = xLabel; self.yLabel = yLabel
        self.reserveBottom = reserveBottom
        if !title.isEmpty {
            let t = BitmapFont.truncate(title, toWidth: width - 2 * pad, scale: 2 * s)
            let tw = BitmapFont.measure(t, scale: 2 * s).width
            img.drawText(
                t, x: min(max(px + pw / 2 - tw / 2, pad), width - pad - tw), y: pad, color: .black, scale: 2 * s)
        }
        if grid {
            for v in y.ticks { img.fillRect(x: px, y: Int(yPix(v)), width: pw, height: 1, color: ChartFrame.gridColor) }
            if verticalGrid {
                for v in x.ticks {
                    img.fillRect(x: Int(xPix(v)), y: py, width: 1, height: ph, color: ChartFrame.gridColor)
                }
            }
        }
    }

    /// Pixels above and below the plot area.
    static func verticalMargins(title: String, xLabel: String, textScale s: Int, reserveBottom: Int) -> (Int, Int) {
        let gh = BitmapFont.glyphHeight * s, pad = 10
        return (pad + (title.isEmpty ? 0 : 2 * gh + 8), 8 + gh + (xLabel.isEmpty ? 0 : gh + 8) + pad + reserveBottom)
    }

    /// Height of the plot area for a canvas of `height` pixels.
    static func plotHeight(height: Int, title: String, xLabel: String, textScale: Int, reserveBottom: Int) -> Int {
        let (t, b) = verticalMargins(
            title: title, xLabel: xLabel, textScale: max(1, textScale), reserveBottom: reserveBottom)
        return height - t - b
    }

    /// Continuous pixel coordinates of data values (pixel centres at the range ends).
    func xPix(_ v: Double) -> Double {
        guard v.isFinite, !x.log || v > 0 else { return .nan }
        return Double(px) + 0.5 + x.fraction(v) * Double(pw - 1)
    }

    func yPix(_ v: Double) -> Double {
        guard v.isFinite, !y.log || v > 0 else { return .nan }
        return Double(py) + 0.5 + (1 - y.fraction(v)) * Double(ph - 1)
    }

    /// Draws the frame, ticks, tick labels and axis labels (over the data).
    mutating func finish() {
        let s = scale
        let c = ChartFrame.axisColor
        img.strokeRect(x: px - 1, y: py - 1, width: pw + 2, height: ph + 2, color: c)
        for v in y.ticks {
            let ty = Int(yPix(v))
            img.fillRect(x: px - 5, y: ty, width: 4, height: 1, color: c)
        }
        for (v, l) in zip(y.ticks, y.labels) {
            let (tw, _) = BitmapFont.measure(l, scale: s)
            img.drawText(l, x: px - 8 - tw, y: Int(yPix(v)) - (7 * s) / 2, color: .black, scale: s)
        }
        for v in x.minor where !x.ticks.contains(where: { abs($0 - v) <= abs(v) * 1e-9 }) {
            img.fillRect(x: Int(xPix(v)), y: py + ph + 1, width: 1, height: 2, color: c)
        }
        var lastRight = Int.min
        for (v, l) in zip(x.ticks, x.labels) {
            let tx = Int(xPix(v))
            img.fillRect(x: tx, y: py + ph + 1, width: 1, height: 4, color: c)
            let (tw, _) = BitmapFont.measure(l, scale: s)
            let lx = tx - tw / 2
            if lx > lastRight + 3 {  // skip labels that would collide
                img.drawText(l, x: lx, y: py + ph + 8, color: .black, scale: s)
                lastRight = lx + tw
            }
        }
        let gh = BitmapFont.glyphHeight * s
        if !xLabel.isEmpty {
            let t = BitmapFont.truncate(xLabel, toWidth: pw, scale: s)
            img.drawText(t, centerX: px + pw / 2, y: py + ph + 8 + gh + 8, color: .black, scale: s)
        }
        if !yLabel.isEmpty {
            let t = BitmapFont.truncate(yLabel, toWidth: ph, scale: s)
            let (tw, _) = BitmapFont.measure(t, scale: s)
            img.drawText(t, x: 10, y: py + ph / 2 - tw / 2, color: .black, scale: s, rotated: true)
        }
    }

    /// Draws a chart with its legend. `.best` tries the inside corner that covers the least
    /// drawn content; when every corner would cover some, the chart is drawn again with the
    /// legend below the plot (inside the same canvas size). `draw` gets the pixels to reserve at
    /// the bottom for a legend below.
    static func withLegend(
        _ entries: [LegendEntry], placement: LegendPlacement, textScale: Int,
        draw: (Int) throws -> ChartFrame
    ) throws -> RGBImage {
        guard !entries.isEmpty, placement != .none else { return try draw(0).img }
        let (_, lh) = LegendBox.size(entries, scale: max(1, textScale))
        if placement != .below {
            let frame = try draw(0)
            let (img, cost) = frame.drawLegendInside(entries, placement: placement)
            if placement != .best || cost == 0 { return img }
        }
        let frame = try draw(lh + 6)
        var img = frame.img
        LegendBox.draw(entries, on: &img, x: frame.px, y: frame.img.height - 8 - lh, scale: frame.scale, frame: nil)
        return img
    }

    /// The picture with the legend in a corner of the plot area, and how many drawn pixels it covers.
    func drawLegendInside(_ entries: [LegendEntry], placement: LegendPlacement) -> (RGBImage, Double) {
        let (lw, lh) = LegendBox.size(entries, scale: scale)
        let picture = img
        // Cost of a corner: pixels in the box that are neither background nor grid.
        func cost(_ x: Int, _ y: Int, _ w: Int, _ h: Int) -> Double {
            var n = 0
            for yy in max(0, y)..<max(max(0, y), min(picture.height, y + h)) {
                for xx in max(0, x)..<max(max(0, x), min(picture.width, x + w)) {
                    let p = picture.pixel(x: xx, y: yy)!
                    if p != .white && p != ChartFrame.gridColor { n += 1 }
                }
            }
            return Double(n)
        }
        let (lx, ly) = LegendBox.origin(placement, w: lw, h: lh, in: (px, py, pw, ph), margin: 6, cost: cost)
        var out = img
        LegendBox.draw(entries, on: &out, x: lx, y: ly, scale: scale, backgroundAlpha: 0.9)
        return (out, cost(lx, ly, lw, lh))
    }
}
