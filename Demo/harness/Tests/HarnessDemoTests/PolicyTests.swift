import Foundation
import Testing
import WardKit

/// One small workload, run under two policies, with assertions on ward's result records.
///
/// The workload tries a network socket and then forks thirty sleepers, and reports what it
/// could do as key=value lines on stdout.
@Suite("Same workload, two policies")
struct PolicyTests {
    static let workload = ["/bin/sh", "-c", """
        if nc -w 1 127.0.0.1 9 </dev/null 2>/tmp/nc.err; then echo socket=ok
        elif grep -q 'not permitted' /tmp/nc.err; then echo socket=denied
        else echo socket=allowed; fi
        sh -c 'i=0; while [ $i -lt 30 ]; do sleep 2 & i=$((i+1)); echo $i > /tmp/forks; done' 2>/dev/null
        echo forks=$(cat /tmp/forks)
        echo mode=$MODE
        """]

    static func report(_ result: SandboxResult) -> [String: String] {
        var values: [String: String] = [:]
        for line in result.stdoutText.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }

    @Test("default config: sockets can be made (there is no network to reach), forks are not limited")
    func defaultPolicy() async throws {
        let result = try await Bundles.sandbox().env("MODE", "default").run(Self.workload)
        #expect(result.exitCode == 0, "\(result.stderrText)")
        #expect(result.signal == nil && !result.timedOut)
        let report = Self.report(result)
        #expect(report["socket"] == "allowed")
        #expect(report["forks"] == "30")
        #expect(report["mode"] == "default")
        // The record's timing: start latency (ward start to exec) and the workload's own time.
        #expect((result.timing.setupSeconds ?? 0) > 0 && (result.timing.setupSeconds ?? 1) < 5)
        #expect(result.usage != nil)
    }

    @Test("strict config: socket(2) is refused by seccomp, at most 8 processes")
    func strictPolicy() async throws {
        let result = try await Bundles.strictSandbox().env("MODE", "strict").run(Self.workload)
        #expect(result.exitCode == 0, "\(result.stderrText)")
        let report = Self.report(result)
        #expect(report["socket"] == "denied")
        #expect(Int(report["forks"] ?? "") ?? 99 < 8)
        #expect(report["mode"] == "strict")
        #expect(result.seccompDenials == nil)  // not collected yet: ward has no --seccomp-report
    }

    @Test("a timeout is a result, not an error")
    func timeout() async throws {
        let result = try await Bundles.sandbox().timeout(0.5).run(["/bin/sleep", "30"])
        #expect(result.timedOut)
        #expect(result.signal?.name == "SIGKILL")
        #expect(result.exitCode == nil)
    }

    @Test("ward's own failure throws launchFailed, with ward's message")
    func launchFailure() async throws {
        await #expect {
            try await Bundles.sandbox().run(["/bin/does-not-exist"])
        } throws: { error in
            guard case WardKitError.launchFailed(let message) = error else { return false }
            return message.contains("does-not-exist")
        }
    }

    @Test("the shipped strict profile, by name", .enabled(if: Bundles.hasProfiles, "this ward has no --profile"))
    func strictProfile() async throws {
        let result = try await Bundles.sandbox().profile("strict").env("MODE", "profile").run(Self.workload)
        #expect(result.exitCode == 0, "\(result.stderrText)")
        #expect(result.profile?.name == "strict")
        #expect(result.profile?.hash.count == 64)
    }
}
