// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "ConvLens",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "ConvLens", targets: ["ConvLens"]),
        .executable(name: "convlens", targets: ["convlens"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // SHA-256 of the model and input files in manifests.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The explorer's HTTP server (`convlens explore`); its traits (swift-configuration,
        // full Foundation) are not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // `make docs` (swift package generate-documentation); not linked into anything.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // C libraries, each behind a system-library target (DESIGN.md §2).
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Direct-convolution loops compiled for AVX2 + FMA with a portable fallback (chosen at run time).
        .target(name: "CConvLensKernels"),
        .target(name: "ConvLensCore", dependencies: ["CFFTW", "COpenBLAS", "CConvLensKernels"]),
        .target(name: "ConvLensImaging", dependencies: ["ConvLensCore", "CPNG", "CTurboJPEG"]),
        .target(
            name: "ConvLensGraph",
            dependencies: ["ConvLensCore", "CHDF5", "CZlib", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["ONNX/Generated/README.md"]),
        .target(name: "ConvLensProjection", dependencies: ["ConvLensCore", "ConvLensGraph"]),
        .target(
            name: "ConvLensExport",
            dependencies: ["ConvLensCore", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                           .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["TensorBoard/Generated/README.md", "TensorBoard/Generated/event.proto"]),
        .target(
            name: "ConvLens",
            dependencies: ["ConvLensCore", "ConvLensImaging", "ConvLensGraph", "ConvLensProjection", "ConvLensExport"],
            resources: [.copy("Resources")]),
        // `convlens explore`: the live explorer, a local web page served over HTTP (Docs/Explorer.md).
        .target(
            name: "ConvLensExplorer",
            dependencies: ["ConvLens", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "Logging", package: "swift-log"), .product(name: "HTTPTypes", package: "swift-http-types"),
                           .product(name: "NIOCore", package: "swift-nio")],
            resources: [.copy("Page")]),
        // `convlens bench`: the suite, its networks and ONNX writer, the machine-peak loop, the
        // explorer's rows and the transposed-convolution table. Linked by the CLI only.
        .target(
            name: "ConvLensBenchmarks",
            dependencies: ["ConvLens", "ConvLensExplorer", "CConvLensKernels", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .executableTarget(
            name: "convlens",
            dependencies: ["ConvLens", "ConvLensExplorer", "ConvLensBenchmarks", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // A small study written with the library (Examples/LayerStudy; run by `make study-check`).
        .executableTarget(name: "LayerStudy", dependencies: ["ConvLens"], path: "Examples/LayerStudy"),
        // The fuzz targets (Docs/Reliability.md): `make fuzz` builds them for libFuzzer; a plain build
        // replays files through them.
        .target(name: "CConvLensFuzz"),
        .executableTarget(name: "convlens-fuzz", dependencies: ["ConvLens", "CConvLensFuzz"]),

        .target(name: "TestSupport", dependencies: ["ConvLensCore", "ConvLensImaging"], path: "Tests/TestSupport"),
        .testTarget(name: "ConvLensCoreTests", dependencies: ["ConvLensCore", "TestSupport"]),
        .testTarget(name: "ConvLensImagingTests", dependencies: ["ConvLensImaging", "TestSupport"]),
        .testTarget(name: "ConvLensExportTests", dependencies: ["ConvLensExport", "TestSupport"]),
        .testTarget(name: "ConvLensGraphTests", dependencies: ["ConvLens", "TestSupport"]),
        .testTarget(name: "ConvLensBenchmarksTests", dependencies: ["ConvLensBenchmarks", "TestSupport"]),
        .testTarget(name: "ConvLensProjectionTests", dependencies: ["ConvLens", "TestSupport"]),
        .testTarget(name: "ConvLensCLITests", dependencies: ["ConvLens", "TestSupport"]),
        .testTarget(name: "ConvLensExplorerTests", dependencies: ["ConvLensExplorer", "TestSupport"]),
    ]
)
