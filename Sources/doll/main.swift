import CDollSupport
import DollMPI
import Foundation

// OpenBLAS reads OPENBLAS_CORETYPE once, when the library loads, so the kernel must be chosen
// before this process starts: re-execute once with it set (see BLASKernelSelection).
BLASKernelSelection.reexecIfNeeded()
// Line-buffered output even into a pipe: what a script printed is not lost if the process dies.
doll_stdout_line_buffered()
// Under mpirun: join the job (data-parallel training, sharded labelling); alone: nothing changes.
do { try MPIGroup.startIfLaunched() } catch {
    FileHandle.standardError.write(Data("doll: \(error)\n".utf8))
    exit(1)
}
Doll.main(Doll.normalized(Array(CommandLine.arguments.dropFirst())))
