import Foundation
import Testing
@testable import DollData
@testable import DollViz

@Suite("Colormaps")
struct ColormapTests {
    /// matplotlib 3.11 values (`matplotlib.colormaps[name].resampled(256)(i)[:3]`) at five
    /// entries per map, looked up offline. Our 8-bit tables must be within 1/255 of them.
    static let reference: [(String, [(Int, Double, Double, Double)])] = [
        (
            "viridis",
            [
                (0, 0.267004, 0.004874, 0.329415), (37, 0.274128, 0.199721, 0.498911),
                (128, 0.127568, 0.566949, 0.550556), (200, 0.440137, 0.811138, 0.340967),
                (255, 0.993248, 0.906157, 0.143936),
            ]
        ),
        (
            "inferno",
            [
                (0, 0.001462, 0.000466, 0.013866), (37, 0.162689, 0.043554, 0.333277),
                (128, 0.735683, 0.215906, 0.330245), (200, 0.985952, 0.615750, 0.025592),
                (255, 0.988362, 0.998364, 0.644924),
            ]
        ),
        (
            "magma",
            [
                (0, 0.001462, 0.000466, 0.013866), (37, 0.140858, 0.068654, 0.324538),
                (128, 0.716387, 0.214982, 0.475290), (200, 0.992785, 0.594891, 0.410283),
                (255, 0.987053, 0.991438, 0.749504),
            ]
        ),
        (
            "plasma",
            [
                (0, 0.050383, 0.029803, 0.527975), (37, 0.331426, 0.006261, 0.641316),
                (128, 0.798216, 0.280197, 0.469538), (200, 0.984199, 0.629718, 0.224595),
                (255, 0.940015, 0.975158, 0.131326),
            ]
        ),
        (
            "turbo",
            [
                (0, 0.189950, 0.071760, 0.232170), (37, 0.276800, 0.471510, 0.942140),
                (128, 0.643620, 0.989990, 0.233560), (200, 0.958010, 0.399580, 0.088310),
                (255, 0.479600, 0.015830, 0.010550),
            ]
        ),
        (
            "gray",
            [
                (0, 0.000000, 0.000000, 0.000000), (37, 0.145098, 0.145098, 0.145098),
                (128, 0.501961, 0.501961, 0.501961), (200, 0.784314, 0.784314, 0.784314),
                (255, 1.000000, 1.000000, 1.000000),
            ]
        ),
        (
            "RdBu_r",
            [
                (0, 0.019608, 0.188235, 0.380392), (37, 0.189542, 0.479585, 0.715186),
                (128, 0.969089, 0.966474, 0.964937), (200, 0.857670, 0.418916, 0.334564),
                (255, 0.403922, 0.000000, 0.121569),
            ]
        ),
    ]

    @Test func tablesMatchMatplotlibAtCheckedPoints() throws {
        #expect(Colormap.builtins.count == 7)
        for (name, points) in Self.reference {
            let cmap = try #require(Colormap.named(name), "no colormap '\(name)'")
            #expect(cmap.name == name)
            #expect(cmap.table.count == 768)
            for (i, r, g, b) in points {
                let c = cmap[i]
                for (got, want, ch) in [(c.r, r, "R"), (c.g, g, "G"), (c.b, b, "B")] {
                    let err = abs(Double(got) / 255 - want)
                    #expect(
                        err <= 1.0 / 255 + 1e-6,
                        "\(name)[\(i)].\(ch) = \(got)/255, matplotlib \(want) (off by \(err * 255)/255)")
                }
            }
        }
    }

    @Test func lookupFollowsMatplotlib() throws {
        let v = Colormap.viridis
        #expect(v.color(at: 0) == v[0])
        #expect(v.color(at: 1) == v[255])
        #expect(v.color(at: 0.5) == v[128])  // floor(0.5 * 256)
        #expect(v.color(at: 0.999) == v[255])
        #expect(v.color(at: -3) == v[0] && v.color(at: 7) == v[255])
        #expect(v.color(at: .nan) == v[0] && v.color(at: .infinity) == v[255] && v.color(at: -.infinity) == v[0])
        #expect(Colormap.gray[77] == Color(gray: 77))
        #expect(
            Colormap.named("GREY") == .gray && Colormap.named("diverging") == .rdBuR && Colormap.named("nope") == nil)
        let r = try #require(Colormap.named("viridis_r"))
        #expect(r.name == "viridis_r" && r[0] == v[255] && r[255] == v[0] && r.reversed == v)
        #expect(Colormap.rdBuR.isDiverging && !Colormap.inferno.isDiverging)
        // Diverging map: blue at 0, near-white centre, red at 1.
        let lo = Colormap.rdBuR[0], mid = Colormap.rdBuR[128], hi = Colormap.rdBuR[255]
        #expect(lo.b > lo.r && hi.r > hi.b && mid.r > 240 && mid.g > 240 && mid.b > 240)
    }

    @Test func customStops() throws {
        let m = try Colormap(name: "bw", stops: [(0, .black), (1, .white)])
        #expect(m.table == Colormap.gray.table)
        let e1 = #expect(throws: DataError.self) { try Colormap(name: "bad", stops: [(0.2, .black), (1, .white)]) }
        #expect(e1?.message.contains("stops must start at 0") == true)
        let e2 = #expect(throws: DataError.self) { try Colormap(name: "short", table: [1, 2, 3]) }
        #expect(e2?.message.contains("768") == true)
    }
}
