import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Rootless podman with ward as its OCI runtime (`podman --runtime ward`), as the unprivileged
/// test user, with storage, run root and XDG_RUNTIME_DIR private to the test (vfs storage and
/// --network none: no fuse-overlayfs mount, no slirp4netns). podman drives create, start,
/// state, kill, delete and exec --process/--detach/--pid-file through conmon.
@Suite("Podman drives ward")
struct PodmanTests {
    static let podman: String? = ["/usr/bin/podman", "/usr/local/bin/podman"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Why the test cannot run here, or nil.
    static let unavailable: String? = {
        guard podman != nil else { return "podman is not installed (scripts/install-deps installs it)" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/newuidmap") else { return "newuidmap missing (Debian package uidmap)" }
        guard Harness.userHasSubIDs else { return "the test user \(Harness.user.name) has no /etc/subuid and /etc/subgid ranges" }
        return nil
    }()

    @Test("podman import, run, run -d, exec, stop, rm with --runtime ward", .enabled(if: unavailable == nil, "\(unavailable ?? "")"))
    func podmanLifecycle() async throws {
        try await withSandbox(script: "true") { sb in
            let pod = try await PodmanSession(sb)
            do {
                try await pod.exercise()
            } catch {
                await pod.reset()
                throw error
            }
            await pod.reset()
        }
    }
}

/// One podman world inside a sandbox directory: storage/, runroot/, run/ (XDG_RUNTIME_DIR).
struct PodmanSession {
    let sb: Sandbox
    let image = "localhost/wardtest-bb"

    init(_ sb: Sandbox) async throws {
        self.sb = sb
        let run = sb.dir + "/run"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: false)
        chmod(run, 0o700)
        try await Child.check(["/bin/tar", "-C", sb.rootfs, "-cf", sb.dir + "/bb.tar", "."], in: sb.dir)
        try await sb.chownToUser(sb.dir)
        chmod(sb.dir + "/bb.tar", 0o644)
    }

    /// `podman GLOBALS ARGS` as the test user.
    func podman(_ args: [String], timeout: TimeInterval = 30) async throws -> Child.Result {
        let env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=\(sb.home)",
                   "XDG_RUNTIME_DIR=\(sb.dir)/run", "XDG_CONFIG_HOME=\(sb.home)/.config",
                   "XDG_DATA_HOME=\(sb.home)/.local/share", "LANG=C", sb.tokenVariable]
        let globals = ["--root", sb.dir + "/storage", "--runroot", sb.dir + "/runroot", "--storage-driver", "vfs",
                       "--cgroup-manager=cgroupfs", "--events-backend", "file", "--runtime", Harness.ward]
        var argv = ["/usr/bin/env", "-i"] + env + [PodmanTests.podman ?? "podman"] + globals + args
        if sb.user.switchUser {
            argv = ["/usr/bin/setpriv", "--reuid=\(sb.user.name)", "--regid=\(sb.user.name)", "--init-groups", "--reset-env"] + argv
        }
        return await (try Child(argv, outputDirectory: sb.dir)).wait(timeout: timeout)
    }

    func exercise() async throws {
        let imported = try await podman(["import", sb.dir + "/bb.tar", image])
        try #require(imported.status == 0, "podman import: \(imported)")

        let hello = try await podman(["run", "--rm", "--network", "none", image, "/bin/sh", "-c", "echo hello; id -u"])
        #expect(hello.status == 0, "\(hello)")
        #expect(hello.stdout == "hello\n0\n", "\(hello)")

        let failing = try await podman(["run", "--rm", "--network", "none", image, "/bin/sh", "-c", "exit 3"])
        #expect(failing.status == 3, "the workload's status passes through podman: \(failing)")

        let name = "wt-" + sb.id
        let loop = #"trap "exit 0" TERM; echo ready; while :; do sleep 0.1; done"#
        let detached = try await podman(["run", "-d", "--name", name, "--network", "none", image, "/bin/sh", "-c", loop])
        try #require(detached.status == 0, "podman run -d: \(detached)")

        let exec = try await podman(["exec", name, "echo", "ok"])
        #expect(exec.status == 0 && exec.stdout == "ok\n", "podman exec: \(exec)")
        let execStatus = try await podman(["exec", name, "/bin/sh", "-c", "exit 5"])
        #expect(execStatus.status == 5, "podman exec status: \(execStatus)")
        let inspect = try await podman(["inspect", "--format", "{{.State.Status}}", name])
        #expect(inspect.stdout == "running\n", "\(inspect)")

        // The TERM handler exits at once: podman stop goes through `ward kill ID TERM`.
        let stop = try await podman(["stop", "-t", "2", name])
        #expect(stop.status == 0, "podman stop: \(stop)")
        #expect(stop.elapsed < 1.8, "TERM should have reached the workload's trap, not SIGKILL after 2 s: \(stop)")
        let logs = try await podman(["logs", name])
        #expect(logs.stdout.contains("ready"), "\(logs)")
        let rm = try await podman(["rm", name])
        #expect(rm.status == 0, "podman rm: \(rm)")

        let ps = try await podman(["ps", "-a", "--format", "{{.ID}} {{.Names}}"])
        #expect(ps.status == 0 && ps.stdout.isEmpty, "podman ps -a: \(ps)")
        let wardState = sb.dir + "/run/ward"
        let left = (try? FileManager.default.contentsOfDirectory(atPath: wardState)) ?? []
        #expect(left.isEmpty, "ward state left under \(wardState): \(left)")
    }

    /// `podman system reset -f` (storage, containers, the pause process), then whatever is left.
    func reset() async {
        let r = try? await podman(["system", "reset", "-f"])
        if let r, r.status != 0 { Issue.record("podman system reset: \(r)") }
        // The rootless pause process normally goes with the reset.
        if let text = try? String(contentsOfFile: sb.dir + "/run/libpod/tmp/pause.pid", encoding: .utf8),
           let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
           let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
           environ.range(of: Data(sb.tokenVariable.utf8)) != nil {
            kill(pid, SIGKILL)
        }
        // vfs layers hold files owned by sub-uids; removing them is for root (the sandbox does it).
    }
}
