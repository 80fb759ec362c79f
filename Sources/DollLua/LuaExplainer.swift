import CLua
import DollData
import DollExplain
import DollNN
import DollTensor
import Foundation

/// An attribution method bound to a model (a classifier's classes or a U-Net's structures).
public final class ExplainerBox {
    public let attributor: Attributor
    public let kind: String
    let recipe: LuaRecipe?
    init(_ a: Attributor, kind: String, recipe: LuaRecipe?) {
        attributor = a
        self.kind = kind
        self.recipe = recipe
    }
}

extension ExplainerBox: LuaObject {
    static let luaName = "doll.Explainer"

    var luaDescription: String {
        let m = attributor.model
        let what = m is ResNetClassifier ? "classifier" : "U-Net"
        return
            "Explainer: \(kind) on a \(what) with \(m.targetNames.count) \(m.targetKind)\(m.targetNames.count == 1 ? "" : "s") (\(m.targetNames.prefix(4).joined(separator: ", "))\(m.targetNames.count > 4 ? ", …" : ""))"
    }

    var workspaceDetail: (text: String, bytes: Int) { (kind, 0) }

    /// `doll.<name>(model, {options})` for every explainer in `Explainers.all`; the model is a
    /// Classifier or a U-Net (its structures are the targets).
    static func builders() -> [(String, Int32)] {
        Explainers.all.map { spec in
            builder(spec.name) { a in
                let model = try explainedModel(a, 1)
                let attributor = try spec.make(model, try a.options(2))
                a.push(object: ExplainerBox(attributor, kind: spec.name, recipe: a.recipe()))
                return 1
            }
        }
    }

    /// The model at argument `i` as explainers see it.
    static func explainedModel(_ a: LuaArgs, _ i: Int32) throws -> ExplainedModel {
        if let u = try? a.object(i, UNetBox.self, "model") {
            do { return try SegmenterOutput(u.model, structures: u.structures) } catch let e as DollError {
                throw LuaBindingError(e.message + " (set them with doll.unet{structures = …} or seg:fit)")
            }
        }
        return try a.object(i, ClassifierBox.self, "model (a Classifier or a UNet)").model
    }

    static func methods() -> [String: Int32] {
        methodTable([
            method("attribute") { a in
                let ex = try a.object(1, ExplainerBox.self, "self")
                let x = try LuaTensor.tensor(a, 2, "image")
                let names = ex.attributor.model.targetNames
                let target: AttributionTarget
                if a.type(3) == LUA_TSTRING {
                    target = .name(try a.string(3, "target"))
                } else {
                    target = .index(try a.integer(3, "target (1-based index or name)", in: 1...names.count) - 1)
                }
                let r = try ex.attributor.attribute(x, target: target)
                _ = LuaTensor.push(a, x.rank == 3 ? try r.attributions.squeezed(0) : r.attributions)
                guard let delta = r.delta else { return 1 }
                a.push(array: delta.map(Double.init))
                return 2
            }
        ])
    }

    // MARK: sessions: the recipe (model and options)

    static let sessionType = "explainer"
    static var sessionBuilders: [String] { Explainers.all.map { "doll." + $0.name } }

    func sessionRecord(
        _ session: inout LuaSession.Encoder, id: String, path: String,
        summary: inout LuaSession.Summary
    ) throws -> [String: Any]? {
        try session.recipeRecord(
            recipe, ["kind": kind], path: path, summary: &summary, missing: "explainer without a recipe")
    }

    static func restorer(_ record: LuaSession.Record) throws -> LuaSession.Restorer { try record.recipeRestorer() }
}

/// Lua option tables give explainers their options.
extension LuaOptions: ExplainerOptions {
    public func tensor(_ key: String) throws -> Tensor? { try object(key, TensorBox.self)?.t }

    public func kind(_ key: String) -> ExplainerOptionKind {
        switch type(key) {
        case LUA_TNIL, LUA_TNONE: return .absent
        case LUA_TNUMBER: return .number
        case LUA_TSTRING: return .string
        case LUA_TBOOLEAN: return .boolean
        case LUA_TUSERDATA: return .tensor
        default: return .other
        }
    }
}
