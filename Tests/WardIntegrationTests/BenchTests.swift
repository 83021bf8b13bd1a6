import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The shared benchmark script still drives this ward (it copies the binary and runs it as its
/// own unprivileged user next to crun, runc, bwrap and unshare).
@Suite("Benchmark script")
struct BenchTests {
    @Test("shared/bench/start-latency.sh --runs 3 WARD works",
          .enabled(if: Harness.isRoot, "start-latency.sh must run as root (it drops to its own user)"),
          .enabled(if: Harness.sharedDirectory != nil, "../shared/bench/start-latency.sh is not beside the repository"),
          .timeLimit(.minutes(5)))
    func startLatency() async throws {
        let script = try #require(Harness.sharedDirectory) + "/bench/start-latency.sh"
        let out = Harness.makeTempDirectory(prefix: "ward-it-bench")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let child = try Child([script, "--runs", "3", "--json", out + "/result.json", Harness.ward], outputDirectory: out)
        let r = await child.wait(timeout: 280)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("ms median"), "\(r)")
        #expect(r.stdout.contains("ward run"), "\(r)")
        #expect(r.stdout.contains("ratio ward/crun"), "\(r)")
        // Every command, ward's included, ran to success (hyperfine fails on a non-zero exit).
        let data = try Data(contentsOf: URL(fileURLWithPath: out + "/result.json"))
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let results = json?["results"] as? [[String: Any]] ?? []
        let ward = results.first { ($0["command"] as? String)?.contains("ward run") == true }
        #expect(ward != nil, "\(r)")
        let codes = ward?["exit_codes"] as? [Int] ?? []
        #expect(!codes.isEmpty && codes.allSatisfy { $0 == 0 }, "ward exit codes: \(codes)")
    }
}
