import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Exit statuses, signal forwarding, the timeout, and that no process outlives ward.
@Suite("Exit status, signals and lifetime")
struct LifecycleTests {
    @Test("the workload's exit status is ward's")
    func exitStatus() async throws {
        try await withSandbox(script: "echo hi; exit 3") { sb in
            let r = try await sb.run()
            #expect(r.status == 3, "\(r)")
            #expect(r.stdout == "hi\n", "\(r)")
            #expect(r.stderr.isEmpty, "\(r)")
        }
    }

    @Test("stdin reaches the workload")
    func standardInput() async throws {
        try await withSandbox(script: #"read line; echo "got=$line""#) { sb in
            let r = try await sb.run(stdin: "hello ward\n")
            #expect(r.status == 0, "\(r)")
            #expect(keyValues(r.stdout)["got"] == "hello ward", "\(r)")
        }
    }

    @Test("a workload killed by signal N gives 128+N (SIGSEGV: 139), here without a pid namespace so it is not init")
    func killedBySignal() async throws {
        try await withSandbox(script: #"echo "pid=$$"; kill -SEGV $$; echo survived"#, configure: {
            $0.removeNamespace("pid")
            // Without a pid namespace of our own, proc can't be mounted (the host's pid namespace
            // is not owned by our user namespace), and the /proc masks have nothing to act on.
            $0.removeMount("/proc")
            $0["linux.maskedPaths"] = nil
            $0["linux.readonlyPaths"] = nil
        }) { sb in
            let r = try await sb.run()
            #expect(r.status == 139, "\(r)")
            #expect(keyValues(r.stdout)["pid"] != "1", "\(r)")
            #expect(!r.stdout.contains("survived"), "\(r)")
        }
    }

    @Test("SIGTERM to ward reaches the workload's handler; ward exits with the workload's status")
    func forwardedTermHandled() async throws {
        try await withSandbox(script: #"trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done"#) { sb in
            let child = try await sb.start()
            #expect(await child.waitForOutput("ready"), "workload never started: \(child.stderrSoFar)")
            child.signal(SIGTERM)
            let r = await child.wait(timeout: 20)
            #expect(r.status == 7, "\(r)")
        }
    }

    struct Forwarded: Sendable, CustomTestStringConvertible {
        var name: String
        var number: Int32
        var exitCode: Int32
        var testDescription: String { "SIG\(name)" }
    }

    @Test("signals are forwarded to the workload", arguments: [
        Forwarded(name: "INT", number: SIGINT, exitCode: 21),
        Forwarded(name: "TERM", number: SIGTERM, exitCode: 22),
        Forwarded(name: "HUP", number: SIGHUP, exitCode: 23),
        Forwarded(name: "QUIT", number: SIGQUIT, exitCode: 24),
        Forwarded(name: "USR1", number: SIGUSR1, exitCode: 25),
        Forwarded(name: "USR2", number: SIGUSR2, exitCode: 26),
    ])
    func signalForwarding(_ sig: Forwarded) async throws {
        let script = #"trap 'echo "caught=\#(sig.name)"; exit \#(sig.exitCode)' \#(sig.name); echo ready; while :; do sleep 0.1; done"#
        try await withSandbox(script: script) { sb in
            let child = try await sb.start()
            #expect(await child.waitForOutput("ready"), "workload never started: \(child.stderrSoFar)")
            child.signal(sig.number)
            let r = await child.wait(timeout: 20)
            #expect(r.status == sig.exitCode, "\(r)")
            #expect(keyValues(r.stdout)["caught"] == sig.name, "\(r)")
        }
    }

    @Test("--timeout kills the container and exits 124, leaving no process behind")
    func timeout() async throws {
        try await withSandbox(script: "sleep 60 & sleep 30") { sb in
            let r = try await sb.run(["--timeout", "1s"])
            #expect(r.status == 124, "\(r)")
            #expect(r.elapsed < 15, "\(r)")
            #expect(await sb.waitForNoProcesses().isEmpty)
        }
    }

    @Test("--timeout accepts milliseconds; a workload that finishes first is not affected")
    func timeoutNotReached() async throws {
        try await withSandbox(script: "exit 5") { sb in
            let r = try await sb.run(["--timeout", "20s"])
            #expect(r.status == 5, "\(r)")
        }
        try await withSandbox(script: "sleep 30") { sb in
            let r = try await sb.run(["--timeout", "250ms"])
            #expect(r.status == 124, "\(r)")
            #expect(r.elapsed < 15, "\(r)")
        }
    }

    @Test("an invalid --timeout is a usage error")
    func badTimeout() async throws {
        try await withSandbox(script: "true") { sb in
            let r = try await sb.run(["--timeout", "soon"])
            #expect(r.status != 0, "\(r)")
            #expect(r.stderr.contains("--timeout"), "\(r)")
        }
    }

    @Test("SIGKILL to ward takes the whole container with it (parent-death signal)")
    func parentDeath() async throws {
        try await withSandbox(script: "sleep 60 & echo started; sleep 60") { sb in
            let child = try await sb.start()
            #expect(await child.waitForOutput("started"), "workload never started: \(child.stderrSoFar)")
            #expect(sb.processes().contains { $0.contains("sleep 60") }, "the workload's sleeps should be visible: \(sb.processes())")
            child.signal(SIGKILL)
            let r = await child.wait(timeout: 10)
            #expect(r.status == 128 + SIGKILL, "\(r)")
            let left = await sb.waitForNoProcesses(timeout: 3)
            #expect(left.isEmpty, "left after ward was killed: \(left)")
        }
    }

    @Test("when init exits, its background children die too and ward returns promptly")
    func initExitKillsChildren() async throws {
        try await withSandbox(script: "sleep 60 & sleep 61 & echo started") { sb in
            let r = try await sb.run()
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "started\n", "\(r)")
            #expect(r.elapsed < 15, "\(r)")
            let left = await sb.waitForNoProcesses(timeout: 3)
            #expect(left.isEmpty, "\(left)")
        }
    }
}
