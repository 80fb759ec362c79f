import ArgumentParser
import DollData
import DollExplain
import DollNN
import DollTensor
import Foundation

/// One benchmark result: median and minimum wall time over the timed runs, plus derived rates.
struct BenchResult {
    var name: String
    var medianMs: Double
    var minMs: Double
    var extra: [(String, Double)] = []

    var json: String {
        var fields = [
            "\"name\": \"\(name)\"", String(format: "\"median_ms\": %.3f", medianMs),
            String(format: "\"min_ms\": %.3f", minMs),
        ]
        fields += extra.map { String(format: "\"%@\": %.3f", $0.0, $0.1) }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}

/// Peak resident set size of this process image so far, in MiB: `VmHWM` of /proc/self/status.
/// (`getrusage`'s `ru_maxrss` survives `exec`, so a child started by a big parent would report
/// the parent's peak; the high-water mark belongs to the address space and starts anew.)
func peakRSSMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kb = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
    else {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
    return kb / 1024
}

/// Times `body` after `warmup` untimed runs: median and minimum of `runs` timed runs (ms).
func measure(runs: Int, warmup: Int = 1, _ body: () throws -> Void) rethrows -> (median: Double, min: Double) {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<runs {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }
    times.sort()
    return (times[times.count / 2], times[0])
}

/// The registry of `doll bench` workloads; names are stable (other tools read the JSON).
enum Workloads {
    static let all: [(name: String, run: @Sendable (Int) throws -> BenchResult)] = [
        ("sgemm_2048", { runs in try sgemm(2048, runs: runs) }),
        ("conv3x3_n8_c64_112_fwdbwd", { runs in try convFwdBwd(n: 8, c: 64, size: 112, runs: runs) }),
        ("conv3x3_n8_c128_56_fwdbwd", { runs in try convFwdBwd(n: 8, c: 128, size: 56, runs: runs) }),
        (
            "resnetcxr_train_b16",
            { runs in try modelStep(name: "resnetcxr_train_b16", train: true, batch: 16, runs: runs) }
        ),
        (
            "resnetcxr_eval_b16",
            { runs in try modelStep(name: "resnetcxr_eval_b16", train: false, batch: 16, runs: runs) }
        ),
        ("unetcxr_train_b8", { runs in try modelStep(name: "unetcxr_train_b8", train: true, batch: 8, runs: runs) }),
        ("unetcxr_eval_b8", { runs in try modelStep(name: "unetcxr_eval_b8", train: false, batch: 8, runs: runs) }),
        ("ig50_resnetcxr_ibs10", { runs in try integratedGradients(internalBatch: 10, runs: runs) }),
        ("ig50_resnetcxr_ibs50", { runs in try integratedGradients(internalBatch: 50, runs: runs) }),
        ("doll_labels_k1", { runs in try dollLabels(models: 1, runs: runs) }),
        ("doll_labels_k3", { runs in try dollLabels(models: 3, runs: runs) }),
        ("repl_startup", { runs in try replStartup(runs: runs) }),
    ]

    /// Start-up of the workbench: a fresh `doll` process (BLAS kernel re-exec included) builds
    /// its Lua state with the doll module and reads `:quit` from a pipe. Wall time to exit.
    static func replStartup(runs: Int) throws -> BenchResult {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let t = try measure(runs: max(runs, 10), warmup: 2) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = []
            let input = Pipe()
            p.standardInput = input
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            input.fileHandleForWriting.write(Data(":quit\n".utf8))
            try input.fileHandleForWriting.close()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw TensorError("doll exited with status \(p.terminationStatus)") }
        }
        return BenchResult(name: "repl_startup", medianMs: t.median, minMs: t.min)
    }

    /// DoLL labelling throughput: 8 phantoms at 128 px, K untrained ResNet (16-32-64-128)
    /// classifiers, IG with 16 Gauss–Legendre steps, every finding of each image labelled.
    static func dollLabels(models k: Int, runs: Int) throws -> BenchResult {
        let ds = try PhantomDataset(count: 8, config: PhantomConfig(size: 128, seed: 3))
        let models = try (0..<k).map {
            try ResNetClassifier(.init(widths: [16, 32, 64, 128], blocks: [1, 1, 1, 1], seed: UInt64($0)))
        }
        var cfg = DollLabelConfig()
        cfg.igSteps = 16
        let labeller = try DollLabeller(models: models, config: cfg)
        let t = try measure(runs: runs) { _ = try labeller.label(ds) }
        return BenchResult(
            name: "doll_labels_k\(k)", medianMs: t.median, minMs: t.min, extra: [("images_per_s", 8 / t.median * 1000)])
    }

    /// IG with 50 Gauss–Legendre steps on ResNetCXR for one 224² image (time and peak RSS).
    static func integratedGradients(internalBatch: Int, runs: Int) throws -> BenchResult {
        var rng = RandomGenerator(seed: 5)
        let model = try ResNetClassifier()
        model.eval()
        let x = try Tensor.uniform([1, 1, 224, 224], rng: &rng)
        let ig = IntegratedGradients(model: model, options: .init(steps: 50, internalBatch: internalBatch))
        let t = try measure(runs: runs) { _ = try ig.attribute(x, target: 0) }
        let pool = Tensor.bufferPoolStatistics
        return BenchResult(
            name: "ig50_resnetcxr_ibs\(internalBatch)", medianMs: t.median, minMs: t.min,
            extra: [("peak_rss_mb", peakRSSMegabytes()), ("peak_tensor_mb", Double(pool.peakLive) / 1048576)])
    }

    /// One optimisation step (forward, loss, backward, Adam) or one eval forward of the default
    /// ResNetCXR (224², 14 labels) or UNetCXR (256², one channel).
    static func modelStep(name: String, train: Bool, batch: Int, runs: Int) throws -> BenchResult {
        var rng = RandomGenerator(seed: 3)
        let isUNet = name.hasPrefix("unet")
        let model: Module = isUNet ? try UNet() : try ResNetClassifier()
        let size = isUNet ? 256 : 224
        let x = try Tensor.uniform([batch, 1, size, size], rng: &rng)
        let target =
            isUNet
            ? try Tensor.uniform([batch, 1, size, size], rng: &rng).greater(Tensor(scalar: 0.5))
            : try Tensor.uniform([batch, 14], rng: &rng).greater(Tensor(scalar: 0.5))
        let opt = try Adam(model.parameters(), learningRate: 1e-4)
        model.train(train)
        let t = try measure(runs: runs) {
            if train {
                opt.zeroGrad()
                let logits = try model(x)
                let loss =
                    isUNet
                    ? try Loss.bceWithLogits(logits, target) + Loss.dice(logits, target)
                    : try Loss.bceWithLogits(logits, target)
                try loss.backward()
                try opt.step()
            } else {
                _ = try Autograd.noGrad { try model(x) }
            }
        }
        return BenchResult(
            name: name, medianMs: t.median, minMs: t.min, extra: [("images_per_s", Double(batch) / t.median * 1000)])
    }

    static func sgemm(_ n: Int, runs: Int) throws -> BenchResult {
        var rng = RandomGenerator(seed: 1)
        let a = try Tensor.randn([n, n], rng: &rng), b = try Tensor.randn([n, n], rng: &rng)
        let t = try measure(runs: runs) { _ = try a.matmul(b) }
        let flops = 2 * pow(Double(n), 3)
        return BenchResult(
            name: "sgemm_\(n)", medianMs: t.median, minMs: t.min, extra: [("gflops", flops / t.median / 1e6)])
    }

    /// 3×3 conv, padding 1, C→C channels: forward plus input and weight gradients.
    static func convFwdBwd(n: Int, c: Int, size: Int, runs: Int) throws -> BenchResult {
        var rng = RandomGenerator(seed: 2)
        let x = try Tensor.randn([n, c, size, size], rng: &rng).requiringGrad()
        let w = try Tensor.kaimingNormal([c, c, 3, 3], rng: &rng).requiringGrad()
        let seed = try Tensor.ones([n, c, size, size])
        let t = try measure(runs: runs) {
            let y = try x.conv2d(weight: w, padding: 1)
            try y.backward(gradient: seed)
            x.zeroGrad(); w.zeroGrad()
        }
        let flops = 3 * 2 * Double(n * c * c * 9 * size * size)
        return BenchResult(
            name: "conv3x3_n\(n)_c\(c)_\(size)_fwdbwd", medianMs: t.median, minMs: t.min,
            extra: [("gflops", flops / t.median / 1e6)])
    }
}

/// Runs one workload in a fresh `doll bench --only NAME --json` process, so that its peak memory
/// is its own, and parses the result.
func runInChild(_ name: String, runs: Int = 5) throws -> BenchResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    p.arguments = ["bench", "--only", name, "--json", "--runs", "\(runs)"]
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0,
        let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any],
        let r = (obj["results"] as? [[String: Any]])?.first,
        let med = r["median_ms"] as? Double, let mn = r["min_ms"] as? Double
    else {
        throw ValidationError("benchmark child for \(name) failed (status \(p.terminationStatus))")
    }
    let extra = r.filter { !["name", "median_ms", "min_ms"].contains($0.key) }.compactMap { k, v in
        (v as? Double).map { (k, $0) }
    }
    return BenchResult(name: name, medianMs: med, minMs: mn, extra: extra.sorted { $0.0 < $1.0 })
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the engine's speed on fixed workloads (median of timed runs after warm-up).")

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "Comma-separated workload names to run (default: all).")
    var only: String?

    @Option(help: "Timed runs per workload (at least 5).")
    var runs = 5

    func validate() throws {
        if runs < 5 { throw ValidationError("--runs must be at least 5") }
        if let only {
            let known = Set(Workloads.all.map(\.name))
            for name in only.split(separator: ",") where !known.contains(String(name)) {
                throw ValidationError(
                    "unknown workload '\(name)'; known: \(Workloads.all.map(\.name).joined(separator: ", "))")
            }
        }
    }

    func run() throws {
        let selected = only.map { Set($0.split(separator: ",").map(String.init)) }
        var results: [BenchResult] = []
        // With more than one workload, each runs in a child process of its own (as the PyTorch
        // side does), so that no workload inherits another's buffer pool, caches or peak memory.
        let isolate = selected.map { $0.count > 1 } ?? true
        for w in Workloads.all where selected?.contains(w.name) ?? true {
            let r = isolate ? try runInChild(w.name, runs: runs) : try w.run(runs)
            results.append(r)
            if !json {
                let extras = r.extra.map { String(format: "%@ %.1f", $0.0, $0.1) }.joined(separator: "  ")
                print(String(format: "%-32@ median %9.2f ms  min %9.2f ms  %@", r.name, r.medianMs, r.minMs, extras))
            }
        }
        if json {
            func quoted(_ s: String) -> String {
                "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                    + "\""
            }
            var head = [
                "\"blas_kernel\": \(quoted(BLAS.coreName))", "\"threads\": \(BLAS.threads)",
                "\"convolutions\": \(quoted(EngineInfo.convolutions))",
            ]
            if let note = EngineInfo.blasNote { head.append("\"blas_note\": \(quoted(note))") }
            print(
                "{" + head.joined(separator: ", ") + ", \"results\": [" + results.map(\.json).joined(separator: ", ")
                    + "]}")
        } else {
            EngineInfo.summary.forEach { print($0) }
        }
    }
}
