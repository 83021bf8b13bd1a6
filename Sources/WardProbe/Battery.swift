import CWardShim
import WardSpec

#if canImport(Glibc)
import Glibc
#endif

extension ProbeBattery {
    static let cloneNewUser = 0x1000_0000, cloneNewNS = 0x0002_0000, cloneNewNet = 0x4000_0000
    // Capability numbers (linux/capability.h).
    static let capMknod = 27, capNetRaw = 13, capSysAdmin = 21, capSysModule = 16, capSysBoot = 22,
               capDacReadSearch = 2, capSysRawio = 17

    /// Every probe, in a fixed order (ids are stable: docs/compare-schema.json).
    mutating func all() -> [ProbeRecord] {
        var out: [ProbeRecord] = []
        out += identity()
        out += namespacesAndMounts()
        out += procAndSys()
        out += kernelSurface()
        out += drift()
        out += network()
        out += environmentAndLimits()
        return out
    }

    // MARK: identity: uid map, capabilities, no_new_privs, seccomp

    func identity() -> [ProbeRecord] {
        var out: [ProbeRecord] = []
        let map = Self.readText("/proc/self/uid_map") ?? ""
        let uid = getuid()
        var hostUID: UInt64?
        for line in map.split(separator: "\n") {
            let f = line.split(separator: " ").compactMap { UInt64($0) }
            guard f.count == 3 else { continue }
            if UInt64(uid) >= f[0] && UInt64(uid) < f[0] + f[2] { hostUID = f[1] + UInt64(uid) - f[0] }
        }
        let mapText = map.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }.joined(separator: "; ")
        if hostUID == 0 {
            out.append(record("uid-map", "Sandbox uid is host root", "4.5.4", .allowed, "none", "uid \(uid) is host uid 0 (uid_map: \(mapText))"))
        } else {
            out.append(record("uid-map", "Sandbox uid is host root", "4.5.4", .blocked, "namespace",
                              "uid \(uid) is host uid \(hostUID.map(String.init) ?? "unmapped") (uid_map: \(mapText))"))
        }
        for (id, field, title) in [("cap-effective", "CapEff", "Effective capabilities"), ("cap-bounding", "CapBnd", "Bounding capabilities"),
                                   ("cap-ambient", "CapAmb", "Ambient capabilities")] {
            let value = UInt64(status[field] ?? "", radix: 16)
            guard let value else { out.append(record(id, title, "4.4.3", .notApplicable, "none", "\(field) not in /proc/self/status")); continue }
            let count = value.nonzeroBitCount
            out.append(record(id, title, "4.4.3", count == 0 ? .blocked : .allowed, count == 0 ? "capability" : "none",
                              "\(field) \(String(value, radix: 16)) (\(count) capabilities)"))
        }
        let nnp = status["NoNewPrivs"] ?? "?"
        out.append(record("no-new-privs", "Gaining privileges through setuid/file capabilities", "4.4.3",
                          nnp == "1" ? .blocked : .allowed, nnp == "1" ? "no_new_privs" : "none", "NoNewPrivs \(nnp)"))
        let filters = status["Seccomp_filters"] ?? "?"
        out.append(record("seccomp-mode", "Unfiltered system calls", "4.5.2", seccompMode == 2 ? .blocked : .allowed,
                          seccompMode == 2 ? "seccomp" : "none",
                          "Seccomp mode \(seccompMode), \(filters) filter(s)" + (seccompMode == 2 ? ", denied calls get \(Self.name(filterErrno))\(filterErrnoLearned ? "" : " (assumed)")" : "")))
        return out
    }

    // MARK: namespaces and mounts

    func namespacesAndMounts() -> [ProbeRecord] {
        var out: [ProbeRecord] = []
        let nsBad = { self.sys("unshare", 0xff) }  // CSIGNAL bits: EINVAL from the kernel
        for (id, flag, title) in [("unshare-user", Self.cloneNewUser, "New user namespace (unshare CLONE_NEWUSER)"),
                                  ("unshare-mount", Self.cloneNewNS, "New mount namespace (unshare CLONE_NEWNS)"),
                                  ("unshare-net", Self.cloneNewNet, "New network namespace (unshare CLONE_NEWNET)")] {
            let r = ward_probe_unshare_child(Int32(flag))
            out.append(attempt(id, title, "4.5.2", what: "unshare(\(id.dropFirst(8)))", errno: -r, badArgument: nsBad,
                               otherMechanism: r == -ENOSPC ? "sysctl" : "namespace"))
        }
        let mountBad = { self.sys("mount", 0, 0, 0, 0, 0) }
        let tmpfs = "tmpfs".withCString { t in "/tmp".withCString { ward_probe_mount_child(t, $0, 1) } }
        out.append(attempt("mount-tmpfs", "Mount a tmpfs (in a new user namespace if it can make one)", "4.4.3",
                           what: "mount tmpfs", errno: -tmpfs, badArgument: mountBad))
        let proc = "proc".withCString { t in "/proc".withCString { ward_probe_mount_child(t, $0, 1) } }
        out.append(attempt("mount-proc", "Mount a new procfs", "4.4.3", what: "mount proc", errno: -proc, badArgument: mountBad))
        return out
    }

    // MARK: /proc and /sys

    func procAndSys() -> [ProbeRecord] {
        var out: [ProbeRecord] = []
        for (id, path, title) in [("write-core-pattern", "/proc/sys/kernel/core_pattern", "Open core_pattern for writing (host code execution)"),
                                  ("write-sysrq-trigger", "/proc/sysrq-trigger", "Open /proc/sysrq-trigger for writing")] {
            // Opened, never written.
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            let e = errno
            if fd >= 0 {
                close(fd)
                out.append(record(id, title, "4.5.5", .allowed, "none", "open \(path) O_WRONLY succeeded (nothing written)"))
            } else if e == EROFS {
                out.append(record(id, title, "4.5.5", .blocked, "readonly-fs", "open \(path): EROFS"))
            } else if e == ENOENT {
                out.append(record(id, title, "4.5.5", .notApplicable, "none", "\(path): ENOENT"))
            } else {
                out.append(record(id, title, "4.5.5", .blocked, "namespace", "open \(path): \(Self.name(e)) (owned by a uid the sandbox does not map)"))
            }
        }
        for (id, path, cap) in [("read-kcore", "/proc/kcore", Self.capSysRawio), ("read-keys", "/proc/keys", -1),
                                ("read-timer-list", "/proc/timer_list", -1)] {
            let title = "Read \(path)"
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            let e = errno
            guard fd >= 0 else {
                let mechanism = e == EPERM && cap >= 0 && !hasCap(cap) ? "capability" : (e == ENOENT ? "none" : "namespace")
                out.append(record(id, title, "4.5.2", e == ENOENT ? .notApplicable : .blocked, mechanism, "open \(path): \(Self.name(e))"))
                continue
            }
            var buf = [UInt8](repeating: 0, count: 64)
            let n = read(fd, &buf, buf.count)
            let re = errno
            var st = stat()
            fstat(fd, &st)
            close(fd)
            let isDevNull = (st.st_mode & S_IFMT) == S_IFCHR
            if n > 0 {
                out.append(record(id, title, "4.5.2", .allowed, "none", "read \(n) bytes"))
            } else if isDevNull || n == 0 {
                out.append(record(id, title, "4.5.2", .blocked, "masked-path", "\(path) reads empty (masked)"))
            } else {
                out.append(record(id, title, "4.5.2", .blocked, re == EPERM && cap >= 0 ? "capability" : "namespace", "read \(path): \(Self.name(re))"))
            }
        }
        var vfs = statvfs()
        if statvfs("/sys", &vfs) != 0 {
            out.append(record("writable-sys", "Writable /sys", "4.5.5", .notApplicable, "none", "statvfs /sys: \(Self.name(errno))"))
        } else if vfs.f_flag & UInt(ST_RDONLY) != 0 {
            out.append(record("writable-sys", "Writable /sys", "4.5.5", .blocked, "readonly-fs", "/sys is mounted read-only"))
        } else {
            let fd = open("/sys/kernel/uevent_helper", O_WRONLY | O_CLOEXEC)
            let e = errno
            if fd >= 0 { close(fd) }
            out.append(record("writable-sys", "Writable /sys", "4.5.5", fd >= 0 ? .allowed : .blocked, fd >= 0 ? "none" : "namespace",
                              "/sys is mounted read-write; open /sys/kernel/uevent_helper O_WRONLY: \(fd >= 0 ? "succeeded (nothing written)" : Self.name(e))"))
        }
        return out
    }

    // MARK: the kernel's attack surface

    func kernelSurface() -> [ProbeRecord] {
        var out: [ProbeRecord] = []
        // Raw sockets: a real socket (closed at once), attributed with an invalid type (EINVAL).
        for (id, family, type, proto, title) in [("raw-packet", AF_PACKET, SOCK_RAW, 0, "Raw packet socket (AF_PACKET)"),
                                                 ("raw-icmp", AF_INET, SOCK_RAW, Int32(IPPROTO_ICMP), "Raw ICMP socket (SOCK_RAW)")] {
            let fd = socket(family, Int32(type.rawValue), proto)
            let e = errno
            if fd >= 0 { close(fd) }
            out.append(attempt(id, title, "4.4.2", what: "socket", errno: fd >= 0 ? 0 : e, badArgument: {
                let s = socket(family, 0x0fff, proto)
                if s >= 0 { close(s); return 0 }
                return -Int(errno)
            }))
        }
        out.append(badArgument("keyctl", "Kernel keyring (keyctl)", "4.5.2", syscall: "keyctl") { sys("keyctl", 0x7fff) })
        out.append(badArgument("bpf", "eBPF (bpf)", "4.5.2", syscall: "bpf") { sys("bpf", 0x7fff, 0, 0) })
        out.append(badArgument("perf-event-open", "perf_event_open", "4.5.2", syscall: "perf_event_open") { sys("perf_event_open", 0, 0, -1, -1, 0) })
        out.append(badArgument("io-uring-setup", "io_uring_setup", "4.5.2", syscall: "io_uring_setup") { sys("io_uring_setup", 0, 0) })
        // UFFD_USER_MODE_ONLY passes the sysctl check; the bogus bit 0x2 then gets EINVAL.
        out.append(badArgument("userfaultfd", "userfaultfd", "4.5.2", syscall: "userfaultfd") { sys("userfaultfd", 0x1 | 0x2) })
        out.append(badArgument("finit-module", "Load a kernel module (finit_module)", "4.5.2", syscall: "finit_module",
                               capability: Self.capSysModule) { sys("finit_module", -1, 0, 0) })
        out.append(badArgument("kexec-load", "Load a new kernel (kexec_load)", "4.5.2", syscall: "kexec_load",
                               capability: Self.capSysBoot) { sys("kexec_load", 0, 0, 0, 0xdead_0000) })
        out.append(badArgument("open-by-handle-at", "open_by_handle_at (shocker)", "4.5.2", syscall: "open_by_handle_at",
                               capability: Self.capDacReadSearch) { sys("open_by_handle_at", -1, 0, 0) })
        // A request number no kernel has, on pid 0: ESRCH/EIO when the call reaches ptrace.
        out.append(badArgument("ptrace", "ptrace", "4.5.2", syscall: "ptrace") { sys("ptrace", 0x7fff, 0, 0, 0) })
        // 0xffffffff only queries the persona.
        out.append(badArgument("personality", "personality", "4.5.2", syscall: "personality") { sys("personality", 0xffff_ffff) })
        // mknod of a block device (loop0), in /tmp or /dev/shm; removed if it was made.
        var dir = "/tmp"
        if access("/tmp", W_OK) != 0 { dir = "/dev/shm" }
        let node = "\(dir)/.ward-probe-blk-\(getpid())"
        let made = mknod(node, S_IFBLK | 0o600, (7 << 8) | 0)
        let me = errno
        if made == 0 { unlink(node) }
        out.append(attempt("mknod-block", "Create a block device node", "4.5.5", what: "mknod \(node) b 7 0", errno: made == 0 ? 0 : me,
                           badArgument: { self.sys("mknodat", -100, 0, Int(S_IFBLK | 0o600), 0) }))
        // TIOCSTI with a NULL pointer: EFAULT means the byte would have been pushed into the terminal.
        var ttyFD: Int32 = -1
        var ttyName = ""
        for fd: Int32 in [0, 1, 2] where isatty(fd) == 1 { ttyFD = fd; ttyName = "fd \(fd)"; break }
        var opened = false
        if ttyFD < 0 { ttyFD = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC); opened = ttyFD >= 0; ttyName = "/dev/tty" }
        if ttyFD < 0 {
            out.append(record("tiocsti", "Inject input into the terminal (TIOCSTI)", "4.4.3", .notApplicable, "none", "no terminal"))
        } else {
            let r = ward_probe_tiocsti(ttyFD)
            if opened { close(ttyFD) }
            let e = Int32(-r)
            switch e {
            case EFAULT: out.append(record("tiocsti", "Inject input into the terminal (TIOCSTI)", "4.4.3", .allowed, "none", "ioctl(\(ttyName), TIOCSTI, NULL): EFAULT: it reached the copy"))
            case EIO: out.append(record("tiocsti", "Inject input into the terminal (TIOCSTI)", "4.4.3", .blocked, "sysctl", "EIO: dev.tty.legacy_tiocsti is 0"))
            default: out.append(record("tiocsti", "Inject input into the terminal (TIOCSTI)", "4.4.3", .blocked,
                                       filtered(e) && seccompMode == 2 ? "seccomp|capability" : "capability", "ioctl TIOCSTI: \(Self.name(e))"))
            }
        }
        // The probe's own binary (the sealed copy under ward compare): can it be opened for writing?
        let exe = (try? readlink("/proc/self/exe")) ?? "?"
        let fd = open("/proc/self/exe", O_WRONLY | O_CLOEXEC)
        let e = errno
        if fd >= 0 {
            let seals = ward_probe_seals(fd)
            close(fd)
            let sealed = seals >= 0 && seals & 0x8 != 0  // F_SEAL_WRITE
            out.append(record("overwrite-runtime", "Overwrite the runtime binary through /proc/self/exe (CVE-2019-5736)", "4.4.1",
                              sealed ? .blocked : .allowed, sealed ? "seal" : "none", "opened \(exe) for writing; seals \(seals)"))
        } else {
            out.append(record("overwrite-runtime", "Overwrite the runtime binary through /proc/self/exe (CVE-2019-5736)", "4.4.1", .blocked,
                              exe.hasPrefix("/memfd:") ? "seal" : (e == EROFS ? "readonly-fs" : "namespace"),
                              "open \(exe) O_WRONLY: \(Self.name(e))"))
        }
        return out
    }

    func readlink(_ path: String) throws -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = Glibc.readlink(path, &buf, buf.count - 1)
        guard n >= 0 else { return "?" }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: file system drift

    func drift() -> [ProbeRecord] {
        var out: [ProbeRecord] = []
        let rootFD = open("/.ward-probe-write-\(getpid())", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        let re = errno
        if rootFD >= 0 { close(rootFD); unlink("/.ward-probe-write-\(getpid())") }
        out.append(record("write-rootfs", "Write to the root file system", "4.4.4", rootFD >= 0 ? .allowed : .blocked,
                          rootFD >= 0 ? "none" : (re == EROFS ? "readonly-fs" : "namespace"),
                          rootFD >= 0 ? "created a file in / (removed)" : "create in /: \(Self.name(re))"))
        for (id, dir) in [("drift-rootfs", "/"), ("drift-tmp", "/tmp"), ("drift-dev-shm", "/dev/shm"), ("drift-run", "/run")] {
            let title = "Write and execute a new program in \(dir)"
            var stage: Int32 = 0
            let r = (dir == "/" ? "" : dir).withCString { ward_probe_drift($0, &stage) }
            if r == 0 {
                out.append(record(id, title, "4.4.4", .allowed, "none", "wrote a program to \(dir) and it ran"))
            } else if stage == 1 {
                let e = Int32(-r)
                out.append(record(id, title, "4.4.4", e == ENOENT ? .notApplicable : .blocked, e == EROFS ? "readonly-fs" : "none",
                                  "write in \(dir): \(Self.name(e))"))
            } else {
                let e = Int32(-r)
                out.append(record(id, title, "4.4.4", .blocked, e == EACCES ? "noexec" : (filtered(e) ? "seccomp" : "none"),
                                  e <= -1000 ? "the program died of signal \(-e - 1000)" : "exec from \(dir): \(Self.name(e))"))
            }
        }
        var stage: Int32 = 0
        let r = ward_probe_memfd_exec(&stage)
        let e = Int32(-r)
        let title = "Fileless execution (memfd_create + execveat)"
        if r == 0 {
            out.append(record("drift-memfd", title, "4.4.4", .allowed, "none", "a program written to a memfd ran"))
        } else {
            out.append(record("drift-memfd", title, "4.4.4", .blocked, filtered(e) ? "seccomp" : (e == EACCES ? "sysctl" : "none"),
                              "\(stage == 1 ? "memfd_create/write" : "execveat"): \(Self.name(e))"))
        }
        return out
    }

    // MARK: network

    func network() -> [ProbeRecord] {
        var out: [ProbeRecord] = []
        // TCP connect to 1.1.1.1:53, 1 s at most; nothing is ever sent.
        let r = ward_probe_connect("1.1.1.1", 53, 1000)
        let e = Int32(-r)
        if r == 0 || e == ECONNREFUSED {
            out.append(record("net-outbound", "Outbound network (TCP connect to 1.1.1.1:53)", "4.4.2", .allowed, "none",
                              r == 0 ? "connected (closed at once, nothing sent)" : "ECONNREFUSED: packets leave the sandbox"))
        } else if e == ETIMEDOUT {
            out.append(record("net-outbound", "Outbound network (TCP connect to 1.1.1.1:53)", "4.4.2", .allowed, "none",
                              "no answer within 1 s, but a route exists"))
        } else {
            out.append(record("net-outbound", "Outbound network (TCP connect to 1.1.1.1:53)", "4.4.2", .blocked,
                              filtered(e) ? "seccomp" : "namespace", "connect: \(Self.name(e))"))
        }
        var reached: [Int32] = []
        var lastError: Int32 = 0
        for port: Int32 in [22, 53, 80, 443, 631, 2375, 2376, 3306, 5432, 6379, 8080, 10250] {
            let r = ward_probe_connect("127.0.0.1", port, 200)
            if r == 0 { reached.append(port) } else { lastError = Int32(-r) }
        }
        out.append(record("net-loopback", "Services on loopback (host's 127.0.0.1)", "4.4.2", reached.isEmpty ? .blocked : .allowed,
                          reached.isEmpty ? "namespace" : "none",
                          reached.isEmpty ? "no listener on 12 common ports (\(Self.name(lastError)))" : "listening: \(reached.map(String.init).joined(separator: ", "))"))
        var sockets = ["/run/docker.sock", "/var/run/docker.sock", "/run/podman/podman.sock", "/run/containerd/containerd.sock",
                       "/run/crio/crio.sock"]
        if let xdg = getenv("XDG_RUNTIME_DIR") { sockets += [String(cString: xdg) + "/podman/podman.sock", String(cString: xdg) + "/docker.sock"] }
        var visible: [String] = []
        for path in sockets {
            var st = stat()
            if stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK { visible.append(path) }
        }
        out.append(record("engine-socket", "A container engine's socket is visible", "4.4.3", visible.isEmpty ? .blocked : .allowed,
                          visible.isEmpty ? "namespace" : "none",
                          visible.isEmpty ? "none of \(sockets.count) known paths" : visible.joined(separator: ", ")))
        return out
    }

    // MARK: environment and limits

    func environmentAndLimits() -> [ProbeRecord] {
        var out: [ProbeRecord] = []
        var names: [String] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            let name = String(s.prefix { $0 != "=" })
            let upper = name.uppercased()
            if upper.contains("SECRET") || upper.contains("TOKEN") || upper.contains("PASSWORD") { names.append(name) }
            p += 1
        }
        out.append(record("env-secrets", "Secrets in the environment", "4.1.4", names.isEmpty ? .blocked : .allowed, names.isEmpty ? "config" : "none",
                          names.isEmpty ? "no variable named *SECRET*, *TOKEN* or *PASSWORD*" : "variables (values not read): \(names.sorted().joined(separator: ", "))"))
        for (id, resource, title, bound) in [("rlimit-nofile", 7, "Open-file limit (RLIMIT_NOFILE)", UInt64(65536)),
                                             ("rlimit-nproc", 6, "Process limit (RLIMIT_NPROC)", UInt64(4096))] {
            var lim = rlimit()
            getrlimit(__rlimit_resource_t(resource), &lim)
            let soft = lim.rlim_cur, hard = lim.rlim_max
            func text(_ v: rlim_t) -> String { v == rlim_t.max ? "unlimited" : String(v) }
            let limited = hard != rlim_t.max && UInt64(hard) <= bound
            out.append(record(id, title, "4.4.3", limited ? .blocked : .allowed, limited ? "rlimit" : "none",
                              "soft \(text(soft)), hard \(text(hard)) (limited means hard <= \(bound))"))
        }
        var err: Int32 = 0
        let n = ward_probe_fork_bounded(200, &err)
        out.append(record("fork-bomb", "Bounded fork bomb (200 processes)", "4.4.3", n >= 200 ? .allowed : .blocked,
                          n >= 200 ? "none" : (err == EAGAIN ? "rlimit" : (filtered(err) ? "seccomp" : "none")),
                          "\(n) of 200 forks succeeded\(err != 0 ? " (then \(Self.name(err)))" : ""); all killed"))
        return out
    }
}
