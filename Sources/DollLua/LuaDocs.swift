import DollExplain
import Foundation

/// Documentation of one Lua-visible `doll` function, userdata method or field.
public struct LuaDoc: Sendable {
    /// The name the function is registered under (`doll.phantoms`, `doll.png.heatmap`,
    /// `Tensor:sum`), or the field's path (`doll.version`).
    public let name: String
    /// Argument order and result. It begins with `name`: methods are written `Type:method(...)`,
    /// the receiver standing for any value of that type.
    public let signature: String
    public let summary: String
    /// Keys of the options table the function accepts (empty: it takes none).
    public let options: [String]

    public init(_ name: String, _ signature: String, _ summary: String, options: [String] = []) {
        self.name = name; self.signature = signature; self.summary = summary; self.options = options
    }
}

/// The single source of `doll` documentation: `:help`, completion of option keys, and the
/// options each binding accepts (`LuaArgs.options(_:)`).
public enum LuaDocs {
    public static func doc(_ name: String) -> LuaDoc? { byName[name] ?? addedDoc(name) }

    /// The options `function` accepts (empty when it takes none or is undocumented).
    public static func options(for function: String) -> [String] { doc(function)?.options ?? [] }

    /// Everything documented: the built-in module plus functions added by higher layers
    /// (`LuaState.addFunction`, e.g. `doll.study`).
    public static var all: [LuaDoc] {
        extensionLock.lock(); defer { extensionLock.unlock() }
        return builtin + extensions
    }

    private static let extensionLock = NSLock()
    nonisolated(unsafe) private static var extensions: [LuaDoc] = []

    static func addExtension(_ d: LuaDoc) {
        extensionLock.lock(); defer { extensionLock.unlock() }
        if !extensions.contains(where: { $0.name == d.name }) { extensions.append(d) }
    }

    private static func addedDoc(_ name: String) -> LuaDoc? {
        extensionLock.lock(); defer { extensionLock.unlock() }
        return extensions.first { $0.name == name }
    }

    /// Keys of one entry of the `series` list of `doll.plot.line` and `doll.plot.bar`.
    static let seriesKeys = ["name", "x", "y"]

    private static let byName = Dictionary(builtin.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

    private static let trainer = [
        "epochs", "batch", "lr", "optimizer", "seed", "val", "weight_decay", "patience", "schedule", "warmup", "clip",
        "micro_batches", "checkpoint", "resume",
    ]
    private static let trainerSignature =
        "epochs=5, batch=16, lr=1e-3, optimizer=\"adam\", seed=0, val, weight_decay=0, patience, schedule=\"constant\", warmup=0, clip, micro_batches=1, checkpoint, resume=false"
    private static let trainerSummary =
        "Trains with the Trainer (optimizer adam, adamw or sgd; schedule constant or cosine; warmup in steps; clip = gradient-norm limit; patience = epochs without improvement of the validation metric before stopping early; micro_batches splits each batch into parts whose gradients are summed, as N ranks under mpirun do; checkpoint is a directory that gets best.safetensors and, after every epoch, last.safetensors; resume = true continues from last.safetensors to the same end as an uninterrupted run) and returns the history: one {epoch, loss, lr, seconds, val_<metric>…} per epoch plus best_epoch and stopped_early."

    /// The `doll` module's own functions, methods and fields.
    public static let builtin: [LuaDoc] =
        tensors + data + models + explainers + pictures + session + fields + tensorMethods + objectMethods

    private static let tensors: [LuaDoc] = [
        LuaDoc(
            "doll.tensor", "doll.tensor(values) → Tensor",
            "A float tensor from a nested table of numbers (rows of equal length, at most 8 levels); a plain number gives a scalar."
        ),
        LuaDoc(
            "doll.zeros", "doll.zeros(shape) → Tensor",
            "A tensor of zeros; shape is sizes (doll.zeros(2, 3)) or a table ({2, 3}), at most 8 dimensions."),
        LuaDoc(
            "doll.ones", "doll.ones(shape) → Tensor",
            "A tensor of ones; shape is sizes (doll.ones(2, 3)) or a table ({2, 3}), at most 8 dimensions."),
        LuaDoc(
            "doll.full", "doll.full(shape, value) → Tensor",
            "A tensor filled with value; shape is a table, e.g. doll.full({2, 3}, 0.5)."),
        LuaDoc(
            "doll.randn", "doll.randn(shape, {seed, mean=0, std=1}) → Tensor",
            "Normally distributed values; options need a table shape, e.g. doll.randn({2, 3}, {seed=1}). Without seed each call takes the next default seed (see doll.seed).",
            options: ["seed", "mean", "std"]),
        LuaDoc(
            "doll.rand", "doll.rand(shape, {seed, low=0, high=1}) → Tensor",
            "Uniform values in [low, high); options need a table shape, e.g. doll.rand({2, 3}, {seed=1}). Without seed each call takes the next default seed (see doll.seed).",
            options: ["seed", "low", "high"]),
        LuaDoc(
            "doll.arange", "doll.arange(start, stop, step=1) → Tensor",
            "The 1-D tensor start, start + step, … below stop; doll.arange(n) counts 0 … n − 1."),
        LuaDoc(
            "doll.seed", "doll.seed(n)",
            "Sets the default seed (0 … 2^31 − 1): the next doll.randn or doll.rand without a seed option uses n + 1, the one after n + 2, and so on."
        ),
        LuaDoc(
            "doll.save", "doll.save(path, {name = Tensor, …})",
            "Writes the named tensors to a safetensors file."),
        LuaDoc(
            "doll.load", "doll.load(path) → Classifier | UNet | {name = Tensor}",
            "Reads a safetensors file: a model written by Classifier:save or UNet:save comes back as that model, any other file as a table of its tensors."
        ),
    ]

    private static let data: [LuaDoc] = [
        LuaDoc(
            "doll.phantoms",
            "doll.phantoms{n=256, size=128, seed=1, difficulty=0.5, first=0, noise=0.02, infection=0.2} → Dataset",
            "n synthetic chest radiographs [1, size, size] in [0, 1] (generator samples first … first + n − 1) with the 14 CheXpert labels and masks of the anatomy, infection and each finding. difficulty runs from 0 (conspicuous) to 1 (subtle), noise is the pixel-noise std at difficulty 0.5, infection the probability of COVID-like opacities.",
            options: ["n", "size", "seed", "difficulty", "first", "noise", "infection"]),
        LuaDoc(
            "doll.chexpert", "doll.chexpert{csv, root, policy=\"ones\", frontal=true, size=224} → Dataset",
            "CheXpert from its train.csv or valid.csv (csv is required), images read under root (default: the CSV's folder) and resized to size × size. policy maps uncertain labels (ones, zeros or ignore); frontal keeps frontal views only.",
            options: ["csv", "root", "policy", "frontal", "size"]),
        LuaDoc(
            "doll.labelcsv",
            "doll.labelcsv{csv, root, split, classes, exclude, size=224, path_column=\"Path\"} → Dataset",
            "Images listed in a CSV with 0/1 label columns (csv is required; images under root, default the CSV's folder). classes picks the label columns (default: every all-0/1 column not in exclude); split keeps rows whose split column has that value.",
            options: ["csv", "root", "split", "classes", "exclude", "size", "path_column"]),
        LuaDoc(
            "doll.folder", "doll.folder{root, size=256} → Dataset",
            "A plain folder of PNG and JPEG images of any sizes, each fitted to size² (no labels or masks): for exploring one's own radiographs with a trained classifier and its explanations.",
            options: ["root", "size"]),
        LuaDoc(
            "doll.segdata", "doll.segdata{root, size=256, layout=\"folder\", fold, filter, split=\"Test\"} → Dataset",
            "Images with masks [1, size, size] (root is required). layout folder reads images/<id>.png and masks/<structure>/<id>.png, keeping the rows of its split.csv or metadata.csv with fold = k or filter = {column, value}; layout covidquex reads COVID-QU-Ex's split folder.",
            options: ["root", "size", "fold", "filter", "layout", "split"]),
    ]

    private static let models: [LuaDoc] = [
        LuaDoc(
            "doll.classifier",
            "doll.classifier{arch=\"resnet\", widths={32, 64, 128, 256}, blocks={2, 2, 2, 2}, width, classes=doll.observations, in_channels=1, seed=0} → Classifier",
            "A ResNet multi-label classifier with one output per class; width = w means widths {w, 2w, 4w, 8w}, and blocks of another length than widths repeats its first entry. classes is a list of names or \"chexpert\" / \"nih\".",
            options: ["arch", "widths", "blocks", "classes", "seed", "width", "in_channels"]),
        LuaDoc(
            "doll.unet",
            "doll.unet{classes, structures, widths={16, 32, 64, 128}, width, encoder, from, seed=0, upsampling=\"transposed\"} → UNet",
            "A U-Net segmenter with classes output channels (default: one per structure, at least 1). encoder = a Classifier reuses its ResNet trunk and weights (widths then ignored); from = a U-Net (or encoder = a U-Net) copies all its weights but the output head, which is new, for these structures (DoLL pre-training → fine-tuning); otherwise width = w means widths {w, 2w, 4w, 8w}. upsampling is transposed (UNetCXR's 2×2 transposed convolutions) or bilinear (bilinear ×2 then a 3×3 convolution: no checkerboard).",
            options: ["widths", "width", "classes", "structures", "encoder", "from", "seed", "upsampling"]),
    ]

    /// Each explainer's entry comes from its `ExplainerSpec` (the explainer's own file).
    private static let explainers: [LuaDoc] =
        Explainers.all.map {
            LuaDoc("doll.\($0.name)", $0.signature, $0.summary, options: $0.options)
        } + [
            LuaDoc(
                "doll.labels",
                "doll.labels({classifier, …}, dataset, {explainer=\"ig\", steps=32, sigma=2, threshold=\"p95\", positives=\"labels\", cutoff=0.5, min_component=4, keep=2, restrict, sign=\"absolute\", n}) → Labels",
                "DoLL labels for the first n images (default all): per image a binary [C, H, W] mask and a soft consensus map of the classifiers' attributions, filled for positive observations (positives = labels, or predicted: mean probability above cutoff). explainer is ig, saliency, smoothgrad, gradcam or occlusion (steps: IG steps); sigma smooths in px (0: none); threshold is otsu, pNN (percentile) or a fraction of the max like \"0.5\"; components under min_component px go and the keep largest stay (0: all); restrict names a dataset structure such as lungs; sign is absolute or positive. labels[i] is {id, mask, soft}.",
                options: [
                    "explainer", "steps", "threshold", "sigma", "positives", "cutoff", "min_component", "keep",
                    "restrict", "sign", "n",
                ]),
            LuaDoc(
                "doll.pointing", "doll.pointing(map, mask, tolerance=0) → boolean",
                "Pointing game: whether the map's maximum lies in the mask (values > 0.5) within tolerance px; map and mask are [H, W] or [1, H, W] of the same size."
            ),
            LuaDoc(
                "doll.localization", "doll.localization(map, mask) → {pointing, auprc, energy, dice, iou, chance}",
                "Scores an attribution map against a mask of the same size: pointing hit (1 or 0), AUPRC of the map ranking mask pixels, fraction of |map| inside the mask, Dice and IoU of the map's top 5 % pixels, and chance = the fraction of the image the mask covers."
            ),
        ]

    private static let pictures: [LuaDoc] = [
        LuaDoc(
            "doll.png.write", "doll.png.write(image, path)",
            "Writes a gray image [H, W] or [1, H, W], values clamped to [0, 1], as an 8-bit PNG (a JPEG of quality 90 when the path ends in .jpg or .jpeg)."
        ),
        LuaDoc(
            "doll.png.montage", "doll.png.montage(path, {picture, …}, {columns, titles, title})",
            "Writes pictures side by side in a grid: gray images [H, W] or [1, H, W], or PNG files (heatmaps, overlays, plots); titles has one per picture.",
            options: ["columns", "titles", "title"]),
        LuaDoc(
            "doll.png.read", "doll.png.read(path) → Tensor",
            "Reads a PNG or JPEG as a gray image [1, H, W] in [0, 1]."),
        LuaDoc(
            "doll.png.heatmap",
            "doll.png.heatmap(attribution, path, {over, cmap, sign=\"absolute\", clip=2, alpha=0.6, title, colorbar=true, scale})",
            "Writes an attribution (channels summed) as a colour PNG, blended with opacity alpha over the image over when given. sign is absolute, positive, negative or all; clip is the percent of largest magnitudes that saturate (0 ≤ clip < 50); cmap is viridis, inferno, magma, plasma, turbo, gray or RdBu_r (default inferno, RdBu_r for sign all). The figure has a colour bar labelled with the attribution values at its ends (colorbar = false drops it), an optional title, and is enlarged by scale (default: to at least 256 px).",
            options: ["over", "cmap", "sign", "clip", "alpha", "title", "colorbar", "scale"]),
        LuaDoc(
            "doll.png.overlay", "doll.png.overlay(image, {name = mask, …}, path, {alpha=0.35})",
            "Writes the image with each mask (pixels > 0.5) drawn as a translucent fill of opacity alpha and a contour in its own colour, with a legend of the names beside it (images under 256 px are enlarged first, nearest neighbour).",
            options: ["alpha"]),
        LuaDoc(
            "doll.plot.line",
            "doll.plot.line(path, {series, title, xlabel, ylabel, logx=false, logy=false, width=640, height=420})",
            "Writes a line chart PNG; series (required) is { {name=, x={…}, y={…}}, … } with x defaulting to 1 … #y; logx/logy make an axis logarithmic (values > 0, e.g. losses); width and height are in pixels.",
            options: ["series", "title", "xlabel", "ylabel", "logx", "logy", "width", "height"]),
        LuaDoc(
            "doll.plot.bar", "doll.plot.bar(path, {categories, series, title, xlabel, ylabel})",
            "Writes a grouped bar chart PNG; categories (required) names the groups and series (required) is { {name=, y={…}}, … } with one y value per category.",
            options: ["categories", "series", "title", "xlabel", "ylabel"]),
    ]

    private static let session: [LuaDoc] = [
        LuaDoc(
            "doll.mpi.rank", "doll.mpi.rank() → integer", "This process's rank in the mpirun job (0 when run alone)."),
        LuaDoc(
            "doll.mpi.size", "doll.mpi.size() → integer", "How many processes the mpirun job has (1 when run alone)."),
        LuaDoc(
            "doll.mpi.wtime", "doll.mpi.wtime() → number", "Wall-clock time in seconds (for timing; works alone too)."),
        LuaDoc(
            "doll.mpi.seconds", "doll.mpi.seconds() → number",
            "Seconds this process has spent in collective calls (allreduce, gather, broadcast, barrier) so far; 0 alone."
        ),
        LuaDoc(
            "doll.mpi.barrier", "doll.mpi.barrier()", "Waits until every rank has called it (nothing when run alone)."),
        LuaDoc(
            "doll.mpi.allreduce", "doll.mpi.allreduce(value) → number or Tensor",
            "The sum over the ranks of a number or a tensor (the same shape on every rank); the value itself when run alone. Every rank must call it."
        ),
        LuaDoc(
            "doll.session.save", "doll.session.save(name) → {path, globals, skipped, bytes}",
            "Saves the data globals (those not present at start-up) atomically to a session: a name goes into the sessions directory, a path (with / or ending in .dollsession) is used as it is. Returns the path, the saved globals, the values skipped and the size in bytes."
        ),
        LuaDoc(
            "doll.session.load", "doll.session.load(name) → {path, globals, skipped}",
            "Restores the globals of a saved session (default: the last one saved) without running Lua code; returns the path, the restored globals and the values skipped."
        ),
        LuaDoc(
            "doll.session.list", "doll.session.list() → {names}",
            "The names of the sessions in the sessions directory, sorted."),
    ]

    private static let fields: [LuaDoc] = [
        LuaDoc(
            "doll.observations", "doll.observations",
            "The 14 CheXpert observation names in CSV column order (the default classifier classes)."),
        LuaDoc("doll.nih_findings", "doll.nih_findings", "The 14 NIH ChestX-ray14 finding names in label-file order."),
        LuaDoc("doll.version", "doll.version", "The version of the doll module, a string."),
    ]

    private static let tensorMethods: [LuaDoc] =
        [
            ("exp", "e^x"), ("log", "the natural logarithm"), ("sqrt", "the square root"),
            ("abs", "the absolute value"),
            ("relu", "max(x, 0)"), ("sigmoid", "1 / (1 + e^−x)"), ("tanh", "the hyperbolic tangent"), ("neg", "−x"),
            ("square", "x²"),
        ].map { name, what in LuaDoc("Tensor:\(name)", "Tensor:\(name)() → Tensor", "Element-wise \(what).") }
        + [
            ("gt", ">"), ("lt", "<"), ("ge", "≥"), ("le", "≤"), ("eq", "="),
        ].map { name, op in
            LuaDoc(
                "Tensor:\(name)", "Tensor:\(name)(other) → Tensor",
                "1 where self \(op) other, else 0; other is a tensor (broadcast) or a number.")
        } + [
            LuaDoc("Tensor:clone", "Tensor:clone() → Tensor", "A copy, detached from autograd."),
            LuaDoc("Tensor:shape", "Tensor:shape() → {sizes}", "The sizes of all axes as a table."),
            LuaDoc(
                "Tensor:size", "Tensor:size(axis) → integer | {sizes}",
                "The size of axis (1-based, negative from the end), or the shape without an axis."),
            LuaDoc("Tensor:dim", "Tensor:dim() → integer", "The number of axes."),
            LuaDoc("Tensor:numel", "Tensor:numel() → integer", "The number of elements."),
            LuaDoc("Tensor:item", "Tensor:item() → number", "The value of a one-element tensor."),
            LuaDoc(
                "Tensor:reshape", "Tensor:reshape(shape) → Tensor",
                "The same values in a new shape (sizes or a table); one size may be −1 (inferred)."),
            LuaDoc("Tensor:view", "Tensor:view(shape) → Tensor", "The same as Tensor:reshape."),
            LuaDoc(
                "Tensor:sum", "Tensor:sum(axis, keepdims=false) → Tensor",
                "The sum of all elements (a scalar tensor), or along axis (1-based, negative from the end)."),
            LuaDoc(
                "Tensor:mean", "Tensor:mean(axis, keepdims=false) → Tensor",
                "The mean of all elements (a scalar tensor), or along axis (1-based, negative from the end)."),
            LuaDoc(
                "Tensor:max", "Tensor:max(axis) → Tensor [, Tensor]",
                "The largest element (a scalar tensor), or along axis the maxima and their 1-based indices."),
            LuaDoc(
                "Tensor:resize", "Tensor:resize(height, width, {mode=\"bilinear\"|\"nearest\"}) → Tensor",
                "An image [H, W], [C, H, W] or batch [N, C, H, W] resized (bilinear, or nearest for masks)."),
            LuaDoc(
                "Tensor:min", "Tensor:min(axis) → Tensor [, Tensor]",
                "The smallest element (a scalar tensor), or along axis the minima and their 1-based indices."),
            LuaDoc("Tensor:pow", "Tensor:pow(exponent) → Tensor", "Element-wise x^exponent for a number exponent."),
            LuaDoc(
                "Tensor:softmax", "Tensor:softmax(axis=-1) → Tensor",
                "Softmax along axis (1-based, negative from the end)."),
            LuaDoc(
                "Tensor:transpose", "Tensor:transpose(a=-2, b=-1) → Tensor",
                "Swaps axes a and b (default: the last two)."),
            LuaDoc(
                "Tensor:slice", "Tensor:slice(axis, first, last) → Tensor",
                "Elements first … last (1-based, inclusive; last defaults to the end) along axis."),
            LuaDoc(
                "Tensor:quantile", "Tensor:quantile(q) → number",
                "The q-quantile (q in [0, 1]) of all elements, interpolating linearly."),
            LuaDoc(
                "Tensor:totable", "Tensor:totable() → table", "The values as nested Lua tables (a number for a scalar)."
            ),
        ]

    private static let objectMethods: [LuaDoc] = [
        LuaDoc("Dataset:classes", "Dataset:classes() → {names}", "The label names (may be empty)."),
        LuaDoc(
            "Dataset:structures", "Dataset:structures() → {names}", "The mask names every sample has (may be empty)."),
        LuaDoc("Dataset:size", "Dataset:size() → integer", "The side of the square images in pixels."),
        LuaDoc(
            "Dataset:split", "Dataset:split(fraction, seed=0) → Dataset, Dataset",
            "A seeded random split: fraction (in (0, 1)) of the samples in the first dataset, the rest in the second."),
        LuaDoc(
            "Dataset:subset", "Dataset:subset(fraction, seed=0) → Dataset",
            "A seeded random subset with fraction (in (0, 1]) of the samples, at least one."),
        LuaDoc(
            "Dataset:images", "Dataset:images(first, last) → Tensor",
            "Images first … last (1-based, inclusive) stacked into [N, 1, size, size]."),
        LuaDoc(
            "Classifier:fit", "Classifier:fit(dataset, {\(trainerSignature)}) → history",
            "Trains on the dataset's labels with multi-label loss, validating on val (a Dataset) after each epoch. "
                + trainerSummary,
            options: trainer),
        LuaDoc(
            "Classifier:evaluate", "Classifier:evaluate(dataset) → {loss, auroc_mean, [\"auroc/<class>\"], …}",
            "The loss and per-class and mean AUROC on a labelled dataset."),
        LuaDoc(
            "Classifier:predict", "Classifier:predict(images, {names=false}) → Tensor | {{class, probability}, …}",
            "Class probabilities [N, C] for an image [1, H, W], a batch [N, 1, H, W] or a Dataset; with names = true, for one image, {class, probability} pairs from the most probable.",
            options: ["names"]),
        LuaDoc("Classifier:classes", "Classifier:classes() → {names}", "The class names, in output order."),
        LuaDoc(
            "Classifier:parameters", "Classifier:parameters() → {name = Tensor}",
            "The trainable parameters by their PyTorch names (copies). print(clf) lists the stages with output shapes and parameter counts."
        ),
        LuaDoc(
            "UNet:parameters", "UNet:parameters() → {name = Tensor}",
            "The trainable parameters by their PyTorch names (copies)."),
        LuaDoc(
            "Classifier:load", "Classifier:load(path) → self",
            "Reads weights into this classifier from a safetensors state dict: a doll file or a plain PyTorch state_dict (same names); all or nothing, a mismatch names the tensor."
        ),
        LuaDoc(
            "UNet:load", "UNet:load(path) → self",
            "Reads weights into this U-Net from a safetensors state dict (doll or PyTorch names); all or nothing, a mismatch names the tensor."
        ),
        LuaDoc(
            "Classifier:save", "Classifier:save(path)",
            "Writes the weights and configuration to a safetensors file (read back with doll.load)."),
        LuaDoc(
            "UNet:fit",
            "UNet:fit(dataset | labels, {\(trainerSignature), structures, fraction, augment=false}) → history",
            "Trains on a Dataset's masks (structures picks them, default the U-Net's own or the dataset's first ones; fraction trains on a seeded subset; val validates) or on DoLL Labels (their classes; structures, fraction and val unused). augment = true draws a new radiograph augmentation per image and epoch from seed (rotation ±10°, scale ±10 %, shifts, brightness, contrast, gamma, blur, noise; the masks move with the image; never a left/right flip). "
                + trainerSummary,
            options: trainer + ["structures", "fraction", "augment"]),
        LuaDoc(
            "UNet:evaluate",
            "UNet:evaluate(dataset, {structures}) → {loss, dice_mean, iou_mean, [\"dice/<structure>\"], …}",
            "The loss and per-structure and mean Dice and IoU on a dataset's masks (structures as for UNet:fit).",
            options: ["structures"]),
        LuaDoc(
            "UNet:predict", "UNet:predict(image) → Tensor",
            "Probabilities [N, C, H, W] for an image [1, H, W] or a batch [N, 1, H, W]."),
        LuaDoc(
            "UNet:save", "UNet:save(path)",
            "Writes the weights, configuration and structure names to a safetensors file (read back with doll.load)."),
        LuaDoc(
            "Explainer:attribute", "Explainer:attribute(image, target) → Tensor [, {delta}]",
            "Attributions of the target (a class of a classifier, or a structure of a U-Net: a name or 1-based index) for an image [1, H, W] or a batch [N, 1, H, W], in the image's shape (one channel for Grad-CAM). A U-Net structure's score is its logits summed over the region the U-Net segments in the image. Integrated Gradients also returns each example's completeness delta."
        ),
        LuaDoc(
            "Labels:write", "Labels:write(directory)",
            "Writes images/<id>.png, masks/<class>/<id>.png (0 or 255; class names made file-system safe) and manifest.json, readable with doll.segdata{root=directory}."
        ),
        LuaDoc("Labels:classes", "Labels:classes() → {names}", "The class names of the mask channels."),
        LuaDoc(
            "doll.generator", "doll.generator([seed]) → Generator",
            "A seeded random stream of its own, independent of the doll.seed stream (default seed: the next of doll.seed's). A session saves its seed and draws and resumes the same stream."
        ),
        LuaDoc(
            "Generator:uniform", "Generator:uniform([low=0, high=1]) → number",
            "A number uniform in [low, high) (53 random bits)."),
        LuaDoc("Generator:normal", "Generator:normal([mean=0, std=1]) → number", "A normal number (Box–Muller)."),
        LuaDoc(
            "Generator:integer", "Generator:integer(low, high) → integer",
            "An integer uniform in low…high, both included (no modulo bias)."),
        LuaDoc(
            "Generator:permutation", "Generator:permutation(n) → {integers}", "1…n in a random order (Fisher–Yates)."),
        LuaDoc(
            "Generator:rand", "Generator:rand(shape) → Tensor",
            "A tensor of numbers uniform in [0, 1); the shape as sizes or a table."),
        LuaDoc(
            "Generator:randn", "Generator:randn(shape) → Tensor",
            "A tensor of standard normal numbers; the shape as sizes or a table."),
        LuaDoc("Generator:seed", "Generator:seed() → integer", "The seed the generator was made with."),
        LuaDoc(
            "Generator:draws", "Generator:draws() → integer",
            "How many 64-bit words it has drawn (with the seed, its whole state)."),
    ]
}
