import Foundation

/// Reader and writer for the safetensors format: an 8-byte little-endian header length, a JSON
/// header mapping names to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the
/// data section) plus an optional `__metadata__` string map, then raw little-endian data.
///
/// Reading converts F32, F64, F16, BF16 and integer dtypes to Float32; writing emits F32.
/// Exact 1-D number arrays (F64, I64) may travel beside the tensors (sessions keep Lua's bulk
/// numbers in them).
public enum SafeTensors {
    /// Header size limit (the format's reference implementation uses 100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// A parsed file: tensors by name (in file-header order) and the metadata map.
    public struct File: Sendable {
        public var names: [String]
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
        /// Exact 1-D F64/I64 entries, when `decode` was asked to keep them (not in `tensors`).
        public var arrays: [String: NumberArray] = [:]
    }

    /// A 1-D array of numbers kept exactly (doubles or 64-bit integers).
    public enum NumberArray: Sendable, Equatable {
        case float64([Double])
        case int64([Int64])

        public var count: Int {
            switch self {
            case .float64(let v): v.count
            case .int64(let v): v.count
            }
        }
    }

    private static let dtypeSizes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
        "U16": 2, "U32": 4, "U64": 8,
    ]

    /// Reads a file from disk.
    public static func read(path: String) throws -> File {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TensorError("safetensors: cannot read file '\(path)'")
        }
        do { return try decode(data) } catch let e as TensorError { throw TensorError("\(path): \(e.message)") }
    }

    /// The first top-level key of a JSON object that occurs twice (JSONSerialization keeps the
    /// last silently). Keys are compared as written.
    static func firstDuplicateKey(_ json: ArraySlice<UInt8>) -> String? {
        var seen = Set<ArraySlice<UInt8>>()
        var depth = 0, i = json.startIndex
        while i < json.endIndex {
            let b = json[i]
            if b == UInt8(ascii: "\"") {
                let start = i + 1
                var j = start
                while j < json.endIndex && json[j] != UInt8(ascii: "\"") { j += json[j] == UInt8(ascii: "\\") ? 2 : 1 }
                let key = json[start..<Swift.min(j, json.endIndex)]
                var k = j + 1
                while k < json.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(json[k]) { k += 1 }
                if depth == 1, k < json.endIndex, json[k] == UInt8(ascii: ":") {
                    if !seen.insert(key).inserted { return String(decoding: key, as: UTF8.self) }
                }
                i = j + 1
                continue
            }
            if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { depth += 1 }
            if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") { depth -= 1 }
            i += 1
        }
        return nil
    }

    /// Parses safetensors bytes, validating the header against the data.
    /// Entries named with `exactArrayPrefix` of dtype F64 or I64 and rank 1 go to `arrays`.
    public static func decode(_ data: Data, exactArrayPrefix: String? = nil) throws -> File {
        let bytes = data.startIndex == 0 ? data : Data(data)
        guard bytes.count >= 8 else {
            throw TensorError("safetensors: file is \(bytes.count) bytes, too short for the 8-byte header length")
        }
        var hlen: UInt64 = 0
        for i in 0..<8 { hlen |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard hlen <= UInt64(maxHeaderBytes) else {
            throw TensorError("safetensors: header length \(hlen) exceeds the \(maxHeaderBytes)-byte limit")
        }
        guard hlen <= UInt64(bytes.count - 8) else {
            throw TensorError(
                "safetensors: header length \(hlen) is larger than the file (\(bytes.count - 8) bytes after the length)"
            )
        }
        let headerEnd = 8 + Int(hlen)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])) } catch {
            throw TensorError("safetensors: header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw TensorError("safetensors: header is not a JSON object") }
        if let dup = firstDuplicateKey([UInt8](bytes[8..<headerEnd])[...]) {
            throw TensorError("safetensors: the header names '\(dup)' twice (a file must name each tensor once)")
        }
        let dataLen = bytes.count - headerEnd
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw TensorError("safetensors: __metadata__ must be an object of strings")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw TensorError("safetensors: __metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else {
                throw TensorError("safetensors: entry '\(name)' is not an object")
            }
            guard let dtype = info["dtype"] as? String else {
                throw TensorError("safetensors: entry '\(name)' has no dtype")
            }
            guard let elem = dtypeSizes[dtype] else {
                throw TensorError("safetensors: entry '\(name)' has unknown dtype '\(dtype)'")
            }
            guard let shapeAny = info["shape"] as? [Any], let shape = intArray(shapeAny), shape.allSatisfy({ $0 >= 0 })
            else {
                throw TensorError("safetensors: entry '\(name)' has a malformed shape")
            }
            guard let offAny = info["data_offsets"] as? [Any], let off = intArray(offAny), off.count == 2 else {
                throw TensorError("safetensors: entry '\(name)' has malformed data_offsets")
            }
            guard off[0] >= 0, off[1] >= off[0], off[1] <= dataLen else {
                throw TensorError(
                    "safetensors: entry '\(name)' data_offsets \(off) are out of range (data section is \(dataLen) bytes)"
                )
            }
            let n: Int
            do { n = try Tensor.validatedCount(shape) } catch {
                throw TensorError("safetensors: entry '\(name)': \(error)")
            }
            guard n * elem == off[1] - off[0] else {
                throw TensorError(
                    "safetensors: entry '\(name)' shape \(shapeString(shape)) of \(dtype) needs \(n * elem) bytes, data_offsets give \(off[1] - off[0])"
                )
            }
            entries.append((name, dtype, shape, off[0], off[1]))
        }
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw TensorError("safetensors: entries '\(a.name)' and '\(b.name)' have overlapping data")
        }
        var tensors: [String: Tensor] = [:]
        var arrays: [String: NumberArray] = [:]
        try bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + headerEnd
            for e in entries {
                if let exactArrayPrefix, e.name.hasPrefix(exactArrayPrefix), e.shape.count == 1,
                    e.dtype == "F64" || e.dtype == "I64"
                {
                    let n = e.shape[0]
                    func load(_ i: Int) -> UInt64 {
                        UInt64(littleEndian: (base + e.begin).loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                    }
                    arrays[e.name] =
                        e.dtype == "F64"
                        ? .float64((0..<n).map { Double(bitPattern: load($0)) })
                        : .int64((0..<n).map { Int64(bitPattern: load($0)) })
                    continue
                }
                _ = try Tensor.reservedCount(e.shape)
                let t = Tensor(uninitializedShape: e.shape)
                convert(base + e.begin, dtype: e.dtype, count: t.count, into: t.storage.pointer)
                tensors[e.name] = t
            }
        }
        return File(
            names: sorted.map(\.name).filter { arrays[$0] == nil }, tensors: tensors, metadata: metadata, arrays: arrays
        )
    }

    private static func intArray(_ a: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in a {
            guard let n = v as? NSNumber else { return nil }
            let d = n.doubleValue
            guard d == d.rounded(), d >= -9.0e15 && d <= 9.0e15 else { return nil }
            out.append(n.intValue)
        }
        return out
    }

    private static func convert(
        _ src: UnsafeRawPointer, dtype: String, count n: Int, into dst: UnsafeMutablePointer<Float>
    ) {
        func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
            T(littleEndian: src.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
        }
        switch dtype {
        case "F32": for i in 0..<n { dst[i] = Float(bitPattern: load(UInt32.self, i)) }
        case "F64": for i in 0..<n { dst[i] = Float(Double(bitPattern: load(UInt64.self, i))) }
        case "F16": for i in 0..<n { dst[i] = halfToFloat(load(UInt16.self, i)) }
        case "BF16": for i in 0..<n { dst[i] = Float(bitPattern: UInt32(load(UInt16.self, i)) << 16) }
        case "I64": for i in 0..<n { dst[i] = Float(load(Int64.self, i)) }
        case "I32": for i in 0..<n { dst[i] = Float(load(Int32.self, i)) }
        case "I16": for i in 0..<n { dst[i] = Float(load(Int16.self, i)) }
        case "I8": for i in 0..<n { dst[i] = Float(load(Int8.self, i)) }
        case "U8", "BOOL": for i in 0..<n { dst[i] = Float(load(UInt8.self, i)) }
        case "U16": for i in 0..<n { dst[i] = Float(load(UInt16.self, i)) }
        case "U32": for i in 0..<n { dst[i] = Float(load(UInt32.self, i)) }
        case "U64": for i in 0..<n { dst[i] = Float(load(UInt64.self, i)) }
        default: break
        }
    }

    /// IEEE half → Float (handles subnormals, infinities and NaN).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign: UInt32 = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F), man = UInt32(h & 0x3FF)
        if exp == 0 { return (sign != 0 ? -1 : 1) * Float(man) * 0x1p-24 }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (man << 13)) }
        return Float(bitPattern: sign | (UInt32(exp + 112) << 23) | (man << 13))
    }

    /// Serialises tensors (F32) with optional metadata; names are written in sorted order.
    public static func encode(
        _ tensors: [String: Tensor], arrays: [String: NumberArray] = [:], metadata: [String: String] = [:]
    ) throws -> Data {
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(
                separator: ",")
            parts.append("\"__metadata__\":{\(m)}")
        }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            guard name != "__metadata__" else {
                throw TensorError("safetensors: '__metadata__' is reserved and cannot name a tensor")
            }
            let t = tensors[name]!
            let bytes = t.count * 4
            parts.append(
                "\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            )
            offset += bytes
        }
        let arrayNames = arrays.keys.sorted()
        for name in arrayNames {
            guard name != "__metadata__", tensors[name] == nil else {
                throw TensorError("safetensors: the name '\(name)' is reserved or used twice")
            }
            let a = arrays[name]!
            let dtype = if case .float64 = a { "F64" } else { "I64" }
            parts.append(
                "\(jsonString(name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(a.count)],\"data_offsets\":[\(offset),\(offset + 8 * a.count)]}"
            )
            offset += 8 * a.count
        }
        header += parts.joined(separator: ",") + "}"
        var hbytes = Array(header.utf8)
        while (8 + hbytes.count) % 8 != 0 { hbytes.append(0x20) }  // pad with spaces to 8-byte alignment
        var out = Data(capacity: 8 + hbytes.count + offset)
        var len = UInt64(hbytes.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(contentsOf: hbytes)
        for name in names {
            let t = tensors[name]!
            var le = [UInt32](repeating: 0, count: t.count)
            t.withUnsafeBufferPointer { for i in 0..<$0.count { le[i] = $0[i].bitPattern.littleEndian } }
            le.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        for name in arrayNames {
            let le: [UInt64] =
                switch arrays[name]! {
                case .float64(let v): v.map { $0.bitPattern.littleEndian }
                case .int64(let v): v.map { UInt64(bitPattern: $0).littleEndian }
                }
            le.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Writes tensors to `path` atomically (temporary file in the same directory, then rename).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        let data = try encode(tensors, metadata: metadata)
        try AtomicFile.write(data, to: path)
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

/// Atomic file replacement: write a sibling temporary file, fsync it, rename over the target.
/// The folder part of a path: "" for a bare name, "/" for a file at the root, trailing slashes
/// ignored. (Foundation's `NSString.deletingLastPathComponent` traps on a one-character path on
/// Linux, e.g. "x".)
public func parentDirectory(_ path: String) -> String {
    var p = Substring(path)
    while p.count > 1, p.hasSuffix("/") { p.removeLast() }
    guard let slash = p.lastIndex(of: "/") else { return "" }
    return slash == p.startIndex ? "/" : String(p[..<slash])
}

public enum AtomicFile {
    private static let observerLock = NSLock()
    nonisolated(unsafe) private static var observers: [Int: (String) -> Void] = [:]
    nonisolated(unsafe) private static var nextObserver = 0

    /// Calls `body` with the path of every file written through `write` until the token is
    /// removed (notebook reports use it to collect the PNGs a cell writes). Thread-safe.
    public static func addObserver(_ body: @escaping (String) -> Void) -> Int {
        observerLock.lock(); defer { observerLock.unlock() }
        nextObserver += 1
        observers[nextObserver] = body
        return nextObserver
    }

    public static func removeObserver(_ token: Int) {
        observerLock.lock(); defer { observerLock.unlock() }
        observers[token] = nil
    }

    /// Writes `data` to `path` via a temporary file in the same directory, fsync and rename.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            let why =
                FileManager.default.fileExists(atPath: dir.isEmpty ? "." : dir)
                ? String(cString: strerror(errno)) : "directory '\(dir)' does not exist"
            throw TensorError("cannot write '\(path)': \(why)")
        }
        var ok = true
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let w = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
                if w <= 0 { ok = false; break }
                off += w
            }
        }
        if ok { ok = fsync(fd) == 0 }
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            let msg = String(cString: strerror(errno))
            unlink(tmp)
            throw TensorError("cannot write '\(path)': \(msg)")
        }
        observerLock.lock()
        let current = Array(observers.values)
        observerLock.unlock()
        for o in current { o(path) }
    }
}
