import CDollKernels
import Foundation

/// Work splitting across the machine's cores for non-BLAS loops. Small jobs stay on the
/// calling thread; large ones are split into at most `Parallel.workers` contiguous chunks.
///
/// The chunks run on the OpenMP team that oneDNN's convolutions use (`doll_parallel.c`), not on
/// a second pool: two pools on two cores meant one pool's threads spinning while the other's
/// worked (measured: ResNetCXR eval 1.3× slower with Dispatch workers beside OpenMP's).
public enum Parallel {
    /// Number of worker chunks for large loops (the OpenMP team size: `OMP_NUM_THREADS`, else
    /// the cores this process may use).
    public static let workers: Int = max(1, Int(doll_parallel_threads()))

    /// Runs `body(range, slice)` on up to `slices` contiguous ranges covering `0..<count`.
    static func run(_ count: Int, slices: Int, _ body: (Range<Int>, Int) -> Void) {
        withoutActuallyEscaping(body) { escaping in
            let box = Unmanaged.passRetained(RangeBody(escaping))
            defer { box.release() }
            doll_parallel_ranges(
                count, Int32(slices),
                { ctx, lo, hi, slice in
                    Unmanaged<RangeBody>.fromOpaque(ctx!).takeUnretainedValue().body(Int(lo)..<Int(hi), Int(slice))
                }, box.toOpaque())
        }
    }

    /// Calls `body` on contiguous sub-ranges covering `0..<count`, in parallel when `count`
    /// is at least `grain` per worker.
    public static func forRanges(_ count: Int, grain: Int = 32_768, _ body: (Range<Int>) -> Void) {
        let chunks = min(workers, count / max(grain, 1))
        if chunks <= 1 { body(0..<count); return }
        run(count, slices: chunks) { r, _ in body(r) }
    }

    /// Splits `0..<count` into at most `workers` contiguous slices and runs `body(slice, index)`
    /// for each in parallel; returns the number of slices used.
    @discardableResult
    public static func forSlices(_ count: Int, _ body: (Range<Int>, Int) -> Void) -> Int {
        let slices = min(workers, count)
        if slices <= 1 { if count > 0 { body(0..<count, 0) }; return 1 }
        run(count, slices: slices, body)
        return slices
    }

    /// Calls `body(i)` for each `i` in `0..<count`, spread over workers when `cost` (elements
    /// of work per item × count) is large enough to pay for threads.
    public static func forEach(_ count: Int, costPerItem: Int, _ body: (Int) -> Void) {
        if count <= 1 || count * costPerItem < 65_536 || workers == 1 {
            for i in 0..<count { body(i) }
            return
        }
        run(count, slices: workers) { r, _ in for i in r { body(i) } }
    }
}

/// A loop body passed through C as a context pointer.
private final class RangeBody {
    let body: (Range<Int>, Int) -> Void
    init(_ body: @escaping (Range<Int>, Int) -> Void) { self.body = body }
}

/// Carries a value into a `@Sendable` closure when the caller guarantees the workers touch
/// disjoint memory (the kernels split their outputs into non-overlapping ranges).
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
