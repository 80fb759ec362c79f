import DollTensor

/// The processes of a data-parallel job (Open MPI's world in `DollMPI`): every rank runs the same
/// program with the same seeds. Collective calls must be made by every rank in the same order.
public protocol ProcessGroup: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// In-place sum over all ranks.
    func allreduceSum(_ values: inout [Float]) throws
    func allreduceSum(_ values: inout [Double]) throws
    /// Every rank's bytes, in rank order.
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// Rank 0's values on every rank.
    func broadcast(_ values: inout [Float]) throws
    func barrier() throws
    /// Seconds this process has spent in collective calls so far.
    var communicationSeconds: Double { get }
}

/// The process group of this process, when it runs under `mpirun` (set once at start-up by the
/// program; nil when running alone). Training, labelling and the study read it.
public enum DataParallel {
    nonisolated(unsafe) public static var group: ProcessGroup? = nil

    /// The group when it has more than one rank.
    public static var active: ProcessGroup? { (group?.size ?? 1) > 1 ? group : nil }

    /// This process's rank (0 when alone).
    public static var rank: Int { group?.rank ?? 0 }

    /// Whether this process writes files and prints progress (rank 0, or alone).
    public static var isLeader: Bool { rank == 0 }

    /// Part `part` of `count` contiguous parts of `items` (sizes differ by at most one).
    public static func part<T>(_ items: [T], _ part: Int, of count: Int) -> [T] {
        let lo = items.count * part / count
        let hi = items.count * (part + 1) / count
        return Array(items[lo..<hi])
    }
}
