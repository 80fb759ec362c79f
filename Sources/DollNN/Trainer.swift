import DollTensor
import Foundation

/// One mini-batch: inputs, targets and an optional mask (1 = use the entry, 0 = ignore) of the
/// targets' shape (or broadcastable to it).
public struct Batch: Sendable {
    public var input: Tensor
    public var target: Tensor
    public var mask: Tensor?
    public init(input: Tensor, target: Tensor, mask: Tensor? = nil) {
        self.input = input; self.target = target; self.mask = mask
    }
}

/// Anything that can produce training batches by example index.
public protocol BatchSource {
    /// Number of examples.
    var count: Int { get }
    /// Stacks the examples at `indices` into one batch.
    func batch(_ indices: [Int]) throws -> Batch
    /// Called by the trainer before every epoch (1-based), e.g. to draw new augmentations.
    func startEpoch(_ epoch: Int)
}

extension BatchSource {
    public func startEpoch(_ epoch: Int) {}
}

/// Raised when training is stopped by the caller (e.g. Ctrl-C); the model keeps the weights of
/// the last completed step and stays usable.
public struct TrainingInterrupted: Error, CustomStringConvertible {
    public let epoch: Int, step: Int
    public var description: String {
        "training interrupted at epoch \(epoch), step \(step); the model keeps its last completed update"
    }
}

/// What a model is trained for: the loss and the validation metrics follow from it.
public enum TrainingTask: Sendable {
    /// Multi-label classification: BCE with logits (optional per-class positive weights `[C]`);
    /// metrics `loss`, `auroc_mean` and `auroc/<class>`.
    case multiLabel(classes: [String], posWeight: Tensor? = nil)
    /// Segmentation: `bceWeight`·BCE + `diceWeight`·soft Dice on logits `[N, C, H, W]`;
    /// metrics `loss`, `dice_mean`, `iou_mean`, `dice/<channel>`, `iou/<channel>`.
    case segmentation(channels: [String], bceWeight: Float = 1, diceWeight: Float = 1, backgroundWeight: Float = 1)
}

/// Per-epoch record.
public struct EpochRecord: Codable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var learningRate: Double
    public var seconds: Double
    public var validation: [String: Double]
}

/// The course of a `fit`.
public struct TrainingHistory: Codable, Sendable {
    public var epochs: [EpochRecord] = []
    public var bestEpoch: Int? = nil
    public var bestValue: Double? = nil
    public var stoppedEarly = false
    public init() {}
}

/// Mini-batch training with a seeded shuffle, optimizer, LR schedule, validation metrics, early
/// stopping, checkpoints and a progress bar on stderr (only when stderr is a terminal).
public final class Trainer {
    public enum OptimizerKind: String, Codable, Sendable { case sgd, adam, adamw }

    public struct Config: Codable, Sendable {
        public var epochs = 5
        public var batchSize = 16
        public var learningRate: Float = 1e-3
        public var optimizer = OptimizerKind.adam
        public var momentum: Float = 0.9
        public var weightDecay: Float = 0
        public var schedule = LRSchedule.constant
        public var warmupSteps = 0
        public var clipNorm: Float? = nil
        public var seed: UInt64 = 0
        /// Stop after this many epochs without improvement of `monitor` (nil: never), but not
        /// before `minEpochs` epochs.
        public var patience: Int? = nil
        public var minEpochs = 0
        /// Validation metric to monitor (e.g. `auroc_mean`, `dice_mean`, `loss`).
        public var monitor: String? = nil
        /// Restore the best epoch's weights at the end (when validating).
        public var restoreBest = true
        /// Directory for `best.safetensors` + `best.json` and, after every epoch, `last.safetensors`
        /// (weights, optimizer state and progress in one atomic file) (nil: no checkpoints).
        public var checkpointDirectory: String? = nil
        /// Continue from `last.safetensors` in `checkpointDirectory` when it is there: the run then
        /// ends as an uninterrupted one would (same weights, same history).
        public var resume = false
        public var progress = true
        /// Learning-rate multipliers by parameter-name prefix (the longest matching prefix
        /// wins), e.g. `["encoder.": 0.1]` to fine-tune a pre-trained encoder more gently.
        public var learningRateScales: [String: Float] = [:]
        /// Splits every batch into this many contiguous parts, each forward and backward on its
        /// own with gradients summed (weighted by part size). Batch norm then sees each part's
        /// statistics: this is exactly what `mpirun -np N` computes with N ranks, in one process.
        public var microBatches = 1
        public init() {}
    }

    public let model: Module
    public let task: TrainingTask
    public let config: Config
    /// Called after every epoch (e.g. by the REPL to print or plot).
    public var onEpoch: ((EpochRecord) -> Void)?
    /// Polled between batches; returning true stops training with `TrainingInterrupted`.
    public var shouldStop: (() -> Bool)?
    /// Per-image scores of the last `evaluate` of a segmentation task (for paired statistics).
    public private(set) var lastSegmentationMetrics: SegmentationMetrics?
    /// Seconds spent in collective calls during the last `fit` (0 when alone).
    public private(set) var communicationSeconds = 0.0

    public init(model: Module, task: TrainingTask, config: Config = Config()) throws {
        guard config.epochs >= 1, config.batchSize >= 1, config.microBatches >= 1 else {
            throw ModelError("Trainer: epochs, batch size and micro-batches must be ≥ 1")
        }
        self.model = model; self.task = task; self.config = config
    }

    private var monitorKey: String {
        if let m = config.monitor { return m }
        switch task {
        case .multiLabel: return "auroc_mean";
        case .segmentation: return "dice_mean"
        }
    }
    private var monitorMaximises: Bool { !monitorKey.hasSuffix("loss") }

    /// The training loss for a batch's logits.
    public func loss(_ logits: Tensor, _ batch: Batch) throws -> Tensor {
        switch task {
        case let .multiLabel(_, posWeight):
            return try Loss.bceWithLogits(logits, batch.target, posWeight: posWeight, mask: batch.mask)
        case let .segmentation(_, bw, dw, bgw):
            var total: Tensor? = nil
            if bw > 0 {
                var weight: Tensor? = nil
                if bgw != 1 { weight = backgroundWeights(batch.target, bgw) }
                total = try Loss.bceWithLogits(logits, batch.target, weight: weight, mask: batch.mask).scaled(bw)
            }
            if dw > 0 {
                let d = try Loss.dice(logits, batch.target, mask: batch.mask).scaled(dw)
                total = try total.map { try $0 + d } ?? d
            }
            return total ?? Tensor(scalar: 0)
        }
    }

    private func makeOptimizer() throws -> Optimizer {
        let named = model.namedParameters().filter { $0.1.trainable }
        let params = named.map(\.1)
        let opt: OptimizerBase & Optimizer
        switch config.optimizer {
        case .sgd:
            opt = try SGD(
                params, learningRate: config.learningRate, momentum: config.momentum, weightDecay: config.weightDecay)
        case .adam: opt = try Adam(params, learningRate: config.learningRate, weightDecay: config.weightDecay)
        case .adamw: opt = try Adam.adamW(params, learningRate: config.learningRate, weightDecay: config.weightDecay)
        }
        for (i, (name, _)) in named.enumerated() {
            if let (_, scale) = config.learningRateScales.filter({ name.hasPrefix($0.key) }).max(by: {
                $0.key.count < $1.key.count
            }) {
                opt.learningRateScales[i] = scale
            }
        }
        return opt
    }

    /// Trains on `train`, validating on `validation` after each epoch when given.
    public func fit(train: BatchSource, validation: BatchSource? = nil) throws -> TrainingHistory {
        defer { Tensor.releaseCachedMemory() }
        guard train.count >= 1 else { throw ModelError("Trainer.fit: the training set is empty") }
        let optimizer = try makeOptimizer()
        var rng = RandomGenerator(seed: config.seed)
        let stepsPerEpoch = (train.count + config.batchSize - 1) / config.batchSize
        let totalSteps = stepsPerEpoch * config.epochs
        var history = TrainingHistory()
        var best: [String: Tensor]? = nil
        var sinceBest = 0
        var globalStep = 0
        // Under mpirun every rank takes its part of each global batch; gradients are summed with
        // one collective call per step, and rank 0 alone shows progress and writes checkpoints.
        let group = DataParallel.active
        let parts = group?.size ?? config.microBatches
        communicationSeconds = 0
        var firstEpoch = 1
        if config.resume, let dir = config.checkpointDirectory,
            let saved = try loadLast(dir: dir, optimizer: optimizer, trainCount: train.count)
        {
            (history, best, sinceBest, globalStep) = (saved.history, saved.best, saved.sinceBest, saved.globalStep)
            firstEpoch = saved.history.stoppedEarly ? config.epochs + 1 : saved.history.epochs.count + 1
            for _ in 1..<firstEpoch { _ = rng.permutation(train.count) }  // the shuffles already done
        }
        if let group { try synchronise(group, everything: true) }
        let bar = ProgressBar(enabled: config.progress && DataParallel.isLeader, total: totalSteps)
        let started = Date()
        var validationText = ""
        defer {
            // A closing line in place of the bar: epochs, time, last loss and the best validation value.
            let last = history.epochs.last
            var summary = String(
                format: "%d epochs in %.1fs, loss %.4f", history.epochs.count, Date().timeIntervalSince(started),
                last?.trainLoss ?? .nan)
            if let b = history.bestValue, let e = history.bestEpoch {
                summary += String(format: ", best %@ %.4f (epoch %d)", monitorKey, b, e)
            }
            if history.stoppedEarly { summary += ", stopped early" }
            bar.finish(summary)
        }
        for epoch in firstEpoch..<(config.epochs + 1) {
            model.train()
            let t0 = Date()
            let order = rng.permutation(train.count)
            train.startEpoch(epoch)
            var lossSum = 0.0, seen = 0
            for s in 0..<stepsPerEpoch {
                if shouldStop?() == true { throw TrainingInterrupted(epoch: epoch, step: s) }
                let idx = Array(order[(s * config.batchSize)..<Swift.min((s + 1) * config.batchSize, train.count)])
                optimizer.learningRate = config.schedule.rate(
                    base: config.learningRate, step: globalStep, totalSteps: totalSteps,
                    warmup: config.warmupSteps)
                optimizer.zeroGrad()
                var stepLoss = 0.0
                for k in group.map({ [$0.rank] }) ?? Array(0..<parts) {
                    let part = parts == 1 ? idx : DataParallel.part(idx, k, of: parts)
                    if part.isEmpty { continue }
                    let batch = try train.batch(part)
                    let l = try loss(try model(batch.input), batch)
                    let lv = try l.item()
                    if parts == 1 {
                        try l.backward()
                    } else {
                        try l.scaled(Float(part.count) / Float(idx.count)).backward()
                    }
                    stepLoss += Double(lv) * Double(part.count)
                }
                if let group { stepLoss = try allreduceGradients(group, loss: stepLoss) }
                guard stepLoss.isFinite else {
                    throw ModelError(
                        "training diverged: loss is \(stepLoss / Double(idx.count)) at epoch \(epoch), step \(s) "
                            + "(lower the learning rate)")
                }
                if let c = config.clipNorm { try clipGradNorm(model.parameters(), maxNorm: c) }
                try optimizer.step()
                lossSum += stepLoss
                seen += idx.count
                globalStep += 1
                bar.update(
                    step: globalStep,
                    text: String(format: "epoch %d/%d loss %.4f", epoch, config.epochs, lossSum / Double(seen))
                        + validationText)
            }
            if let group { try synchronise(group, everything: false) }
            var record = EpochRecord(
                epoch: epoch, trainLoss: lossSum / Double(Swift.max(seen, 1)),
                learningRate: Double(optimizer.learningRate), seconds: 0, validation: [:])
            if let validation {
                record.validation = try evaluate(validation)
                if let v = record.validation[monitorKey] {
                    validationText = String(format: ", val %@ %.4f", monitorKey, v)
                }
                if let v = record.validation[monitorKey], v.isFinite {
                    let improved = history.bestValue.map { monitorMaximises ? v > $0 : v < $0 } ?? true
                    if improved {
                        history.bestValue = v; history.bestEpoch = epoch; sinceBest = 0
                        if config.restoreBest { best = model.stateDict() }
                        if let dir = config.checkpointDirectory, DataParallel.isLeader {
                            try writeCheckpoint(dir: dir, history: history, record: record)
                        }
                    } else {
                        sinceBest += 1
                    }
                }
            }
            record.seconds = Date().timeIntervalSince(t0)
            history.epochs.append(record)
            if let dir = config.checkpointDirectory, DataParallel.isLeader {
                try writeLast(
                    dir: dir, optimizer: optimizer, history: history, best: best, sinceBest: sinceBest,
                    globalStep: globalStep,
                    trainCount: train.count)
            }
            onEpoch?(record)
            if let p = config.patience, sinceBest >= p, validation != nil, epoch >= config.minEpochs {
                history.stoppedEarly = true
                break
            }
        }
        if let best, config.restoreBest { try model.loadStateDict(best) }
        model.eval()
        return history
    }

    /// Sums every parameter's gradient over the ranks (a missing gradient counts as zeros) and
    /// the step's loss, in one call. Returns the summed loss.
    private func allreduceGradients(_ group: ProcessGroup, loss: Double) throws -> Double {
        let params = model.parameters()
        var flat: [Float] = []
        flat.reserveCapacity(params.reduce(1) { $0 + $1.value.count })
        for p in params {
            if let g = p.grad { flat += g.scalars } else { flat += [Float](repeating: 0, count: p.value.count) }
        }
        flat.append(Float(loss))
        let t0 = Date()
        try group.allreduceSum(&flat)
        communicationSeconds += Date().timeIntervalSince(t0)
        var at = 0
        for p in params {
            let n = p.value.count
            try p.value.setGrad(try Tensor(Array(flat[at..<(at + n)]), shape: p.value.shape))
            at += n
        }
        return Double(flat[at])
    }

    /// Makes every rank hold the same model: with `everything`, rank 0's weights and buffers go to
    /// all ranks (before training); otherwise the buffers (batch-norm running statistics, which
    /// each rank updates from its own part) are averaged over the ranks (after each epoch).
    private func synchronise(_ group: ProcessGroup, everything: Bool) throws {
        let trainable = Set(model.namedParameters().filter(\.1.trainable).map(\.0))
        var dict = model.stateDict()
        let names = dict.keys.sorted().filter { everything || !trainable.contains($0) }
        guard !names.isEmpty else { return }
        var flat: [Float] = names.flatMap { dict[$0]!.scalars }
        let t0 = Date()
        if everything {
            try group.broadcast(&flat)
        } else {
            try group.allreduceSum(&flat)
            let k = 1 / Float(group.size)
            for i in flat.indices { flat[i] *= k }
        }
        communicationSeconds += Date().timeIntervalSince(t0)
        var at = 0
        for name in names {
            let t = dict[name]!
            dict[name] = try Tensor(Array(flat[at..<(at + t.count)]), shape: t.shape)
            at += t.count
        }
        try model.loadStateDict(dict)
    }

    /// Validation metrics in evaluation mode (no graph recorded).
    public func evaluate(_ data: BatchSource) throws -> [String: Double] {
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        return try Autograd.noGrad {
            var lossSum = 0.0, n = 0
            var scores: [Tensor] = [], labels: [Tensor] = [], masks: [Tensor] = []
            var seg: SegmentationMetrics? = nil
            for start in Swift.stride(from: 0, to: data.count, by: config.batchSize) {
                let idx = Array(start..<Swift.min(start + config.batchSize, data.count))
                let batch = try data.batch(idx)
                let logits = try model(batch.input)
                lossSum += Double(try loss(logits, batch).item()) * Double(idx.count); n += idx.count
                switch task {
                case .multiLabel:
                    scores.append(logits); labels.append(batch.target)
                    masks.append(
                        try batch.mask.map { try $0 * Tensor.ones(batch.target.shape) }
                            ?? Tensor.ones(batch.target.shape))
                case let .segmentation(channels, _, _, _):
                    if seg == nil { seg = SegmentationMetrics(channels: channels.count) }
                    try seg!.add(probabilities: logits.sigmoid(), targets: batch.target, mask: batch.mask)
                }
            }
            var out: [String: Double] = ["loss": lossSum / Double(Swift.max(n, 1))]
            switch task {
            case let .multiLabel(classes, _):
                let a = try Metrics.aurocPerClass(
                    scores: Tensor.concat(scores, axis: 0), labels: Tensor.concat(labels, axis: 0),
                    mask: Tensor.concat(masks, axis: 0))
                for (c, v) in zip(classes, a) { out["auroc/\(c)"] = v }
                out["auroc_mean"] = Metrics.nanMean(a)
            case let .segmentation(channels, _, _, _):
                lastSegmentationMetrics = seg
                if let seg {
                    for (i, c) in channels.enumerated() {
                        out["dice/\(c)"] = seg.meanDice[i]; out["iou/\(c)"] = seg.meanIoU[i]
                    }
                    out["dice_mean"] = Metrics.nanMean(seg.meanDice); out["iou_mean"] = Metrics.nanMean(seg.meanIoU)
                }
            }
            return out
        }
    }

    /// Progress of a run, saved beside its weights for `resume`.
    private struct Progress: Codable {
        var history: TrainingHistory
        var sinceBest: Int
        var globalStep: Int
        var trainCount: Int
    }

    /// `last.safetensors`: the weights, `__optimizer/…` state, `__best/…` weights and the
    /// progress, in one atomic file.
    private func writeLast(
        dir: String, optimizer: Optimizer, history: TrainingHistory, best: [String: Tensor]?, sinceBest: Int,
        globalStep: Int, trainCount: Int
    ) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var tensors = model.stateDict()
        for (k, t) in optimizer.stateDict() { tensors["__optimizer/" + k] = t }
        for (k, t) in best ?? [:] { tensors["__best/" + k] = t }
        let progress = Progress(history: history, sinceBest: sinceBest, globalStep: globalStep, trainCount: trainCount)
        let json = String(decoding: try JSONEncoder().encode(progress), as: UTF8.self)
        try SafeTensors.write(tensors, metadata: ["doll.progress": json], to: dir + "/last.safetensors")
    }

    /// Reads `last.safetensors` into the model and optimizer; nil when there is none.
    private func loadLast(
        dir: String, optimizer: Optimizer, trainCount: Int
    ) throws
        -> (history: TrainingHistory, best: [String: Tensor]?, sinceBest: Int, globalStep: Int)?
    {
        let path = dir + "/last.safetensors"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let file = try SafeTensors.read(path: path)
        guard let json = file.metadata["doll.progress"],
            let progress = try? JSONDecoder().decode(Progress.self, from: Data(json.utf8))
        else { throw ModelError("'\(path)' is not a training checkpoint (no doll.progress metadata)") }
        guard progress.trainCount == trainCount else {
            throw ModelError(
                "'\(path)' was written for \(progress.trainCount) training examples, this run has \(trainCount)")
        }
        guard progress.history.epochs.count <= config.epochs else {
            throw ModelError(
                "'\(path)' has \(progress.history.epochs.count) epochs done, more than this run's \(config.epochs)")
        }
        func part(_ prefix: String) -> [String: Tensor] {
            Dictionary(
                file.tensors.filter { $0.key.hasPrefix(prefix) }.map {
                    (String($0.key.dropFirst(prefix.count)), $0.value)
                }
            ) { a, _ in a }
        }
        try model.loadStateDict(file.tensors)
        try optimizer.loadStateDict(part("__optimizer/"))
        let best = part("__best/")
        return (progress.history, best.isEmpty ? nil : best, progress.sinceBest, progress.globalStep)
    }

    private func writeCheckpoint(dir: String, history: TrainingHistory, record: EpochRecord) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try model.save(to: dir + "/best.safetensors", metadata: ["epoch": "\(record.epoch)"])
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct Info: Encodable { let config: Trainer.Config; let history: TrainingHistory; let model: String }
        let data = try enc.encode(Info(config: config, history: history, model: String(describing: type(of: model))))
        try AtomicFile.write(data, to: dir + "/best.json")
    }
}

/// Per-element weights: `backgroundWeight` where the target is 0, 1 elsewhere.
func backgroundWeights(_ target: Tensor, _ backgroundWeight: Float) -> Tensor {
    var w = target.detached()
    w.withUnsafeMutableBufferPointer { b in for i in 0..<b.count { b[i] = b[i] >= 0.5 ? 1 : backgroundWeight } }
    return w
}

/// A one-line progress bar on stderr (step, rate, ETA, caller text); silent unless stderr is a
/// terminal.
public final class ProgressBar {
    let enabled: Bool, total: Int
    let start = Date()
    var lastDraw = Date.distantPast

    public init(enabled: Bool, total: Int) {
        self.enabled = enabled && isatty(2) != 0
        self.total = total
    }

    public func update(step: Int, text: String) {
        guard enabled else { return }
        let now = Date()
        guard step == total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(step) / Swift.max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - step) / rate : 0
        let width = 24, filled = total > 0 ? width * step / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "\r%@ %d/%d %.2f it/s ETA %.0fs  %@", bar, step, total, rate, eta, text)
        FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
    }

    /// Ends the bar: replaced by `summary` when given, else left as it is; then a newline.
    public func finish(_ summary: String? = nil) {
        guard enabled else { return }
        FileHandle.standardError.write(Data(((summary.map { "\r" + $0 + "\u{1B}[K" } ?? "") + "\n").utf8))
    }
}
