import CDollKernels
import Foundation

/// Which implementation runs convolutions, transposed convolutions and batch normalisation.
///
/// `.oneDNN` (default): oneDNN's JIT kernels, which pick AVX-512 or AVX2 from the CPU by
/// themselves, independent of the OpenBLAS kernel, and run on oneDNN's OpenMP threads.
/// Design: tensors stay plain NCHW between ops, so every other kernel, the autograd graph and
/// every file format see one layout. Each convolution reorders its operands into the blocked
/// layout its kernel chose and back (`CDollKernels`); those reorders are about a fifth of a
/// ResNet training step (measured), the price of layout-agnostic code everywhere else and the
/// first thing to win back by keeping activations blocked between layers. Batch normalisation
/// runs on NCHW in vectorised C loops and fuses the ReLU that follows it (its backward reads the
/// mask from the output); in evaluation with frozen parameters it is folded into the
/// convolution, with the ReLU as a oneDNN post-op. Temporary buffers come from `BufferPool`.
/// Geometries oneDNN refuses (grouped convolutions, negative right padding) run on `.reference`.
/// `.reference`: im2col/col2im + OpenBLAS GEMM and plain Swift loops, the reference the tests
/// compare against. The process default comes from `DOLL_KERNELS=reference|onednn`;
/// `KernelBackend.with(_:_:)` overrides it for one thread.
public enum KernelBackend: String, Sendable, CaseIterable {
    case oneDNN = "onednn"
    case reference

    /// The process-wide default (environment `DOLL_KERNELS`, else `.oneDNN`).
    public static let processDefault: KernelBackend = {
        ProcessInfo.processInfo.environment["DOLL_KERNELS"].flatMap { KernelBackend(rawValue: $0.lowercased()) }
            ?? .oneDNN
    }()

    private static let overrideKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The backend used on this thread.
    public static var current: KernelBackend {
        OneDNN.registerAllocator
        switch Int(bitPattern: pthread_getspecific(overrideKey)) {
        case 1: return .oneDNN
        case 2: return .reference
        default: return processDefault
        }
    }

    /// Runs `body` with `backend` for the convolutions of this thread.
    public static func with<R>(_ backend: KernelBackend, _ body: () throws -> R) rethrows -> R {
        let old = pthread_getspecific(overrideKey)
        pthread_setspecific(overrideKey, UnsafeRawPointer(bitPattern: backend == .oneDNN ? 1 : 2))
        defer { pthread_setspecific(overrideKey, old) }
        return try body()
    }
}

/// oneDNN facts for `doll --version` and `doll bench`.
public enum OneDNN {
    /// Library version, e.g. "2.6.3".
    public static var version: String { String(cString: doll_dnnl_version()) }
    /// Instruction set the JIT kernels use on this CPU, e.g. "avx512_core".
    public static var isa: String { String(cString: doll_dnnl_isa()) }
    /// Implementation name oneDNN picks for a 3×3 convolution (e.g. "jit:avx512_core").
    public static var convImplementation: String {
        var g = doll_conv_geometry(
            transposed: 0, n: 1, cin: 32, h: 32, w: 32, cout: 32, oh: 32, ow: 32, kh: 3, kw: 3,
            sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, bias: 0, relu: 0)
        return String(cString: doll_dnnl_impl(&g))
    }
    /// Routes oneDNN's temporary buffers through `BufferPool` (once, before the first call).
    static let registerAllocator: Void = {
        doll_dnnl_set_allocator(
            { bytes in
                UnsafeMutableRawPointer(BufferPool.shared.allocate((bytes + 3) / 4).0)
            },
            { p, bytes in
                guard let p else { return }
                let floats = (bytes + 3) / 4
                BufferPool.shared.release(
                    p.assumingMemoryBound(to: Float.self), capacity: BufferPool.shared.sizeClass(floats))
            })
    }()
}

extension ConvGeometry {
    /// The oneDNN description of this convolution (`transposed`: the geometry describes the
    /// forward convolution whose adjoint is the transposed one, as `convTranspose2d` builds it).
    func dnnl(
        batch n: Int, cin: Int, cout: Int, transposed: Bool, bias: Bool, relu: Bool = false
    ) -> doll_conv_geometry? {
        let v = [n, cin, cout, c, h, w, oh, ow, kh, kw]
        guard v.allSatisfy({ $0 <= Int(Int32.max) }) else { return nil }
        func i(_ x: Int) -> Int32 { Int32(x) }
        if transposed {  // input [n, cin, oh, ow] → output [n, cout, h, w]
            return doll_conv_geometry(
                transposed: 1, n: i(n), cin: i(cin), h: i(oh), w: i(ow), cout: i(cout), oh: i(h), ow: i(w),
                kh: i(kh), kw: i(kw), sh: i(sh), sw: i(sw), ph: i(ph), pw: i(pw), dh: i(dh), dw: i(dw),
                bias: bias ? 1 : 0, relu: relu ? 1 : 0)
        }
        return doll_conv_geometry(
            transposed: 0, n: i(n), cin: i(cin), h: i(h), w: i(w), cout: i(cout), oh: i(oh), ow: i(ow),
            kh: i(kh), kw: i(kw), sh: i(sh), sw: i(sw), ph: i(ph), pw: i(pw), dh: i(dh), dw: i(dw),
            bias: bias ? 1 : 0, relu: relu ? 1 : 0)
    }
}

extension Kernels {
    /// oneDNN forward into `out`; false when oneDNN refused the geometry (the caller falls back).
    static func dnnlForward(
        _ g: doll_conv_geometry, training: Bool, x: Tensor, weight: Tensor, bias: Tensor?, out: Tensor
    ) -> Bool {
        var g = g
        var err = [CChar](repeating: 0, count: 512)
        let rc = doll_dnnl_conv_forward(
            &g, training ? 1 : 0, x.storage.pointer, weight.storage.pointer, bias?.storage.pointer,
            out.storage.pointer, &err, err.count)
        return rc == 0
    }

    /// oneDNN backward; nil when oneDNN refused the geometry.
    static func dnnlBackward(
        _ g: doll_conv_geometry, x: Tensor, weight: Tensor, grad: Tensor,
        needX: Bool, needW: Bool, needB: Bool
    ) -> (gx: Tensor?, gw: Tensor?, gb: Tensor?)? {
        var g = g
        let gx = needX ? Tensor(uninitializedShape: x.shape) : nil
        let gw = needW ? Tensor(uninitializedShape: weight.shape) : nil
        let gb = needW && needB ? Tensor(uninitializedShape: [Int(g.cout)]) : nil
        var err = [CChar](repeating: 0, count: 512)
        let rc = doll_dnnl_conv_backward(
            &g, x.storage.pointer, weight.storage.pointer, grad.storage.pointer, gx?.storage.pointer,
            gw?.storage.pointer, gb?.storage.pointer, &err, err.count)
        return rc == 0 ? (gx, gw, gb) : nil
    }
}
