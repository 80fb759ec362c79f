import DollData
import DollTensor
import DollViz
import Foundation

/// A montage of phantom radiographs with their ground truth outlined (anatomy in thin
/// contours, findings filled), titled with their positive findings.
public enum PhantomMontage {
    static let short: [String: String] = [
        "Enlarged Cardiomediastinum": "ECM", "Cardiomegaly": "CM", "Lung Opacity": "LO", "Lung Lesion": "LES",
        "Edema": "ED",
        "Consolidation": "CON", "Pneumonia": "PNA", "Atelectasis": "ATL", "Pneumothorax": "PTX",
        "Pleural Effusion": "EFF",
        "Pleural Other": "PLO", "Fracture": "FX", "Support Devices": "SD", "No Finding": "NF",
    ]

    public static func write(
        to path: String, count: Int = 12, size: Int = 128, seed: UInt64 = 1, columns: Int = 4
    ) throws {
        let ds = try PhantomDataset(count: count, config: PhantomConfig(size: size, seed: seed))
        var tiles: [RGBImage] = [], titles: [String] = []
        for i in 0..<count {
            let s = try ds.sample(i)
            var layers: [MaskLayer] = []
            for (k, name) in phantomObservations.enumerated() where k > 0 && s.labels![k] == 1 {
                layers.append(
                    MaskLayer(short[name] ?? name, mask: s.masks[name]!, color: Palette.color(k), style: .filledContour)
                )
            }
            layers.append(MaskLayer("", mask: s.masks["lungs"]!, color: Color(90, 200, 255), style: .contour))
            layers.append(MaskLayer("", mask: s.masks["heart"]!, color: Color(255, 200, 80), style: .contour))
            tiles.append(try MaskOverlay(fillAlpha: 0.3, legend: .none)(s.image, layers: layers))
            let positives = phantomObservations.indices.filter { s.labels![$0] == 1 }.map {
                short[phantomObservations[$0]]!
            }
            titles.append(positives.joined(separator: " "))
        }
        try Montage(columns: columns, tileWidth: size, tileHeight: size)(tiles, titles: titles).write(to: path)
    }
}
