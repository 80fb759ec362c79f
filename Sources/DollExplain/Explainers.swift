import DollTensor

/// Options given to an explainer by name (Lua's option tables implement this).
public protocol ExplainerOptions {
    func number(_ key: String) throws -> Double?
    func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int?
    func string(_ key: String) throws -> String?
    func bool(_ key: String) throws -> Bool?
    /// One of `allowed`, or nil when absent (an error naming the choices otherwise).
    func choice(_ key: String, _ allowed: [String]) throws -> String?
    func tensor(_ key: String) throws -> Tensor?
    /// The kind of value given for `key`.
    func kind(_ key: String) -> ExplainerOptionKind
}

public enum ExplainerOptionKind: Sendable { case absent, number, string, boolean, tensor, other }

/// An explainer as users reach it: its name (`doll.<name>` in Lua), documentation and how it is
/// built for a model from options. One per explainer file; `Explainers.all` lists them.
public struct ExplainerSpec: Sendable {
    public let name: String
    /// `doll.<name>(model, {options}) → Explainer`, with the defaults.
    public let signature: String
    public let summary: String
    /// Keys of the options table.
    public let options: [String]
    public let make: @Sendable (ExplainedModel, ExplainerOptions) throws -> Attributor

    public init(
        name: String, signature: String, summary: String, options: [String] = [],
        make: @escaping @Sendable (ExplainedModel, ExplainerOptions) throws -> Attributor
    ) {
        self.name = name
        self.signature = signature
        self.summary = summary
        self.options = options
        self.make = make
    }
}

/// Every explainer reachable from Lua. A new explainer is one file (its class and spec) plus
/// one line here.
public enum Explainers {
    public static let all: [ExplainerSpec] = [
        IntegratedGradients.spec,
        Saliency.spec,
        InputXGradient.spec,
        NoiseTunnel.spec,
        GradCAM.spec,
        Occlusion.spec,
    ]

    public static func spec(named name: String) -> ExplainerSpec? { all.first { $0.name == name } }
}

/// The `output` option shared by gradient methods.
func outputOption(_ o: ExplainerOptions) throws -> AttributionOutput {
    AttributionOutput(rawValue: try o.choice("output", ["logit", "probability"]) ?? "logit")!
}

/// The `seed` option.
func seedOption(_ o: ExplainerOptions) throws -> UInt64 {
    UInt64(try o.integer("seed", in: 0...Int(Int32.max)) ?? 0)
}
