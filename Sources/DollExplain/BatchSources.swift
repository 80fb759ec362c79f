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

/// A dataset as a segmentation batch source for the named structures (mask = valid pixels).
public struct SegmentationSource: BatchSource {
    public let dataset: Dataset
    public let structures: [String]
    public init(_ dataset: Dataset, structures: [String]) { self.dataset = dataset; self.structures = structures }
    public var count: Int { dataset.count }
    public func batch(_ indices: [Int]) throws -> Batch {
        let (x, t, v) = try dataset.segmentationBatch(indices, structures: structures)
        return Batch(input: x, target: t, mask: v)
    }
}

/// DoLL labels as a segmentation batch source: images from the source dataset, targets the
/// DoLL masks `[B, C, H, W]`.
public struct DollLabelSource: BatchSource {
    public let labels: DollLabelSet
    public let images: Dataset
    public init(labels: DollLabelSet, images: Dataset) { self.labels = labels; self.images = images }
    public var count: Int { labels.ids.count }
    public func batch(_ indices: [Int]) throws -> Batch {
        let x = try Tensor.stack(indices.map { try images.sample(labels.sourceIndices[$0]).image })
        let t = try Tensor.stack(indices.map { labels.masks[$0] })
        return Batch(input: x, target: t)
    }
}
