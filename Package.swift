// swift-tools-version: 6.1
import PackageDescription

// The release build of `ward` is one fully static executable:
//   swift build -c release -Xswiftc -static-executable
// (see .ci/build-static); libseccomp.a and libcap.a come from Debian's -dev packages.
let package = Package(
    name: "ward",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ward", targets: ["ward"]),
        .library(name: "WardCore", targets: ["WardSpec", "WardPlan", "WardRuntime"]),
        // For test code: runs sandboxes by spawning the ward binary (never forks the test process).
        .library(name: "WardKit", targets: ["WardKit"]),
    ],
    dependencies: [],
    targets: [
        // libseccomp and libcap from Debian (libseccomp-dev, libcap-dev).
        .systemLibrary(name: "CSeccomp", path: "Sources/CSeccomp"),
        .systemLibrary(name: "CCap", path: "Sources/CCap"),
        .systemLibrary(name: "CMD", path: "Sources/CMD"),  // libmd (libmd-dev): SHA-256
        .systemLibrary(name: "CArchive", path: "Sources/CArchive"),  // libarchive (libarchive-dev): image layers
        // The clone/exec stage: everything between clone(2) and execve(2) runs here, in C.
        .target(name: "CWardShim", dependencies: ["CCap"], path: "Sources/CWardShim",
                cSettings: [.unsafeFlags(["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"])],
                linkerSettings: [.linkedLibrary("cap")]),
        // OCI runtime-spec models and validation. Pure.
        .target(name: "WardSpec", path: "Sources/WardSpec"),
        // Thin throwing wrappers over Glibc, no policy.
        .target(name: "WardSystem", dependencies: ["CWardShim", "CMD"], path: "Sources/WardSystem"),
        // spec + flags -> LaunchPlan. Pure except the seccomp compiler (libseccomp) and rootfs lookups.
        .target(name: "WardPlan", dependencies: ["WardSpec", "WardSystem", "CSeccomp", "CWardShim"],
                path: "Sources/WardPlan"),
        // The parent side: clone, id maps, sync, wait, signals.
        .target(name: "WardRuntime", dependencies: ["WardPlan", "WardSpec", "WardSystem", "CWardShim", "CCap"],
                path: "Sources/WardRuntime"),
        // `ward __probe`: the attack-probe battery run inside a sandbox by `ward compare`. Glibc only.
        .target(name: "WardProbe", dependencies: ["CWardShim", "WardSpec"], path: "Sources/WardProbe"),
        // OCI image layouts -> bundles: index/manifest resolution, digest checks, safe layer extraction.
        .target(name: "WardImage", dependencies: ["WardSpec", "WardSystem", "WardPlan", "CArchive"], path: "Sources/WardImage"),
        .executableTarget(name: "ward", dependencies: ["WardRuntime", "WardPlan", "WardSpec", "WardSystem", "WardProbe", "WardImage"],
                          path: "Sources/ward"),
        .testTarget(name: "WardSpecTests", dependencies: ["WardSpec"], path: "Tests/WardSpecTests"),
        .testTarget(name: "WardPlanTests", dependencies: ["WardPlan", "WardSpec"], path: "Tests/WardPlanTests"),
        // Sources/WardKit: Sandbox/SandboxResult over `ward run --result` (docs/result-schema.json).
        // Depends on no other target: it talks to the ward binary only.
        .target(name: "WardKit", path: "Sources/WardKit"),
        .testTarget(name: "WardIntegrationTests", dependencies: [], path: "Tests/WardIntegrationTests"),
        .testTarget(name: "WardKitTests", dependencies: ["WardKit"], path: "Tests/WardKitTests"),
    ]
)
