import Foundation

/// Reverse-mode automatic differentiation.
///
/// Design in one paragraph: every op whose inputs include a tracked tensor (one with a
/// `GradNode`) gives its result a new node that remembers the input nodes and a closure mapping
/// the result's gradient to the gradients of those inputs (the closure captures whatever the op
/// saved, e.g. the inputs or an argmax). Leaves (parameters, or inputs we want ∂/∂x of) are nodes
/// without a closure. `backward()` on a scalar topologically sorts the graph reachable from the
/// root (iterative DFS), then walks it in reverse order, calling each closure once with the fully
/// accumulated gradient and adding the results into the inputs' nodes. Leaves keep their
/// accumulated `grad` (so several backward passes accumulate until `zeroGrad`); interior nodes
/// drop gradients and closures as soon as they are used, so memory is released during the walk.
/// Gradients themselves are not tracked (no higher-order derivatives).
@usableFromInline
final class GradNode: @unchecked Sendable {
    /// Nodes of the op's inputs (only tracked ones appear; untracked inputs are `nil`).
    let inputs: [GradNode?]
    /// Maps ∂L/∂output to ∂L/∂input for each input (nil where not needed). Nil for leaves.
    var backwardFn: ((Tensor) -> [Tensor?])?
    /// Accumulated gradient (leaves keep it after `backward`).
    var grad: Tensor?
    let shape: [Int]
    let isLeaf: Bool

    init(shape: [Int], inputs: [GradNode?], backward: ((Tensor) -> [Tensor?])?) {
        self.shape = shape
        self.inputs = inputs
        self.backwardFn = backward
        self.isLeaf = backward == nil
    }

    func accumulate(_ g: Tensor) {
        if let existing = grad { grad = Kernels.addSameShape(existing, g) } else { grad = g.detached() }
    }
}

/// Autodiff switch (`noGrad` scopes), per thread: a `noGrad` block on one thread does not
/// affect graphs recorded on another (tests and tasks run concurrently).
public enum Autograd {
    /// Thread-local nesting depth of `noGrad` scopes, stored directly in the key's slot.
    private static let depthKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    private static var depth: Int {
        get { Int(bitPattern: pthread_getspecific(depthKey)) }
        set { pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: newValue)) }
    }

    /// Whether ops on this thread currently record a graph.
    public static var isEnabled: Bool { depth == 0 }

    /// Runs `body` without recording a graph (like `torch.no_grad()`).
    public static func noGrad<R>(_ body: () throws -> R) rethrows -> R {
        depth += 1
        defer { depth -= 1 }
        return try body()
    }
}

extension Tensor {
    /// A leaf that records gradients: after `backward()` on something computed from it, `grad`
    /// holds ∂L/∂self. Shares storage with `self`.
    public func requiringGrad() -> Tensor {
        Tensor(shape: shape, storage: storage, node: GradNode(shape: shape, inputs: [], backward: nil))
    }

    /// Whether this tensor is tracked by autodiff.
    public var requiresGrad: Bool { node != nil }

    /// The accumulated gradient of a tracked leaf (nil before any backward pass, or untracked).
    public var grad: Tensor? { node?.grad }

    /// Clears the accumulated gradient of a tracked leaf.
    public func zeroGrad() { node?.grad = nil }

    /// Replaces the accumulated gradient of a tracked tensor (e.g. for gradient clipping).
    public func setGrad(_ g: Tensor?) throws {
        guard let node else { throw TensorError("setGrad on a tensor that does not require grad") }
        if let g, g.shape != shape {
            throw TensorError("setGrad: gradient shape \(shapeString(g.shape)) does not match \(shapeString(shape))")
        }
        node.grad = g?.detached()
    }

    /// Whether an op on `inputs` will record a graph node (autodiff on and an input tracked).
    @usableFromInline
    static func willRecord(_ inputs: [Tensor]) -> Bool {
        Autograd.isEnabled && inputs.contains(where: { $0.node != nil })
    }

    /// Builds the result of a differentiable op: attaches a node when autodiff is on and any
    /// input is tracked. `backward` receives ∂L/∂result and a flag per input saying whether that
    /// input needs a gradient, and returns one gradient (or nil) per input. Public: ops written
    /// in other modules (DollNN's losses) use the same hook.
    public static func record(
        _ result: Tensor, _ inputs: [Tensor], _ backward: @escaping (Tensor, [Bool]) -> [Tensor?]
    ) -> Tensor {
        guard willRecord(inputs) else { return result }
        let nodes = inputs.map(\.node)
        let needs = nodes.map { $0 != nil }
        var r = result
        r.node = GradNode(shape: result.shape, inputs: nodes, backward: { g in backward(g, needs) })
        return r
    }

    /// Back-propagates from this scalar (one-element) tensor, accumulating ∂self/∂leaf into every
    /// tracked leaf it depends on. Pass `gradient` to start from a seed other than 1.
    public func backward(gradient: Tensor? = nil) throws {
        guard let root = node else {
            throw TensorError("backward() called on a tensor that does not require grad (no tracked input)")
        }
        if !root.isLeaf && root.backwardFn == nil {
            throw TensorError(
                "backward() called twice through the same graph (it is freed after the first pass); recompute the forward"
            )
        }
        let seed: Tensor
        if let g = gradient {
            guard g.shape == shape || g.count == count else {
                throw TensorError(
                    "backward gradient shape \(shapeString(g.shape)) does not match tensor shape \(shapeString(shape))")
            }
            seed = try g.reshaped(shape).detached()
        } else {
            guard count == 1 else {
                throw TensorError("backward() without a gradient needs a scalar, got shape \(shapeString(shape))")
            }
            seed = try Tensor.ones(shape)
        }
        // Topological order by iterative post-order DFS.
        var order: [GradNode] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(GradNode, Int)] = [(root, 0)]
        visited.insert(ObjectIdentifier(root))
        while let (n, i) = stack.popLast() {
            if i < n.inputs.count {
                stack.append((n, i + 1))
                if let c = n.inputs[i], !visited.contains(ObjectIdentifier(c)) {
                    visited.insert(ObjectIdentifier(c))
                    stack.append((c, 0))
                }
            } else {
                order.append(n)
            }
        }
        root.accumulate(seed)
        for n in order.reversed() {
            guard let fn = n.backwardFn, let g = n.grad else { continue }
            let grads = fn(g)
            for (input, gi) in zip(n.inputs, grads) {
                if let input, let gi { input.accumulate(gi) }
            }
            if !n.isLeaf { n.grad = nil; n.backwardFn = nil }
        }
    }
}
