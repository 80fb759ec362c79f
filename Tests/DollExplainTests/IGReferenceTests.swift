import Foundation
import Testing
import DollTestSupport
@testable import DollExplain
@testable import DollNN
@testable import DollTensor

/// Loads ResNetCXR with the reference weights and the IG fixture (raw Float64 arrays kept as
/// Double via a second read of the F64 entries).
func referenceModel() throws -> (ResNetClassifier, [String: Tensor])? {
    guard let w = sharedFile("reference/resnet_ref.safetensors"), let r = sharedFile("reference/ig_ref.safetensors")
    else { return nil }
    let m = try ResNetClassifier()
    try m.load(from: w)
    m.eval()
    return (m, try SafeTensors.read(path: r).tensors)
}

@Suite("Integrated Gradients against Captum", .serialized)
struct IGReferenceTests {
    @Test(arguments: [(IGMethod.gaussLegendre, "gausslegendre"), (.riemannTrapezoid, "riemann_trapezoid")])
    func matchesCaptumFp64(_ c: (IGMethod, String)) throws {
        guard let (model, ref) = try referenceModel() else { return }
        let ig = IntegratedGradients(
            model: model, options: .init(steps: 50, method: c.0, internalBatch: 25, captumTrapezoid: true))
        let r = try ig.attribute(ref["input"]!, target: 0)
        let (a, delta) = (r.attributions, try #require(r.delta))
        let err = maxAbs(a, ref["ig_\(c.1)_fp64"]!)
        #expect(err <= 1e-4, "\(c.1): max |IG − Captum fp64| = \(err)")
        let dref = ref["delta_\(c.1)_fp64"]!.scalars[0]
        #expect(abs(delta[0] - dref) <= 2e-4, "\(c.1): delta \(delta[0]) vs \(dref)")
        let (alphas, weights) = try c.0.rule(steps: 50, captumTrapezoid: true)
        let ra = ref["alphas_\(c.1)"]!.scalars, rw = ref["step_sizes_\(c.1)"]!.scalars
        #expect(zip(alphas, ra).allSatisfy { abs($0 - Double($1)) <= 1e-6 })
        #expect(zip(weights, rw).allSatisfy { abs($0 - Double($1)) <= 1e-6 })
        print("IG \(c.1): max abs error vs Captum fp64 \(err), delta \(delta[0]) (Captum \(dref))")
    }

    @Test func internalBatchDoesNotChangeTheResult() throws {
        guard let (model, ref) = try referenceModel() else { return }
        var results: [Tensor] = []
        for ibs in [1, 7, 50] {
            let ig = IntegratedGradients(model: model, options: .init(steps: 50, internalBatch: ibs))
            results.append(try ig.attribute(ref["input"]!, target: 0).attributions)
        }
        // Different chunkings change only float32 rounding (max |IG| is 1.4e-2; PyTorch fp32 vs fp64 differ by 1.7e-5).
        let d1 = maxAbs(results[0], results[1]), d2 = maxAbs(results[0], results[2])
        #expect(d1 <= 5e-5 && d2 <= 5e-5, "internal batch 1 vs 7: \(d1), vs 50: \(d2)")
    }

    @Test func badArgumentsGiveClearErrors() throws {
        let model = try ResNetClassifier(.init(widths: [4, 8], blocks: [1, 1], classes: ["a", "b"]))
        let x = try Tensor.zeros([1, 16, 16])
        #expect { try IntegratedGradients(model: model, options: .init(steps: 0)).attribute(x, target: 0) } throws: {
            "\($0)".contains("steps ≥ 1")
        }
        #expect {
            try IntegratedGradients(model: model, options: .init(internalBatch: 0)).attribute(x, target: 0)
        } throws: { "\($0)".contains("internal batch") }
        #expect { try IntegratedGradients(model: model).attribute(x, target: "Cardiomegaly") } throws: {
            "\($0)".contains("unknown class 'Cardiomegaly'")
        }
        #expect { try IntegratedGradients(model: model).attribute(x, target: 5) } throws: {
            "\($0)".contains("out of range")
        }
        #expect { try IntegratedGradients(model: model).attribute(try Tensor.zeros([3, 16, 16]), target: 0) } throws: {
            "\($0)".contains("expected an image")
        }
        #expect { try GradCAM(model: model, layer: "layer9") } throws: { "\($0)".contains("unknown Grad-CAM layer") }
    }

    @Test func completenessImprovesWithSteps() throws {
        // A smooth model: random small ResNet with tanh-free but BN-eval paths is piecewise linear
        // (ReLU); use probability output for smoothness.
        let model = try ResNetClassifier(.init(widths: [4, 8], blocks: [1, 1], classes: ["a"], seed: 3))
        model.eval()
        var rng = RandomGenerator(seed: 4)
        let x = try Tensor.uniform([1, 1, 16, 16], low: 0, high: 30, rng: &rng)
        var deltas: [Float] = []
        for steps in [2, 4, 8, 32] {
            let ig = IntegratedGradients(model: model, options: .init(steps: steps, output: .probability))
            deltas.append(abs(try #require(try ig.attribute(x, target: 0).delta)[0]))
        }
        #expect(deltas.last! < deltas.first!, "|delta| per steps 2,4,8,32: \(deltas)")
        #expect(deltas.last! < 1e-3, "|delta| per steps 2,4,8,32: \(deltas)")
    }

    @Test func gaussLegendreIntegratesPolynomialsExactly() {
        let (x, w) = gaussLegendre(5)
        // ∫_{-1}^{1} t^8 dt = 2/9 exactly for n = 5 (degree ≤ 9)
        let s = zip(x, w).reduce(0.0) { $0 + $1.1 * pow($1.0, 8) }
        #expect(abs(s - 2.0 / 9) < 1e-13)
        #expect(abs(w.reduce(0, +) - 2) < 1e-13)
    }
}
