import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `ward run --profile`: the shipped profiles run a busybox workload as the unprivileged test
/// user, each enforces what it says, and a bad profile is refused cleanly.
@Suite("Hardening profiles")
struct ProfileRunTests {
    @Test("a workload runs under each shipped profile", arguments: ["default", "strict", "permissive", "docker-compatible"])
    func runs(_ name: String) async throws {
        let r = try await runScript("echo ok", options: ["--profile", name])
        #expect(r.stdout == "ok\n", "\(r)")
    }

    @Test("strict refuses new namespaces and lowers rlimits")
    func strict() async throws {
        let r = try await runScript("if unshare -U true 2>/dev/null; then echo unshare=ok; else echo unshare=refused; fi; echo nofile=$(ulimit -n)",
                                    options: ["--profile", "strict"])
        let kv = keyValues(r.stdout)
        #expect(kv["unshare"] == "refused", "\(r)")
        #expect(kv["nofile"] == "256", "\(r)")
    }

    @Test("permissive allows user namespaces (no seccomp)")
    func permissive() async throws {
        let r = try await runScript("if unshare -U true; then echo unshare=ok; else echo unshare=refused; fi",
                                    options: ["--profile", "permissive"])
        #expect(keyValues(r.stdout)["unshare"] == "ok", "\(r)")
    }

    @Test("ward spec --profile writes the profiled config")
    func specProfile() async throws {
        try await withSandbox(script: "true") { sb in
            let dir = sb.dir + "/spec"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            try await sb.chownToUser(dir)
            let child = try Child(sb.invocation(["spec", "-b", dir, "--profile", "strict"], as: .testUser), outputDirectory: sb.dir)
            let r = await child.wait()
            #expect(r.status == 0, "\(r)")
            let config = try Config(contentsOf: dir + "/config.json")
            let limits = config["process.rlimits"] as? [[String: Any]] ?? []
            #expect(limits.contains { $0["type"] as? String == "RLIMIT_NPROC" && $0["soft"] as? Int == 64 }, "\(limits)")
        }
    }

    enum BadProfile: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case unknownName, unknownField, badSyscall, unknownArch, missingSecret
        var testDescription: String { rawValue }

        /// Writes what the case needs into `dir`; returns the --profile argument and what stderr must say.
        func prepare(_ dir: String) throws -> (String, [String]) {
            func write(_ name: String, _ text: String) throws { try text.write(toFile: dir + "/" + name, atomically: false, encoding: .utf8) }
            switch self {
            case .unknownName:
                return ("no-such-profile", [#"profile "no-such-profile": no such profile"#])
            case .unknownField:
                try write("x.json", #"{"name": "x", "bogus": true}"#)
                return (dir + "/x.json", ["x.json: bogus: unknown field"])
            case .badSyscall:
                try write("strict.json", #"{"name": "s", "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["write"], "action": "SCMP_ACT_ALLOW"}, {"names": ["foo"], "action": "SCMP_ACT_ALLOW"}]}}"#)
                return (dir + "/strict.json", [#"strict.json: seccomp.syscalls[2].names[0]: unknown syscall "foo""#])
            case .unknownArch:
                try write("d.json", #"{"name": "d", "seccompFile": "d.seccomp.json"}"#)
                try write("d.seccomp.json", #"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_VAX"]}], "syscalls": []}"#)
                return (dir + "/d.json", [#"d.seccomp.json: archMap[0].subArchitectures[0]: unknown architecture "SCMP_ARCH_VAX""#])
            case .missingSecret:
                try write("s.json", #"{"name": "s", "secrets": ["db-password"]}"#)
                return (dir + "/s.json", ["s.json: secrets: requires \"db-password\""])
            }
        }
    }

    @Test("a bad profile is refused before launch, nothing left behind", arguments: BadProfile.allCases)
    func refused(_ c: BadProfile) async throws {
        try await withSandbox(script: "echo SHOULD-NOT-RUN") { sb in
            let dir = sb.dir + "/profiles"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            let (profile, fragments) = try c.prepare(dir)
            try await sb.chownToUser(dir)
            try await sb.save()
            let before = sb.bundleListing()
            let r = try await sb.run(["--profile", profile], saveConfig: false)
            #expect(r.status == 125, "\(r)")
            for f in fragments { #expect(r.stderr.contains(f), "missing \"\(f)\": \(r)") }
            #expect(r.stderr.hasPrefix("ward: ") && r.stderr.split(separator: "\n").count == 1, "\(r)")
            #expect(!r.stdout.contains("SHOULD-NOT-RUN"), "\(r)")
            #expect(sb.bundleListing() == before)
            let list = try Child(sb.invocation(["list"], as: .testUser), outputDirectory: sb.dir)
            let l = await list.wait()
            #expect(!l.stdout.contains(sb.id), "state left behind: \(l)")
        }
    }
}
