import CDollSupport
import CLua
import DollData
import DollExplain
import DollNN
import DollTensor
import Foundation

/// Boxes for Swift values exposed as Lua userdata (value types are boxed so Lua holds a reference).
public final class TensorBox { public var t: Tensor; init(_ t: Tensor) { self.t = t } }
/// A dataset and, when known, the recipe that rebuilds it (sessions save the recipe).
public final class DatasetBox { public let ds: Dataset; let recipe: LuaRecipe?
    public convenience init(_ d: Dataset) { self.init(d, recipe: nil) }
    init(_ d: Dataset, recipe: LuaRecipe?) { ds = d; self.recipe = recipe } }
public final class ClassifierBox { public let model: ResNetClassifier; public init(_ m: ResNetClassifier) { model = m } }
public final class UNetBox { public let model: UNet; public var structures: [String] = []; public init(_ m: UNet) { model = m } }
public final class ExplainerBox { public let attributor: Attributor; public let kind: String; let recipe: LuaRecipe?
    init(_ a: Attributor, kind: String, recipe: LuaRecipe?) { attributor = a; self.kind = kind; self.recipe = recipe } }
/// DoLL labels and the dataset box of the images they were made from.
public final class LabelsBox { public let labels: DollLabelSet; public let imagesBox: DatasetBox
    public var images: Dataset { imagesBox.ds }
    public init(_ l: DollLabelSet, imagesBox: DatasetBox) { labels = l; self.imagesBox = imagesBox } }

/// Builds the `doll` module: functions, presets and the metatables of the userdata types.
enum LuaModule {
    nonisolated(unsafe) static var defaultSeed: UInt64 = 0
    nonisolated(unsafe) private static var functionIDs: [String: Int32] = [:]
    /// Guards the process-wide tables here and in `LuaTypes` (states may be built on several threads).
    static let lock = NSLock()
    /// The Swift `LuaState` of each live `lua_State` (for `print`).
    nonisolated(unsafe) private static var states: [OpaquePointer: Weak] = [:]
    final class Weak { weak var state: LuaState?; init(_ s: LuaState) { state = s } }

    /// Registers (once per process) and returns the id of a named Swift function.
    static func fn(_ name: String, _ body: @escaping LuaFunction) -> Int32 {
        lock.lock(); defer { lock.unlock() }
        if let id = functionIDs[name] { return id }
        let id = LuaRegistry.shared.register(name, body)
        functionIDs[name] = id
        return id
    }

    /// Names of every registered function.
    static var registeredNames: Set<String> {
        lock.lock(); defer { lock.unlock() }
        return Set(functionIDs.keys)
    }

    /// The id of a function registered under `name`, if any.
    static func functionID(_ name: String) -> Int32? {
        lock.lock(); defer { lock.unlock() }
        return functionIDs[name]
    }

    static func state(of L: OpaquePointer) -> LuaState? {
        lock.lock(); defer { lock.unlock() }
        return states[L]?.state
    }

    static func forget(_ L: OpaquePointer) {
        lock.lock(); defer { lock.unlock() }
        states[L] = nil
    }

    static func install(into state: LuaState) {
        let L = state.L
        registerTypes(L)
        lua_createtable(L, 0, 64)                       // the doll table
        for (name, id) in moduleFunctions() {
            lua_pushstring(L, name)
            doll_lua_push_function(L, id)
            lua_rawset(L, -3)
        }
        // presets
        pushStrings(L, LabelPreset.chexpert); setField(L, "observations")
        pushStrings(L, LabelPreset.nih); setField(L, "nih_findings")
        lua_pushstring(L, dollVersion); setField(L, "version")
        // sub-tables png / plot filled by LuaPictures
        LuaPictures.install(L)
        lua_setglobal(L, "doll")
        // print → state.output (in C: a failing __tostring is a Lua error, as in stock Lua)
        doll_lua_push_print(L) { L, text, length in
            guard let L, let text else { return }
            let s = String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
            LuaModule.state(of: L)?.output(s)
        }
        lua_setglobal(L, "print")
        lock.lock(); states[L] = Weak(state); lock.unlock()
    }

    static func setField(_ L: OpaquePointer, _ key: String) {
        lua_pushstring(L, key); lua_rotate(L, -2, 1); lua_rawset(L, -3)
    }

    static func pushStrings(_ L: OpaquePointer, _ list: [String]) {
        lua_createtable(L, Int32(list.count), 0)
        for (i, s) in list.enumerated() { lua_pushstring(L, s); lua_rawseti(L, -2, lua_Integer(i + 1)) }
    }

    /// Creates the metatables: `__name`, `__gc`, `__tostring`, `__index` (methods and, for
    /// tensors and datasets, integer indexing), `__len`, and arithmetic for tensors.
    static func registerTypes(_ L: OpaquePointer) {
        let types: [(AnyObject.Type, String, [String: Int32])] = [
            (TensorBox.self, "doll.Tensor", LuaTensor.methods()),
            (DatasetBox.self, "doll.Dataset", LuaObjects.datasetMethods()),
            (ClassifierBox.self, "doll.Classifier", LuaObjects.classifierMethods()),
            (UNetBox.self, "doll.UNet", LuaObjects.unetMethods()),
            (ExplainerBox.self, "doll.Explainer", LuaObjects.explainerMethods()),
            (LabelsBox.self, "doll.Labels", LuaObjects.labelsMethods()),
        ]
        let gc = fn("__gc") { a in
            if a.dollObject(1) != nil, let raw = lua_touserdata(a.L, 1) { LuaRegistry.shared.release(raw.load(as: Int64.self)) }
            return 0
        }
        let tostring = fn("tostring") { a in a.push(describe(a, 1)); return 1 }
        for (type, name, methods) in types {
            LuaTypes.register(type, name)
            luaL_newmetatable(L, name)     // sets __name
            doll_lua_push_function(L, gc); setField(L, "__gc")
            doll_lua_push_function(L, tostring); setField(L, "__tostring")
            // methods table
            lua_createtable(L, 0, Int32(methods.count))
            for (m, id) in methods { lua_pushstring(L, m); doll_lua_push_function(L, id); lua_rawset(L, -3) }
            setField(L, "__methods")
            let index = fn("\(name).__index") { a in try LuaObjects.index(a) }
            doll_lua_push_function(L, index); setField(L, "__index")
            let len = fn("\(name).__len") { a in try LuaObjects.length(a) }
            doll_lua_push_function(L, len); setField(L, "__len")
            if type == TensorBox.self { LuaTensor.installMetamethods(L) }
            lua_settop(L, -2)
        }
    }

    /// `doll.*` functions by name.
    static func moduleFunctions() -> [(String, Int32)] {
        LuaTensor.moduleFunctions() + LuaObjects.moduleFunctions()
    }

    static func describe(_ a: LuaArgs, _ i: Int32) -> String {
        guard let obj = a.dollObject(i) else { return luaToString(a.L, i) }
        switch obj {
        case let t as TensorBox: return t.t.description
        case let d as DatasetBox: return "Dataset: \(d.ds.summary)"
        case let c as ClassifierBox:
            let cfg = c.model.config
            let trained = cfg.imageSize.map { ", trained on \($0[0])×\($0[1]) images" } ?? ""
            return "Classifier: ResNet widths \(cfg.widths), blocks \(cfg.blocks), \(cfg.classes.count) classes, \(c.model.parameterCount) parameters, seed \(cfg.seed)\(trained)\n"
                + c.model.layerSummary
        case let u as UNetBox:
            return "UNet: \(u.model.config.encoder.rawValue) encoder, widths \(u.model.config.widths), \(u.model.config.classes) output channels\(u.structures.isEmpty ? "" : " (" + u.structures.joined(separator: ", ") + ")"), \(u.model.parameterCount) parameters"
        case let e as ExplainerBox: return "Explainer: \(e.kind) on a \(e.attributor.model.classes.count)-class classifier"
        case let l as LabelsBox: return "DoLL labels: \(l.labels.ids.count) images × \(l.labels.classes.count) classes (explainer \(l.labels.config.explainer.rawValue))"
        default: return "\(obj)"
        }
    }
}

/// An address as Lua prints it (`0x55d0c2a4e2a0`).
func pointerText(_ p: UnsafeRawPointer?) -> String { "0x" + String(UInt(bitPattern: p), radix: 16) }

/// `tostring` of any Lua value without metamethod errors escaping (numbers, strings, booleans,
/// nil; other values by type and address).
func luaToString(_ L: OpaquePointer, _ i: Int32) -> String {
    switch lua_type(L, i) {
    case LUA_TNIL: return "nil"
    case LUA_TBOOLEAN: return lua_toboolean(L, i) != 0 ? "true" : "false"
    case LUA_TNUMBER:
        if lua_isinteger(L, i) != 0 { return String(lua_tointegerx(L, i, nil)) }
        // Lua's own float formatting: %.14g, plus ".0" when that looks like an integer.
        let v = lua_tonumberx(L, i, nil)
        let s = String(format: "%.14g", v)
        return s.contains(where: { $0 == "." || $0 == "e" || $0 == "n" || $0 == "i" }) ? s : s + ".0"
    case LUA_TSTRING: return String(cString: lua_tolstring(L, i, nil))
    case LUA_TUSERDATA:
        let a = LuaArgs(L, function: "tostring")
        if a.dollObject(i) != nil { return LuaModule.describe(a, i) }
        if let name = a.userdataTypeName(i) { return "\(name): \(pointerText(lua_topointer(L, i)))" }
        fallthrough
    default:
        return "\(String(cString: lua_typename(L, lua_type(L, i)))): \(pointerText(lua_topointer(L, i)))"
    }
}
