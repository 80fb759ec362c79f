import Foundation

// OpenBLAS reads OPENBLAS_CORETYPE once, when the library loads, so the kernel must be chosen
// before this process starts: re-execute once with it set (see BLASKernelSelection).
BLASKernelSelection.reexecIfNeeded()
Doll.main(Doll.normalized(Array(CommandLine.arguments.dropFirst())))
