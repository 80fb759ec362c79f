import Foundation
import Testing
@testable import DollData
@testable import DollViz

@Suite("Charts")
struct ChartTests {
    @Test func niceTicks() throws {
        let a = try Axis.fit([0, 1], range: 0...1, log: false, ticks: nil, labels: nil, what: "y")
        #expect(a.ticks.count == 6 && a.ticks.first == 0 && a.ticks.last == 1)
        #expect(a.labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let b = try Axis.fit([3, 147], range: nil, log: false, ticks: nil, labels: nil, what: "x")
        #expect(b.labels == ["0", "20", "40", "60", "80", "100", "120", "140"])
        #expect(b.lo < 3 && b.hi > 147)
        let c = try Axis.fit([-0.013, 0.042], range: nil, log: false, ticks: nil, labels: nil, what: "y")
        #expect(c.labels == ["-0.01", "0.00", "0.01", "0.02", "0.03", "0.04"])
        let l = try Axis.fit([1, 100], range: nil, log: true, ticks: nil, labels: nil, what: "x")
        #expect(l.labels == ["1", "10", "100"])
        #expect(l.minor.contains(5) && l.minor.contains(20))
        let short = try Axis.fit([3, 40], range: nil, log: true, ticks: nil, labels: nil, what: "x")
        #expect(short.labels == ["5", "10", "20"])  // under two decades: 2× and 5× ticks join
        let custom = try Axis.fit([1, 100], range: nil, log: true, ticks: [1, 5, 10, 25, 100], labels: nil, what: "x")
        #expect(custom.labels == ["1", "5", "10", "25", "100"])
        let constant = try Axis.fit([0.5, 0.5], range: nil, log: false, ticks: nil, labels: nil, what: "y")
        #expect(constant.lo < 0.5 && constant.hi > 0.5)
        let empty = try Axis.fit([], range: nil, log: false, ticks: nil, labels: nil, what: "y")
        #expect(empty.lo < 0 && empty.hi > 1)
        #expect(
            Axis.niceStep(0.13) == 0.1 && Axis.niceStep(0.29) == 0.2 && Axis.niceStep(6.5) == 5
                && Axis.niceStep(8) == 10)
        #expect(
            formatNumber(25) == "25" && formatNumber(0.05) == "0.05" && formatNumber(2.5e-6) == "2.5e-06"
                && formatNumber(0) == "0")
        #expect(throws: DataError.self) {
            try Axis.fit([1], range: 2...2, log: false, ticks: nil, labels: nil, what: "y")
        }
        #expect(throws: DataError.self) {
            try Axis.fit([1], range: nil, log: true, ticks: [1, 2], labels: ["a"], what: "x")
        }
    }

    static func efficiencyPlot(width: Int, height: Int) -> LinePlot {
        LinePlot(
            series: [
                Series("random init", x: [1, 5, 10, 25, 100], y: [0.62, 0.78, 0.84, 0.9, 0.94]),
                Series("DoLL", x: [1, 5, 10, 25, 100], y: [0.74, 0.85, 0.89, 0.92, 0.95], marker: .square),
            ], title: "Lungs", xLabel: "labels (%)", yLabel: "Dice", width: width, height: height, logX: true,
            yRange: 0.5...1, xTicks: [1, 5, 10, 25, 100])
    }

    @Test func linePlotGolden() throws {
        let img = try Self.efficiencyPlot(width: 240, height: 160).render()
        #expect(img.width == 240 && img.height == 160)
        try expectGolden(img, 0x7695_09CF_4FBA_D258, "lineplot")
        // Legend present: a white box with both series colours in a corner of the plot area.
        let colors = Set(
            img.pixels.indices.filter { $0 % 3 == 0 }.map {
                Color(img.pixels[$0], img.pixels[$0 + 1], img.pixels[$0 + 2])
            })
        #expect(colors.contains(Palette.color(0)) && colors.contains(Palette.color(1)))
        #expect(try Self.efficiencyPlot(width: 240, height: 160).png() == (try img.png()))
    }

    @Test func barChartGolden() throws {
        let chart = BarChart(
            categories: ["lungs", "heart", "clav."],
            series: [
                BarSeries("random", values: [0.91, 0.82, 0.55]),
                BarSeries("DoLL", values: [0.94, 0.87, .nan]),
            ], title: "Dice @ 5%", yLabel: "Dice", width: 260, height: 180, yRange: 0...1, valueLabels: false)
        let img = try chart.render()
        try expectGolden(img, 0x29F8_01D0_EA83_04ED, "barchart")
        // Bar areas are proportional to the values (the NaN bar is left out); each colour also
        // has a 7×7 legend swatch.
        func count(_ c: Color) -> Int {
            (0..<(img.width * img.height)).filter { img.pixel(x: $0 % img.width, y: $0 / img.width) == c }.count
        }
        let a0 = Double(count(Palette.color(0)) - 49), a1 = Double(count(Palette.color(1)) - 49)
        #expect(abs(a0 / a1 - (0.91 + 0.82 + 0.55) / (0.94 + 0.87)) < 0.04, "bar areas \(a0), \(a1)")
        // Without a range, the y axis starts at 0 and ends at the first tick above the data plus headroom.
        #expect(
            try Axis.fit(
                [0.91, 0.94 * 1.08, 0], range: nil, log: false, ticks: nil, labels: nil, what: "y", margin: 0,
                snap: true
            ).labels.last == "1.2")
        let neg = try BarChart(
            categories: ["a", "b"], series: [BarSeries("d", values: [-0.2, 0.4])], width: 200, height: 140,
            valueLabels: true
        ).render()
        #expect(neg.width == 200)
    }

    @Test func badChartInputsThrowClearly() throws {
        let e1 = #expect(throws: DataError.self) {
            try LinePlot(series: [Series("a", x: [0, 1], y: [1, 2])], logX: true).render()
        }
        #expect(e1?.message.contains("log x axis needs x > 0") == true)
        let e2 = #expect(throws: DataError.self) {
            try LinePlot(series: [Series("a", x: [1, 2, 3], y: [1, 2])]).render()
        }
        #expect(e2?.message.contains("3 x values but 2 y values") == true)
        let e3 = #expect(throws: DataError.self) { try LinePlot(series: [], width: 30, height: 20).render() }
        #expect(e3?.message.contains("too small") == true)
        #expect(throws: DataError.self) {
            try BarChart(categories: ["a"], series: [BarSeries("x", values: [1, 2])]).render()
        }
        #expect(throws: DataError.self) { try BarChart(categories: [], series: []).render() }
        #expect(throws: DataError.self) { try LinePlot(series: [], yRange: 1...1).render() }
        // Degenerate data still draws: no series, all-NaN, constant, infinite values.
        _ = try LinePlot(series: []).render()
        _ = try LinePlot(series: [Series("nan", y: [.nan, .nan])]).render()
        _ = try LinePlot(series: [Series("flat", y: [2, 2, 2]), Series("inf", y: [1, .infinity, -.infinity, 3])])
            .render()
        _ = try BarChart(categories: ["a"], series: [BarSeries("z", values: [0])]).render()
        _ = try LinePlot(series: [Series("tiny", x: [1e-9, 2e-9], y: [1e12, 3e12])], logX: true).render()
    }
}
