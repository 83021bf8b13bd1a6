import WardSpec

/// ward's hardened starting config (what `ward spec` writes and the demo runs).
///
/// NIST SP 800-190 §4.4 in config form: a user namespace (never host root), every other
/// namespace new (no network at all), a read-only rootfs with noexec/nosuid/nodev tmpfs for the
/// writable paths, no capabilities, no_new_privs, masked /proc and /sys paths, and an allow-list
/// seccomp filter that refuses with EPERM whatever is not on it.
public enum DefaultConfig {
    /// The `default` profile (profiles/default.json, embedded): the one source of ward's hardened
    /// policy. `json` below writes its namespaces-independent skeleton and takes every policy list
    /// from here; ProfileTests checks that applying the profile to `json`'s output changes nothing.
    public static let profile: Profile = {
        guard let text = BuiltinProfiles.files["default.json"] else { fatalError("default.json is not embedded") }
        do { return try Profile.parse(Array(text.utf8), file: "default.json") } catch { fatalError("\(error)") }
    }()

    /// The default filter (the profile's `seccomp`).
    public static var seccomp: LinuxSeccomp {
        guard case .oci(let s) = profile.seccomp else { fatalError("default.json has no inline seccomp") }
        return s
    }

    /// Syscalls a normal program needs, by family (the first rule of the default filter).
    /// Everything else is refused: in particular mount and namespace calls, ptrace and
    /// process_vm_*, keyctl/add_key, bpf, perf_event_open, io_uring, userfaultfd, personality,
    /// kexec/modules, open_by_handle_at (CVE-2014-9357's "shocker"), the new mount API, clock
    /// setting, swap, reboot and syslog.
    public static var allowedSyscalls: [String] { seccomp.syscalls?.first?.names ?? [] }

    /// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone is allowed only without these.
    public static let namespaceCloneFlags: UInt64 = 0x7E02_0000

    public static var maskedPaths: [String] { profile.maskedPaths ?? [] }
    public static var readonlyPaths: [String] { profile.readonlyPaths ?? [] }

    /// The default filter as the indented JSON lines of `linux.seccomp.syscalls`.
    static func seccompRules(indent: String) -> String {
        (seccomp.syscalls ?? []).map { rule in
            var members: [String: JSONValue] = ["names": .array(rule.names.map { .string($0) }), "action": .string(rule.action)]
            if let e = rule.errnoRet { members["errnoRet"] = .int(Int64(e)) }
            if let args = rule.args {
                members["args"] = .array(args.map { a in
                    var m: [String: JSONValue] = ["index": .int(Int64(a.index)), "value": .uint(a.value), "op": .string(a.op)]
                    if let two = a.valueTwo { m["valueTwo"] = .uint(two) }
                    return .object(m)
                })
            }
            return indent + JSONValue.object(members).jsonText
        }.joined(separator: ",\n")
    }

    /// The config as JSON text. `uid`/`gid` are the caller's host ids (mapped to root inside).
    public static func json(uid: UInt32, gid: UInt32, args: [String] = ["sh"], terminal: Bool = false) -> String {
        let quote = JSONValue.quoted
        func list(_ items: [String], indent: String) -> String {
            "[\n" + items.map { indent + "  " + quote($0) }.joined(separator: ",\n") + "\n" + indent + "]"
        }
        let tmpfs = ["nosuid", "nodev", "noexec", "mode=1777", "size=65536k"]
        func mount(_ dest: String, _ type: String, _ source: String, _ options: [String]) -> String {
            "    {\"destination\": \(quote(dest)), \"type\": \(quote(type)), \"source\": \(quote(source)), \"options\": [\(options.map(quote).joined(separator: ", "))]}"
        }
        let mounts = [
            mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
            mount("/dev", "tmpfs", "tmpfs", ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"]),
            mount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
            mount("/dev/shm", "tmpfs", "shm", tmpfs),
            mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
            mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
            mount("/tmp", "tmpfs", "tmpfs", tmpfs),
            mount("/run", "tmpfs", "tmpfs", ["nosuid", "nodev", "noexec", "mode=755", "size=65536k"]),
        ]
        let syscalls = seccompRules(indent: "          ")
        return """
        {
          "ociVersion": "1.2.0",
          "process": {
            "terminal": \(terminal),
            "user": {"uid": 0, "gid": 0},
            "args": \(list(args, indent: "    ")),
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "HOME=/root"],
            "cwd": "/",
            "capabilities": {"bounding": [], "effective": [], "permitted": [], "inheritable": [], "ambient": []},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
          },
          "root": {"path": "rootfs", "readonly": true},
          "hostname": "ward",
          "mounts": [
        \(mounts.joined(separator: ",\n"))
          ],
          "linux": {
            "uidMappings": [{"containerID": 0, "hostID": \(uid), "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": \(gid), "size": 1}],
            "namespaces": [{"type": "user"}, {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": \(list(maskedPaths, indent: "    ")),
            "readonlyPaths": \(list(readonlyPaths, indent: "    ")),
            "seccomp": {
              "defaultAction": \(quote(seccomp.defaultAction)),
              "defaultErrnoRet": \(seccomp.defaultErrnoRet ?? 1),
              "architectures": [\((seccomp.architectures ?? []).map(quote).joined(separator: ", "))],
              "syscalls": [
        \(syscalls)
              ]
            }
          }
        }

        """
    }
}
