import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `ward gc`: removes what no ward is left to clean up (stopped, dead, half-written), keeps
/// whatever is alive or still being set up, and says what it removed.
@Suite("Gc")
struct GcTests {
    @Test("gc removes stopped, dead and half-written entries; keeps created, running and being-created ones")
    func collects() async throws {
        try await withSandbox(args: ["/bin/sleep", "30"]) { sb in
            let state = sb.dir + "/state"
            func ward(_ args: [String]) async throws -> Child.Result {
                try await Child(sb.invocation(["--root", state] + args, as: .testUser), outputDirectory: sb.dir).wait()
            }
            try await sb.save()
            // A config whose prestart hook waits for a gate file: until then the container is being
            // created (no state.json at first, then "creating" with a live init).
            let gate = sb.dir + "/gate"
            var slow = sb.config
            slow["hooks"] = ["prestart": [["path": "/bin/sh", "args": ["sh", "-c", "while [ ! -e \(gate) ]; do sleep 0.05; done"],
                                           "timeout": 60]]]
            slow["process.args"] = ["/bin/true"]
            try await sb.writeConfigText(String(decoding: try slow.data(), as: UTF8.self), to: "slow.json")

            // stopped: a finished run kept with --keep
            let kept = try await ward(["run", "--bundle", sb.bundle, "--keep", "stopped-1", "--", "/bin/true"])
            #expect(kept.status == 0, "\(kept)")
            // dead: a foreground run whose ward was SIGKILLed
            let doomed = try Child(sb.invocation(["--root", state, "run", "--bundle", sb.bundle, "dead-1"], as: .testUser), outputDirectory: sb.dir)
            // live: created (waiting for start) and running (a foreground run)
            let created = try await ward(["create", "--bundle", sb.bundle, "created-1"])
            #expect(created.status == 0, "\(created)")
            let running = try Child(sb.invocation(["--root", state, "run", "--bundle", sb.bundle, "running-1"], as: .testUser), outputDirectory: sb.dir)
            // being created: its prestart hook is still sleeping
            let creating = try Child(sb.invocation(["--root", state, "run", "--bundle", sb.bundle, "--config", sb.bundle + "/slow.json", "creating-1"],
                                                   as: .testUser), outputDirectory: sb.dir)
            // half-written: a directory with no state.json and nobody holding it
            try FileManager.default.createDirectory(atPath: state + "/half-1", withIntermediateDirectories: false)
            try await sb.chownToUser(state + "/half-1")

            // Wait until the sleeps are running (the doomed run and running-1) and creating-1 exists.
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                guard FileManager.default.fileExists(atPath: state + "/creating-1") else {
                    try await Task.sleep(for: .milliseconds(50))
                    continue
                }
                let list = try await ward(["list", "--format", "json"])
                // Two "running": dead-1 and running-1 (created-1 is "created"; creating-1 has no state yet).
                if list.stdout.components(separatedBy: "\"running\"").count >= 3 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            kill(doomed.pid, SIGKILL)
            _ = await doomed.wait()
            // Its sandbox follows it (parent-death signal).
            try await Task.sleep(for: .milliseconds(200))

            let gc = try await ward(["gc"])
            #expect(gc.status == 0, "\(gc)")
            let removed = Set(gc.stdout.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("removed ") else { return nil }
                return String(line.dropFirst(8).prefix { $0 != " " })
            })
            #expect(removed == ["stopped-1", "dead-1", "half-1"], "\(gc)")
            let remaining = Set((try? FileManager.default.contentsOfDirectory(atPath: state)) ?? [])
            #expect(remaining == ["created-1", "running-1", "creating-1"], "\(remaining)")

            // The live ones were not disturbed: the gated one still starts, the others still delete.
            #expect(FileManager.default.createFile(atPath: gate, contents: nil))
            let slowDone = await creating.wait(timeout: 20)
            #expect(slowDone.status == 0, "\(slowDone)")
            running.signal(SIGKILL)
            _ = await running.wait()
            let delete = try await ward(["delete", "--force", "created-1"])
            #expect(delete.status == 0, "\(delete)")
            try await Task.sleep(for: .milliseconds(200))
            let gc2 = try await ward(["gc"])
            #expect(gc2.stdout.contains("removed running-1"), "\(gc2)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: state)) ?? []).isEmpty)
        }
    }
}
