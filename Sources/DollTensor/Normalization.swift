import Foundation

extension Tensor {
    /// Batch normalisation over `[N, C, H, W]` (or `[N, C]`) per channel, PyTorch semantics.
    ///
    /// Training: normalises with the batch mean and biased variance, and updates the running
    /// statistics in place with `momentum` using the unbiased variance. Evaluation: uses the
    /// running statistics. `weight`/`bias` are `[C]` (γ, β).
    /// With `relu`, returns `max(0, batchNorm(x))`, fused into one pass where the backend can.
    public func batchNorm(
        weight: Tensor?, bias: Tensor?, runningMean: inout Tensor, runningVar: inout Tensor,
        training: Bool, momentum: Float = 0.1, eps: Float = 1e-5, relu: Bool = false
    ) throws -> Tensor {
        guard rank == 4 || rank == 2 else {
            throw TensorError("batchNorm needs [N, C, H, W] or [N, C], got \(shapeString(shape))")
        }
        let n = shape[0], c = shape[1], hw = rank == 4 ? shape[2] * shape[3] : 1
        for (name, t) in [("weight", weight), ("bias", bias), ("runningMean", runningMean), ("runningVar", runningVar)]
        {
            if let t, t.shape != [c] {
                throw TensorError("batchNorm \(name) must be [\(c)], got \(shapeString(t.shape))")
            }
        }
        let m = n * hw
        if training && m <= 1 {
            throw TensorError(
                "batchNorm in training mode needs more than one value per channel, got shape \(shapeString(shape))")
        }
        if rank == 4 && KernelBackend.current == .oneDNN && m > 0 {
            return try fusedBatchNorm(
                weight: weight, bias: bias, runningMean: &runningMean, runningVar: &runningVar,
                training: training, momentum: momentum, eps: eps, relu: relu)
        }
        let y = try referenceBatchNorm(
            weight: weight, bias: bias, runningMean: &runningMean, runningVar: &runningVar,
            training: training, momentum: momentum, eps: eps)
        return relu ? y.relu() : y
    }

    /// Batch normalisation in as few memory passes as the math allows, ReLU fused: statistics in
    /// one pass (sums shifted by the channel's first value, so E[x²] − E[x]² does not cancel),
    /// the affine map and ReLU in one more; backward one pass for the two channel sums and one
    /// for the input gradient, reading the ReLU mask from the output. Vector accumulators per
    /// plane, Double across planes.
    func fusedBatchNorm(
        weight: Tensor?, bias: Tensor?, runningMean: inout Tensor, runningVar: inout Tensor,
        training: Bool, momentum: Float, eps: Float, relu: Bool
    ) throws -> Tensor {
        let n = shape[0], c = shape[1], hw = shape[2] * shape[3], m = n * hw
        let px = UnsafePointer(storage.pointer)
        var stats: (mean: [Double], variance: [Double])? = nil
        if training {
            var varB = [Double](repeating: 0, count: c), mu = [Double](repeating: 0, count: c)
            mu.withUnsafeMutableBufferPointer { pmu in
                varB.withUnsafeMutableBufferPointer { pvar in
                    let box = UncheckedSendable((pmu.baseAddress!, pvar.baseAddress!))
                    Parallel.forEach(c, costPerItem: m) { ch in
                        let shift = px[ch * hw]
                        var s1 = 0.0, s2 = 0.0
                        for b in 0..<n {
                            let (a1, a2) = Vec.shiftedSums(px + (b * c + ch) * hw, hw, shift: shift)
                            s1 += a1; s2 += a2
                        }
                        let d = s1 / Double(m)
                        box.value.0[ch] = Double(shift) + d
                        box.value.1[ch] = Swift.max(s2 / Double(m) - d * d, 0)
                    }
                }
            }
            stats = (mu, varB)
        }
        let (mean, invStd) = Tensor.normalizer(
            batch: stats, count: m, runningMean: &runningMean, runningVar: &runningVar,
            momentum: momentum, eps: eps)
        let gam = weight.map { $0.scalars } ?? [Float](repeating: 1, count: c)
        let bet = bias.map { $0.scalars } ?? [Float](repeating: 0, count: c)
        let out = Tensor(uninitializedShape: shape)
        let po = out.storage.pointer
        Parallel.forEach(n * c, costPerItem: hw) { plane in
            let ch = plane % c
            let a = gam[ch] * invStd[ch]
            Vec.affine(px + plane * hw, po + plane * hw, hw, scale: a, shift: bet[ch] - mean[ch] * a, relu: relu)
        }
        let x = self, y = out.detached()
        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let hasW = weight != nil, hasB = bias != nil
        return Tensor.record(out, inputs) { g, need in
            let pg = UnsafePointer(g.storage.pointer), py = UnsafePointer(y.storage.pointer)
            let needSums = training || need.dropFirst().contains(true)
            // Per channel Σg' and Σg'·x̂, with g' the gradient after the ReLU mask.
            var sg = [Float](repeating: 0, count: c), sgx = [Float](repeating: 0, count: c)
            if needSums {
                sg.withUnsafeMutableBufferPointer { psg in
                    sgx.withUnsafeMutableBufferPointer { psgx in
                        let box = UncheckedSendable((psg.baseAddress!, psgx.baseAddress!))
                        Parallel.forEach(c, costPerItem: m) { ch in
                            var a = 0.0, b = 0.0
                            for bi in 0..<n {
                                let off = (bi * c + ch) * hw
                                let (fa, fb) = Vec.gradientSums(
                                    pg + off, px + off, relu ? py + off : nil, hw, mean: mean[ch])
                                a += fa; b += fb
                            }
                            box.value.0[ch] = Float(a); box.value.1[ch] = Float(b) * invStd[ch]
                        }
                    }
                }
            }
            var grads: [Tensor?] = []
            if need[0] {
                let gx = Tensor(uninitializedShape: x.shape)
                let pd = gx.storage.pointer
                Parallel.forEach(n * c, costPerItem: hw) { plane in
                    let ch = plane % c, off = plane * hw
                    let k = gam[ch] * invStd[ch]
                    if training {
                        let mInv = 1 / Float(m)
                        // gx = k·(g' − Σg'/m − x̂·Σg'x̂/m), x̂ = (x − μ)·invStd
                        let cx = -k * invStd[ch] * mInv * sgx[ch]
                        let c0 = -k * mInv * sg[ch] - cx * mean[ch]
                        Vec.inputGradient(pg + off, px + off, relu ? py + off : nil, pd + off, hw, k: k, cx: cx, c0: c0)
                    } else {
                        Vec.inputGradient(pg + off, px + off, relu ? py + off : nil, pd + off, hw, k: k, cx: 0, c0: 0)
                    }
                }
                grads.append(gx)
            } else {
                grads.append(nil)
            }
            if hasW { grads.append(need[1] ? Tensor(sgx) : nil) }
            if hasB { grads.append(need[grads.count] ? Tensor(sg) : nil) }
            return grads
        }
    }

    /// Plain-loop batch normalisation (the reference for `fusedBatchNorm`).
    func referenceBatchNorm(
        weight: Tensor?, bias: Tensor?, runningMean: inout Tensor, runningVar: inout Tensor,
        training: Bool, momentum: Float, eps: Float
    ) throws -> Tensor {
        let n = shape[0], c = shape[1], hw = rank == 4 ? shape[2] * shape[3] : 1
        let m = n * hw
        let px = UnsafePointer(storage.pointer)
        var stats: (mean: [Double], variance: [Double])? = nil
        if training {
            // Per-channel mean and biased variance: Float sums per plane (vectorised), Double across planes.
            var mu = [Double](repeating: 0, count: c), varB = [Double](repeating: 0, count: c)
            mu.withUnsafeMutableBufferPointer { pmu in
                varB.withUnsafeMutableBufferPointer { pvar in
                    let box = UncheckedSendable((pmu.baseAddress!, pvar.baseAddress!))
                    Parallel.forEach(c, costPerItem: n * hw) { ch in
                        let (pmu, pvar) = box.value
                        var s = 0.0
                        for b in 0..<n {
                            let p = px + (b * c + ch) * hw; var f: Float = 0; for i in 0..<hw { f += p[i] };
                            s += Double(f)
                        }
                        let m0 = Float(s / Double(m))
                        var s2 = 0.0
                        for b in 0..<n {
                            let p = px + (b * c + ch) * hw; var f: Float = 0;
                            for i in 0..<hw { let d = p[i] - m0; f += d * d }; s2 += Double(f)
                        }
                        pmu[ch] = Double(m0); pvar[ch] = s2 / Double(m)
                    }
                }
            }
            stats = (mu, varB)
        }
        let (mean, invStd) = Tensor.normalizer(
            batch: stats, count: m, runningMean: &runningMean, runningVar: &runningVar,
            momentum: momentum, eps: eps)
        let out = Tensor(uninitializedShape: shape)
        let po = out.storage.pointer
        let gam = weight.map { $0.scalars } ?? [Float](repeating: 1, count: c)
        let bet = bias.map { $0.scalars } ?? [Float](repeating: 0, count: c)
        Parallel.forEach(n * c, costPerItem: hw) { plane in
            let ch = plane % c
            let a = gam[ch] * invStd[ch], b = bet[ch] - mean[ch] * a
            let s = px + plane * hw, d = po + plane * hw
            for i in 0..<hw { d[i] = s[i] * a + b }
        }
        let x = self
        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let hasW = weight != nil
        return Tensor.record(out, inputs) { g, need in
            let pg = UnsafePointer(g.storage.pointer)
            // Per-channel Σg and Σg·x̂: needed for the training-mode input gradient and for γ/β
            // gradients; skipped in evaluation mode with frozen γ/β (attribution passes).
            var sg = [Float](repeating: 0, count: c), sgx = [Float](repeating: 0, count: c)
            let needSums = training || need.dropFirst().contains(true)
            if needSums {
                sg.withUnsafeMutableBufferPointer { psg in
                    sgx.withUnsafeMutableBufferPointer { psgx in
                        let box = UncheckedSendable((psg.baseAddress!, psgx.baseAddress!))
                        Parallel.forEach(c, costPerItem: n * hw) { ch in
                            let (psg, psgx) = box.value
                            var a = 0.0, b = 0.0
                            let mu = mean[ch]
                            for bi in 0..<n {
                                let off = (bi * c + ch) * hw
                                var fa: Float = 0, fb: Float = 0
                                for i in 0..<hw { let gv = pg[off + i]; fa += gv; fb += gv * (px[off + i] - mu) }
                                a += Double(fa); b += Double(fb)
                            }
                            psg[ch] = Float(a); psgx[ch] = Float(b) * invStd[ch]
                        }
                    }
                }
            }
            var grads: [Tensor?] = []
            if need[0] {
                let gx = Tensor(uninitializedShape: x.shape)
                let pd = gx.storage.pointer
                Parallel.forEach(n * c, costPerItem: hw) { plane in
                    let ch = plane % c, off = plane * hw
                    let k = gam[ch] * invStd[ch]
                    if training {
                        let mInv = 1 / Float(m)
                        for i in 0..<hw {
                            let xh = (px[off + i] - mean[ch]) * invStd[ch]
                            pd[off + i] = k * (pg[off + i] - mInv * sg[ch] - xh * mInv * sgx[ch])
                        }
                    } else {
                        for i in 0..<hw { pd[off + i] = k * pg[off + i] }
                    }
                }
                grads.append(gx)
            } else {
                grads.append(nil)
            }
            if hasW { grads.append(need[1] ? Tensor(sgx) : nil) }
            if bias != nil { grads.append(need[grads.count] ? Tensor(sg) : nil) }
            return grads
        }
    }

    /// Per-channel mean and 1/√(σ² + eps) to normalise with: the batch statistics `batch` (mean,
    /// biased variance) in training, which also move the running statistics towards them (with
    /// the unbiased variance, as PyTorch does); the running statistics otherwise.
    static func normalizer(
        batch: (mean: [Double], variance: [Double])?, count m: Int, runningMean: inout Tensor,
        runningVar: inout Tensor, momentum: Float, eps: Float
    ) -> (mean: [Float], invStd: [Float]) {
        guard let batch else {
            let mu = runningMean.scalars, va = runningVar.scalars
            return (mu, va.map { 1 / ($0 + eps).squareRoot() })
        }
        let c = batch.mean.count
        var mean = [Float](repeating: 0, count: c), invStd = mean
        var rm = runningMean, rv = runningVar
        rm.withUnsafeMutableBufferPointer { prm in
            rv.withUnsafeMutableBufferPointer { prv in
                for ch in 0..<c {
                    mean[ch] = Float(batch.mean[ch])
                    invStd[ch] = Float(1 / (batch.variance[ch] + Double(eps)).squareRoot())
                    prm[ch] = (1 - momentum) * prm[ch] + momentum * Float(batch.mean[ch])
                    prv[ch] =
                        (1 - momentum) * prv[ch] + momentum * Float(batch.variance[ch] * Double(m) / Double(m - 1))
                }
            }
        }
        runningMean = rm; runningVar = rv
        return (mean, invStd)
    }

    /// Inverted dropout: in training zeroes each element with probability `p` and scales the
    /// rest by 1/(1−p); the identity otherwise.
    public func dropout(p: Float, training: Bool, rng: inout RandomGenerator) throws -> Tensor {
        guard p >= 0 && p < 1 else { throw TensorError("dropout probability must be in [0, 1), got \(p)") }
        if !training || p == 0 { return self }
        let keep = Tensor(uninitializedShape: shape)
        let scale = 1 / (1 - p)
        for i in 0..<count { keep.storage.pointer[i] = rng.nextUniform() < p ? 0 : scale }
        return try self * keep
    }
}
