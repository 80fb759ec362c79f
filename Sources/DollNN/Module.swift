import DollTensor
import Foundation

/// A learnable tensor (or a non-trainable buffer such as BatchNorm running statistics) owned by
/// a module. Trainable values are autodiff leaves: after `backward()`, `grad` holds ∂L/∂value.
public final class Parameter: @unchecked Sendable {
    /// The current value. Assigning keeps the tracking state (`requiresGrad`).
    public var value: Tensor {
        didSet {
            if requiresGrad != value.requiresGrad { value = requiresGrad ? value.requiringGrad() : value.detached() }
        }
    }
    /// False for buffers (saved in the state dictionary, never optimised).
    public let trainable: Bool
    /// Whether the value is an autodiff leaf. Explainers switch it off so that backward passes
    /// compute only input gradients (no weight gradients).
    public var requiresGrad: Bool {
        didSet {
            if requiresGrad != value.requiresGrad { value = requiresGrad ? value.requiringGrad() : value.detached() }
        }
    }

    public init(_ value: Tensor, trainable: Bool = true) {
        self.trainable = trainable
        self.requiresGrad = trainable
        self.value = trainable ? value.detached().requiringGrad() : value.detached()
    }

    /// Accumulated gradient (nil before backward or for buffers).
    public var grad: Tensor? { value.grad }
    public var shape: [Int] { value.shape }
}

/// Base class of layers and models, in the style of MLX Swift's `Module`: subclasses hold their
/// parameters and child modules as stored properties; names come from the property names (and
/// indices inside `Sequential`), giving PyTorch-style dotted names like `layer2.0.down.0.weight`.
open class Module: @unchecked Sendable {
    /// Training mode (batch statistics in BatchNorm, active Dropout) or evaluation mode.
    public private(set) var training = true

    public init() {}

    /// The module's computation. Subclasses override this.
    open func forward(_ x: Tensor) throws -> Tensor {
        throw ModelError("\(type(of: self)) does not implement forward")
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try forward(x) }

    /// Direct children in declaration order, named by property (override for custom naming).
    open func children() -> [(String, Module)] {
        var out: [(String, Module)] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        var levels: [[(String, Module)]] = []
        while let m = mirror {
            var level: [(String, Module)] = []
            for child in m.children {
                guard let label = child.label else { continue }
                if let mod = child.value as? Module {
                    level.append((label, mod))
                } else if let mods = child.value as? [Module] {
                    for (i, mod) in mods.enumerated() { level.append(("\(label).\(i)", mod)) }
                }
            }
            levels.append(level)
            mirror = m.superclassMirror
        }
        for level in levels.reversed() { out += level }
        return out
    }

    /// Parameters and buffers held directly by this module, named by property.
    open func ownParameters() -> [(String, Parameter)] {
        var out: [(String, Parameter)] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let m = mirror {
            for child in m.children {
                guard let label = child.label else { continue }
                if let p = child.value as? Parameter {
                    out.append((label, p))
                } else if let p = child.value as? Parameter?, let p {
                    out.append((label, p))
                }
            }
            mirror = m.superclassMirror
        }
        return out
    }

    /// Every parameter and buffer in the tree with its dotted name.
    public func namedParameters(prefix: String = "") -> [(String, Parameter)] {
        var out = ownParameters().map { (prefix + $0.0, $0.1) }
        for (name, child) in children() { out += child.namedParameters(prefix: prefix + name + ".") }
        return out
    }

    /// Trainable parameters only.
    public func parameters() -> [Parameter] { namedParameters().map(\.1).filter(\.trainable) }

    /// Number of trainable scalars.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.value.count } }

    /// Every module in the tree (self first).
    public func modules() -> [Module] { [self] + children().flatMap { $0.1.modules() } }

    /// Switches this module and all children to training (`true`) or evaluation mode.
    public func train(_ on: Bool = true) { for m in modules() { m.training = on } }
    /// Evaluation mode.
    public func eval() { train(false) }

    /// Clears accumulated gradients.
    public func zeroGrad() { for p in parameters() { p.value.zeroGrad() } }

    /// Runs `body` with all parameters untracked (no weight gradients are computed), restoring
    /// their tracking afterwards.
    public func withFrozenParameters<R>(_ body: () throws -> R) rethrows -> R {
        let ps = parameters().filter(\.requiresGrad)
        for p in ps { p.requiresGrad = false }
        defer { for p in ps { p.requiresGrad = true } }
        return try body()
    }

    /// The state dictionary: every parameter and buffer by dotted name (values detached).
    public func stateDict() -> [String: Tensor] {
        Dictionary(namedParameters().map { ($0.0, $0.1.value.detached()) }, uniquingKeysWith: { a, _ in a })
    }

    /// Loads a state dictionary. Strict: a missing, unexpected or mis-shaped tensor is an error
    /// naming it, and nothing is changed unless everything matches.
    public func loadStateDict(_ dict: [String: Tensor], strict: Bool = true) throws {
        let named = namedParameters()
        var problems: [String] = []
        for (name, p) in named {
            guard let t = dict[name] else { if strict { problems.append("missing tensor '\(name)'") }; continue }
            if t.shape != p.shape {
                problems.append(
                    "tensor '\(name)' has shape \(shapeString(t.shape)), the model expects \(shapeString(p.shape))")
            }
        }
        if strict {
            let known = Set(named.map(\.0))
            for name in dict.keys.sorted()
            where !known.contains(name) && !name.hasPrefix("__") && !name.hasSuffix("num_batches_tracked") {
                problems.append("unexpected tensor '\(name)'")
            }
        }
        guard problems.isEmpty else {
            throw ModelError(
                "cannot load state dict into \(type(of: self)): " + problems.prefix(5).joined(separator: "; ")
                    + (problems.count > 5 ? "; and \(problems.count - 5) more" : ""))
        }
        for (name, p) in named { if let t = dict[name] { p.value = t.detached() } }
    }

    /// Saves the state dictionary to a safetensors file (atomically).
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDict(), metadata: metadata, to: path)
    }

    /// Loads weights from a safetensors file (see `loadStateDict`).
    public func load(from path: String, strict: Bool = true) throws {
        try loadStateDict(SafeTensors.read(path: path).tensors, strict: strict)
    }
}
