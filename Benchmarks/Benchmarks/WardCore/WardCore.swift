// In-process costs of the steps ward takes before clone(2), on the shared hardened config
// (shared/bench/hardened-config.json: 6 namespaces, ~440-name seccomp allow-list, 11 caps).
//
//   cd Benchmarks && swift package benchmark
//
// Each benchmark isolates one step so a regression points at its stage:
//   decode+validate  -> WardSpec (JSON parse, typed decode, semantic checks)
//   plan             -> WardPlan.PlanBuilder (includes seccomp name resolution via libseccomp)
//   seccomp compile  -> SeccompCompiler (cold libseccomp BPF generation, what a cache miss costs)
//   seccomp cache hit-> SeccompCache (open + verify + read of a stored program: the common case)
import Benchmark
import Foundation
import WardPlan
import WardRuntime
import WardSpec

/// The shared yardstick config. It is read from the project's shared/ folder (never copied into
/// the repository); WARD_BENCH_CONFIG overrides the location.
func hardenedConfig() -> [UInt8] {
    let path: String
    if let override = ProcessInfo.processInfo.environment["WARD_BENCH_CONFIG"] {
        path = override
    } else {
        // <repo>/Benchmarks/Benchmarks/WardCore/WardCore.swift -> <repo>/../shared/bench/
        let repo = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        path = repo.deletingLastPathComponent().appendingPathComponent("shared/bench/hardened-config.json").path
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        fatalError("cannot read the hardened config at \(path) (set WARD_BENCH_CONFIG)")
    }
    return Array(data)
}

/// The plan input ward would build for an unprivileged caller (uid/gid 1000, which the config's
/// id maps name). The rootfs path is only recorded, never touched: the builder makes no syscall.
func planInput(_ spec: Spec) -> PlanInput {
    PlanInput(spec: spec, bundle: "/bench/bundle", rootfs: "/bench/bundle/rootfs",
              caller: Caller(uid: 1000, gid: 1000))
}

/// Everything derived once, outside any measurement.
struct Fixture {
    let data: [UInt8]
    let spec: Spec
    let filter: ResolvedSeccomp

    static func make() throws -> Fixture {
        let data = hardenedConfig()
        let spec = try Spec.decode(data)
        let plan = try PlanBuilder.build(planInput(spec))
        guard let filter = plan.seccomp else { fatalError("the hardened config has no seccomp filter") }
        return Fixture(data: data, spec: spec, filter: filter)
    }
}

/// A private cache directory (mkdtemp gives 0700, which SeccompCache insists on).
func makeCacheDirectory() -> String {
    var template = Array((NSTemporaryDirectory() + "/ward-bench-cache.XXXXXX").utf8CString)
    let dir = template.withUnsafeMutableBufferPointer { buf -> String? in
        mkdtemp(buf.baseAddress!).map { String(cString: $0) }
    }
    guard let dir else { fatalError("mkdtemp: \(String(cString: strerror(errno)))") }
    return dir
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // cpuTotal is left out: on Linux it ticks in 10 ms steps, coarser than every step here.
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .microseconds,
        warmupIterations: 3,
        maxDuration: .seconds(2),
        maxIterations: 2_000
    )
    let fixture: Fixture
    do { fixture = try Fixture.make() } catch { fatalError("benchmark fixture: \(error)") }

    Benchmark("Spec.decode+validate (hardened)") { benchmark in
        for _ in benchmark.scaledIterations {
            let spec = try Spec.decode(fixture.data)
            try spec.validate()
            blackHole(spec)
        }
    }

    Benchmark("PlanBuilder.build (hardened, uid 1000)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try PlanBuilder.build(planInput(fixture.spec)))
        }
    }

    Benchmark("SeccompCompiler.compile (cold)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SeccompCompiler.compile(fixture.filter))
        }
    }

    // The cache is warmed once in setup; every measured lookup must then be a hit, otherwise the
    // number would silently measure a compile.
    nonisolated(unsafe) var cacheDir = ""
    Benchmark("SeccompCache.program (hit)", closure: { benchmark in
        let cache = SeccompCache(directory: cacheDir + "/seccomp")
        for _ in benchmark.scaledIterations {
            let result = try cache.program(for: fixture.filter)
            precondition(result.outcome == .hit, "expected a cache hit, got \(result.outcome)")
            blackHole(result.program)
        }
    }, setup: {
        cacheDir = makeCacheDirectory()
        let warm = try SeccompCache(directory: cacheDir + "/seccomp").program(for: fixture.filter)
        precondition(warm.outcome == .compiled, "warming the cache: \(warm.outcome)")
    }, teardown: {
        try? FileManager.default.removeItem(atPath: cacheDir)
    })
}
