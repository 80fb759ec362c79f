import Foundation
import DollTestSupport
import Testing
@testable import DollTensor

/// Builds a safetensors byte string from a raw header and data section.
func rawSafetensors(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
    let h = Array(header.utf8)
    var out = Data()
    var len = (declaredLength ?? UInt64(h.count)).littleEndian
    withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
    out.append(contentsOf: h)
    out.append(contentsOf: data)
    return out
}

@Suite("safetensors")
struct SafeTensorsTests {
    @Test func roundTripIsExact() throws {
        let a = randomTensor([2, 3, 4], seed: 1), b = try Tensor([1, -2.5, .infinity, 0], shape: [4]),
            c = Tensor(scalar: 7)
        let empty = try Tensor.zeros([0, 3])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("doll-st-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("t.safetensors").path
        try SafeTensors.write(
            ["a": a, "b": b, "c \"quoted\"": c, "empty": empty], metadata: ["seed": "1", "note": "x\ny"], to: path)
        let f = try SafeTensors.read(path: path)
        #expect(f.tensors["a"]!.shape == [2, 3, 4] && f.tensors["a"]!.scalars == a.scalars)
        #expect(f.tensors["b"]!.scalars == b.scalars)
        #expect(f.tensors["c \"quoted\""]!.shape == [] && f.tensors["c \"quoted\""]!.scalars == [7])
        #expect(f.tensors["empty"]!.shape == [0, 3])
        #expect(f.metadata == ["seed": "1", "note": "x\ny"])
        // Header plus 8-byte prefix is 8-byte aligned.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let hlen = bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        #expect((8 + hlen) % 8 == 0)
        try FileManager.default.removeItem(at: dir)
    }

    @Test func readsTheReferenceFixture() throws {
        guard let path = sharedFile("reference/ig_ref.safetensors") else { return }
        let f = try SafeTensors.read(path: path)
        #expect(f.tensors["input"]!.shape == [1, 1, 224, 224])
        #expect(f.tensors["logits"]!.shape == [1, 14])
        #expect(f.tensors["ig_gausslegendre_fp64"]!.shape == [1, 1, 224, 224])  // F64, converted
        #expect(f.tensors["alphas_gausslegendre"]!.shape == [50])
        #expect(f.metadata["n_steps"] == "50")
        let logits = f.tensors["logits"]!.scalars
        let expected: [Float] = [
            -3.559074640274048, 10.510231971740723, 13.13375186920166, 2.7037906646728516, -1.75551176071167,
        ]
        for (a, b) in zip(logits, expected) { #expect(abs(a - b) < 1e-6) }
        #expect(abs(f.tensors["delta_gausslegendre_fp64"]!.scalars[0] - -0.0017784843694004238) < 1e-9)
        #expect(abs(f.tensors["alphas_gausslegendre"]!.scalars[0] - 0.0005667977899644905) < 1e-9)
        let steps = f.tensors["step_sizes_riemann_trapezoid"]!.scalars
        #expect(abs(steps.reduce(0, +) - 0.98) < 1e-5)  // Captum's trapezoid sums to 49/50
    }

    @Test(arguments: [
        ("short", rawSafetensors(header: "").prefix(5), "too short"),
        ("length past end", rawSafetensors(header: "{}", declaredLength: 1000), "larger than the file"),
        ("huge length", rawSafetensors(header: "{}", declaredLength: UInt64.max / 2), "exceeds"),
        ("not json", rawSafetensors(header: "{nope"), "not valid JSON"),
        ("not object", rawSafetensors(header: "[1,2]"), "not a JSON object"),
        (
            "unknown dtype",
            rawSafetensors(header: #"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
            "unknown dtype"
        ),
        (
            "out of range",
            rawSafetensors(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]),
            "out of range"
        ),
        (
            "size mismatch",
            rawSafetensors(
                header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)),
            "needs 12 bytes"
        ),
        (
            "overlap",
            rawSafetensors(
                header:
                    #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                data: Array(repeating: 0, count: 8)), "overlapping"
        ),
        (
            "negative shape", rawSafetensors(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#),
            "malformed shape"
        ),
        (
            "bad offsets",
            rawSafetensors(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}"#, data: [0, 0, 0, 0]),
            "malformed data_offsets"
        ),
        (
            "no dtype", rawSafetensors(header: #"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
            "no dtype"
        ),
        (
            "huge shape",
            rawSafetensors(
                header: #"{"a":{"dtype":"F32","shape":[100000,100000,100000],"data_offsets":[0,4]}}"#,
                data: [0, 0, 0, 0]), "too large"
        ),
        ("bad metadata", rawSafetensors(header: #"{"__metadata__":{"a":1}}"#), "not a string"),
        (
            "duplicate name",
            rawSafetensors(
                header:
                    #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "a" :{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                data: Array(repeating: 0, count: 8)), "names 'a' twice"
        ),
    ])
    func malformedFilesAreRejected(_ c: (String, Data, String)) throws {
        do {
            _ = try SafeTensors.decode(c.1)
            Issue.record("\(c.0): decoded without error")
        } catch let e as TensorError {
            #expect(e.message.contains(c.2), "\(c.0): message was '\(e.message)'")
        }
    }

    /// Keys nested inside entries or escaped quotes in names are not mistaken for duplicates.
    @Test func duplicateScanLooksAtTopLevelKeysOnly() {
        let ok =
            #"{"a\"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(SafeTensors.firstDuplicateKey(ArraySlice(Array(ok.utf8))) == nil)
        let dup = #"{"__metadata__":{"x":"1"},"x":{"dtype":"F32"},"x":{}}"#
        #expect(SafeTensors.firstDuplicateKey(ArraySlice(Array(dup.utf8))) == "x")
    }

    @Test func float16AndIntegersConvert() throws {
        // F16 1.0 = 0x3C00, -2.0 = 0xC000; I64 5
        let data: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 5, 0, 0, 0, 0, 0, 0, 0]
        let f = try SafeTensors.decode(
            rawSafetensors(
                header:
                    #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"i":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}}"#,
                data: data))
        #expect(f.tensors["h"]!.scalars == [1, -2])
        #expect(f.tensors["i"]!.scalars == [5])
    }
}
