import DollTensor
import Foundation

/// doll's model files: a safetensors state dict whose metadata says what the model is
/// (`doll.kind`), how to build it (`doll.config`, JSON with sorted keys, so the same model is
/// the same bytes) and, for U-Nets, the names of the output channels (`doll.structures`).
/// `doll.load` reads them back.
extension ResNetClassifier {
    public func saveModelFile(to path: String) throws {
        try save(to: path, metadata: ["doll.kind": "classifier", "doll.config": try canonicalJSON(config)])
    }
}

extension UNet {
    public func saveModelFile(to path: String, structures: [String]) throws {
        try save(
            to: path,
            metadata: [
                "doll.kind": "unet", "doll.config": try canonicalJSON(config),
                "doll.structures": structures.joined(separator: ","),
            ])
    }
}

/// JSON with sorted keys.
public func canonicalJSON<T: Encodable>(_ value: T) throws -> String {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys]
    return String(decoding: try enc.encode(value), as: UTF8.self)
}
