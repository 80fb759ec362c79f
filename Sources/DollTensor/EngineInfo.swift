import Foundation

/// Which kernels this process runs, in words, for `doll --version`, `doll bench` and report
/// headers: oneDNN's implementation and ISA for convolutions, the OpenBLAS core for GEMM, and a
/// note when `OPENBLAS_CORETYPE` holds OpenBLAS below what the CPU supports.
public enum EngineInfo {
    /// The flags of the first processor in /proc/cpuinfo (empty where unreadable).
    public static func cpuFlags() -> Set<Substring> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
            let colon = line.firstIndex(of: ":")
        else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " "))
    }

    /// The best OpenBLAS 0.3.21 core kernel for a CPU with these flags, if it knows one.
    public static func blasKernel(forFlags flags: Set<Substring>) -> String? {
        if flags.contains("avx512f") && flags.contains("avx512bw") && flags.contains("avx512vl") { return "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// e.g. "oneDNN 2.6.3, brgconv:avx512_core (ISA avx512_core)".
    public static var convolutions: String {
        switch KernelBackend.current {
        case .oneDNN: return "oneDNN \(OneDNN.version), \(OneDNN.convImplementation) (ISA \(OneDNN.isa))"
        case .reference: return "reference im2col + OpenBLAS (DOLL_KERNELS=reference)"
        }
    }

    /// e.g. "OpenBLAS Haswell kernel, 2 threads".
    public static var blas: String { "OpenBLAS \(BLAS.coreName) kernel, \(BLAS.threads) threads" }

    /// One line when the environment pins OpenBLAS to a kernel below the CPU's best, else nil.
    public static var blasNote: String? {
        guard let pinned = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"],
            let best = blasKernel(forFlags: cpuFlags()), pinned.lowercased() != best.lowercased(),
            best == "SkylakeX"
        else { return nil }
        return "OPENBLAS_CORETYPE=\(pinned) holds OpenBLAS below this CPU's AVX-512 (\(best)); "
            + "GEMM-bound work runs at AVX2 speed, convolutions on oneDNN are not affected"
    }

    /// The lines above, for a version banner.
    public static var summary: [String] {
        ["convolutions: \(convolutions)", "BLAS: \(blas)"] + (blasNote.map { ["note: \($0)"] } ?? [])
    }
}
