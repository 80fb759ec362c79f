import CDollKernels
import Foundation

/// An error of any doll layer: a sentence that says what was expected and what was given. Each
/// layer has its own type (`TensorError`, `DataError`, `ModelError`, `ExplainError`, `StudyError`),
/// so a caller can tell where a problem arose; all are caught alike at the Lua and CLI borders.
public protocol DollError: Error, CustomStringConvertible, Sendable {
    var message: String { get }
}

extension DollError {
    public var description: String { message }
}

/// An error raised by a tensor operation: a shape, argument or format problem.
public struct TensorError: DollError, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// Formats a shape the way error messages and `description` show it: `[2, 3, 4]`.
@inlinable
public func shapeString(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

/// A byte count for messages: "512 KiB", "3.2 GiB".
public func byteString(_ bytes: Int) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(bytes)
    var u = 0
    while v >= 1024, u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(bytes) bytes" : String(format: v < 10 ? "%.1f" : "%.0f", v) + " " + units[u]
}

/// Largest element count a single tensor may hold (2^31 floats = 8 GiB); guards against absurd
/// sizes coming from files or scripts.
public let maxTensorElements = 1 << 31

/// Reference-counted, contiguous Float32 buffer behind one or more tensors. Buffers come from
/// `BufferPool`, so the large activation and gradient buffers of a training step are reused
/// instead of being mapped, faulted in and unmapped every time.
@usableFromInline
final class TensorStorage: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutablePointer<Float>
    @usableFromInline let count: Int
    let capacity: Int

    @usableFromInline
    init(count: Int, zeroed: Bool = true) {
        self.count = count
        (pointer, capacity) = BufferPool.shared.allocate(Swift.max(count, 1))
        if zeroed { pointer.update(repeating: 0, count: Swift.max(count, 1)) }
    }

    @usableFromInline
    func copy() -> TensorStorage {
        let s = TensorStorage(count: count, zeroed: false)
        s.pointer.update(from: pointer, count: count)
        return s
    }

    deinit { BufferPool.shared.release(pointer, capacity: capacity) }
}

/// A size-classed cache of freed Float buffers (four classes per power of two, so at most 25%
/// slack), least recently freed dropped first. The cache may hold what keeps live + cached bytes
/// within the job's own peak of live bytes plus a fixed allowance (`DOLL_POOL_MB`, 256 MiB): a
/// training step or an IG chunk then reuses the previous one's buffers without page faults, and
/// caching raises a job's footprint by at most the allowance. Long jobs and the REPL hand the cache back with
/// `Tensor.releaseCachedMemory()` when they finish, which also starts a new job peak.
/// Thread-safe.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()
    /// Buffers smaller than this are left to malloc (it already reuses them well).
    let minPooled = 1 << 15
    /// Bytes the cache may add to a job's peak (`DOLL_POOL_MB`, default 256 MiB).
    let maxCachedBytes: Int = {
        let mb = ProcessInfo.processInfo.environment["DOLL_POOL_MB"].flatMap { Int($0) } ?? 256
        return Swift.max(0, Swift.min(mb, 1 << 20)) << 20
    }()
    /// Cached buffers, least recently freed first.
    private var cached: [(size: Int, pointer: UnsafeMutablePointer<Float>)] = []
    private var cachedBytes = 0
    /// Bytes of pooled-size buffers handed out and not yet released, and their high-water mark.
    private(set) var liveBytes = 0
    private(set) var peakLiveBytes = 0
    /// High-water mark of live bytes since the last `trim` (the job's own footprint).
    private var jobPeakBytes = 0
    private var lock = pthread_mutex_t()

    init() {
        pthread_mutex_init(&lock, nil)
        // Buffers from 128 KiB up are mapped and unmapped whole: setting the threshold switches
        // off glibc's sliding threshold, which would otherwise serve them from the heap and keep
        // freed ones resident, out of this pool's accounting.
        _ = doll_memory_fix_mmap_threshold(minPooled * 4)
    }

    /// Rounds a float count up to its size class.
    func sizeClass(_ n: Int) -> Int {
        if n < minPooled { return n }
        let top = Int.bitWidth - 1 - n.leadingZeroBitCount  // floor(log2 n)
        let step = 1 << (top - 2)
        return (n + step - 1) / step * step
    }

    /// Bytes the cache may hold now (under the lock).
    private var allowance: Int { jobPeakBytes + maxCachedBytes - liveBytes }

    func allocate(_ n: Int) -> (UnsafeMutablePointer<Float>, Int) {
        let c = sizeClass(n)
        if c >= minPooled {
            pthread_mutex_lock(&lock)
            liveBytes += c * 4
            peakLiveBytes = Swift.max(peakLiveBytes, liveBytes)
            jobPeakBytes = Swift.max(jobPeakBytes, liveBytes)
            if let i = cached.lastIndex(where: { $0.size == c }) {
                let p = cached.remove(at: i).pointer
                cachedBytes -= c * 4
                pthread_mutex_unlock(&lock)
                return (p, c)
            }
            pthread_mutex_unlock(&lock)
        }
        guard
            let p = BufferPool.systemAllocate(c)
                ?? {
                    trim(); return BufferPool.systemAllocate(c)
                }()
        else {
            fatalError("out of memory: cannot allocate \(byteString(c * 4)) for a tensor buffer")
        }
        return (p, c)
    }

    /// 64-byte aligned (whole cache lines, what oneDNN's kernels expect), or nil when the
    /// system refuses. Freed with `free`.
    private static func systemAllocate(_ c: Int) -> UnsafeMutablePointer<Float>? {
        let (bytes, overflow) = c.multipliedReportingOverflow(by: 4)
        guard !overflow else { return nil }
        var raw: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else { return nil }
        return raw.bindMemory(to: Float.self, capacity: c)
    }

    /// Makes sure a buffer for `n` floats can be had: allocates it now (into the cache, where
    /// the next allocation of its size class takes it) and returns false when the system
    /// refuses, so that creating a huge tensor is an error instead of a trap.
    func reserve(_ n: Int) -> Bool {
        let c = sizeClass(n)
        guard c >= minPooled else { return true }
        pthread_mutex_lock(&lock)
        let have = cached.contains { $0.size == c }
        pthread_mutex_unlock(&lock)
        if have { return true }
        guard
            let p = BufferPool.systemAllocate(c)
                ?? {
                    trim(); return BufferPool.systemAllocate(c)
                }()
        else { return false }
        pthread_mutex_lock(&lock)
        cached.append((c, p))
        cachedBytes += c * 4
        pthread_mutex_unlock(&lock)
        return true
    }

    func release(_ p: UnsafeMutablePointer<Float>, capacity c: Int) {
        guard c >= minPooled else { free(p); return }
        var dropped: [UnsafeMutablePointer<Float>] = []
        pthread_mutex_lock(&lock)
        liveBytes -= c * 4
        if c * 4 <= allowance {
            cached.append((c, p))
            cachedBytes += c * 4
            var n = 0
            while cachedBytes > allowance, n < cached.count - 1 {
                cachedBytes -= cached[n].size * 4
                dropped.append(cached[n].pointer)
                n += 1
            }
            cached.removeFirst(n)
        } else {
            dropped.append(p)
        }
        pthread_mutex_unlock(&lock)
        for q in dropped { free(q) }
    }

    /// (live, peak live, cached) bytes of pooled-size buffers.
    var statistics: (live: Int, peakLive: Int, cached: Int) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return (liveBytes, peakLiveBytes, cachedBytes)
    }

    /// Frees every cached buffer and starts a new job peak (e.g. after a large job).
    func trim() {
        pthread_mutex_lock(&lock)
        let all = cached
        cached = []
        cachedBytes = 0
        jobPeakBytes = liveBytes
        pthread_mutex_unlock(&lock)
        for e in all { free(e.pointer) }
    }
}

extension Tensor {
    /// Returns the buffers cached for reuse to the system (call when a long job ends).
    public static func releaseCachedMemory() { BufferPool.shared.trim() }

    /// Pooled buffers: bytes live now, their high-water mark, and bytes cached for reuse.
    public static var bufferPoolStatistics: (live: Int, peakLive: Int, cached: Int) { BufferPool.shared.statistics }
}

/// A dense Float32 array in row-major (NCHW for images) layout, with value semantics
/// (copy-on-write storage) and optional participation in reverse-mode autodiff.
///
/// Tensors are always contiguous; `reshaped` shares storage, every other op allocates its
/// result. Operations that can fail on user input `throw` a `TensorError`.
public struct Tensor: @unchecked Sendable {
    /// Sizes of each dimension, outermost first.
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage
    /// Autodiff node; non-nil when this tensor is a tracked leaf or the result of a tracked op.
    @usableFromInline var node: GradNode?

    /// Number of elements (product of `shape`; 1 for a scalar of shape `[]`).
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    @usableFromInline
    init(shape: [Int], storage: TensorStorage, node: GradNode? = nil) {
        self.shape = shape
        self.storage = storage
        self.node = node
    }

    /// Checks a shape: no negative sizes and a bounded element count. Returns the element count.
    public static func validatedCount(_ shape: [Int]) throws -> Int {
        var n = 1
        for d in shape {
            if d < 0 { throw TensorError("shape \(shapeString(shape)) has a negative size") }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow || p > maxTensorElements {
                throw TensorError("shape \(shapeString(shape)) is too large (more than \(maxTensorElements) elements)")
            }
            n = p
        }
        return n
    }

    /// Checks a shape as `validatedCount` does and makes sure memory for it can be had: an
    /// error naming the size instead of a trap when the system refuses. Returns the element count.
    public static func reservedCount(_ shape: [Int]) throws -> Int {
        let n = try validatedCount(shape)
        guard BufferPool.shared.reserve(n) else {
            throw TensorError(
                "out of memory: a tensor of shape \(shapeString(shape)) needs \(byteString(n * 4)), which the system refused"
            )
        }
        return n
    }

    /// Internal: element count of a shape already known to be valid.
    @usableFromInline
    static func product(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Internal: an uninitialised tensor of a valid shape (callers overwrite every element).
    @usableFromInline
    init(uninitializedShape shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(count: Tensor.product(shape), zeroed: false))
    }

    /// Internal: a zero tensor of a valid shape.
    @usableFromInline
    init(zerosShape shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(count: Tensor.product(shape), zeroed: true))
    }

    /// A tensor filled with `value`.
    public init(repeating value: Float, shape: [Int]) throws {
        let n = try Tensor.reservedCount(shape)
        self.init(shape: shape, storage: TensorStorage(count: n, zeroed: false))
        storage.pointer.update(repeating: value, count: n)
    }

    /// A tensor from row-major values; `values.count` must equal the shape's element count.
    public init(_ values: [Float], shape: [Int]) throws {
        let n = try Tensor.reservedCount(shape)
        guard values.count == n else {
            throw TensorError("\(values.count) values cannot fill shape \(shapeString(shape)) (\(n) elements)")
        }
        self.init(shape: shape, storage: TensorStorage(count: n, zeroed: false))
        values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: n) }
    }

    /// A 1-D tensor of the given values.
    public init(_ values: [Float]) {
        self.init(shape: [values.count], storage: TensorStorage(count: values.count, zeroed: false))
        values.withUnsafeBufferPointer {
            if let b = $0.baseAddress { storage.pointer.update(from: b, count: values.count) }
        }
    }

    /// A scalar (shape `[]`).
    public init(scalar: Float) {
        self.init(shape: [], storage: TensorStorage(count: 1, zeroed: false))
        storage.pointer.pointee = scalar
    }

    /// Zeros of the given shape.
    public static func zeros(_ shape: [Int]) throws -> Tensor {
        _ = try reservedCount(shape)
        return Tensor(zerosShape: shape)
    }

    /// Ones of the given shape.
    public static func ones(_ shape: [Int]) throws -> Tensor { try Tensor(repeating: 1, shape: shape) }

    /// `[start, start+step, ...)` below `end` as a 1-D tensor.
    public static func arange(_ start: Float, _ end: Float, step: Float = 1) throws -> Tensor {
        guard step != 0, step.isFinite, start.isFinite, end.isFinite else {
            throw TensorError("arange needs finite start/end and a non-zero step, got \(start), \(end), \(step)")
        }
        let q = ((Double(end) - Double(start)) / Double(step)).rounded(.up)
        guard q <= Double(maxTensorElements) else {
            throw TensorError(
                "arange(\(start), \(end), step \(step)) would produce \(q) elements (at most \(maxTensorElements))")
        }
        let n = try reservedCount([Swift.max(0, Int(q))])
        let out = Tensor(uninitializedShape: [n])
        let p = out.storage.pointer
        for i in 0..<n { p[i] = start + Float(i) * step }
        return out
    }

    /// The values in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// The single value of a one-element tensor.
    public func item() throws -> Float {
        guard count == 1 else {
            throw TensorError("item() needs a one-element tensor, got shape \(shapeString(shape))")
        }
        return storage.pointer.pointee
    }

    /// Read-only access to the contiguous values.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Mutable access to the values; copies the storage first if it is shared (copy-on-write).
    /// Mutation does not participate in autodiff.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// Row-major strides for this tensor's shape.
    public var strides: [Int] { Tensor.contiguousStrides(shape) }

    @usableFromInline
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    /// Element at a multi-index (checked).
    public func value(at index: [Int]) throws -> Float {
        try storage.pointer[flatIndex(index)]
    }

    /// Sets the element at a multi-index (checked). Not tracked by autodiff.
    public mutating func setValue(_ v: Float, at index: [Int]) throws {
        let i = try flatIndex(index)
        withUnsafeMutableBufferPointer { $0[i] = v }
    }

    /// Converts a multi-index to a flat offset, with bounds checks.
    public func flatIndex(_ index: [Int]) throws -> Int {
        guard index.count == shape.count else {
            throw TensorError("index \(index) has \(index.count) components, tensor has rank \(rank)")
        }
        var off = 0
        for (i, (ix, d)) in zip(index, shape).enumerated() {
            guard ix >= 0 && ix < d else {
                throw TensorError("index \(ix) out of range 0..<\(d) in dimension \(i) of shape \(shapeString(shape))")
            }
            off = off * d + ix
        }
        return off
    }

    /// A copy detached from autodiff (no gradient flows through it).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// True when every element is finite.
    public var isFinite: Bool { withUnsafeBufferPointer { $0.allSatisfy { $0.isFinite } } }
}

extension Tensor: CustomStringConvertible {
    /// How numpy and torch print: a short 1-D tensor on one line, matrices in aligned columns
    /// (past 12 rows or columns, the first and last 6), tensors of rank 3 and more as 2-D slices
    /// under `(i, j, ·, ·)` headers (at most 4: the first 2 and the last 2), then the shape line
    /// `[Tensor 2×3×4]` and, past 12 elements, min, max and mean.
    public var description: String {
        let vals = UnsafeBufferPointer(start: storage.pointer, count: count)
        if rank == 0 { return Tensor.format(vals[0]) + "\n[Tensor scalar]" }
        var out = ""
        func picked(_ n: Int) -> [Int] { n <= 12 ? Array(0..<n) : Array(0..<6) + [-1] + Array((n - 6)..<n) }
        if rank == 1 {
            out = "[" + picked(shape[0]).map { $0 < 0 ? "…" : Tensor.format(vals[$0]) }.joined(separator: ", ") + "]\n"
        } else {
            let rows = shape[rank - 2], cols = shape[rank - 1], plane = rows * cols
            let slices = count / Swift.max(plane, 1)
            let sliceIdx = slices <= 4 ? Array(0..<slices) : [0, 1, -1, slices - 2, slices - 1]
            for sl in sliceIdx {
                if sl < 0 { out += "… \(slices - 4) more slices\n\n"; continue }
                if rank > 2 {
                    var idx: [Int] = []
                    var rest = sl
                    for d in shape[..<(rank - 2)].reversed() { idx.insert(rest % d + 1, at: 0); rest /= d }
                    out += "(" + idx.map(String.init).joined(separator: ", ") + ", ·, ·)\n"
                }
                let ri = picked(rows), ci = picked(cols)
                let cells = ri.map { r in
                    ci.map { c in r < 0 || c < 0 ? "…" : Tensor.format(vals[sl * plane + r * cols + c]) }
                }
                let width = cells.joined().map(\.count).max() ?? 1
                for row in cells {
                    out +=
                        " " + row.map { String(repeating: " ", count: width - $0.count) + $0 }.joined(separator: "  ")
                        + "\n"
                }
                if rank > 2 { out += "\n" }
            }
        }
        out += "[Tensor \(shape.map(String.init).joined(separator: "×"))]"
        if count > 12 {
            let (mn, mx, mean) = Tensor.statistics(vals)
            out += String(format: " min %.4g, max %.4g, mean %.4g", Double(mn), Double(mx), mean)
        }
        return out
    }

    /// One line: `Tensor 1×64×64 [0, 0.98]` (min and max), or `Tensor scalar 1.5`.
    public var summary: String {
        let vals = UnsafeBufferPointer(start: storage.pointer, count: count)
        if rank == 0 { return "Tensor scalar " + Tensor.format(vals[0]) }
        let dims = "Tensor " + shape.map(String.init).joined(separator: "×")
        guard count > 0 else { return dims + " (empty)" }
        let (mn, mx, _) = Tensor.statistics(vals)
        return dims + " [" + Tensor.format(mn) + ", " + Tensor.format(mx) + "]"
    }

    static func format(_ v: Float) -> String {
        if v == v.rounded() && Swift.abs(v) < 1e6 { return String(format: "%g", Double(v)) }
        return String(format: "%.4g", Double(v))
    }

    static func statistics(_ vals: UnsafeBufferPointer<Float>) -> (min: Float, max: Float, mean: Double) {
        var mn = Float.infinity, mx = -Float.infinity, sum = 0.0
        for v in vals { mn = Swift.min(mn, v); mx = Swift.max(mx, v); sum += Double(v) }
        return (mn, mx, sum / Double(Swift.max(vals.count, 1)))
    }
}
