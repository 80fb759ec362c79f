import DollTensor
import Foundation

/// 2-D convolution layer. Input `[N, inChannels, H, W]` → `[N, outChannels, H', W']`.
/// Weight `[out, in/groups, kh, kw]` (Kaiming-normal, fan-in, ReLU gain); optional bias `[out]`.
public final class Conv2d: Module, @unchecked Sendable {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Pair, padding: Pair, dilation: Pair, groups: Int

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Pair, stride: Pair = 1, padding: Pair = 0,
        dilation: Pair = 1, groups: Int = 1, bias: Bool = true, rng: inout RandomGenerator
    ) throws {
        guard inChannels >= 1, outChannels >= 1, groups >= 1, inChannels % groups == 0, outChannels % groups == 0 else {
            throw ModelError(
                "Conv2d(\(inChannels) → \(outChannels), groups \(groups)): channel counts must be positive and divisible by groups"
            )
        }
        weight = Parameter(
            try Tensor.kaimingNormal([outChannels, inChannels / groups, kernelSize.h, kernelSize.w], rng: &rng))
        let bound = 1 / Float(inChannels / groups * kernelSize.h * kernelSize.w).squareRoot()
        self.bias = bias ? Parameter(try Tensor.uniform([outChannels], low: -bound, high: bound, rng: &rng)) : nil
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        try x.conv2d(
            weight: weight.value, bias: bias?.value, stride: stride, padding: padding, dilation: dilation,
            groups: groups)
    }
}

/// Transposed 2-D convolution. Input `[N, in, H, W]` → `[N, out, (H−1)·s − 2p + k + outputPadding, …]`.
/// Weight `[in, out, kh, kw]` (PyTorch layout), optional bias `[out]`.
public final class ConvTranspose2d: Module, @unchecked Sendable {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Pair, padding: Pair, outputPadding: Pair

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Pair, stride: Pair = 1, padding: Pair = 0,
        outputPadding: Pair = 0, bias: Bool = true, rng: inout RandomGenerator
    ) throws {
        guard inChannels >= 1, outChannels >= 1 else {
            throw ModelError("ConvTranspose2d needs positive channel counts")
        }
        let fanIn = outChannels * kernelSize.h * kernelSize.w
        let bound = 1 / Float(fanIn).squareRoot()
        weight = Parameter(
            try Tensor.uniform(
                [inChannels, outChannels, kernelSize.h, kernelSize.w], low: -bound, high: bound, rng: &rng))
        self.bias = bias ? Parameter(try Tensor.uniform([outChannels], low: -bound, high: bound, rng: &rng)) : nil
        self.stride = stride; self.padding = padding; self.outputPadding = outputPadding
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        try x.convTranspose2d(
            weight: weight.value, bias: bias?.value, stride: stride, padding: padding, outputPadding: outputPadding)
    }
}

/// Batch normalisation over channels of `[N, C, H, W]` (or `[N, C]`); eps 1e-5, momentum 0.1,
/// affine. Buffers `running_mean`, `running_var` (PyTorch names).
public final class BatchNorm2d: Module, @unchecked Sendable {
    public let weight: Parameter
    public let bias: Parameter
    public let running_mean: Parameter
    public let running_var: Parameter
    public let eps: Float, momentum: Float

    public init(_ channels: Int, eps: Float = 1e-5, momentum: Float = 0.1) throws {
        guard channels >= 1 else { throw ModelError("BatchNorm2d needs at least one channel") }
        weight = Parameter(try Tensor.ones([channels]))
        bias = Parameter(try Tensor.zeros([channels]))
        running_mean = Parameter(try Tensor.zeros([channels]), trainable: false)
        running_var = Parameter(try Tensor.ones([channels]), trainable: false)
        self.eps = eps; self.momentum = momentum
    }

    public override func forward(_ x: Tensor) throws -> Tensor { try forward(x, relu: false) }

    /// `self(conv(x))` (then ReLU). In evaluation mode, when no parameter of either needs a
    /// gradient (inference, explanations), the batch norm is folded into the convolution:
    /// weight·γ/σ and bias β − μ·γ/σ (+ the conv's bias·γ/σ), one pass instead of three.
    public func forward(_ x: Tensor, after conv: Conv2d, relu: Bool) throws -> Tensor {
        let params = [conv.weight.value, weight.value, bias.value] + (conv.bias.map { [$0.value] } ?? [])
        guard !training, !(Autograd.isEnabled && params.contains(where: \.requiresGrad)) else {
            return try forward(conv(x), relu: relu)
        }
        let w = conv.weight.value, cout = w.shape[0]
        let gam = weight.value.scalars, bet = bias.value.scalars, mu = running_mean.value.scalars,
            va = running_var.value.scalars
        let convBias = conv.bias?.value.scalars
        var scale = [Float](repeating: 0, count: cout), shift = scale
        for o in 0..<cout {
            scale[o] = gam[o] / (va[o] + eps).squareRoot()
            shift[o] = bet[o] - mu[o] * scale[o] + (convBias?[o] ?? 0) * scale[o]
        }
        return try x.conv2d(
            weight: w.scaledAlongFirstAxis(scale), bias: Tensor(shift), stride: conv.stride, padding: conv.padding,
            dilation: conv.dilation, groups: conv.groups, relu: relu)
    }

    /// Batch norm followed by ReLU when `relu` (one fused pass where the backend has one).
    public func forward(_ x: Tensor, relu: Bool) throws -> Tensor {
        var rm = running_mean.value, rv = running_var.value
        let y = try x.batchNorm(
            weight: weight.value, bias: bias.value, runningMean: &rm, runningVar: &rv,
            training: training, momentum: momentum, eps: eps, relu: relu)
        if training { running_mean.value = rm; running_var.value = rv }
        return y
    }
}

/// Fully connected layer: `[N, in] → [N, out]`; weight `[out, in]`, bias `[out]` (PyTorch init).
public final class Linear: Module, @unchecked Sendable {
    public let weight: Parameter
    public let bias: Parameter?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RandomGenerator) throws {
        guard inFeatures >= 1, outFeatures >= 1 else { throw ModelError("Linear needs positive feature counts") }
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Parameter(try Tensor.uniform([outFeatures, inFeatures], low: -bound, high: bound, rng: &rng))
        self.bias = bias ? Parameter(try Tensor.uniform([outFeatures], low: -bound, high: bound, rng: &rng)) : nil
    }

    public override func forward(_ x: Tensor) throws -> Tensor { try x.linear(weight: weight.value, bias: bias?.value) }
}

/// Rectified linear unit (no parameters).
public final class ReLU: Module, @unchecked Sendable {
    public override init() {}
    public override func forward(_ x: Tensor) throws -> Tensor { x.relu() }
}

/// Bilinear upsampling by a factor of 2 (half-pixel centres, as PyTorch's
/// `Upsample(scale_factor=2, mode="bilinear")`; no parameters).
public final class Upsample: Module, @unchecked Sendable {
    public override init() {}
    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4 else { throw ModelError("Upsample needs [N, C, H, W], got \(shapeString(x.shape))") }
        return try x.upsampleBilinear(size: Pair(2 * x.shape[2], 2 * x.shape[3]))
    }
}

/// Identity (no parameters).
public final class Identity: Module, @unchecked Sendable {
    public override init() {}
    public override func forward(_ x: Tensor) throws -> Tensor { x }
}

/// Max pooling over `[N, C, H, W]`.
public final class MaxPool2d: Module, @unchecked Sendable {
    public let kernelSize: Pair, stride: Pair, padding: Pair
    public init(kernelSize: Pair, stride: Pair? = nil, padding: Pair = 0) {
        self.kernelSize = kernelSize; self.stride = stride ?? kernelSize; self.padding = padding
    }
    public override func forward(_ x: Tensor) throws -> Tensor {
        try x.maxPool2d(kernel: kernelSize, stride: stride, padding: padding)
    }
}

/// Inverted dropout with its own seeded generator; identity in evaluation mode.
public final class Dropout: Module, @unchecked Sendable {
    public let p: Float
    private var rng: RandomGenerator
    public init(p: Float = 0.5, seed: UInt64 = 0) throws {
        guard p >= 0 && p < 1 else { throw ModelError("Dropout probability must be in [0, 1), got \(p)") }
        self.p = p; rng = RandomGenerator(seed: seed)
    }
    public override func forward(_ x: Tensor) throws -> Tensor { try x.dropout(p: p, training: training, rng: &rng) }
}

/// Applies layers in order; children are named `0`, `1`, … like `nn.Sequential`. Conv2d →
/// BatchNorm2d (→ ReLU) runs through `BatchNorm2d.forward(_:after:relu:)`, and BatchNorm2d → ReLU
/// as one fused batch-norm + ReLU.
public final class Sequential: Module, @unchecked Sendable {
    public let layers: [Module]
    public init(_ layers: [Module]) { self.layers = layers }
    public override func children() -> [(String, Module)] { layers.enumerated().map { ("\($0.offset)", $0.element) } }
    public override func forward(_ x: Tensor) throws -> Tensor {
        var h = x
        var i = 0
        while i < layers.count {
            if let conv = layers[i] as? Conv2d, i + 1 < layers.count, let bn = layers[i + 1] as? BatchNorm2d {
                let relu = i + 2 < layers.count && layers[i + 2] is ReLU
                h = try bn.forward(h, after: conv, relu: relu)
                i += relu ? 3 : 2
            } else if let bn = layers[i] as? BatchNorm2d, i + 1 < layers.count, layers[i + 1] is ReLU {
                h = try bn.forward(h, relu: true)
                i += 2
            } else {
                h = try layers[i](h)
                i += 1
            }
        }
        return h
    }
}
