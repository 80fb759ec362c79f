import DollTensor
import Foundation

/// Picks the OpenBLAS core kernel for this CPU. Debian's OpenBLAS 0.3.21 does not recognise
/// recent CPUs and silently falls back to the slow generic `Prescott` kernel; setting
/// `OPENBLAS_CORETYPE` before the library loads fixes that. A value already in the environment
/// (set by the user or the machine) is respected.
enum BLASKernelSelection {
    /// Re-executes the current binary with `OPENBLAS_CORETYPE` set, once. Returns normally when
    /// nothing needs doing or when exec fails (the process then runs on the default kernel).
    static func reexecIfNeeded() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["DOLL_BLAS_REEXEC"] == nil,
            let kernel = EngineInfo.blasKernel(forFlags: EngineInfo.cpuFlags())
        else { return }
        setenv("OPENBLAS_CORETYPE", kernel, 1)
        setenv("DOLL_BLAS_REEXEC", "1", 1)  // guard against loops
        let args = CommandLine.arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cargs.append(nil)
        execv("/proc/self/exe", cargs)
        // exec failed: continue in this process.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
