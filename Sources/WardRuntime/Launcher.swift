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
    /// --secret: read before planning, wiped right after clone (WardRuntime/Secrets.swift).
    public var secrets: SecretStore?
    /// --stdin/--stdout/--stderr (StdioRedirect.swift).
    public var stdio = StdioRedirect()
    /// --profile: already applied to `bundle.spec`; kept for its lifetime and required secrets.
    public var profile: Profile?
    public init(bundle: BundleDirectory) { self.bundle = bundle }
}

public struct RunOutcome: Equatable {
    public var exitCode: Int32
    public var signal: Int32?
    public var timedOut = false
    /// The init's rusage from wait4 (RunResult.swift), and when (monotonic µs, `Clock.now`) the
    /// workload was exec'd (the sync socket closed) and reaped.
    public var usage: ResourceUsage?
    public var execAt: UInt64?
    public var exitedAt: UInt64?
    /// --seccomp-report: every refused syscall, in the order first seen.
    public var denials: [SeccompDenial]?
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
        input.imageLayers = bundle.imageLayers
        input.secrets = request.secrets?.planInput() ?? SecretsInput()
        if let text = try? Sys.readFile("/proc/sys/kernel/cap_last_cap"),
           let last = Int32(String(decoding: text, as: UTF8.self).trimmingWhitespace) {
            input.capLastCap = last
        }
        // Inside someone else's user namespace (rootless podman runs us as its uid 0), root can't
        // mknod and gets the rootless treatment for devices.
        if caller.isRoot, let map = try? Sys.readFile("/proc/self/uid_map") {
            let fields = String(decoding: map, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
            input.inInitialUserNamespace = fields == ["0", "0", "4294967295"]
        }
        if (try? Sys.readFile("/sys/module/apparmor/parameters/enabled")).map({ $0.first == UInt8(ascii: "Y") }) == true {
            input.enabledLSMs.insert("apparmor")
        }
        if access("/sys/fs/selinux/enforce", F_OK) == 0 { input.enabledLSMs.insert("selinux") }
        let process = bundle.spec.process
        let needsUserDB = process?.user.username != nil || !(process?.env ?? []).contains { $0.hasPrefix("HOME=") }
        if needsUserDB { input.passwd = bundle.readRootFile("etc/passwd") }
        if process?.user.username != nil { input.group = bundle.readRootFile("etc/group") }
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

    /// fds the child needs beyond the plan: the exec fifo (create/start) and a console socket.
    public struct Handles {
        public var execFifo: Int32 = -1
        public var consoleSocket: Int32 = -1
        /// Secret bytes for the child's op array; wiped in ward right after clone.
        public var secrets: SecretStore?
        /// The workload's fds 0-2, in place of ward's own, for the clone only.
        public var stdio = StdioRedirect()
        public init(secrets: SecretStore? = nil) { self.secrets = secrets }
    }

    /// Launches the plan and waits for the workload (foreground `run`). Runs the config's hooks
    /// at their moments, keeps `state` current under `store` when given, and returns the outcome.
    public static func run(_ plan: LaunchPlan, request: RunRequest, log: Log,
                           registration: Registration? = nil) throws(WardError) -> RunOutcome {
        var handles = Handles(secrets: request.secrets)
        handles.stdio = request.stdio
        let supervisor = try launch(plan, environment: request.environment, timeout: request.timeout, log: log, handles: handles)
        let hooks = request.bundle.spec.hooks
        // State as soon as there is a pid, while the child is still mounting: `ward list` sees the
        // container before its workload runs. With hooks to run first it is "creating" until then.
        let waitsForHooks = plan.steps.contains(.hookPoint) || plan.steps.contains(.syncReady)
        registration?.update(pid: supervisor.pid, status: waitsForHooks ? "creating" : "running")
        do throws(WardError) {
            try runCreateHooks(supervisor, hooks: hooks, registration: registration, log: log)
            if plan.steps.contains(.syncReady) {
                // startContainer hooks: in the container, after setup, before the workload.
                try supervisor.waitFor(message: Int32(WARD_MSG_READY.rawValue))
                try HookRunner.run(hooks?.startContainer, phase: "startContainer", state: registration?.state(pid: supervisor.pid, "running"),
                                   enterPID: supervisor.pid, log: log)
                supervisor.sendGo()
            }
        } catch {
            supervisor.killAndReap()
            throw error
        }
        if waitsForHooks { registration?.update(pid: supervisor.pid, status: "running") }
        HookRunner.runWarning(hooks?.poststart, phase: "poststart", state: registration?.state(pid: supervisor.pid, "running"), log: log)
        return try supervisor.wait()
    }

    /// prestart + createRuntime in the runtime namespace, createContainer in the container's,
    /// while the child waits at its hook point (after its mounts, before pivot_root).
    static func runCreateHooks(_ supervisor: Supervisor, hooks: Hooks?, registration: Registration?, log: Log) throws(WardError) {
        guard supervisor.plan.steps.contains(.hookPoint) else { return }
        try supervisor.waitFor(message: Int32(WARD_MSG_HOOKS.rawValue))
        let state = registration?.state(pid: supervisor.pid, "creating")
        try HookRunner.run(hooks?.prestart, phase: "prestart", state: state, enterPID: nil, log: log)
        try HookRunner.run(hooks?.createRuntime, phase: "createRuntime", state: state, enterPID: nil, log: log)
        try HookRunner.run(hooks?.createContainer, phase: "createContainer", state: state, enterPID: supervisor.pid, log: log)
        supervisor.sendGo()
    }

    /// Compiles (or fetches) the seccomp program, clones the child, writes its id maps and
    /// releases it. Returns the supervisor that owns the child from here on.
    static func launch(_ plan: LaunchPlan, environment: [String: String], timeout: Double?, log: Log,
                       handles: Handles) throws(WardError) -> Supervisor {
        for notice in plan.notices { Sys.stderr(notice) }
        let program = try seccompProgram(plan, environment: environment, log: log)

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
            lowered = try Lowering(plan: plan, seccompProgram: program, joinFDs: joinFDs,
                                   consoleSocketFD: handles.consoleSocket, execFifoFD: handles.execFifo, secrets: handles.secrets)
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
        guard sigfd >= 0 else { close(pair[0]); close(pair[1]); throw WardError("signalfd: \(ErrnoName.of(errno))") }

        let started = Clock.now()
        let pid: pid_t = handles.stdio.around {
            lowered.ops.withUnsafeBufferPointer { ops in
                var launch = ward_launch(clone_flags: UInt(plan.cloneFlags), ops: ops.baseAddress, nops: ops.count,
                                         sync_child: pair[1], sync_parent: pair[0])
                return ward_clone_and_run(&launch)
            }
        }
        close(pair[1])
        handles.secrets?.wipe()  // the child has its own copy (or none: clone failed)
        guard pid > 0 else {
            let e = errno
            close(pair[0]); close(sigfd)
            let hint = e == EPERM || e == ENOSPC || e == EUSERS
                ? "; unprivileged user namespaces may be disabled or exhausted (user.max_user_namespaces)" : ""
            throw WardError("clone: \(ErrnoName.of(e))\(hint)")
        }
        log.debug("cloned pid \(pid) with flags 0x\(String(plan.cloneFlags, radix: 16)) in \(Clock.since(started)) µs, at \(Clock.sinceStart()) µs")

        let supervisor = Supervisor(pid: pid, sync: pair[0], signalFD: sigfd, plan: plan, timeout: timeout, log: log)
        do {
            try writeIDMaps(plan.idMaps, pid: pid, log: log)
            switch plan.idMaps {
            case .parentWrites, .helpers: supervisor.sendGo()
            case .none, .childWritesOwn: break  // nothing to wait for: the child maps itself or needs no map
            }
        } catch {
            supervisor.killAndReap()
            throw error
        }
        return supervisor
    }

    static func seccompProgram(_ plan: LaunchPlan, environment: [String: String], log: Log) throws(WardError) -> [UInt8]? {
        guard let filter = plan.seccomp else { return nil }
        let started = Clock.now()
        do {
            let result = try SeccompCache(environment: environment).program(for: filter)
            switch result.outcome {
            case .hit: log.debug("seccomp: cache hit \(result.key) (\(result.program.count / 8) instructions; libseccomp compiler not called) in \(Clock.since(started)) µs")
            case .compiled: log.debug("seccomp: compiled with libseccomp \(SeccompResolver.libseccompVersion) (\(result.program.count / 8) instructions), cached as \(result.key), in \(Clock.since(started)) µs")
            case .uncached(let reason): log.debug("seccomp: compiled with libseccomp, not cached: \(reason)")
            }
            return result.program
        } catch {
            throw WardError("config.json: linux.seccomp: \(error.description)")
        }
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

    /// Microseconds since this process started (from /proc/self/stat's start time is too coarse:
    /// the first call to `markStart` sets the origin; main calls it first thing).
    nonisolated(unsafe) static var origin: UInt64 = 0
    public static func markStart() { origin = now() }
    public static func sinceStart() -> UInt64 { origin == 0 ? 0 : now() - origin }
}

/// posix_spawn a helper and wait for it (the parent is single-threaded; no fork of Swift).
enum Spawn {
    static func run(_ args: [String]) -> Int32 {
        guard let pid = spawn(path: args[0], argv: args, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]) else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// posix_spawn with an empty signal mask and default dispositions (ward blocks the signals it
    /// forwards; a helper must not inherit that). `stdin`, when given, becomes the child's fd 0.
    static func spawn(path: String, argv args: [String], env: [String], stdin: Int32 = -1,
                      dup2: [(from: Int32, to: Int32)] = []) -> pid_t? {
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { for p in envp { free(p) } }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdin >= 0 { posix_spawn_file_actions_adddup2(&actions, stdin, 0) }
        for (from, to) in dup2 { posix_spawn_file_actions_adddup2(&actions, from, to) }
        let rc = posix_spawn(&pid, path, &actions, &attr, &argv, &envp)
        guard rc == 0 else { errno = rc; return nil }
        return pid
    }
}
