import DollTensor

/// Binary masks of DoLL labels, one bit per pixel (a `[14, 256, 256]` mask takes 115 KB instead
/// of 3.7 MB). Values above 0.5 are set. Reading one gives back a Float tensor of 0 and 1.
public struct PackedMasks: RandomAccessCollection, Sendable {
    private var shapes: [[Int]] = []
    private var bits: [[UInt8]] = []

    public init() {}
    public init(_ tensors: [Tensor]) { for t in tensors { append(t) } }

    public var startIndex: Int { 0 }
    public var endIndex: Int { bits.count }
    /// Bytes held.
    public var byteCount: Int { bits.reduce(0) { $0 + $1.count } }

    public subscript(position: Int) -> Tensor {
        get {
            let shape = shapes[position], b = bits[position]
            let n = shape.reduce(1, *)
            var v = [Float](repeating: 0, count: n)
            for i in 0..<n where b[i >> 3] & (1 << UInt8(i & 7)) != 0 { v[i] = 1 }
            return try! Tensor(v, shape: shape)  // the shape was valid when packed
        }
        set { (shapes[position], bits[position]) = PackedMasks.pack(newValue) }
    }

    public mutating func append(_ t: Tensor) {
        let (s, b) = PackedMasks.pack(t)
        shapes.append(s)
        bits.append(b)
    }

    static func pack(_ t: Tensor) -> ([Int], [UInt8]) {
        var b = [UInt8](repeating: 0, count: (t.count + 7) / 8)
        t.withUnsafeBufferPointer { v in for i in 0..<v.count where v[i] > 0.5 { b[i >> 3] |= 1 << UInt8(i & 7) } }
        return (t.shape, b)
    }
}

/// Soft maps in [0, 1] of DoLL labels, 16 bits per pixel (steps of 1/65535; values outside
/// [0, 1] are clamped). 8 bits would tie maxima often enough to move the pointing game by a few
/// percent; 16 bits keep it. Reading one gives back a Float tensor.
public struct QuantizedMaps: RandomAccessCollection, Sendable {
    private var shapes: [[Int]] = []
    private var levels: [[UInt16]] = []

    public init() {}
    public init(_ tensors: [Tensor]) { for t in tensors { append(t) } }

    public var startIndex: Int { 0 }
    public var endIndex: Int { levels.count }
    /// Bytes held.
    public var byteCount: Int { levels.reduce(0) { $0 + 2 * $1.count } }

    public subscript(position: Int) -> Tensor {
        // shape valid when stored
        get { try! Tensor(levels[position].map { Float($0) / 65535 }, shape: shapes[position]) }
        set { (shapes[position], levels[position]) = QuantizedMaps.quantize(newValue) }
    }

    public mutating func append(_ t: Tensor) {
        let (s, l) = QuantizedMaps.quantize(t)
        shapes.append(s)
        levels.append(l)
    }

    static func quantize(_ t: Tensor) -> ([Int], [UInt16]) {
        (t.shape, t.scalars.map { v in v.isNaN ? 0 : UInt16((Swift.min(Swift.max(v, 0), 1) * 65535).rounded()) })
    }
}
