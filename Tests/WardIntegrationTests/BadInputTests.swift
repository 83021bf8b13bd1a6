import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Bad configs and bundles: ward refuses with its own exit status and one clear line naming the
/// JSON path or the step and the errno, and leaves nothing behind (no process, no host mount, no
/// new file in the bundle, nothing touched on the host).
@Suite("Bad input is refused cleanly")
struct BadInputTests {
    enum Case: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case malformedJSON
        case unknownSeccompAction
        case unknownCapability
        case unknownSyscall
        case missingRootfs
        case rootfsSymlinkOutOfBundle
        case mountThroughSymlinkToHostEtc
        case mountThroughSymlinkToHostDir
        case bindThroughSymlinkToHostDir
        case mountThroughDotDotSymlink
        case missingProgram
        case programNotExecutable

        var testDescription: String { rawValue }

        var status: Int32 {
            switch self {
            case .missingProgram: 127
            case .programNotExecutable: 126
            default: 125
            }
        }

        /// What stderr must say.
        var fragments: [String] {
            switch self {
            case .malformedJSON: ["config.json: not valid JSON", "line 1"]
            case .unknownSeccompAction: ["config.json: linux.seccomp.syscalls[0].action: unknown action \"SCMP_ACT_FOO\""]
            case .unknownCapability: ["process.capabilities.bounding[1]", "unknown capability \"CAP_FOO\""]
            case .unknownSyscall: ["linux.seccomp.syscalls[0]", "unknown syscall", "no_such_syscall"]
            case .missingRootfs: ["root.path", "ENOENT"]
            case .rootfsSymlinkOutOfBundle: ["root.path", "EXDEV"]
            case .mountThroughSymlinkToHostEtc, .mountThroughSymlinkToHostDir, .mountThroughDotDotSymlink:
                ["mount tmpfs on /mnt", "EXDEV"]
            case .bindThroughSymlinkToHostDir: ["/mnt", "EXDEV"]
            case .missingProgram: ["/bin/no-such-program", "ENOENT"]
            case .programNotExecutable: ["/etc/passwd", "EACCES"]
            }
        }

        /// Breaks the sandbox's bundle this way and writes its config.
        func prepare(_ sb: Sandbox) async throws {
            let fm = FileManager.default
            switch self {
            case .malformedJSON:
                try await sb.writeConfigText(#"{"ociVersion": "1.2.0", "process": {"args": ["/bin/sh"], }"#)
                return
            case .unknownSeccompAction:
                sb.config.edit("linux.seccomp.syscalls") { $0[0]["action"] = "SCMP_ACT_FOO" }
            case .unknownCapability:
                sb.config.setCapabilities(["CAP_KILL", "CAP_FOO"])
            case .unknownSyscall:
                sb.config.edit("linux.seccomp.syscalls") { $0[0]["names"] = ["read", "no_such_syscall"] }
            case .missingRootfs:
                sb.config["root.path"] = "no-such-rootfs"
            case .rootfsSymlinkOutOfBundle:
                // A valid rootfs, but outside the bundle, reached through a symlink in it.
                try await Child.check(["/bin/cp", "-a", sb.rootfs, sb.dir + "/outside"], in: sb.dir)
                try fm.createSymbolicLink(atPath: sb.bundle + "/escape", withDestinationPath: sb.dir + "/outside")
                sb.config["root.path"] = "escape"
            case .mountThroughSymlinkToHostEtc:
                try fm.createSymbolicLink(atPath: sb.rootfs + "/mnt", withDestinationPath: "/etc")
                sb.config.edit("mounts") { $0.append(["destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]]) }
            case .mountThroughSymlinkToHostDir:
                try fm.createSymbolicLink(atPath: sb.rootfs + "/mnt", withDestinationPath: sb.hostDir)
                sb.config.edit("mounts") { $0.append(["destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]]) }
            case .bindThroughSymlinkToHostDir:
                try fm.createDirectory(atPath: sb.bundle + "/data", withIntermediateDirectories: false)
                try fm.createSymbolicLink(atPath: sb.rootfs + "/mnt", withDestinationPath: sb.hostDir)
                sb.config.edit("mounts") { $0.append(["destination": "/mnt", "type": "bind", "source": "data", "options": ["rbind", "rw"]]) }
            case .mountThroughDotDotSymlink:
                try fm.createSymbolicLink(atPath: sb.rootfs + "/mnt", withDestinationPath: "../../../../../../../../../etc")
                sb.config.edit("mounts") { $0.append(["destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]]) }
            case .missingProgram:
                sb.config["process.args"] = ["/bin/no-such-program", "arg"]
            case .programNotExecutable:
                sb.config["process.args"] = ["/etc/passwd"]
            }
            try await sb.chownToUser(sb.dir)
            try await sb.save()
        }
    }

    @Test("refused with the right status and message, nothing left behind", arguments: Case.allCases)
    func refused(_ c: Case) async throws {
        try await withSandbox(script: "echo SHOULD-NOT-RUN") { sb in
            // A host directory a symlink in the rootfs may point at, with a sentinel in it.
            try FileManager.default.createDirectory(atPath: sb.hostDir, withIntermediateDirectories: false)
            try "sentinel\n".write(toFile: sb.hostDir + "/sentinel", atomically: false, encoding: .utf8)
            try await sb.chownToUser(sb.hostDir)
            try await c.prepare(sb)
            let bundleBefore = sb.bundleListing()
            let hostDirBefore = try FileManager.default.contentsOfDirectory(atPath: sb.hostDir)
            let etcBefore = try FileManager.default.contentsOfDirectory(atPath: "/etc").sorted()

            let r = try await sb.run(saveConfig: false)

            #expect(r.status == c.status, "\(r)")
            for f in c.fragments { #expect(r.stderr.contains(f), "missing \"\(f)\": \(r)") }
            #expect(r.stderr.hasPrefix("ward: "), "\(r)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r)")
            #expect(!r.stdout.contains("SHOULD-NOT-RUN"), "\(r)")
            // Nothing left behind.
            #expect(sb.bundleListing() == bundleBefore, "files added to or removed from the bundle")
            #expect(try FileManager.default.contentsOfDirectory(atPath: sb.hostDir) == hostDirBefore)
            #expect(try String(contentsOfFile: sb.hostDir + "/sentinel", encoding: .utf8) == "sentinel\n")
            #expect(try FileManager.default.contentsOfDirectory(atPath: "/etc").sorted() == etcBefore)
            #expect(FileManager.default.fileExists(atPath: "/etc/passwd"))
            // (withSandbox checks processes and host mounts.)
        }
    }

    @Test("a missing bundle directory or config.json is refused")
    func missingBundle() async throws {
        try await withSandbox(script: "true") { sb in
            let child = try Child(sb.invocation(["run", "--bundle", sb.dir + "/nope", sb.id], as: .testUser), outputDirectory: sb.dir)
            let r = await child.wait()
            #expect(r.status == 125, "\(r)")
            #expect(r.stderr.contains("ENOENT"), "\(r)")
            try FileManager.default.removeItem(atPath: sb.bundle + "/config.json")
            let r2 = try await sb.run(saveConfig: false)
            #expect(r2.status == 125, "\(r2)")
            #expect(r2.stderr.contains("config.json"), "\(r2)")
        }
    }

    @Test("ward spec does not overwrite an existing config.json")
    func specDoesNotOverwrite() async throws {
        try await withSandbox(script: "true") { sb in
            let before = try String(contentsOfFile: sb.bundle + "/config.json", encoding: .utf8)
            let child = try Child(sb.invocation(["spec", "-b", sb.bundle, "--", "/bin/false"], as: .testUser), outputDirectory: sb.dir)
            let r = await child.wait()
            #expect(r.status == 125, "\(r)")
            #expect(r.stderr.contains("EEXIST"), "\(r)")
            #expect(try String(contentsOfFile: sb.bundle + "/config.json", encoding: .utf8) == before)
        }
    }

    @Test("--config FILE is used instead of BUNDLE/config.json")
    func explicitConfigFile() async throws {
        try await withSandbox(script: "echo from-bundle-config") { sb in
            try await sb.save()
            var other = sb.config
            other["process.args"] = ["/bin/sh", "-c", "echo from-other-config"]
            try await sb.writeConfigText(String(decoding: try other.data(), as: UTF8.self), to: "other.json")
            let r = try await sb.run(["--config", sb.bundle + "/other.json"], saveConfig: false)
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "from-other-config\n", "\(r)")
        }
    }
}

extension Sandbox {
    /// A directory on the host, outside the bundle.
    var hostDir: String { dir + "/hostdir" }
}
