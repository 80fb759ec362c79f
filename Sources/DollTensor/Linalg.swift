import CBLAS
import Dispatch

/// The DoLL Workbench version (reports, sessions, `doll --version`, `doll.version`).
public let dollVersion = "0.1.0"

/// OpenBLAS facts and the single GEMM entry point every kernel uses.
public enum BLAS {
    /// The active OpenBLAS core kernel (e.g. `Haswell`, `SkylakeX`, `Prescott`).
    public static var coreName: String { String(cString: openblas_get_corename()) }
    /// OpenBLAS build configuration string.
    public static var config: String { String(cString: openblas_get_config()) }
    /// Worker threads used for GEMM (our own split; OpenBLAS itself runs single-threaded).
    public static var threads: Int { Parallel.workers }

    /// OpenBLAS is pinned to one thread: its idle workers spin in `sched_yield` and fight our
    /// own parallel loops for the two cores. Large GEMMs are split across workers here instead.
    @usableFromInline static let singleThreaded: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// Row-major `C = alpha·op(A)·op(B) + beta·C` with `op(A)` of size m×k and `op(B)` k×n,
    /// split across the workers when large. Must not be called from inside a parallel region
    /// (use `sgemmSerial` there).
    @inlinable
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let w = Parallel.workers
        if w == 1 || m * n * k < 4_000_000 {
            sgemmSerial(
                transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc)
            return
        }
        if m >= n {  // split rows of C (and of op(A))
            let box = UncheckedSendable((a, b, c))
            DispatchQueue.concurrentPerform(iterations: w) { t in
                let (a, b, c) = box.value
                let lo = m * t / w, hi = m * (t + 1) / w
                sgemmSerial(
                    transA: transA, transB: transB, m: hi - lo, n: n, k: k, alpha: alpha,
                    a: transA ? a + lo : a + lo * lda, lda: lda, b: b, ldb: ldb, beta: beta, c: c + lo * ldc, ldc: ldc)
            }
        } else {  // split columns of C (and of op(B))
            let box = UncheckedSendable((a, b, c))
            DispatchQueue.concurrentPerform(iterations: w) { t in
                let (a, b, c) = box.value
                let lo = n * t / w, hi = n * (t + 1) / w
                sgemmSerial(
                    transA: transA, transB: transB, m: m, n: hi - lo, k: k, alpha: alpha, a: a, lda: lda,
                    b: transB ? b + lo * ldb : b + lo, ldb: ldb, beta: beta, c: c + lo, ldc: ldc)
            }
        }
    }

    /// Single-threaded GEMM on the calling thread (for use inside parallel regions).
    @inlinable
    public static func sgemmSerial(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = singleThreaded
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 {
                for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            } else if beta != 1 {
                for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            }
            return
        }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension Tensor {
    /// Matrix product. `[M,K]·[K,N] → [M,N]`, or batched `[B,M,K]·[B,K,N] → [B,M,N]`.
    public func matmul(_ other: Tensor) throws -> Tensor {
        let a = self, b = other
        guard (a.rank == 2 && b.rank == 2) || (a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0]),
            a.shape[a.rank - 1] == b.shape[b.rank - 2]
        else {
            throw TensorError(
                "matmul needs [M,K]·[K,N] or [B,M,K]·[B,K,N], got \(shapeString(a.shape)) and \(shapeString(b.shape))")
        }
        let batch = a.rank == 3 ? a.shape[0] : 1
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        let outShape = a.rank == 3 ? [batch, m, n] : [m, n]
        _ = try Tensor.reservedCount(outShape)
        let out = Tensor(uninitializedShape: outShape)
        for i in 0..<batch {
            BLAS.sgemm(
                transA: false, transB: false, m: m, n: n, k: k, a: a.storage.pointer + i * m * k, lda: k,
                b: b.storage.pointer + i * k * n, ldb: n, c: out.storage.pointer + i * m * n, ldc: n)
        }
        return Tensor.record(out, [a, b]) { g, need in
            var ga: Tensor? = nil, gb: Tensor? = nil
            if need[0] {
                let t = Tensor(uninitializedShape: a.shape)
                for i in 0..<batch {  // dA = G·Bᵀ
                    BLAS.sgemm(
                        transA: false, transB: true, m: m, n: k, k: n, a: g.storage.pointer + i * m * n, lda: n,
                        b: b.storage.pointer + i * k * n, ldb: n, c: t.storage.pointer + i * m * k, ldc: k)
                }
                ga = t
            }
            if need[1] {
                let t = Tensor(uninitializedShape: b.shape)
                for i in 0..<batch {  // dB = Aᵀ·G
                    BLAS.sgemm(
                        transA: true, transB: false, m: k, n: n, k: m, a: a.storage.pointer + i * m * k, lda: k,
                        b: g.storage.pointer + i * m * n, ldb: n, c: t.storage.pointer + i * k * n, ldc: n)
                }
                gb = t
            }
            return [ga, gb]
        }
    }

    /// Fully connected layer: `x [N, in] · weightᵀ [in, out] + bias [out] → [N, out]`
    /// (weight in PyTorch's `[out, in]` layout).
    public func linear(weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
        guard rank == 2, weight.rank == 2, weight.shape[1] == shape[1] else {
            throw TensorError(
                "linear needs x [N, in] and weight [out, in], got \(shapeString(shape)) and \(shapeString(weight.shape))"
            )
        }
        let n = shape[0], inF = shape[1], outF = weight.shape[0]
        if let bias, bias.shape != [outF] {
            throw TensorError("linear bias must have shape [\(outF)], got \(shapeString(bias.shape))")
        }
        let x = self
        let out = Tensor(uninitializedShape: [n, outF])
        if let bias {
            for i in 0..<n { (out.storage.pointer + i * outF).update(from: bias.storage.pointer, count: outF) }
        }
        BLAS.sgemm(
            transA: false, transB: true, m: n, n: outF, k: inF, a: x.storage.pointer, lda: inF,
            b: weight.storage.pointer, ldb: inF, beta: bias == nil ? 0 : 1, c: out.storage.pointer, ldc: outF)
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor.record(out, inputs) { g, need in
            var grads: [Tensor?] = [nil, nil]
            if need[0] {  // dx = G·W
                let t = Tensor(uninitializedShape: x.shape)
                BLAS.sgemm(
                    transA: false, transB: false, m: n, n: inF, k: outF, a: g.storage.pointer, lda: outF,
                    b: weight.storage.pointer, ldb: inF, c: t.storage.pointer, ldc: inF)
                grads[0] = t
            }
            if need[1] {  // dW = Gᵀ·x
                let t = Tensor(uninitializedShape: weight.shape)
                BLAS.sgemm(
                    transA: true, transB: false, m: outF, n: inF, k: n, a: g.storage.pointer, lda: outF,
                    b: x.storage.pointer, ldb: inF, c: t.storage.pointer, ldc: inF)
                grads[1] = t
            }
            if need.count == 3 { grads.append(need[2] ? Kernels.reduceToShape(g, [outF]) : nil) }
            return grads
        }
    }
}
