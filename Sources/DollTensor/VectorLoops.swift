import CDollKernels

/// Vectorised inner loops over contiguous Float runs (`doll_vec.c`), for the memory-bound
/// kernels: batch norm and ReLU. Counts are elements; sums come back in Double.
enum Vec {
    /// (Σ(x − shift), Σ(x − shift)²) over `n` values.
    static func shiftedSums(_ p: UnsafePointer<Float>, _ n: Int, shift: Float) -> (Double, Double) {
        var out = (0.0, 0.0)
        withUnsafeMutableBytes(of: &out) {
            doll_vec_shifted_sums(p, n, shift, $0.baseAddress!.assumingMemoryBound(to: Double.self))
        }
        return out
    }

    /// `y = max(x·scale + shift, 0)` (or without the max).
    static func affine(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, scale: Float, shift: Float, relu: Bool
    ) {
        doll_vec_affine(x, y, n, scale, shift, relu ? 1 : 0)
    }

    /// (Σg', Σg'·(x − mean)) with g' = g where `mask` (a ReLU output) is positive, or g itself.
    static func gradientSums(
        _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ mask: UnsafePointer<Float>?, _ n: Int,
        mean: Float
    ) -> (Double, Double) {
        var out = (0.0, 0.0)
        withUnsafeMutableBytes(of: &out) {
            doll_vec_gradient_sums(g, x, mask, n, mean, $0.baseAddress!.assumingMemoryBound(to: Double.self))
        }
        return out
    }

    /// `d = k·g' + cx·x + c0`, with g' masked by a positive `mask` when given.
    static func inputGradient(
        _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ mask: UnsafePointer<Float>?,
        _ d: UnsafeMutablePointer<Float>, _ n: Int, k: Float, cx: Float, c0: Float
    ) {
        doll_vec_input_gradient(g, x, mask, d, n, k, cx, c0)
    }

    /// `y = max(x, 0)`.
    static func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) { doll_vec_relu(x, y, n) }

    /// `d = g` where `x > 0`, else 0.
    static func reluBackward(
        _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        doll_vec_relu_backward(g, x, d, n)
    }
}
