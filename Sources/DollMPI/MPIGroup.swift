import CDollMPI
import DollNN
import Foundation

/// Open MPI's world as a `ProcessGroup`. `startIfLaunched()` joins it when the process was started
/// by `mpirun` and installs it as `DataParallel.group`; alone, nothing happens and doll runs as
/// it always did. Errors on the world are fatal (Open MPI's default): a rank that dies or fails
/// a call ends every rank, so no rank waits forever for a peer.
public final class MPIGroup: ProcessGroup {
    public let rank: Int
    public let size: Int
    public private(set) var communicationSeconds = 0.0

    private init() {
        rank = Int(doll_mpi_rank())
        size = Int(doll_mpi_size())
    }

    /// Joins the MPI world when launched by `mpirun`; returns the group (nil when alone).
    @discardableResult
    public static func startIfLaunched() throws -> MPIGroup? {
        guard doll_mpi_launched() != 0 else { return nil }
        if doll_mpi_initialized() == 0 {
            guard doll_mpi_init() == 0 else {
                throw ModelError("MPI_Init failed: this process cannot join the mpirun job")
            }
            atexit { doll_mpi_finalize() }
        }
        let group = MPIGroup()
        DataParallel.group = group
        return group
    }

    /// Ends every rank of the job (after printing `message` on this one).
    public static func abort(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data("doll (rank \(DataParallel.rank)): \(message)\n".utf8))
        doll_mpi_abort(code)
        exit(code)
    }

    /// Runs a collective call, adding its time to `communicationSeconds`.
    private func call(_ what: String, _ body: () -> Int32) throws {
        let t0 = Date()
        let rc = body()
        communicationSeconds += Date().timeIntervalSince(t0)
        guard rc == 0 else { throw ModelError("MPI \(what) failed with error \(rc)") }
    }

    public func allreduceSum(_ values: inout [Float]) throws {
        let n = Int64(values.count)
        try call("allreduce") {
            values.withUnsafeMutableBufferPointer { doll_mpi_allreduce_sum_float($0.baseAddress, n) }
        }
    }

    public func allreduceSum(_ values: inout [Double]) throws {
        let n = Int64(values.count)
        try call("allreduce") {
            values.withUnsafeMutableBufferPointer { doll_mpi_allreduce_sum_double($0.baseAddress, n) }
        }
    }

    public func broadcast(_ values: inout [Float]) throws {
        let n = Int64(values.count * MemoryLayout<Float>.stride)
        try call("broadcast") { values.withUnsafeMutableBytes { doll_mpi_broadcast($0.baseAddress, n, 0) } }
    }

    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var counts = [Int64](repeating: 0, count: size)
        try call("allgather") {
            counts.withUnsafeMutableBufferPointer { doll_mpi_allgather_counts(Int64(bytes.count), $0.baseAddress) }
        }
        var out = [UInt8](repeating: 0, count: Int(counts.reduce(0, +)))
        try call("allgather") {
            bytes.withUnsafeBytes { mine in
                counts.withUnsafeBufferPointer { c in
                    out.withUnsafeMutableBytes {
                        doll_mpi_allgather_bytes(mine.baseAddress, Int64(bytes.count), c.baseAddress, $0.baseAddress)
                    }
                }
            }
        }
        var parts: [[UInt8]] = []
        var at = 0
        for c in counts {
            parts.append(Array(out[at..<(at + Int(c))]))
            at += Int(c)
        }
        return parts
    }

    public func barrier() throws { try call("barrier") { doll_mpi_barrier() } }
}
