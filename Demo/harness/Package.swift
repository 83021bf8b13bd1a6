// swift-tools-version: 6.1
import PackageDescription

// A test suite that runs sandboxes with WardKit: copy this directory next to your own code and
// point the dependency at ward (a path, or a git URL once you pin a release).
//
// A path dependency's identity is its directory's name, so read it instead of assuming the
// checkout is called "ward".
let wardRoot = "../.."
let wardIdentity = Context.packageDirectory.split(separator: "/").dropLast(2).last.map(String.init) ?? "ward"

let package = Package(
    name: "harness-demo",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: wardRoot),
    ],
    targets: [
        .testTarget(
            name: "HarnessDemoTests",
            dependencies: [.product(name: "WardKit", package: wardIdentity)],
            path: "Tests/HarnessDemoTests"),
    ]
)
