import Foundation
import Testing
@testable import WardPlan
import WardSpec

/// Hardening profiles as data: parsing (strict), overlaying, Docker/Podman seccomp import.
@Suite struct ProfileTests {
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let referenceDir = repoRoot + "/../shared/reference/seccomp"
    static let host = DockerSeccomp.Host(architecture: "SCMP_ARCH_X86_64", kernel: KernelVersion(major: 6, minor: 18))

    static func parse(_ text: String, file: String = "x.json") throws(PlanError) -> Profile {
        try Profile.parse(Array(text.utf8), file: file)
    }

    static func builtin(_ name: String) throws -> Profile {
        let p = try Profile.parse(Array(try #require(BuiltinProfiles.files[name + ".json"]).utf8), file: name + ".json")
        guard case .dockerFile(let f) = p.seccomp else { return p }
        return try p.resolved(dockerFile: Array(try #require(BuiltinProfiles.files[f]).utf8), dockerFileName: f, host: host)
    }

    static func error(_ text: String, file: String = "x.json") -> String {
        do { _ = try parse(text, file: file); return "no error" } catch { return error.description }
    }

    /// Names a resolved filter allows for a process (unconditionally or with conditions).
    static func allowed(_ s: LinuxSeccomp) -> Set<String> {
        Set((s.syscalls ?? []).filter { $0.action == "SCMP_ACT_ALLOW" }.flatMap(\.names))
    }

    // MARK: Embedded copies

    @Test func embeddedCopiesMatchFiles() throws {
        let dir = Self.repoRoot + "/profiles"
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
        #expect(onDisk == BuiltinProfiles.files.keys.sorted(), "run scripts/embed-profiles")
        for name in onDisk {
            let text = try String(contentsOfFile: dir + "/" + name, encoding: .utf8)
            #expect(BuiltinProfiles.files[name] == text, "\(name) differs from its embedded copy: run scripts/embed-profiles")
        }
    }

    @Test(arguments: ["default", "strict", "permissive", "docker-compatible"])
    func shippedProfilesParseAndCompile(_ name: String) throws {
        let p = try Self.builtin(name)
        #expect(p.name == name)
        #expect(!p.rationale.isEmpty)
        if case .oci(let s) = p.seccomp {
            _ = try SeccompCompiler.compile(try SeccompResolver.resolve(s, file: name))
        }
    }

    // MARK: Parsing, strictly

    @Test func unknownFieldsAreErrors() {
        #expect(Self.error(#"{"name": "x", "bogus": 1}"#) .hasPrefix("x.json: bogus: unknown field"))
        #expect(Self.error(#"{"name": "x", "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1, "max": 2}]}"#)
            .hasPrefix("x.json: rlimits[0].max: unknown field"))
        #expect(Self.error(#"{"name": "x", "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "c"}]}}"#)
            .hasPrefix("x.json: seccomp.syscalls[0].comment: unknown field"))
        #expect(Self.error(#"{"description": "no name"}"#) == "x.json: name: missing required field")
    }

    @Test func badValuesNameTheirField() {
        let seccomp = #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["write"], "action": "SCMP_ACT_ALLOW"}, {"names": ["foo"], "action": "SCMP_ACT_ALLOW"}]}"#
        #expect(Self.error(#"{"name": "strict", "seccomp": \#(seccomp)}"#, file: "strict.json")
            .hasPrefix(#"strict.json: seccomp.syscalls[2].names[0]: unknown syscall "foo""#))
        #expect(Self.error(#"{"name": "x", "capabilities": ["CAP_KILL", "CAP_FOO"]}"#) == #"x.json: capabilities[1]: unknown capability "CAP_FOO""#)
        #expect(Self.error(#"{"name": "x", "namespaces": ["net"]}"#).hasPrefix(#"x.json: namespaces[0]: unknown namespace type "net""#))
        #expect(Self.error(#"{"name": "x", "lifetime": "soon"}"#).hasPrefix(#"x.json: lifetime: "soon""#))
        #expect(Self.error(#"{"name": "x", "writableMounts": ["tmp"]}"#).hasPrefix("x.json: writableMounts[0]"))
        #expect(Self.error(#"{"name": "x", "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 2, "hard": 1}]}"#).hasPrefix("x.json: rlimits[0]: soft"))
        #expect(Self.error(#"{"name": "x", "seccomp": "off"}"#).hasPrefix("x.json: seccomp:"))
        #expect(Self.error(#"{"name": "x", "seccomp": "none", "seccompFile": "a.json"}"#).hasPrefix("x.json: seccompFile:"))
        #expect(Self.error(#"{"name": "x", "#).hasPrefix("x.json: not valid JSON"))
    }

    @Test func parsesEveryField() throws {
        let p = try Self.parse(#"""
        {"name": "all", "description": "d", "rationale": "r", "namespaces": ["user", "pid"], "capabilities": ["CAP_KILL"],
         "noNewPrivileges": true, "readonlyRootfs": false, "writableMounts": ["/scratch"], "maskedPaths": ["/proc/kcore"],
         "readonlyPaths": [], "rlimits": [{"type": "RLIMIT_NPROC", "soft": 10, "hard": 20}], "lifetime": "5m",
         "secrets": ["db"], "seccomp": "none"}
        """#)
        #expect(p.namespaces == ["user", "pid"] && p.capabilities == ["CAP_KILL"] && p.noNewPrivileges == true)
        #expect(p.readonlyRootfs == false && p.writableMounts == ["/scratch"] && p.maskedPaths == ["/proc/kcore"] && p.readonlyPaths == [])
        #expect(p.rlimits == [POSIXRlimit(type: "RLIMIT_NPROC", hard: 20, soft: 10)])
        #expect(p.lifetimeSeconds == 300 && p.secrets == ["db"] && p.seccomp == .disabled)
        #expect(p.missingSecrets(given: ["other"]) == ["db"] && p.missingSecrets(given: ["db"]).isEmpty)
    }

    // MARK: Applying

    static func defaultSpec() throws -> Spec {
        try Spec.decode(Array(DefaultConfig.json(uid: 1000, gid: 1000, args: ["/bin/true"]).utf8))
    }

    @Test func defaultProfileIsExactlyWhatSpecWrites() throws {
        let spec = try Self.defaultSpec()
        #expect(try Self.builtin("default").apply(to: spec) == spec)
        #expect(DefaultConfig.allowedSyscalls.contains("read") && !DefaultConfig.allowedSyscalls.contains("ptrace"))
    }

    @Test func overlayReplacesListsAndMergesRlimits() throws {
        var spec = try Self.defaultSpec()
        spec.linux?.namespaces?.append(LinuxNamespace(type: "time", path: "/proc/1/ns/time"))
        spec.mounts?.append(Mount(destination: "/data", type: "bind", source: "data", options: ["rbind", "rw"]))
        let p = try Self.parse(#"""
        {"name": "o", "namespaces": ["user", "mount", "pid"], "capabilities": ["CAP_KILL"], "noNewPrivileges": false,
         "readonlyRootfs": false, "writableMounts": ["/tmp", "/data", "/scratch"], "maskedPaths": ["/proc/kcore"],
         "readonlyPaths": [], "rlimits": [{"type": "RLIMIT_NPROC", "soft": 64, "hard": 64}], "seccomp": "none"}
        """#)
        let out = p.apply(to: spec)
        #expect(out.linux?.namespaces?.map(\.type) == ["user", "mount", "pid", "time"])  // joined ones kept
        #expect(out.process?.capabilities == LinuxCapabilities(bounding: ["CAP_KILL"], effective: ["CAP_KILL"], inheritable: [],
                                                               permitted: ["CAP_KILL"], ambient: []))
        #expect(out.process?.noNewPrivileges == false && out.root?.readonly == false)
        #expect(out.process?.rlimits?.map(\.type) == ["RLIMIT_NOFILE", "RLIMIT_NPROC"])
        #expect(out.linux?.maskedPaths == ["/proc/kcore"] && out.linux?.readonlyPaths == [])
        #expect(out.linux?.seccomp == nil)
        let mounts = out.mounts ?? []
        #expect(mounts.first { $0.destination == "/tmp" } == spec.mounts?.first { $0.destination == "/tmp" })  // already hardened
        #expect(mounts.first { $0.destination == "/data" } == Mount(destination: "/data", type: "tmpfs", source: "tmpfs", options: Profile.writableMountOptions))
        #expect(mounts.last == Mount(destination: "/scratch", type: "tmpfs", source: "tmpfs", options: Profile.writableMountOptions))
        #expect(try Self.parse(#"{"name": "empty"}"#).apply(to: spec) == spec)
    }

    @Test func writableMountsHardenAnExistingTmpfs() throws {
        var spec = try Self.defaultSpec()
        spec.mounts?.append(Mount(destination: "/work", type: "tmpfs", source: "tmpfs", options: ["exec", "mode=700"]))
        let out = try Self.parse(#"{"name": "w", "writableMounts": ["/work"]}"#).apply(to: spec)
        #expect(out.mounts?.last?.options == ["mode=700", "nosuid", "nodev", "noexec"])
    }

    @Test func strictProfileTightensDefault() throws {
        let strict = try Self.builtin("strict"), def = try Self.builtin("default")
        guard case .oci(let s) = strict.seccomp, case .oci(let d) = def.seccomp else { Issue.record("no filter"); return }
        let allowed = Self.allowed(s)
        #expect(allowed.isSubset(of: Self.allowed(d)))
        for name in ["ptrace", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "io_uring_setup", "userfaultfd",
                     "personality", "unshare", "setns", "mount", "umount2", "pivot_root", "fsopen", "fsmount", "open_tree", "move_mount"] {
            #expect(!allowed.contains(name), "\(name)")
        }
        #expect(s.syscalls?.first { $0.names == ["clone"] }?.args?.first?.value == DefaultConfig.namespaceCloneFlags)
        #expect(strict.rlimits?.contains(POSIXRlimit(type: "RLIMIT_NOFILE", hard: 256, soft: 256)) == true)
        #expect(strict.lifetimeSeconds == 600)
        let spec = strict.apply(to: try Self.defaultSpec())
        _ = try PlanBuilder.build(PlanInput(spec: spec, bundle: "/b", rootfs: "/b/rootfs", caller: Caller(uid: 1000, gid: 1000)))
    }

    @Test func diffNamesFieldsAndSyscalls() throws {
        let lines = Profile.diff(try Self.builtin("default"), try Self.builtin("strict"))
        #expect(lines.contains { $0.hasPrefix("rlimits.RLIMIT_NOFILE: default soft 1024 hard 1024, strict soft 256 hard 256") })
        #expect(lines.contains { $0.hasPrefix("seccomp: allowed only by default") && $0.contains("memfd_create") })
        #expect(lines.contains { $0.hasPrefix("lifetime:") })
        let perm = Profile.diff(try Self.builtin("permissive"), try Self.builtin("default"))
        #expect(perm.contains { $0.hasPrefix("seccomp: permissive allows every syscall") })
        #expect(perm.contains { $0.hasPrefix("capabilities: only in permissive: CAP_CHOWN") })
        #expect(Profile.diff(try Self.builtin("strict"), try Self.builtin("strict")).isEmpty)
    }

    // MARK: Docker/Podman seccomp import

    static func reference(_ name: String) throws -> DockerSeccomp? {
        let path = referenceDir + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try DockerSeccomp.parse(Array(data), file: name)
    }

    @Test(arguments: ["docker-default.json", "podman-default.json"])
    func referenceProfilesResolveByCapsArchAndKernel(_ name: String) throws {
        guard let docker = try Self.reference(name) else {
            print("skipped: \(Self.referenceDir)/\(name) is absent (../shared is not beside the repository)")
            return
        }
        let none = try docker.resolve(capabilities: [], host: Self.host)
        #expect(none.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        #expect(Self.allowed(none).contains("ptrace"))
        let refused = { (s: LinuxSeccomp) in Set((s.syscalls ?? []).filter { $0.action == "SCMP_ACT_ERRNO" }.flatMap(\.names)) }
        if name == "docker-default.json" {
            #expect(!Self.allowed(none).contains("mount"))
        } else {
            // Podman allows mount outright and refuses by rules that apply without a capability.
            let admin = try docker.resolve(capabilities: ["CAP_SYS_ADMIN"], host: Self.host)
            #expect(!refused(none).isEmpty && refused(admin).count < refused(none).count)
        }
        #expect(Self.allowed(none).contains("arch_prctl"))        // amd64 only
        #expect(!Self.allowed(none).contains("s390_runtime_instr"))
        let old = try docker.resolve(capabilities: [], host: .init(architecture: "SCMP_ARCH_X86_64", kernel: KernelVersion(major: 4, minor: 4)))
        if name == "docker-default.json" {
            #expect(!Self.allowed(old).contains("ptrace"))         // minKernel 4.8
        }
        let admin = try docker.resolve(capabilities: ["CAP_SYS_ADMIN"], host: Self.host)
        #expect(Self.allowed(admin).contains("mount") && Self.allowed(admin).contains("unshare"))
        let arm = try docker.resolve(capabilities: [], host: .init(architecture: "SCMP_ARCH_AARCH64", kernel: KernelVersion(major: 6, minor: 1)))
        #expect(arm.architectures == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        #expect(!Self.allowed(arm).contains("arch_prctl") && Self.allowed(arm).contains("cacheflush"))
        // And it compiles, once names this libseccomp does not know are left out.
        let (known, _) = DockerSeccomp.droppingUnknownSyscalls(none)
        _ = try SeccompCompiler.compile(try SeccompResolver.resolve(known, file: name))
    }

    @Test func dockerCompatibleMatchesDockersDefault() throws {
        guard let docker = try Self.reference("docker-default.json") else {
            print("skipped: docker-default.json is absent")
            return
        }
        let mine = try DockerSeccomp.parse(Array(try #require(BuiltinProfiles.files["docker-compatible.seccomp.json"]).utf8),
                                           file: "docker-compatible.seccomp.json")
        let docker14 = try #require(try Self.builtin("docker-compatible").capabilities)
        for caps in [[], docker14, docker14 + ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_NICE", "CAP_BPF"]] {
            for host in [Self.host, DockerSeccomp.Host(architecture: "SCMP_ARCH_AARCH64", kernel: KernelVersion(major: 4, minor: 4))] {
                let a = try mine.resolve(capabilities: caps, host: host), b = try docker.resolve(capabilities: caps, host: host)
                #expect(Self.allowed(a) == Self.allowed(b), "caps \(caps) \(host): only mine \(Self.allowed(a).subtracting(Self.allowed(b))), only Docker's \(Self.allowed(b).subtracting(Self.allowed(a)))")
                let errno = { (s: LinuxSeccomp) in Set((s.syscalls ?? []).filter { $0.action == "SCMP_ACT_ERRNO" }.flatMap(\.names)) }
                #expect(errno(a) == errno(b))
            }
        }
    }

    @Test func dockerFormatErrorsNameFileAndField() {
        func error(_ text: String) -> String {
            do { _ = try DockerSeccomp.parse(Array(text.utf8), file: "d.json"); return "no error" } catch { return error.description }
        }
        #expect(error(#"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_Z80"]}]}"#)
            .hasPrefix(#"d.json: archMap[0].subArchitectures[0]: unknown architecture "SCMP_ARCH_Z80""#))
        #expect(error(#"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_PDP11"}]}"#)
            .hasPrefix(#"d.json: archMap[0].architecture: unknown architecture"#))
        #expect(error(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_NOPE"]}}]}"#)
            .hasPrefix(#"d.json: syscalls[0].includes.caps[0]: unknown capability"#))
        #expect(error(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "new"}}]}"#)
            .hasPrefix(#"d.json: syscalls[0].includes.minKernel"#))
        #expect(error(#"{"defaultAction": "SCMP_ACT_ERRNO", "bogus": 1}"#).hasPrefix("d.json: bogus: unknown field"))
    }

    @Test func kernelVersions() {
        #expect(KernelVersion("6.18.44-fc-v769") == KernelVersion(major: 6, minor: 18))
        #expect(KernelVersion("4.8")! < KernelVersion("4.10")!)
        #expect(KernelVersion("x") == nil)
    }
}
