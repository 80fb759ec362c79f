import DollData
import DollNN
import DollTensor

/// A dataset as a classification batch source: images, labels and the label mask (U-Ignore).
public struct ClassificationSource: BatchSource {
    public let dataset: Dataset
    public init(_ dataset: Dataset) { self.dataset = dataset }
    public var count: Int { dataset.count }
    public func batch(_ indices: [Int]) throws -> Batch {
        let (x, y, m) = try dataset.classificationBatch(indices)
        return Batch(input: x, target: y, mask: m)
    }
}

/// A dataset as a segmentation batch source for the named structures (mask = valid pixels). An
/// `AugmentedDataset` draws new transforms every epoch.
public struct SegmentationSource: BatchSource {
    public let dataset: Dataset
    public let structures: [String]
    public init(_ dataset: Dataset, structures: [String]) { self.dataset = dataset; self.structures = structures }
    public var count: Int { dataset.count }
    public func batch(_ indices: [Int]) throws -> Batch {
        let (x, t, v) = try dataset.segmentationBatch(indices, structures: structures)
        return Batch(input: x, target: t, mask: v)
    }
    public func startEpoch(_ epoch: Int) { (dataset as? AugmentedDataset)?.epoch = epoch }
}

/// DoLL labels as a segmentation batch source: images from the source dataset, targets the
/// DoLL masks `[B, C, H, W]`, optionally augmented (the same geometry for image and labels; a
/// new draw per example and epoch from `seed`).
public final class DollLabelSource: BatchSource {
    public let labels: DollLabelSet
    public let images: Dataset
    public let augment: AugmentConfig?
    public let seed: UInt64
    private var epoch = 0
    public init(labels: DollLabelSet, images: Dataset, augment: AugmentConfig? = nil, seed: UInt64 = 0) throws {
        try augment?.validate(for: images)
        self.labels = labels; self.images = images; self.augment = augment; self.seed = seed
    }
    public var count: Int { labels.ids.count }
    public func batch(_ indices: [Int]) throws -> Batch {
        var xs: [Tensor] = []
        var ts: [Tensor] = []
        for i in indices {
            let image = try images.sample(labels.sourceIndices[i]).image
            if let augment {
                let d = augment.draw(seed: seed, epoch: epoch, index: i, size: images.size)
                xs.append(try d.image(image))
                ts.append(try d.mask(labels.masks[i]))
            } else {
                xs.append(image)
                ts.append(labels.masks[i])
            }
        }
        return Batch(input: try Tensor.stack(xs), target: try Tensor.stack(ts))
    }
    public func startEpoch(_ epoch: Int) { self.epoch = epoch }
}
