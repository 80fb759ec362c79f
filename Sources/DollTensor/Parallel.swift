import Foundation
import Dispatch

/// Work splitting across the machine's cores for non-BLAS loops. Small jobs stay on the
/// calling thread; large ones are split into at most `Parallel.workers` contiguous chunks.
public enum Parallel {
    /// Number of worker chunks for large loops (active processor count, at least 1).
    public static let workers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body` on contiguous sub-ranges covering `0..<count`, in parallel when `count`
    /// is at least `grain` per worker.
    @inlinable
    public static func forRanges(_ count: Int, grain: Int = 32_768, _ body: (Range<Int>) -> Void) {
        let chunks = min(workers, count / max(grain, 1))
        if chunks <= 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { escaping in
            let box = UncheckedSendable(escaping)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = count * c / chunks, hi = count * (c + 1) / chunks
                box.value(lo..<hi)
            }
        }
    }

    /// Splits `0..<count` into at most `workers` contiguous slices and runs `body(slice, index)`
    /// for each in parallel; returns the number of slices used.
    @discardableResult
    public static func forSlices(_ count: Int, _ body: (Range<Int>, Int) -> Void) -> Int {
        let slices = min(workers, count)
        if slices <= 1 { if count > 0 { body(0..<count, 0) }; return 1 }
        withoutActuallyEscaping(body) { escaping in
            let box = UncheckedSendable(escaping)
            DispatchQueue.concurrentPerform(iterations: slices) { c in
                box.value((count * c / slices)..<(count * (c + 1) / slices), c)
            }
        }
        return slices
    }

    /// Calls `body(i)` for each `i` in `0..<count`, spread over workers when `cost` (elements
    /// of work per item × count) is large enough to pay for threads.
    @inlinable
    public static func forEach(_ count: Int, costPerItem: Int, _ body: (Int) -> Void) {
        if count <= 1 || count * costPerItem < 65_536 || workers == 1 {
            for i in 0..<count { body(i) }
            return
        }
        forRanges(count, grain: 1) { r in for i in r { body(i) } }
    }
}

/// Carries a value into a `@Sendable` closure when the caller guarantees the workers touch
/// disjoint memory (the kernels split their outputs into non-overlapping ranges).
@usableFromInline
struct UncheckedSendable<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}
