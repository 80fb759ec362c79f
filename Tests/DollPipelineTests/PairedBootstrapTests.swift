import Foundation
import Testing
@testable import DollPipeline

/// The paired two-level bootstrap against cases worked out by hand.
@Suite("Paired bootstrap intervals")
struct PairedBootstrapTests {
    /// A constant difference has that mean and an interval of width 0.
    @Test func constantDifferenceHasAPointInterval() throws {
        let a = [[0.8, 0.6, 0.9], [0.7, 0.5, 0.4]]
        let b = a.map { $0.map { $0 - 0.25 } }
        let d = try PairedBootstrap.difference(a, b, seed: 1)
        #expect(abs(d.mean - 0.25) < 1e-12 && abs(d.low - 0.25) < 1e-12 && abs(d.high - 0.25) < 1e-12)
        #expect(d.n == 6)
    }

    /// One seed, two images with differences 0 and 1: the resampled means are 0, 0.5, 0.5 and 1
    /// with probabilities ¼, ½, ¼, so the 2.5 % and 97.5 % points are 0 and 1 and the mean 0.5.
    @Test func twoImagesGiveTheirExtremes() throws {
        let d = try PairedBootstrap.difference([[1.0, 2.0]], [[1.0, 1.0]], seed: 3)
        #expect(d.mean == 0.5)
        #expect(d.low == 0 && d.high == 1)
    }

    /// Two seeds with one image each (differences 1 and 3): the seed resamples give means 1, 2, 2
    /// and 3, so the interval is [1, 3] around 2. Non-finite pairs are left out.
    @Test func seedsAreResampledAndNaNsSkipped() throws {
        let d = try PairedBootstrap.difference([[1.0, .nan], [3.0, 0.2]], [[0.0, 0.5], [0.0, .nan]], seed: 5)
        #expect(d.mean == 2 && d.n == 2)
        #expect(d.low == 1 && d.high == 3)
        #expect(throws: StudyError.self) { try PairedBootstrap.difference([[1.0]], [[1.0, 2.0]]) }
        let empty = try PairedBootstrap.difference([[Double.nan]], [[1.0]])
        #expect(empty.n == 0 && empty.mean.isNaN)
    }

    /// The same inputs and seed give the same interval; another seed may move it only slightly.
    @Test func seededAndStable() throws {
        var rng = SystemRandomNumberGenerator()
        let a = (0..<3).map { _ in (0..<40).map { _ in Double.random(in: 0...1, using: &rng) } }
        let b = a.map { $0.map { $0 - 0.1 + Double.random(in: -0.05...0.05, using: &rng) } }
        let x = try PairedBootstrap.difference(a, b, seed: 9)
        #expect(x == (try PairedBootstrap.difference(a, b, seed: 9)))
        #expect(x.low > 0.05 && x.high < 0.15 && x.low < 0.1 && x.high > 0.1)
    }
}
