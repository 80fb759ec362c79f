import Foundation
import Testing
import DollTestSupport
@testable import DollNN
@testable import DollTensor

@Suite("Models reproduce the PyTorch reference", .serialized)
struct ReferenceModelTests {
    @Test func resnetCXRMatchesLogitsAndInputGradient() throws {
        guard let wpath = sharedFile("reference/resnet_ref.safetensors"),
            let ipath = sharedFile("reference/ig_ref.safetensors")
        else { return }
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
        guard let path = sharedFile("reference/unet_ref.safetensors") else { return }
        let file = try SafeTensors.read(path: path).tensors
        let model = try UNet()
        #expect(model.parameterCount == 482_449)
        try model.loadStateDict(file)  // the __input/__output_eval entries are ignored
        model.eval()
        let y = try Autograd.noGrad { try model(file["__input"]!) }
        #expect(y.shape == [1, 1, 256, 256])
        let err = maxAbs(y, file["__output_eval"]!)
        #expect(err <= 1e-4, "max |output − reference| = \(err)")
    }
}
