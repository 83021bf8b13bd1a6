// swift-tools-version: 6.1
import PackageDescription

// ward's benchmark package: kept apart from the root package so that CI and `swift build` in the
// repository root never fetch or build package-benchmark. It links ward's core libraries through
// the root package's `WardCore` product.
//
//   cd Benchmarks && swift package benchmark
//
// The MallocInterposer trait alone (no RuntimeInterposer) keeps package-benchmark's malloc
// counters but drops its Swift 6.3 ARC runtime interposer dependency.

// SwiftPM names a path dependency after its directory, which is whatever the checkout is called
// (`main`, `ward`, a CI clone's name), so derive it instead of hard-coding it.
let rootIdentity = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "ward").lowercased()

let package = Package(
    name: "WardBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // package-benchmark discovers suites under Benchmarks/<Name>/.
        .executableTarget(
            name: "WardCoreBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "WardCore", package: rootIdentity),
            ],
            path: "Benchmarks/WardCore",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
