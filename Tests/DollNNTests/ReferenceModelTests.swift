import Foundation
import Testing
@testable import DollNN
@testable import DollTensor

func sharedPath(_ relative: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    let base = ProcessInfo.processInfo.environment["DOLL_SHARED"] ?? URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared").path
    let p = base + "/" + relative
    if FileManager.default.fileExists(atPath: p) { return p }
    Issue.record("shared fixture missing: \(p) — set DOLL_SHARED or lay out ../shared next to the repository", sourceLocation: sourceLocation)
    return nil
}

func maxAbs(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

@Suite("Models reproduce the PyTorch reference", .serialized)
struct ReferenceModelTests {
    @Test func resnetCXRMatchesLogitsAndInputGradient() throws {
        guard let wpath = sharedPath("reference/resnet_ref.safetensors"), let ipath = sharedPath("reference/ig_ref.safetensors") else { return }
        let model = try ResNetClassifier()
        #expect(model.parameterCount == 2_798_062)
        try model.load(from: wpath)
        model.eval()
        let ref = try SafeTensors.read(path: ipath).tensors
        let x = ref["input"]!.requiringGrad()
        let logits = try model(x)
        #expect(logits.shape == [1, 14])
        let err = maxAbs(logits, ref["logits"]!)
        #expect(err <= 1e-4, "max |logits − reference| = \(err)")
        try logits.slice(axis: 1, start: 0, end: 1).sum().backward()
        let gerr = maxAbs(x.grad!, ref["input_grad_target0"]!)
        #expect(gerr <= 1e-5, "max |∂logit0/∂input − reference| = \(gerr)")
    }

    @Test func unetCXRMatchesEvalOutput() throws {
        guard let path = sharedPath("reference/unet_ref.safetensors") else { return }
        let file = try SafeTensors.read(path: path).tensors
        let model = try UNet()
        #expect(model.parameterCount == 482_449)
        try model.loadStateDict(file)   // the __input/__output_eval entries are ignored
        model.eval()
        let y = try Autograd.noGrad { try model(file["__input"]!) }
        #expect(y.shape == [1, 1, 256, 256])
        let err = maxAbs(y, file["__output_eval"]!)
        #expect(err <= 1e-4, "max |output − reference| = \(err)")
    }
}
