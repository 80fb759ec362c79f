import CDollSupport
import CLua
import DollData
import DollTensor
import Foundation

/// Tensor bindings. Lua indices are 1-based (`t[1]` is the first row / element; axes are
/// numbered from 1); negative axes count from the end.
enum LuaTensor {
    static func fn(_ n: String, _ b: @escaping LuaFunction) -> (String, Int32) { (n, LuaModule.fn("doll.\(n)", b)) }

    /// Reads a tensor argument, also accepting a number (scalar) where `numbersOK`.
    static func tensor(_ a: LuaArgs, _ i: Int32, _ what: String, numbersOK: Bool = false) throws -> Tensor {
        if numbersOK && a.type(i) == LUA_TNUMBER { return Tensor(scalar: Float(try a.number(i, what))) }
        return try a.object(i, TensorBox.self, what).t
    }

    static func push(_ a: LuaArgs, _ t: Tensor) -> Int32 { a.push(object: TensorBox(t.detached())); return 1 }

    /// Shape from varargs `(2, 3)` or a table `{2, 3}` starting at argument `i`.
    static func shape(_ a: LuaArgs, from i: Int32) throws -> [Int] {
        if a.type(i) == LUA_TTABLE {
            let sizes = try a.list(i, "shape", limit: 8) { try a.integer($0, "size", in: 0...(1 << 30)) }
            // `doll.randn{3, 4, seed = 1}` would silently drop the seed: options go in their own table.
            let t = lua_absindex(a.L, i)
            lua_pushnil(a.L)
            while lua_next(a.L, t) != 0 {
                if lua_type(a.L, -2) == LUA_TSTRING {
                    let key = String(cString: lua_tolstring(a.L, -2, nil))
                    lua_settop(a.L, -3)
                    throw LuaBindingError(
                        "the shape table has a key '\(key)'; pass options in a second table, e.g. ({3, 4}, {\(key) = ...})"
                    )
                }
                lua_settop(a.L, -2)
            }
            return sizes
        }
        var s: [Int] = []
        var k = i
        while k <= a.count && a.type(k) == LUA_TNUMBER { s.append(try a.integer(k, "size", in: 0...(1 << 30))); k += 1 }
        guard !s.isEmpty, s.count <= 8 else {
            throw LuaBindingError("expected a shape (sizes or a table of sizes), got \(a.describe(i))")
        }
        return s
    }

    /// A nested Lua table of numbers → (values, shape).
    static func nested(_ a: LuaArgs, _ i: Int32, depth: Int = 0) throws -> ([Float], [Int]) {
        if a.type(i) == LUA_TNUMBER { return ([Float(try a.number(i, "value"))], []) }
        guard depth < 8 else { throw LuaBindingError("tables nested more than 8 deep") }
        let parts = try a.list(i, "tensor data", limit: 1 << 24) { try nested(a, $0, depth: depth + 1) }
        guard let first = parts.first else { return ([], [0]) }
        for p in parts where p.1 != first.1 {
            throw LuaBindingError("ragged table: rows of shapes \(shapeString(first.1)) and \(shapeString(p.1))")
        }
        return (parts.flatMap(\.0), [parts.count] + first.1)
    }

    static func seed(_ o: LuaOptions) throws -> UInt64 {
        if let s = try o.integer("seed", in: 0...Int(Int32.max)) { return UInt64(s) }
        return LuaModule.state(of: o.args.L)?.nextSeed() ?? 0
    }

    static func moduleFunctions() -> [(String, Int32)] {
        [
            fn("tensor") { a in
                let (v, s) = try nested(a, 1)
                return push(a, try Tensor(v, shape: s))
            },
            fn("zeros") { a in push(a, try Tensor.zeros(shape(a, from: 1))) },
            fn("ones") { a in push(a, try Tensor.ones(shape(a, from: 1))) },
            fn("full") { a in
                let s = try shape(a, from: 1)
                return push(a, try Tensor(repeating: Float(try a.number(2, "value")), shape: s))
            },
            fn("randn") { a in
                let s = try shape(a, from: 1)
                let o = try a.options(a.type(1) == LUA_TTABLE ? 2 : a.count + 1)
                var rng = RandomGenerator(seed: try seed(o))
                return push(
                    a,
                    try Tensor.randn(
                        s, mean: Float(try o.number("mean") ?? 0), std: Float(try o.number("std") ?? 1), rng: &rng))
            },
            fn("rand") { a in
                let s = try shape(a, from: 1)
                let o = try a.options(a.type(1) == LUA_TTABLE ? 2 : a.count + 1)
                var rng = RandomGenerator(seed: try seed(o))
                return push(
                    a,
                    try Tensor.uniform(
                        s, low: Float(try o.number("low") ?? 0), high: Float(try o.number("high") ?? 1), rng: &rng))
            },
            fn("arange") { a in
                let x = try a.number(1, "start")
                if a.isNil(2) { return push(a, try Tensor.arange(0, Float(x))) }
                return push(
                    a,
                    try Tensor.arange(
                        Float(x), Float(try a.number(2, "stop")), step: Float(try a.optNumber(3, "step") ?? 1)))
            },
            fn("seed") { a in
                let seed = UInt64(try a.integer(1, "seed", in: 0...Int(Int32.max)))
                if let state = LuaModule.state(of: a.L) {
                    state.seed = seed
                    state.seedsSet.append(seed)
                }
                return 0
            },
            fn("save") { a in
                let path = try a.string(1, "path")
                var dict: [String: Tensor] = [:]
                guard a.type(2) == LUA_TTABLE else {
                    throw LuaBindingError("argument #2 (tensors) must be a table {name = tensor}, got \(a.describe(2))")
                }
                lua_pushnil(a.L)
                var bad: String? = nil
                while lua_next(a.L, 2) != 0 {
                    if lua_type(a.L, -2) == LUA_TSTRING, let k = lua_tolstring(a.L, -2, nil),
                        let t = try? a.object(-1, TensorBox.self, "tensor")
                    {
                        dict[String(cString: k)] = t.t
                        lua_settop(a.L, -2)
                    } else {
                        bad = "entries must be name = tensor"; lua_settop(a.L, -3); break
                    }
                }
                if let bad { throw LuaBindingError(bad) }
                try SafeTensors.write(dict, to: path)
                return 0
            },
        ]
    }

    static func m(_ n: String, _ b: @escaping LuaFunction) -> (String, Int32) { (n, LuaModule.fn("Tensor:\(n)", b)) }

    static func axis(_ a: LuaArgs, _ i: Int32, _ t: Tensor) throws -> Int {
        guard t.rank >= 1 else { throw LuaBindingError("a 0-dimensional tensor (a scalar) has no axes") }
        let k = try a.integer(i, "axis", in: -t.rank...Swift.max(t.rank, 1))
        guard k != 0 else {
            throw LuaBindingError("axes are 1-based (1…\(t.rank)) or negative from the end; 0 is not an axis")
        }
        return k > 0 ? k - 1 : k
    }

    static func methods() -> [String: Int32] {
        let unary: [(String, (Tensor) throws -> Tensor)] = [
            ("exp", { $0.exp() }), ("log", { $0.log() }), ("sqrt", { $0.sqrt() }), ("abs", { $0.abs() }),
            ("relu", { $0.relu() }), ("sigmoid", { $0.sigmoid() }), ("tanh", { $0.tanh() }), ("neg", { $0.neg() }),
            ("clone", { $0.detached() }), ("square", { $0.square() }),
        ]
        var list: [(String, Int32)] = unary.map { name, f in m(name) { a in push(a, try f(try tensor(a, 1, "self"))) } }
        let compare: [(String, (Tensor, Tensor) throws -> Tensor)] = [
            ("gt", { try $0.greater($1) }), ("lt", { try $0.less($1) }), ("ge", { try $0.greaterEqual($1) }),
            ("le", { try $0.lessEqual($1) }), ("eq", { try $0.equal($1) }),
        ]
        list += compare.map { name, f in
            m(name) { a in push(a, try f(try tensor(a, 1, "self"), try tensor(a, 2, "other", numbersOK: true))) }
        }
        list += [
            m("shape") { a in
                a.push(integers: try tensor(a, 1, "self").shape); return 1
            },
            m("size") { a in
                let t = try tensor(a, 1, "self")
                if a.isNil(2) { a.push(integers: t.shape); return 1 }
                let ax = try axis(a, 2, t)
                a.push(t.shape[ax < 0 ? t.rank + ax : ax]); return 1
            },
            m("dim") { a in
                a.push(try tensor(a, 1, "self").rank); return 1
            },
            m("numel") { a in
                a.push(try tensor(a, 1, "self").count); return 1
            },
            m("item") { a in
                a.push(Double(try tensor(a, 1, "self").item())); return 1
            },
            m("reshape") { a in push(a, try tensor(a, 1, "self").reshaped(shapeAllowingMinusOne(a, from: 2))) },
            m("view") { a in push(a, try tensor(a, 1, "self").reshaped(shapeAllowingMinusOne(a, from: 2))) },
            m("sum") { a in
                let t = try tensor(a, 1, "self")
                return push(
                    a,
                    a.isNil(2)
                        ? t.sum()
                        : try t.sum(axis: axis(a, 2, t), keepDims: a.isNil(3) ? false : try a.boolean(3, "keepdims")))
            },
            m("mean") { a in
                let t = try tensor(a, 1, "self")
                return push(
                    a,
                    a.isNil(2)
                        ? t.mean()
                        : try t.mean(axis: axis(a, 2, t), keepDims: a.isNil(3) ? false : try a.boolean(3, "keepdims")))
            },
            m("max") { a in
                let t = try tensor(a, 1, "self")
                if a.isNil(2) { return push(a, try t.max()) }
                let (v, i) = try t.max(axis: axis(a, 2, t))
                _ = push(a, v); _ = push(a, i.adding(1)); return 2
            },
            m("resize") { a in
                let t = try tensor(a, 1, "self")
                let h = try a.integer(2, "height", in: 1...16384), w = try a.integer(3, "width", in: 1...16384)
                let o = try a.options(4)
                let mode: Interpolation =
                    try o.choice("mode", ["bilinear", "nearest"]) == "nearest" ? .nearest : .bilinear
                switch t.rank {
                case 2:
                    return push(
                        a, try ImageOps.resize(t.unsqueezed(0), height: h, width: w, interpolation: mode).squeezed(0))
                case 3: return push(a, try ImageOps.resize(t, height: h, width: w, interpolation: mode))
                case 4:
                    let parts = try (0..<t.shape[0]).map {
                        try ImageOps.resize(
                            t.slice(axis: 0, start: $0, end: $0 + 1).squeezed(0), height: h, width: w,
                            interpolation: mode)
                    }
                    guard !parts.isEmpty else { throw LuaBindingError("no images to resize (the batch is empty)") }
                    return push(a, try Tensor.stack(parts))
                default:
                    throw LuaBindingError(
                        "resize needs an image [H, W], [C, H, W] or a batch [N, C, H, W], got \(shapeString(t.shape))")
                }
            },
            m("min") { a in
                let t = try tensor(a, 1, "self")
                if a.isNil(2) { return push(a, try t.min()) }
                let (v, i) = try t.min(axis: axis(a, 2, t))
                _ = push(a, v); _ = push(a, i.adding(1)); return 2
            },
            m("pow") { a in push(a, try tensor(a, 1, "self").pow(Float(try a.number(2, "exponent")))) },
            m("softmax") { a in
                let t = try tensor(a, 1, "self"); return push(a, try t.softmax(axis: a.isNil(2) ? -1 : axis(a, 2, t)))
            },
            m("transpose") { a in
                let t = try tensor(a, 1, "self")
                return push(a, try t.transposed(a.isNil(2) ? -2 : axis(a, 2, t), a.isNil(3) ? -1 : axis(a, 3, t)))
            },
            m("slice") { a in
                let t = try tensor(a, 1, "self")
                let ax = try axis(a, 2, t), n = t.shape[ax < 0 ? t.rank + ax : ax]
                let first = try a.integer(3, "first", in: 1...Swift.max(n, 1))
                let last = a.isNil(4) ? n : try a.integer(4, "last", in: first...Swift.max(n, first))
                return push(a, try t.slice(axis: ax, start: first - 1, end: last))
            },
            m("quantile") { a in
                a.push(Double(try tensor(a, 1, "self").quantile(try a.number(2, "q")))); return 1
            },
            m("totable") { a in
                try pushNested(a, try tensor(a, 1, "self")); return 1
            },
        ]
        return Dictionary(list, uniquingKeysWith: { x, _ in x })
    }

    static func shapeAllowingMinusOne(_ a: LuaArgs, from i: Int32) throws -> [Int] {
        if a.type(i) == LUA_TTABLE {
            return try a.list(i, "shape", limit: 8) { try a.integer($0, "size", in: -1...(1 << 30)) }
        }
        var s: [Int] = []
        var k = i
        while k <= a.count { s.append(try a.integer(k, "size", in: -1...(1 << 30))); k += 1 }
        guard !s.isEmpty, s.count <= 8 else { throw LuaBindingError("expected a shape") }
        return s
    }

    static func pushNested(_ a: LuaArgs, _ t: Tensor) throws {
        // One Lua stack slot per nesting level (files and sessions can hold tensors of any rank).
        guard lua_checkstack(a.L, Int32(Swift.min(t.rank, 1 << 20) + 4)) != 0 else {
            throw LuaBindingError("totable: a tensor of rank \(t.rank) nests too deeply for a Lua table")
        }
        let v = t.scalars
        if t.rank == 0 { a.push(Double(v[0])); return }
        func build(_ dim: Int, _ offset: Int) {
            let n = t.shape[dim], stride = t.shape[(dim + 1)...].reduce(1, *)
            lua_createtable(a.L, Int32(n), 0)
            for k in 0..<n {
                if dim == t.rank - 1 {
                    lua_pushnumber(a.L, Double(v[offset + k]))
                } else {
                    build(dim + 1, offset + k * stride)
                }
                lua_rawseti(a.L, -2, lua_Integer(k + 1))
            }
        }
        build(0, 0)
    }

    /// Arithmetic metamethods: tensor or number on either side.
    static func installMetamethods(_ L: OpaquePointer) {
        let ops: [(String, (Tensor, Tensor) throws -> Tensor)] = [
            ("__add", { try $0 + $1 }), ("__sub", { try $0 - $1 }), ("__mul", { try $0 * $1 }),
            ("__div", { try $0 / $1 }),
        ]
        for (name, f) in ops {
            let id = LuaModule.fn("Tensor.\(name)") { a in
                push(a, try f(try tensor(a, 1, "left", numbersOK: true), try tensor(a, 2, "right", numbersOK: true)))
            }
            doll_lua_push_function(L, id); LuaModule.setField(L, name)
        }
        let unm = LuaModule.fn("Tensor.__unm") { a in push(a, try tensor(a, 1, "self").neg()) }
        doll_lua_push_function(L, unm); LuaModule.setField(L, "__unm")
        let newindex = LuaModule.fn("Tensor.__newindex") { a in
            let box = try a.object(1, TensorBox.self, "self")
            let i = try a.integer(2, "index", in: 1...Swift.max(box.t.shape.first ?? 1, 1))
            guard box.t.rank == 1 else {
                throw LuaBindingError(
                    "t[i] = v assigns elements of 1-D tensors; use reshape or slice for \(shapeString(box.t.shape))")
            }
            try box.t.setValue(Float(try a.number(3, "value")), at: [i - 1])
            return 0
        }
        doll_lua_push_function(L, newindex); LuaModule.setField(L, "__newindex")
    }
}

/// A tensor held by Lua (boxed so Lua holds a reference).
public final class TensorBox {
    public var t: Tensor
    init(_ t: Tensor) { self.t = t }
}

extension TensorBox: LuaObject {
    static let luaName = "doll.Tensor"
    static func builders() -> [(String, Int32)] { LuaTensor.moduleFunctions() }
    static func methods() -> [String: Int32] { LuaTensor.methods() }
    static func installMetamethods(_ L: OpaquePointer) { LuaTensor.installMetamethods(L) }
    var luaDescription: String { t.description }
    var workspaceDetail: (text: String, bytes: Int) {
        ("[" + t.shape.map(String.init).joined(separator: ", ") + "]", t.count * 4)
    }
    var luaLength: Int? { t.shape.first ?? 1 }

    /// `t[i]`: a number for a vector, else the i-th slice along the first axis.
    func luaIndex(_ a: LuaArgs) throws -> Int32 {
        guard t.rank >= 1 else { throw LuaBindingError("cannot index a scalar tensor") }
        let i = try LuaTypes.index(a, count: t.shape[0])
        if t.rank == 1 {
            a.push(Double(try t.value(at: [i - 1])))
            return 1
        }
        return LuaTensor.push(a, try t.slice(axis: 0, start: i - 1, end: i).squeezed(0))
    }

    // MARK: sessions: the values

    static let sessionType = "tensor"

    func sessionRecord(
        _ session: inout LuaSession.Encoder, id: String, path: String,
        summary: inout LuaSession.Summary
    ) throws -> [String: Any]? {
        session.tensors[id] = t
        return ["tensor": id]
    }

    static func restorer(_ record: LuaSession.Record) throws -> LuaSession.Restorer {
        guard let name = record.raw["tensor"] as? String else { throw record.error(".tensor is missing") }
        guard let t = record.tensors[name] else {
            throw record.error(" refers to tensor '\(name)', which the tensors file lacks")
        }
        return LuaSession.Restorer { _ in TensorBox(t) }
    }
}
