/// ward's hardened starting config (what `ward spec` writes and the demo runs).
///
/// NIST SP 800-190 §4.4 in config form: a user namespace (never host root), every other
/// namespace new (no network at all), a read-only rootfs with noexec/nosuid/nodev tmpfs for the
/// writable paths, no capabilities, no_new_privs, masked /proc and /sys paths, and an allow-list
/// seccomp filter that refuses with EPERM whatever is not on it.
public enum DefaultConfig {
    /// Syscalls a normal program needs, by family. Everything else is refused: in particular
    /// mount and namespace calls, ptrace and process_vm_*, keyctl/add_key, bpf, perf_event_open,
    /// io_uring, userfaultfd, personality, kexec/modules, open_by_handle_at (CVE-2014-9357's
    /// "shocker"), the new mount API, clock setting, swap, reboot and syslog.
    public static let allowedSyscalls: [String] = [
        // file I/O
        "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
        "open", "openat", "openat2", "close", "close_range", "creat", "lseek", "dup", "dup2", "dup3",
        "pipe", "pipe2", "fcntl", "ioctl", "flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
        "truncate", "ftruncate", "fallocate", "sendfile", "splice", "tee", "vmsplice", "copy_file_range",
        "readahead", "fadvise64",
        // metadata and directories
        "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2",
        "readlink", "readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir",
        "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat",
        "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "utime", "utimes", "utimensat",
        "futimesat", "umask", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
        "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
        "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
        // memory
        "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mlock", "mlock2", "munlock", "mlockall",
        "munlockall", "mincore", "msync", "membarrier", "memfd_create", "pkey_alloc", "pkey_free", "pkey_mprotect",
        "get_mempolicy", "set_mempolicy",
        // processes and threads (clone is further limited below: no namespace flags)
        "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid", "kill", "tkill", "tgkill",
        "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
        "getgroups", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
        "setfsuid", "setfsgid", "setsid", "getsid", "setpgid", "getpgid", "getpgrp", "getpriority", "setpriority",
        "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam",
        "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
        "sched_rr_get_interval", "sched_getattr", "sched_setattr", "prctl", "arch_prctl", "set_tid_address",
        "set_robust_list", "get_robust_list", "rseq", "futex", "futex_waitv", "getrlimit", "setrlimit",
        "prlimit64", "getrusage", "times", "uname", "sysinfo", "capget", "capset", "getcpu", "getrandom",
        "ioprio_get", "ioprio_set", "pidfd_open", "pidfd_send_signal", "seccomp",
        "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
        // signals
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo",
        "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack", "signalfd", "signalfd4", "pause", "alarm",
        "restart_syscall",
        // time
        "clock_gettime", "clock_getres", "clock_nanosleep", "gettimeofday", "time", "nanosleep", "getitimer",
        "setitimer", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_settime",
        "timerfd_create", "timerfd_gettime", "timerfd_settime",
        // event loops
        "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
        "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
        // sockets (raw sockets still need CAP_NET_RAW, and there is no network)
        "socket", "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname", "getpeername",
        "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "setsockopt", "getsockopt",
        // System V and POSIX IPC (in the container's own ipc namespace)
        "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semctl", "semtimedop", "msgget", "msgsnd",
        "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
        // async I/O (not io_uring)
        "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents",
    ]

    /// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone is allowed only without these.
    public static let namespaceCloneFlags: UInt64 = 0x7E02_0000

    public static let maskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ]
    public static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    /// The config as JSON text. `uid`/`gid` are the caller's host ids (mapped to root inside).
    public static func json(uid: UInt32, gid: UInt32, args: [String] = ["sh"], terminal: Bool = false) -> String {
        func quote(_ s: String) -> String {
            var out = "\""
            for c in s.unicodeScalars {
                switch c {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                default:
                    if c.value < 0x20 {
                        let hex = String(c.value, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else {
                        out.unicodeScalars.append(c)
                    }
                }
            }
            return out + "\""
        }
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
        let syscalls = """
              {"names": \(list(allowedSyscalls, indent: "        ")), "action": "SCMP_ACT_ALLOW"},
              {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": \(namespaceCloneFlags), "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
              {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        """
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
              "defaultAction": "SCMP_ACT_ERRNO",
              "defaultErrnoRet": 1,
              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
              "syscalls": [
        \(syscalls)
              ]
            }
          }
        }

        """
    }
}
