import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A test harness killed mid-run: twenty times, a bash script starts twenty `ward run` at once
/// and is SIGKILLed, with every ward it started, at a random moment (during setup for some, while
/// the workload sleeps for others). The sandboxes themselves are not signalled: their parent-death
/// signal must take them down. Afterwards no sandbox process is left, the host's mount table is
/// as it was, `ward list` shows nothing running, and `ward gc` leaves the state directory empty.
@Suite("Chaos")
struct ChaosTests {
    static let rounds = 20
    static let width = 20

    /// Direct children of `pid` (from /proc/PID/stat's ppid field).
    static func children(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let child = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid ? child : nil
        }
    }

    /// Polls /proc/PID/stat until the process is stopped (state T) or gone.
    static func waitUntilStopped(_ pid: pid_t) async {
        for _ in 0..<2000 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return }
            let state = stat[stat.index(after: close)...].split(separator: " ").first
            if state == "T" || state == "Z" || state == "X" { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    @Test("SIGKILL a harness running 20 ward run at once, 20 times: no process or mount left, gc empties the state")
    func killedHarness() async throws {
        try await withSandbox(args: ["/bin/sleep", "30"]) { sb in
            try await sb.save()
            let state = sb.dir + "/state"
            let mountsBefore = Sandbox.hostMounts()
            var prefix = sb.invocation([], as: .testUser)
            let ward = prefix.removeLast()
            let script = #"for i in $(seq "$5"); do "$1" --root "$2" run --bundle "$3" "$4-$i" & done; wait"#
            var started = 0
            for round in 0..<Self.rounds {
                let harness = try Child(prefix + ["/bin/bash", "-c", script, "chaos", ward, state, sb.bundle, "r\(round)", String(Self.width)],
                                        outputDirectory: sb.dir)
                try await Task.sleep(for: .milliseconds(Int.random(in: 30...400)))
                // Freeze the harness so it forks no more (SIGSTOP lands asynchronously: wait until it
                // is stopped, so no fork is half-way), then SIGKILL it and every ward it started.
                kill(harness.pid, SIGSTOP)
                await Self.waitUntilStopped(harness.pid)
                let wards = Self.children(of: harness.pid)
                for pid in wards { kill(pid, SIGKILL) }
                kill(harness.pid, SIGKILL)
                _ = await harness.wait(timeout: 10)
                started += wards.count
                let left = await sb.waitForNoProcesses(timeout: 5)
                #expect(left.isEmpty, "round \(round): left behind:\n\(left.joined(separator: "\n"))")
                if !left.isEmpty { break }
            }
            #expect(started > 0, "no ward was ever running when the harness was killed")
            #expect(Sandbox.hostMounts() == mountsBefore, "the host mount table changed")

            let list = try await Child(sb.invocation(["--root", state, "list", "--format", "json"], as: .testUser), outputDirectory: sb.dir).wait()
            #expect(list.status == 0, "\(list)")
            let rows = (try? JSONSerialization.jsonObject(with: Data(list.stdout.utf8))) as? [[String: Any]] ?? []
            let live = rows.filter { $0["status"] as? String != "stopped" }
            #expect(live.isEmpty, "ward list shows live containers: \(live)")
            #expect(rows.count > 0, "\(list.stdout)")

            let gc = try await Child(sb.invocation(["--root", state, "gc"], as: .testUser), outputDirectory: sb.dir).wait()
            #expect(gc.status == 0, "\(gc)")
            let remaining = (try? FileManager.default.contentsOfDirectory(atPath: state)) ?? []
            #expect(remaining.isEmpty, "state left after gc: \(remaining)")
            let removed = gc.stdout.split(separator: "\n").filter { $0.hasPrefix("removed ") }.count
            #expect(removed > 0, "\(gc)")
        }
    }
}
