import DollTensor
import Foundation
import Testing

/// Open MPI's launcher, when installed.
let mpirunPath: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// Data-parallel training and sharded labelling under `mpirun -np 2` on this machine (issue 18):
/// loopback only, bounded in time. Skipped with a message only where `mpirun` is absent.
@Suite(
    "Open MPI: data-parallel training and sharded labelling", .serialized,
    .enabled(if: mpirunPath != nil, "mpirun is not installed"))
struct MPITests {
    static var mpirun: String? { mpirunPath }

    /// One thread per process in every run, so that kernels reduce in the same order.
    static let environment = [
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMP_NUM_THREADS": "1",
        "OMPI_MCA_btl": "self,vader", "OMPI_MCA_oob_tcp_if_include": "lo",
        "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
    ]

    /// `doll run script` alone, or under `mpirun -np ranks` (with a time limit).
    func run(
        _ script: String, ranks: Int, in dir: String, flags: [String] = []
    ) throws -> (status: Int32, output: String, exited: Bool) {
        guard let doll = dollExecutable(), let mpirun = Self.mpirun else { return (1, "no doll or mpirun", true) }
        let path = dir + "/script-\(ranks)-\(UInt32.random(in: 0...UInt32.max)).lua"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        if ranks == 0 {
            return try runProcess(
                "/usr/bin/timeout", ["120", doll, "run"] + flags + [path], environment: Self.environment)
        }
        return try runProcess(
            "/usr/bin/timeout", ["120", mpirun, "--oversubscribe", "-np", "\(ranks)", doll, "run"] + flags + [path],
            environment: Self.environment)
    }

    /// Two ranks, each taking half of every batch of 8, give the parameters of one process that
    /// splits each batch into the same two halves (batch norm sees each half's statistics on
    /// both sides, as documented); running statistics are the mean over the ranks.
    @Test func twoRanksTrainLikeOneProcessWithTwoMicroBatches() throws {
        let dir = temporaryDirectory("mpi-train")
        func script(_ out: String, micro: Int) -> String {
            """
            local ds = doll.phantoms{n = 16, size = 32, seed = 4}
            local clf = doll.classifier{widths = {4, 8}, blocks = {1, 1}, seed = 3}
            clf:fit(ds, {epochs = 2, batch = 8, lr = 0.01, micro_batches = \(micro)})
            if doll.mpi.rank() == 0 then clf:save('\(out)') end
            print('rank', doll.mpi.rank(), 'of', doll.mpi.size())
            """
        }
        let one = try run(script(dir + "/one.safetensors", micro: 2), ranks: 0, in: dir)
        #expect(one.status == 0, "\(one.output)")
        let two = try run(script(dir + "/two.safetensors", micro: 1), ranks: 2, in: dir)
        #expect(two.status == 0, "\(two.output)")
        #expect(two.output.contains("rank\t1\tof\t2"), "both ranks ran: \(two.output)")
        let plain = try run(script(dir + "/plain.safetensors", micro: 1), ranks: 0, in: dir)
        #expect(plain.status == 0)
        let a = try SafeTensors.read(path: dir + "/one.safetensors").tensors
        let b = try SafeTensors.read(path: dir + "/two.safetensors").tensors
        let c = try SafeTensors.read(path: dir + "/plain.safetensors").tensors
        var worst: Float = 0
        var worstPlain: Float = 0
        for (name, t) in a where !name.contains("running") && !name.contains("num_batches") {
            let u = try #require(b[name]).scalars
            let v = try #require(c[name]).scalars
            let scale = max(t.scalars.map(abs).max() ?? 0, 1e-6)
            worst = max(worst, zip(t.scalars, u).map { abs($0 - $1) }.max()! / scale)
            worstPlain = max(worstPlain, zip(t.scalars, v).map { abs($0 - $1) }.max()! / scale)
        }
        #expect(worst <= 1e-5, "2 ranks vs 1 process with 2 micro-batches: largest relative difference \(worst)")
        #expect(worstPlain > 1e-4, "the comparison can fail: whole-batch statistics give other weights (\(worstPlain))")
    }

    /// Labels made by 2 ranks (11 images: rounds of 8 per rank, uneven shares) are the same
    /// files, byte for byte, as labels made by 1 process.
    @Test func twoRanksLabelLikeOneProcess() throws {
        let dir = temporaryDirectory("mpi-label")
        func script(_ out: String) -> String {
            """
            local ds = doll.phantoms{n = 11, size = 32, seed = 6}
            -- the same seeded classifier on every rank (training under mpirun is data-parallel, so
            -- a trained one would differ by its per-rank batch-norm statistics)
            local clf = doll.classifier{widths = {4, 8}, blocks = {1, 1}, seed = 2}
            local labels = doll.labels({clf}, ds, {steps = 4})
            if doll.mpi.rank() == 0 then labels:write('\(out)') end
            """
        }
        let one = try run(script(dir + "/one"), ranks: 0, in: dir)
        #expect(one.status == 0, "\(one.output)")
        let two = try run(script(dir + "/two"), ranks: 2, in: dir)
        #expect(two.status == 0, "\(two.output)")
        let fm = FileManager.default
        let files = try fm.subpathsOfDirectory(atPath: dir + "/one").filter { $0.hasSuffix(".png") }.sorted()
        #expect(files.count >= 11)
        #expect(try fm.subpathsOfDirectory(atPath: dir + "/two").filter { $0.hasSuffix(".png") }.sorted() == files)
        for f in files {
            #expect(fm.contentsEqual(atPath: dir + "/one/" + f, andPath: dir + "/two/" + f), "\(f) differs")
        }
    }

    /// A rank killed in the middle of training ends the whole job within seconds, with a message
    /// naming it; nobody waits forever in a collective call.
    @Test func aKilledRankEndsTheJob() throws {
        let dir = temporaryDirectory("mpi-kill")
        let started = Date()
        let r = try run(
            """
            local ds = doll.phantoms{n = 64, size = 32, seed = 4}
            local clf = doll.classifier{widths = {4, 8}, blocks = {1, 1}, seed = 3}
            clf:fit(ds, {epochs = 1, batch = 8})
            if doll.mpi.rank() == 1 then os.execute('kill -9 $PPID') end
            clf:fit(ds, {epochs = 200, batch = 8})
            print('finished')
            """, ranks: 2, in: dir)
        let seconds = Date().timeIntervalSince(started)
        #expect(r.status != 0)
        #expect(r.status != 124, "the job hung until the time limit")
        #expect(seconds < 60, "the job took \(seconds) s to end")
        #expect(!r.output.contains("finished"))
        #expect(
            r.output.contains("rank 1") || r.output.contains("signal 9"), "a message names the dead rank: \(r.output)")
    }

    /// A job killed after its second epoch's checkpoint, started again with `doll run --resume`,
    /// ends with the weights of a job that was never interrupted.
    @Test func resumeAfterAKilledRankReachesTheUninterruptedResult() throws {
        let dir = temporaryDirectory("mpi-resume")
        func script(epochs: Int, checkpoint: String?, resume: Bool, kill: Bool, out: String?) -> String {
            """
            local ds = doll.phantoms{n = 24, size = 32, seed = 4}
            local clf = doll.classifier{widths = {4, 8}, blocks = {1, 1}, seed = 3}
            local h = clf:fit(ds, {epochs = \(epochs), batch = 8, lr = 0.01\(checkpoint.map { ", checkpoint = '\($0)'" } ?? "")\(resume ? ", resume = true" : "")})
            if doll.mpi.rank() == 0 then print(string.format('epoch1 %.9f', h[1].seconds)) end
            \(kill ? "if doll.mpi.rank() == 1 then os.execute('kill -9 $PPID') end doll.mpi.barrier()" : "")
            \(out.map { "if doll.mpi.rank() == 0 then clf:save('\($0)') end" } ?? "")
            print('epochs', #h)
            """
        }
        let killed = try run(
            script(epochs: 2, checkpoint: dir + "/ck", resume: false, kill: true, out: nil), ranks: 2, in: dir)
        #expect(killed.status != 0 && killed.status != 124, "\(killed.output)")
        #expect(FileManager.default.fileExists(atPath: dir + "/ck/last.safetensors"))
        let resumed = try run(
            script(epochs: 4, checkpoint: dir + "/ck", resume: false, kill: false, out: dir + "/resumed.safetensors"),
            ranks: 2, in: dir, flags: ["--resume"])
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(resumed.output.contains("epochs\t4"), "the history covers all 4 epochs: \(resumed.output)")
        // Epoch 1 was not run again: its record (time included) comes from the checkpoint.
        let firstEpoch = { (o: String) in o.split(separator: "\n").first { $0.hasPrefix("epoch1 ") }.map(String.init) }
        #expect(firstEpoch(killed.output) != nil && firstEpoch(killed.output) == firstEpoch(resumed.output))
        let whole = try run(
            script(epochs: 4, checkpoint: nil, resume: false, kill: false, out: dir + "/whole.safetensors"), ranks: 2,
            in: dir)
        #expect(whole.status == 0, "\(whole.output)")
        let a = try SafeTensors.read(path: dir + "/resumed.safetensors").tensors
        let b = try SafeTensors.read(path: dir + "/whole.safetensors").tensors
        #expect(Set(a.keys) == Set(b.keys))
        for (name, t) in a { #expect(t.scalars == b[name]?.scalars, "\(name) differs after resuming") }
    }

    /// `mpirun -np 2 doll study` runs every stage on both ranks; rank 0 writes the report and
    /// prints the progress lines once.
    @Test func theStudyRunsUnderMpirun() throws {
        guard let doll = dollExecutable(), let mpirun = Self.mpirun else { return }
        let dir = temporaryDirectory("mpi-study")
        let r = try runProcess(
            "/usr/bin/timeout",
            ["120", mpirun, "--oversubscribe", "-np", "2", doll, "study", "--preset", "tiny", "--out", dir + "/out"],
            environment: Self.environment)
        #expect(r.status == 0, "\(r.output)")
        #expect(FileManager.default.fileExists(atPath: dir + "/out/runs.csv"))
        #expect(
            r.output.components(separatedBy: "pre-trained the U-Net").count == 2, "one progress line, not one per rank")
    }
}
