import Foundation
import Testing
@testable import DollLua

extension LuaTests {
    /// `LuaDocs` against the live module. Nested in `LuaTests` to share its serial execution
    /// (Lua states are not created concurrently).
    @Suite("doll documentation")
    struct Docs {
        static let fields: Set<String> = ["doll.observations", "doll.nih_findings", "doll.version"]

        /// The live functions (`doll.x`, `doll.png.x`, and `Type:method` from every registered
        /// metatable's `__methods`), the other fields of `doll`, and the userdata type names.
        func liveNames(_ lua: LuaState) throws -> (functions: Set<String>, fields: Set<String>, types: Set<String>) {
            let listing = try lua.evaluate(
                """
                (function()
                  local functions, fields, types = {}, {}, {}
                  local function hasFunctions(t)
                    for _, v in pairs(t) do if type(v) == "function" then return true end end
                    return false
                  end
                  local function walk(t, prefix)
                    for k, v in pairs(t) do
                      local name = prefix .. "." .. k
                      if type(v) == "function" then functions[#functions + 1] = name
                      elseif type(v) == "table" and hasFunctions(v) then walk(v, name)
                      else fields[#fields + 1] = name end
                    end
                  end
                  walk(doll, "doll")
                  for key, mt in pairs(debug.getregistry()) do
                    if type(key) == "string" and type(mt) == "table" and rawget(mt, "__methods") then
                      local typename = (key:gsub("^doll%.", ""))
                      types[#types + 1] = typename
                      for m in pairs(mt.__methods) do functions[#functions + 1] = typename .. ":" .. m end
                    end
                  end
                  return table.concat(functions, "\\n") .. "\\n--\\n" .. table.concat(fields, "\\n") .. "\\n--\\n" .. table.concat(types, "\\n")
                end)()
                """)
            let parts = listing.components(separatedBy: "\n--\n").map {
                Set($0.split(separator: "\n").map(String.init))
            }
            return (parts[0], parts[1], parts[2])
        }

        @Test func everyLiveFunctionAndMethodIsDocumentedAndNothingElse() throws {
            let live = try liveNames(try LuaState())
            #expect(live.types == Set(LuaTypes.all.map { String($0.luaName.dropFirst("doll.".count)) }))
            #expect(
                live.types.isSuperset(of: [
                    "Tensor", "Dataset", "Classifier", "UNet", "Explainer", "Labels", "Generator",
                ]))
            #expect(live.fields == Docs.fields)
            let documented = Set(LuaDocs.builtin.map(\.name))
            #expect(documented.count == LuaDocs.builtin.count, "duplicate doc entries")
            #expect(
                live.functions.subtracting(documented).isEmpty,
                "undocumented: \(live.functions.subtracting(documented).sorted())")
            #expect(
                documented.subtracting(live.functions).subtracting(Docs.fields).isEmpty,
                "documented but not registered: \(documented.subtracting(live.functions).subtracting(Docs.fields).sorted())"
            )
            for f in Docs.fields { #expect(LuaDocs.doc(f)?.options == [], "\(f)") }
            // each function is registered (and so reads its options) under its documented name
            let registered = LuaModule.registeredNames
            #expect(
                live.functions.subtracting(registered).isEmpty,
                "registered under another name: \(live.functions.subtracting(registered).sorted())")
        }

        /// Signatures begin with the documented name (`Tensor:sum(...)` for methods) and mention
        /// every option key; summaries are present.
        @Test func everyDocIsComplete() {
            for d in LuaDocs.builtin {
                #expect(d.signature.hasPrefix(d.name), "\(d.name): \(d.signature)")
                #expect(!d.summary.isEmpty && d.summary.hasSuffix("."), "\(d.name)")
                #expect(Set(d.options).count == d.options.count, "\(d.name): repeated option")
                let words = Set(d.signature.split { !($0.isLetter || $0.isNumber || $0 == "_") }.map(String.init))
                for o in d.options {
                    #expect(words.contains(o), "\(d.name): option '\(o)' missing from \(d.signature)")
                }
            }
            #expect(LuaDocs.doc("doll.phantoms")?.signature.hasSuffix("→ Dataset") == true)
            #expect(LuaDocs.doc("doll.nope") == nil && LuaDocs.options(for: "doll.nope") == [])
        }

        @Test(arguments: [
            ("doll.phantoms", "doll.phantoms{zzzzzzzzzz = 1}"),
            ("doll.ig", "doll.ig(doll.classifier{widths = {2, 4}, blocks = {1, 1}}, {zzzzzzzzzz = 1})"),
            (
                "Classifier:fit",
                "doll.classifier{widths = {2, 4}, blocks = {1, 1}}:fit(doll.phantoms{n = 2, size = 32}, {zzzzzzzzzz = 1})"
            ),
            ("UNet:fit", "doll.unet{widths = {2, 4}}:fit(doll.phantoms{n = 2, size = 32}, {zzzzzzzzzz = 1})"),
            ("doll.png.heatmap", "doll.png.heatmap(doll.zeros(1, 8, 8), 'unused.png', {zzzzzzzzzz = 1})"),
            ("doll.png.overlay", "doll.png.overlay(doll.zeros(1, 8, 8), {}, 'unused.png', {zzzzzzzzzz = 1})"),
            ("doll.saliency", "doll.saliency(doll.classifier{widths = {2, 4}, blocks = {1, 1}}, {zzzzzzzzzz = 1})"),
        ])
        func unknownOptionsListExactlyTheDocumentedOnes(name: String, code: String) throws {
            let lua = try LuaState()
            let options = LuaDocs.options(for: name).sorted().joined(separator: ", ")
            do {
                try lua.run(code)
                Issue.record("\(code) did not fail")
            } catch let e as LuaRunError {
                #expect(
                    e.message.contains("\(name): unknown option 'zzzzzzzzzz'; options are: \(options)")
                        && e.message.hasSuffix(options),
                    "\(e.message)")
            }
        }

        @Test func optionsOfAnUndocumentedFunctionAreAnErrorNamingIt() throws {
            let lua = try LuaState()
            do {
                _ = try LuaArgs(lua.L, function: "doll.undocumented").options(1)
                Issue.record("options(_:) did not fail")
            } catch let e as LuaBindingError {
                #expect(e.message.contains("doll.undocumented"))
            }
        }
    }
}
