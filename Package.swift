// swift-tools-version: 6.0
import PackageDescription

/// DoLL Workbench: explanation-driven pre-training of chest-radiograph segmenters.
/// Targets are layered bottom to top; see ../shared/DESIGN.md. Arrows point down only.
let package = Package(
    name: "DollWorkbench",
    products: [
        .executable(name: "doll", targets: ["doll"]),
        .library(name: "DollTensor", targets: ["DollTensor"]),
        .library(name: "DollNN", targets: ["DollNN"]),
        .library(name: "DollData", targets: ["DollData"]),
        .library(name: "DollLua", targets: ["DollLua"]),
        .library(name: "DollViz", targets: ["DollViz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // System libraries (Debian packages installed by scripts/setup.sh).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CReadline", pkgConfig: "readline", providers: [.apt(["libreadline-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),

        // Native kernels behind a C API: oneDNN convolutions (C++ inside; Debian's libdnnl-dev, no
        // pkg-config file), parallel loops on oneDNN's OpenMP team (libgomp), vectorised loops.
        .target(name: "CDollKernels", linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
        // Engine: tensors, kernels, autodiff, RNG, safetensors.
        .target(name: "DollTensor", dependencies: ["CBLAS", "CDollKernels"]),
        // C helpers that catch libjpeg's longjmp (and, later, raise Lua errors from C).
        .target(name: "CDollSupport", dependencies: ["CJPEG", "CLua", "CPNG"]),
        // Image codecs, datasets, CheXpert/segmentation loaders, phantoms, augmentation.
        .target(name: "DollData", dependencies: ["DollTensor", "CPNG", "CDollSupport"]),
        // Pictures: colormaps, heatmaps, mask overlays, montages, bitmap text, charts, to PNG.
        .target(name: "DollViz", dependencies: ["DollTensor", "DollData"]),
        // Layers, models, losses, optimizers, trainer, metrics.
        .target(name: "DollNN", dependencies: ["DollTensor"]),
        // Attribution methods, DoLL labels, localization scores.
        .target(name: "DollExplain", dependencies: ["DollNN", "DollData", "DollTensor"]),
        // The DoLL study end to end and its report.
        .target(name: "DollPipeline", dependencies: ["DollTensor", "DollData", "DollNN", "DollExplain", "DollViz"]),
        // The `doll` Lua module: userdata and functions over every Swift capability.
        .target(
            name: "DollLua",
            dependencies: ["CDollSupport", "CLua", "DollTensor", "DollData", "DollNN", "DollExplain", "DollViz"]),

        // readline's callback interface behind a small C API (Ctrl-C cancels the line).
        .target(name: "CLineEditor", dependencies: ["CReadline", "CDollSupport"]),
        // The interactive side: REPL, notebooks and their reports, sessions.
        .target(
            name: "DollWorkbench",
            dependencies: [
                "DollLua", "DollPipeline", "DollExplain", "DollNN", "DollViz", "DollTensor", "CLua", "CLineEditor",
                "CDollSupport",
            ]),

        // Open MPI behind plain C functions (its handles are macros), and the process group
        // that makes training data-parallel and labelling sharded under mpirun.
        .target(name: "CDollMPI", dependencies: ["CMPI"]),
        .target(name: "DollMPI", dependencies: ["DollNN", "CDollMPI"]),

        // Command-line entry point.
        .executableTarget(
            name: "doll",
            dependencies: [
                "CDollSupport",
                "DollTensor",
                "DollNN",
                "DollData",
                "DollExplain",
                "DollLua",
                "DollPipeline",
                "DollWorkbench",
                "DollMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Helpers every test target shares: the ../shared fixtures, seeded tensors, gradCheck.
        .target(name: "DollTestSupport", dependencies: ["DollTensor"], path: "Tests/DollTestSupport"),
        .testTarget(name: "DollTensorTests", dependencies: ["DollTensor", "CDollKernels", "DollTestSupport"]),
        .testTarget(name: "DollNNTests", dependencies: ["DollNN", "DollTensor", "DollTestSupport"]),
        .testTarget(name: "DollDataTests", dependencies: ["DollData", "DollTensor", "DollTestSupport"]),
        .testTarget(
            name: "DollExplainTests",
            dependencies: ["DollExplain", "DollNN", "DollData", "DollTensor", "DollTestSupport"]),
        .testTarget(name: "DollVizTests", dependencies: ["DollViz", "DollData", "DollTensor", "DollTestSupport"]),
        .testTarget(name: "DollLuaTests", dependencies: ["DollLua", "DollTensor", "CLua", "DollTestSupport"]),
        .testTarget(
            name: "DollPipelineTests",
            dependencies: ["DollPipeline", "DollExplain", "DollData", "DollNN", "DollTensor", "DollTestSupport"]),
        .testTarget(
            name: "DollWorkbenchTests",
            dependencies: ["DollWorkbench", "DollLua", "DollPipeline", "DollData", "DollTensor", "DollTestSupport"]),
        .testTarget(name: "SystemLibraryTests", dependencies: ["CLua", "CPNG", "CJPEG", "CReadline", "CBLAS"]),
    ]
)
