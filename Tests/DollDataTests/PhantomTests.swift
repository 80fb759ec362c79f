import Foundation
import Testing
@testable import DollData
@testable import DollTensor

@Suite("Phantom generator", .serialized)
struct PhantomTests {
    @Test func sameSeedSameBytes() throws {
        let a = try PhantomDataset(count: 5, config: PhantomConfig(size: 64, seed: 3))
        let b = try PhantomDataset(count: 5, config: PhantomConfig(size: 64, seed: 3))
        let c = try PhantomDataset(count: 5, config: PhantomConfig(size: 64, seed: 4))
        for i in 0..<5 {
            let sa = try a.sample(i), sb = try b.sample(i)
            #expect(sa.image.scalars == sb.image.scalars && sa.labels == sb.labels)
            for (k, m) in sa.masks { #expect(m.scalars == sb.masks[k]!.scalars) }
        }
        #expect(try a.sample(0).image.scalars != c.sample(0).image.scalars)
        // random access: sample 3 alone equals sample 3 of a longer run
        let offset = try PhantomDataset(count: 2, config: PhantomConfig(size: 64, seed: 3), first: 3)
        #expect(try offset.sample(0).image.scalars == a.sample(3).image.scalars)
    }

    @Test(arguments: [64, 128])
    func findingMasksMatchLabelsAndAnatomyIsLateral(size: Int) throws {
        let ds = try PhantomDataset(count: 120, config: PhantomConfig(size: size, seed: 11))
        var positives = [Int](repeating: 0, count: 14)
        for i in 0..<ds.count {
            let s = try ds.sample(i)
            let labels = s.labels!
            for (j, name) in phantomObservations.enumerated() where j > 0 {
                let nonEmpty = s.masks[name]!.scalars.contains { $0 > 0.5 }
                #expect(
                    nonEmpty == (labels[j] == 1), "\(s.id): \(name) label \(labels[j]) but mask non-empty = \(nonEmpty)"
                )
                if labels[j] == 1 { positives[j] += 1 }
            }
            let pathology = labels[1...12].contains(1)
            #expect((labels[0] == 1) == !pathology, "\(s.id): No Finding inconsistent")
            func cx(_ m: Tensor) -> Double {
                var sx = 0.0, n = 0.0
                for (k, v) in m.scalars.enumerated() where v > 0.5 { sx += Double(k % size); n += 1 }
                return sx / max(n, 1)
            }
            // patient's left appears on the image's right
            #expect(cx(s.masks["left_lung"]!) > Double(size) / 2 && cx(s.masks["right_lung"]!) < Double(size) / 2)
            #expect(
                cx(s.masks["left_clavicle"]!) > Double(size) / 2 && cx(s.masks["right_clavicle"]!) < Double(size) / 2)
            #expect(s.image.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
        #expect(positives[1...].allSatisfy { $0 > 0 }, "every finding occurs in 120 phantoms: \(positives)")
    }

    @Test func writesAndReadsBackThroughTheRealLoaders() throws {
        let ds = try PhantomDataset(count: 6, config: PhantomConfig(size: 64, seed: 2))
        let dir = try tempDir("phantoms")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ds.write(to: dir)
        let chex = try CheXpertDataset(csv: dir + "/train.csv", size: 64)
        #expect(chex.count == 6 && chex.classes == phantomObservations)
        let seg = try SegmentationFolder(root: dir, size: 64)
        #expect(seg.count == 6 && seg.structures.contains("lungs"))
        for i in 0..<6 {
            let a = try ds.sample(i), b = try chex.sample(i), c = try seg.sample(seg.ids.firstIndex(of: a.id)!)
            #expect(a.labels! == b.labels!)
            #expect(zip(a.image.scalars, b.image.scalars).allSatisfy { abs($0 - $1) <= 0.5 / 255 + 1e-6 })
            #expect(a.masks["heart"]!.scalars == c.masks["heart"]!.scalars)
        }
    }

    @Test func badConfigsAreRejected() {
        #expect { try PhantomDataset(count: 0) } throws: { "\($0)".contains("count") }
        #expect { try PhantomDataset(count: 2, config: PhantomConfig(size: 8)) } throws: { "\($0)".contains("size") }
        #expect { try PhantomDataset(count: 2, config: PhantomConfig(prevalence: ["Cardiomegaly": 2])) } throws: { _ in
            true
        }
        #expect { try PhantomDataset(count: 2, config: PhantomConfig(prevalence: ["Flu": 0.1])) } throws: {
            "\($0)".contains("Flu")
        }
    }
}
