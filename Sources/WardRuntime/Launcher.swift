import CWardShim
import WardPlan
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// What the caller asked for on the command line.
public struct RunRequest {
    public var bundle: BundleDirectory
    public var options = LaunchOptions()
    public var timeout: Double?
    public var environment: [String: String] = [:]
    public init(bundle: BundleDirectory) { self.bundle = bundle }
}

public struct RunOutcome: Equatable {
    public var exitCode: Int32
    public var signal: Int32?
    public var timedOut = false
}

/// Plans and launches one container and supervises it until it exits.
/// Single-threaded from start to finish: no Dispatch, no Swift concurrency (ARCHITECTURE.md:
/// only the calling thread survives clone).
public enum Launcher {
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

    /// Gathers the plan's inputs from the machine, then builds the plan (pure).
    public static func plan(_ request: RunRequest) throws(WardError) -> LaunchPlan {
        let bundle = request.bundle
        let caller = Caller(uid: geteuid(), gid: getegid())
        var input = PlanInput(spec: bundle.spec, bundle: bundle.path, rootfs: bundle.rootfs, caller: caller)
        input.file = bundle.configFile.hasSuffix("/config.json") ? "config.json" : bundle.configFile
        input.options = request.options
        if let text = try? Sys.readFile("/proc/sys/kernel/cap_last_cap"),
           let last = Int32(String(decoding: text, as: UTF8.self).trimmingWhitespace) {
            input.capLastCap = last
        }
        let process = bundle.spec.process
        let needsUserDB = process?.user.username != nil || !(process?.env ?? []).contains { $0.hasPrefix("HOME=") }
        if needsUserDB { input.passwd = BundleDirectory.readInRoot(bundle.rootfs, "etc/passwd") }
        if process?.user.username != nil { input.group = BundleDirectory.readInRoot(bundle.rootfs, "etc/group") }
        if !caller.isRoot && needsSubIDs(bundle.spec, caller: caller) {
            input.caller.name = hostUserName(caller.uid)
            let subuid = (try? Sys.readFile("/etc/subuid")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let subgid = (try? Sys.readFile("/etc/subgid")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            input.subuid = SubIDRange.parse(subuid, name: input.caller.name, id: caller.uid)
            input.subgid = SubIDRange.parse(subgid, name: input.caller.name, id: caller.gid)
        }
        do {
            return try PlanBuilder.build(input)
        } catch {
            throw WardError(error.description)
        }
    }

    /// Launches the plan and waits for the workload. Returns its outcome.
    public static func run(_ plan: LaunchPlan, request: RunRequest, log: Log) throws(WardError) -> RunOutcome {
        for notice in plan.notices { Sys.stderr(notice) }

        var program: [UInt8]?
        let seccompStart = Clock.now()
        defer { log.debug("timing: seccomp program ready in \(Clock.since(seccompStart)) µs") }
        if let filter = plan.seccomp {
            do {
                let result = try SeccompCache(environment: request.environment).program(for: filter)
                program = result.program
                switch result.outcome {
                case .hit: log.debug("seccomp: cache hit \(result.key) (\(result.program.count / 8) instructions; libseccomp compiler not called)")
                case .compiled: log.debug("seccomp: compiled with libseccomp \(SeccompResolver.libseccompVersion) (\(result.program.count / 8) instructions), cached as \(result.key)")
                case .uncached(let reason): log.debug("seccomp: compiled with libseccomp, not cached: \(reason)")
                }
            } catch {
                throw WardError("config.json: linux.seccomp: \(error.description)")
            }
        }

        var joinFDs: [Int32] = []
        defer { for fd in joinFDs { close(fd) } }
        for join in plan.joinPaths {
            let fd = open(join.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw WardError("config.json: linux.namespaces (\(join.type)): open \(join.path): \(ErrnoName.of(errno)); the namespace to join must exist")
            }
            joinFDs.append(fd)
        }

        let lowered: Lowering
        do {
            lowered = try Lowering(plan: plan, seccompProgram: program, joinFDs: joinFDs, consoleSocketFD: -1)
        } catch {
            throw WardError(error.description)
        }

        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw WardError("socketpair: \(ErrnoName.of(errno))")
        }
        // Block the signals we forward before clone, so none is lost between clone and the loop;
        // the child unblocks them just before exec.
        let signals = forwarded + [SIGCHLD, SIGWINCH]
        let sigfd = signals.withUnsafeBufferPointer { ward_signalfd($0.baseAddress, Int32($0.count)) }
        guard sigfd >= 0 else { throw WardError("signalfd: \(ErrnoName.of(errno))") }

        let started = Clock.now()
        let pid: pid_t = lowered.ops.withUnsafeBufferPointer { ops in
            var launch = ward_launch(clone_flags: UInt(plan.cloneFlags), ops: ops.baseAddress, nops: ops.count,
                                     sync_child: pair[1], sync_parent: pair[0])
            return ward_clone_and_run(&launch)
        }
        close(pair[1])
        guard pid > 0 else {
            let e = errno
            close(pair[0]); close(sigfd)
            let hint = e == EPERM || e == ENOSPC || e == EUSERS
                ? "; unprivileged user namespaces may be disabled or exhausted (user.max_user_namespaces)" : ""
            throw WardError("clone: \(ErrnoName.of(e))\(hint)")
        }
        log.debug("cloned pid \(pid) with flags 0x\(String(plan.cloneFlags, radix: 16)) in \(Clock.since(started)) µs")

        let supervisor = Supervisor(pid: pid, sync: pair[0], signalFD: sigfd, plan: plan, timeout: request.timeout, log: log)
        do {
            try writeIDMaps(plan.idMaps, pid: pid, log: log)
            switch plan.idMaps {
            case .parentWrites, .helpers:
                var go = ward_msg()
                go.type = Int32(WARD_MSG_GO.rawValue)
                _ = ward_send_msg(pair[0], &go)
            case .none, .childWritesOwn:
                break  // nothing to wait for: the child maps itself or needs no map
            }
        } catch {
            kill(pid, SIGKILL)
            _ = try? supervisor.wait()
            throw error
        }
        return try supervisor.wait()
    }

    static func writeIDMaps(_ maps: IDMapPlan, pid: pid_t, log: Log) throws(WardError) {
        switch maps {
        case .none, .childWritesOwn:
            return
        case .parentWrites(let uid, let gid):
            for (file, lines) in [("uid_map", uid), ("gid_map", gid)] {
                let path = "/proc/\(pid)/\(file)"
                let fd = open(path, O_WRONLY | O_CLOEXEC)
                guard fd >= 0, Sys.writeAll(fd: fd, lines.map(\.line).joined()) else {
                    let e = errno
                    if fd >= 0 { close(fd) }
                    throw WardError("write \(path): \(ErrnoName.of(e)); check linux.\(file == "uid_map" ? "uid" : "gid")Mappings")
                }
                close(fd)
            }
        case .helpers(let uid, let gid):
            try runHelper("newuidmap", pid: pid, maps: uid, db: "/etc/subuid", log: log)
            try runHelper("newgidmap", pid: pid, maps: gid, db: "/etc/subgid", log: log)
        }
    }

    /// newuidmap/newgidmap from Debian's uidmap: the setuid helpers that check /etc/subuid.
    static func runHelper(_ tool: String, pid: pid_t, maps: [IDMapping], db: String, log: Log) throws(WardError) {
        let candidates: [String] = ["/usr/bin/" + tool, "/bin/" + tool, "/usr/sbin/" + tool]
        let path = candidates.first { access($0, X_OK) == 0 }
        guard let path else {
            throw WardError("\(tool): not found; install Debian's uidmap package, or map only your own id")
        }
        var args = [path, String(pid)]
        for m in maps { args += [String(m.containerID), String(m.hostID), String(m.size)] }
        log.debug("running \(args.joined(separator: " "))")
        let status = Spawn.run(args)
        guard status == 0 else {
            throw WardError("\(tool) \(pid): exited with status \(status); check \(db) delegates those ranges to you")
        }
    }

    static func needsSubIDs(_ spec: Spec, caller: Caller) -> Bool {
        let u = spec.linux?.uidMappings ?? [], g = spec.linux?.gidMappings ?? []
        return u.count > 1 || g.count > 1 || u.contains { $0.size > 1 || $0.hostID != caller.uid }
            || g.contains { $0.size > 1 || $0.hostID != caller.gid }
    }

    /// The caller's login name from the host's /etc/passwd (subuid files are keyed by name).
    /// Read directly: a static binary has no NSS, and the name is only a lookup key here.
    static func hostUserName(_ uid: UInt32) -> String? {
        guard let bytes = try? Sys.readFile("/etc/passwd") else { return nil }
        return UserDatabase.parsePasswd(String(decoding: bytes, as: UTF8.self)).first { $0.uid == uid }?.name
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}

/// Monotonic microseconds, for --debug timings.
public enum Clock {
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
    public static func since(_ start: UInt64) -> UInt64 { now() - start }
}

/// posix_spawn a helper and wait for it (the parent is single-threaded; no fork of Swift).
enum Spawn {
    static func run(_ args: [String]) -> Int32 {
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var env: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin")] + [nil]
        defer { for p in env { free(p) } }
        guard posix_spawn(&pid, args[0], nil, nil, &argv, &env) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }
}
