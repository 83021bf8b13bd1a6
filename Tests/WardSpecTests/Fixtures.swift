import FoundationEssentials
import WardSpec

/// A trimmed copy of the podman-generated `shared/bench/hardened-config.json`,
/// plus a few fields it lacks (hooks, devices, seccomp args) and some unknown ones.
let realisticConfig = #"""
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "user": { "uid": 0, "gid": 0, "additionalGids": [10] },
    "args": [ "/bin/true" ],
    "env": [ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm" ],
    "cwd": "/",
    "capabilities": {
      "bounding": [ "CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT" ],
      "effective": [ "CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT" ],
      "permitted": [ "CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT" ]
    },
    "rlimits": [
      { "type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000 },
      { "type": "RLIMIT_NPROC", "hard": 32768, "soft": 32768 }
    ],
    "terminal": false,
    "noNewPrivileges": true,
    "oomScoreAdj": -500,
    "commandLine": "ignored on Linux",
    "execCPUAffinity": { "initial": "0-1" }
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "9b4b3b11917b",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc", "options": [ "nosuid", "noexec", "nodev" ] },
    { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": [ "rw", "nosuid", "nodev", "tmpcopyup" ] },
    { "destination": "/etc/hosts", "source": "/run/hosts", "options": [ "rbind", "ro" ] }
  ],
  "hooks": {
    "poststop": [ { "path": "/usr/bin/cleanup", "args": [ "cleanup", "--all" ], "timeout": 5 } ]
  },
  "annotations": { "io.container.manager": "libpod" },
  "linux": {
    "uidMappings": [ { "containerID": 0, "hostID": 1000, "size": 1 } ],
    "gidMappings": [ { "containerID": 0, "hostID": 1000, "size": 1 } ],
    "sysctl": { "net.ipv4.ping_group_range": "0 0" },
    "resources": { "memory": { "limit": 9223372036854775807, "swap": -1 }, "cpu": { "shares": 1024, "quota": 0.5 } },
    "namespaces": [ { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "user" } ],
    "devices": [ { "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0 } ],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 38,
      "architectures": [ "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" ],
      "syscalls": [
        { "names": [ "bdflush", "kexec_load" ], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 },
        { "names": [ "personality" ], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ" } ] },
        { "names": [ "read", "write" ], "action": "SCMP_ACT_ALLOW" }
      ]
    },
    "maskedPaths": [ "/proc/acpi", "/proc/kcore" ],
    "readonlyPaths": [ "/proc/asound", "/proc/bus" ],
    "intelRdt": { "closID": "ignored" }
  },
  "windows": { "ignored": true }
}
"""#

func decodeRealistic() throws -> Spec {
    try Spec.decode(Array(realisticConfig.utf8))
}

/// The smallest spec that passes `validate()` while touching most sections.
func validSpec() -> Spec {
    Spec(
        process: Process(
            user: User(uid: 0, gid: 0), args: ["/bin/sh"], env: ["PATH=/bin"], cwd: "/",
            capabilities: LinuxCapabilities(bounding: ["CAP_CHOWN"], effective: ["CAP_CHOWN"]),
            rlimits: [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)]),
        root: Root(path: "rootfs"),
        hostname: "box",
        mounts: [Mount(destination: "/proc", type: "proc", source: "proc")],
        hooks: Hooks(prestart: [Hook(path: "/bin/hook", timeout: 5)]),
        linux: Linux(
            uidMappings: [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)],
            gidMappings: [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)],
            sysctl: ["net.ipv4.ip_forward": "1"],
            namespaces: [LinuxNamespace(type: "user"), LinuxNamespace(type: "uts"), LinuxNamespace(type: "mount")],
            devices: [LinuxDevice(path: "/dev/null", type: "c", major: 1, minor: 3)],
            seccomp: LinuxSeccomp(
                defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64"],
                syscalls: [
                    LinuxSyscall(names: ["read"], action: "SCMP_ACT_ALLOW"),
                    LinuxSyscall(names: ["ptrace"], action: "SCMP_ACT_ERRNO", errnoRet: 1),
                    LinuxSyscall(names: ["clone"], action: "SCMP_ACT_ALLOW",
                                 args: [LinuxSeccompArg(index: 0, value: 0x1000_0000, op: "SCMP_CMP_MASKED_EQ")]),
                ]),
            maskedPaths: ["/proc/kcore"], readonlyPaths: ["/proc/sys"]))
}

/// `shared/bench/hardened-config.json`, if this checkout sits next to `shared/`.
func sharedHardenedConfig() -> [UInt8]? {
    let packageRoot = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    return (try? Data(contentsOf: packageRoot.appending(path: "../shared/bench/hardened-config.json"))).map { Array($0) }
}

/// The `description` of the SpecError `body` throws, or nil if it throws nothing.
func specErrorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as SpecError {
        return error.description
    } catch {
        return "not a SpecError: \(error)"
    }
}

/// Every field of every model set, so a field the fast decoder forgets shows up as a difference.
func fullSpec() -> Spec {
    let mapping = LinuxIDMapping(containerID: 0, hostID: 100_000, size: 65536)
    return Spec(
        ociVersion: "1.2.0",
        process: Process(
            terminal: true, consoleSize: ConsoleSize(height: 24, width: 80),
            user: User(uid: 1, gid: 2, umask: 0o22, additionalGids: [3, 4], username: "nobody"),
            args: ["/bin/sh", "-c", "true"], env: ["A=b"], cwd: "/work",
            capabilities: LinuxCapabilities(bounding: ["CAP_KILL"], effective: ["CAP_KILL"], inheritable: ["CAP_KILL"],
                                            permitted: ["CAP_KILL"], ambient: ["CAP_KILL"]),
            rlimits: [POSIXRlimit(type: "RLIMIT_CORE", hard: .max, soft: 0)],
            noNewPrivileges: true, apparmorProfile: "profile", oomScoreAdj: -17, selinuxLabel: "label",
            ioPriority: IOPriority(class: "IOPRIO_CLASS_IDLE", priority: 7),
            scheduler: .object(["policy": .string("SCHED_BATCH"), "nice": .int(-3), "runtime": .uint(.max),
                                "flags": .array([.string("SCHED_FLAG_RESET_ON_FORK")]), "x": .null,
                                "ratio": .double(0.25), "on": .bool(false)]),
            umask: 0o77),
        root: Root(path: "/var/lib/rootfs", readonly: false),
        hostname: "host", domainname: "example.org",
        mounts: [Mount(destination: "/data", type: "none", source: "/srv", options: ["rbind"],
                       uidMappings: [mapping], gidMappings: [mapping])],
        hooks: Hooks(
            prestart: [Hook(path: "/h/1", args: ["1"], env: ["E=1"], timeout: 1)], createRuntime: [Hook(path: "/h/2")],
            createContainer: [Hook(path: "/h/3")], startContainer: [Hook(path: "/h/4")],
            poststart: [Hook(path: "/h/5")], poststop: [Hook(path: "/h/6")]),
        annotations: ["org.example/key": "value"],
        linux: Linux(
            uidMappings: [mapping], gidMappings: [mapping], sysctl: ["kernel.domainname": "example.org"],
            resources: .object(["pids": .object(["limit": .int(100)])]), cgroupsPath: "/ward/box",
            namespaces: [LinuxNamespace(type: "network", path: "/proc/1/ns/net"), LinuxNamespace(type: "uts"),
                         LinuxNamespace(type: "time")],
            devices: [LinuxDevice(path: "/dev/tty0", type: "c", major: 4, minor: 0, fileMode: 0o620, uid: 0, gid: 5)],
            seccomp: LinuxSeccomp(
                defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1, architectures: ["SCMP_ARCH_AARCH64"],
                flags: ["SECCOMP_FILTER_FLAG_LOG"], listenerPath: "/run/seccomp.sock", listenerMetadata: "meta",
                syscalls: [LinuxSyscall(names: ["mount"], action: "SCMP_ACT_NOTIFY", errnoRet: 2,
                                        args: [LinuxSeccompArg(index: 1, value: 2, valueTwo: 3, op: "SCMP_CMP_MASKED_EQ")])]),
            rootfsPropagation: "rslave", maskedPaths: ["/proc/kcore"], readonlyPaths: ["/proc/sys"],
            mountLabel: "mount-label", timeOffsets: ["boottime": TimeOffset(secs: -1, nanosecs: 2)],
            personality: LinuxPersonality(domain: "LINUX", flags: ["ADDR_NO_RANDOMIZE"])))
}

/// Decodes `T` through its Codable conformance instead of `JSONDecodable`
/// (this wrapper is only `Decodable`, so `JSONFile.decode` takes the Codable path).
struct ViaCodable<T: Decodable>: Decodable {
    let value: T
    init(from decoder: any Decoder) throws { value = try T(from: decoder) }
}
