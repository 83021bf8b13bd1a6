import Testing
import WardSpec

@Suite struct ValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let expected: String
        let mutate: @Sendable (inout Spec) -> Void
        init(_ expected: String, _ mutate: @escaping @Sendable (inout Spec) -> Void) {
            self.expected = expected
            self.mutate = mutate
        }
        var testDescription: String { expected }
    }

    static let cases: [Case] = [
        // Top level.
        Case("config.json: ociVersion: must be set, e.g. \"1.2.0\"") { $0.ociVersion = "" },
        Case("config.json: ociVersion: unsupported version \"2.0.0\"; ward supports runtime-spec 1.x") { $0.ociVersion = "2.0.0" },
        Case("config.json: process: missing required field") { $0.process = nil },
        Case("config.json: root: missing required field") { $0.root = nil },
        Case("config.json: root.path: must not be empty") { $0.root?.path = "" },
        Case(#"config.json: hostname: requires a new uts namespace; add {"type": "uts"} to linux.namespaces"#) {
            $0.linux?.namespaces?.removeAll { $0.type == "uts" }
        },
        Case(#"config.json: domainname: requires a new uts namespace; add {"type": "uts"} to linux.namespaces"#) {
            $0.hostname = nil
            $0.domainname = "example.org"
            $0.linux?.namespaces = [LinuxNamespace(type: "user")]
        },
        // Process.
        Case("config.json: process.args: must name the program to run") { $0.process?.args = [] },
        Case("config.json: process.args: must name the program to run") { $0.process?.args = nil },
        Case(#"config.json: process.env[1]: must be NAME=VALUE, got "JUSTANAME""#) { $0.process?.env?.append("JUSTANAME") },
        Case(#"config.json: process.env[1]: must be NAME=VALUE, got "=x""#) { $0.process?.env?.append("=x") },
        Case(#"config.json: process.cwd: must be an absolute path, got "home/user""#) { $0.process?.cwd = "home/user" },
        Case("config.json: process.user.umask: must be at most 511 (0o777), got 512") { $0.process?.user.umask = 0o1000 },
        Case("config.json: process.umask: must be at most 511 (0o777), got 4096") { $0.process?.umask = 4096 },
        Case(#"config.json: process.capabilities.bounding[2]: unknown capability "CAP_FOO""#) {
            $0.process?.capabilities?.bounding = ["CAP_CHOWN", "CAP_KILL", "CAP_FOO"]
        },
        Case(#"config.json: process.capabilities.ambient[0]: unknown capability "net_raw"; did you mean "CAP_NET_RAW"?"#) {
            $0.process?.capabilities?.ambient = ["net_raw"]
        },
        Case(#"config.json: process.capabilities.inheritable[0]: unknown capability "CAP_BPF\n""#) {
            $0.process?.capabilities?.inheritable = ["CAP_BPF\n"]
        },
        Case(#"config.json: process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"; expected one of RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU, RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_LOCKS, RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_RSS, RLIMIT_RTPRIO, RLIMIT_RTTIME, RLIMIT_SIGPENDING, RLIMIT_STACK"#) {
            $0.process?.rlimits?[0].type = "RLIMIT_FOO"
        },
        Case("config.json: process.rlimits[0]: soft limit 2048 is above hard limit 1024") { $0.process?.rlimits?[0].soft = 2048 },
        Case(#"config.json: process.rlimits[1].type: duplicate rlimit "RLIMIT_NOFILE""#) {
            $0.process?.rlimits?.append(POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1, soft: 1))
        },
        Case("config.json: process.oomScoreAdj: must be in -1000...1000, got 1001") { $0.process?.oomScoreAdj = 1001 },
        Case("config.json: process.ioPriority.class: unknown class \"IOPRIO_CLASS_NONE\"; expected one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE") {
            $0.process?.ioPriority = IOPriority(class: "IOPRIO_CLASS_NONE")
        },
        // Mounts.
        Case(#"config.json: mounts[1].destination: must be an absolute path, got "tmp""#) {
            $0.mounts?.append(Mount(destination: "tmp", type: "tmpfs"))
        },
        Case(#"config.json: mounts[1].destination: must not contain ".." components, got "/tmp/../etc""#) {
            $0.mounts?.append(Mount(destination: "/tmp/../etc", type: "tmpfs"))
        },
        Case(#"config.json: mounts[1].type: missing; required unless options include "bind" or "rbind""#) {
            $0.mounts?.append(Mount(destination: "/data", source: "/srv", options: ["ro"]))
        },
        Case("config.json: mounts[1].source: a bind mount needs a source") {
            $0.mounts?.append(Mount(destination: "/data", options: ["rbind"]))
        },
        Case("config.json: mounts[1].uidMappings[0].size: must be greater than 0") {
            $0.mounts?.append(Mount(destination: "/data", source: "/srv", options: ["bind"],
                                    uidMappings: [LinuxIDMapping(containerID: 0, hostID: 0, size: 0)]))
        },
        // Hooks.
        Case(#"config.json: hooks.prestart[0].path: must be an absolute path, got "hook""#) { $0.hooks?.prestart?[0].path = "hook" },
        Case("config.json: hooks.poststop[0].timeout: must be greater than 0 seconds, got 0") {
            $0.hooks?.poststop = [Hook(path: "/bin/x", timeout: 0)]
        },
        // Namespaces and id mappings.
        Case(#"config.json: linux.namespaces[3].type: unknown namespace type "net"; expected one of pid, network, mount, ipc, uts, user, cgroup, time"#) {
            $0.linux?.namespaces?.append(LinuxNamespace(type: "net"))
        },
        Case(#"config.json: linux.namespaces[3].type: duplicate namespace type "user""#) {
            $0.linux?.namespaces?.append(LinuxNamespace(type: "user"))
        },
        Case(#"config.json: linux.namespaces[3].path: must be an absolute path, got "proc/1/ns/net""#) {
            $0.linux?.namespaces?.append(LinuxNamespace(type: "network", path: "proc/1/ns/net"))
        },
        Case("config.json: linux.uidMappings[0].size: must be greater than 0") { $0.linux?.uidMappings?[0].size = 0 },
        Case("config.json: linux.uidMappings[1]: container IDs 0-9 overlap linux.uidMappings[0]") {
            $0.linux?.uidMappings = [LinuxIDMapping(containerID: 5, hostID: 100, size: 10),
                                     LinuxIDMapping(containerID: 0, hostID: 200, size: 10)]
        },
        Case("config.json: linux.gidMappings[1]: host IDs 105-114 overlap linux.gidMappings[0]") {
            $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 100, size: 10),
                                     LinuxIDMapping(containerID: 10, hostID: 105, size: 10)]
        },
        Case("config.json: linux.uidMappings[0]: containerID 4294967295 + size 2 goes past the largest 32-bit ID") {
            $0.linux?.uidMappings = [LinuxIDMapping(containerID: .max, hostID: 0, size: 2)]
        },
        Case("config.json: linux.gidMappings[0]: hostID 4294967290 + size 10 goes past the largest 32-bit ID") {
            $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 4_294_967_290, size: 10)]
        },
        // Time offsets, devices, sysctl.
        Case(#"config.json: linux.timeOffsets.realtime: unknown clock "realtime"; expected one of boottime, monotonic"#) {
            $0.linux?.namespaces?.append(LinuxNamespace(type: "time"))
            $0.linux?.timeOffsets = ["realtime": TimeOffset(secs: 1)]
        },
        Case("config.json: linux.timeOffsets.boottime.nanosecs: must be below 1000000000, got 1000000000") {
            $0.linux?.namespaces?.append(LinuxNamespace(type: "time"))
            $0.linux?.timeOffsets = ["boottime": TimeOffset(nanosecs: 1_000_000_000)]
        },
        Case(#"config.json: linux.timeOffsets: requires a new time namespace; add {"type": "time"} to linux.namespaces"#) {
            $0.linux?.timeOffsets = ["monotonic": TimeOffset(secs: 10)]
        },
        Case(#"config.json: linux.devices[1].type: unknown device type "x"; expected one of c, b, u, p"#) {
            $0.linux?.devices?.append(LinuxDevice(path: "/dev/x", type: "x"))
        },
        Case(#"config.json: linux.devices[1].path: must be an absolute path, got "dev/x""#) {
            $0.linux?.devices?.append(LinuxDevice(path: "dev/x", type: "c", major: 1, minor: 1))
        },
        Case(#"config.json: linux.devices[1].minor: required for device type "b""#) {
            $0.linux?.devices?.append(LinuxDevice(path: "/dev/sda", type: "b", major: 8))
        },
        Case(#"config.json: linux.sysctl["net/ipv4/ip_forward"]: invalid sysctl name; use dotted names such as "net.ipv4.ip_forward", without "/" or "..""#) {
            $0.linux?.sysctl = ["net/ipv4/ip_forward": "1"]
        },
        Case(#"config.json: linux.sysctl["kernel..x"]: invalid sysctl name; use dotted names such as "net.ipv4.ip_forward", without "/" or "..""#) {
            $0.linux?.sysctl?["kernel..x"] = "1"
        },
        Case(#"config.json: linux.sysctl[""]: invalid sysctl name; use dotted names such as "net.ipv4.ip_forward", without "/" or "..""#) {
            $0.linux?.sysctl?[""] = "1"
        },
        // Seccomp.
        Case(#"config.json: linux.seccomp.defaultAction: unknown action "SCMP_ACT_DENY"; expected one of SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY"#) {
            $0.linux?.seccomp?.defaultAction = "SCMP_ACT_DENY"
        },
        Case("config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action; use it in linux.seccomp.syscalls") {
            $0.linux?.seccomp?.defaultAction = "SCMP_ACT_NOTIFY"
            $0.linux?.seccomp?.listenerPath = "/run/listener.sock"
        },
        Case(#"config.json: linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_AMD64"; expected one of SCMP_ARCH_X86, SCMP_ARCH_X86_64, SCMP_ARCH_X32, SCMP_ARCH_ARM, SCMP_ARCH_AARCH64, SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64, SCMP_ARCH_MIPS64N32, SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64, SCMP_ARCH_MIPSEL64N32, SCMP_ARCH_PPC, SCMP_ARCH_PPC64, SCMP_ARCH_PPC64LE, SCMP_ARCH_S390, SCMP_ARCH_S390X, SCMP_ARCH_PARISC, SCMP_ARCH_PARISC64, SCMP_ARCH_RISCV64, SCMP_ARCH_LOONGARCH64"#) {
            $0.linux?.seccomp?.architectures?.append("SCMP_ARCH_AMD64")
        },
        Case(#"config.json: linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"; expected one of SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"#) {
            $0.linux?.seccomp?.flags = ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]
        },
        Case(#"config.json: linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"; expected one of SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY"#) {
            $0.linux?.seccomp?.syscalls?.append(LinuxSyscall(names: ["mount"], action: "SCMP_ACT_FOO"))
        },
        Case("config.json: linux.seccomp.syscalls[0].names: must list at least one syscall") { $0.linux?.seccomp?.syscalls?[0].names = [] },
        Case("config.json: linux.seccomp.syscalls[0].names[1]: must not be empty") { $0.linux?.seccomp?.syscalls?[0].names.append("") },
        Case("config.json: linux.seccomp.syscalls[3].action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath, the socket ward sends the notify fd to") {
            $0.linux?.seccomp?.syscalls?.append(LinuxSyscall(names: ["mount"], action: "SCMP_ACT_NOTIFY"))
        },
        Case("config.json: linux.seccomp.syscalls[2].args[0].index: must be in 0...5 (a syscall has six arguments), got 6") {
            $0.linux?.seccomp?.syscalls?[2].args?[0].index = 6
        },
        Case(#"config.json: linux.seccomp.syscalls[2].args[0].op: unknown operator "SCMP_CMP_MASKED"; expected one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ"#) {
            $0.linux?.seccomp?.syscalls?[2].args?[0].op = "SCMP_CMP_MASKED"
        },
        // The rest of linux.
        Case(#"config.json: linux.rootfsPropagation: unknown propagation "recursive"; expected one of shared, slave, private, unbindable, rshared, rslave, rprivate, runbindable"#) {
            $0.linux?.rootfsPropagation = "recursive"
        },
        Case(#"config.json: linux.maskedPaths[1]: must be an absolute path, got "proc/keys""#) { $0.linux?.maskedPaths?.append("proc/keys") },
        Case(#"config.json: linux.readonlyPaths[0]: must be an absolute path, got """#) { $0.linux?.readonlyPaths = [""] },
        Case(#"config.json: linux.personality.domain: unknown domain "LINUX64"; expected one of LINUX, LINUX32"#) {
            $0.linux?.personality = LinuxPersonality(domain: "LINUX64")
        },
    ]

    @Test func validSpecPasses() throws {
        try validSpec().validate()
    }

    @Test(arguments: cases)
    func reportsFirstProblem(_ testCase: Case) {
        var spec = validSpec()
        testCase.mutate(&spec)
        #expect(specErrorMessage { try spec.validate() } == testCase.expected)
    }

    @Test func reportsTheFirstProblemInDocumentOrder() {
        var spec = validSpec()
        spec.linux?.seccomp?.defaultAction = "bad"
        spec.process?.cwd = "relative"
        #expect(specErrorMessage { try spec.validate() } == #"config.json: process.cwd: must be an absolute path, got "relative""#)
    }

    @Test func processIsOptionalWhenNotRunning() throws {
        var spec = validSpec()
        spec.process = nil
        try spec.validate(requireProcess: false)
    }

    @Test func allowsWhatTheSpecAllows() throws {
        var spec = validSpec()
        spec.linux?.namespaces = nil  // no namespace list: hostname is not checked against it
        spec.mounts?.append(Mount(destination: "/etc/resolv.conf", source: "/etc/resolv.conf", options: ["rbind", "ro"]))
        spec.linux?.devices?.append(LinuxDevice(path: "/dev/fifo", type: "p"))
        spec.linux?.seccomp?.listenerPath = "/run/notify.sock"
        spec.linux?.seccomp?.syscalls?.append(LinuxSyscall(names: ["mount"], action: "SCMP_ACT_NOTIFY"))
        spec.process?.capabilities?.ambient = Capabilities.names
        spec.process?.rlimits = POSIXRlimit.rlimitNumbers.keys.map { POSIXRlimit(type: $0, hard: .max, soft: 0) }
        spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1),
                                   LinuxIDMapping(containerID: 1, hostID: 100_000, size: 65536),
                                   LinuxIDMapping(containerID: 65537, hostID: 4_294_901_760, size: 65536)]
        try spec.validate()
    }

    @Test func namesTheFile() {
        var spec = validSpec()
        spec.root?.path = ""
        #expect(specErrorMessage { try spec.validate(file: "/bundle/config.json") } == "/bundle/config.json: root.path: must not be empty")
    }
}
