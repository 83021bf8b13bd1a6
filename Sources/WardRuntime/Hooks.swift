import CWardShim
import WardPlan
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// OCI hooks: each gets the container's state JSON on stdin, runs with its own args, env and
/// timeout. The runtime-namespace ones are spawned directly; the container-namespace ones
/// (createContainer, startContainer) are launched into the container's namespaces through the
/// same clone/exec stage as `ward exec`.
public enum HookRunner {
    /// Runs hooks in order; the first failure is an error (prestart, createRuntime,
    /// createContainer, startContainer: the spec says the runtime must then stop the container).
    public static func run(_ hooks: [Hook]?, phase: String, state: JSONValue?, enterPID: Int32?, log: Log) throws(WardError) {
        for (i, hook) in (hooks ?? []).enumerated() {
            try runOne(hook, name: "hooks.\(phase)[\(i)] \(hook.path)", state: state, enterPID: enterPID, log: log)
        }
    }

    static func runOne(_ hook: Hook, name: String, state: JSONValue?, enterPID: Int32?, log: Log) throws(WardError) {
            log.debug("running \(name)")
            let status = enterPID.map { runInContainer(hook, pid: $0, state: state, log: log) }
                ?? runOnHost(hook, state: state)
            switch status {
            case .exited(0): return
            case .exited(let code): throw WardError("\(name): exited with status \(code); the container was not started")
            case .signaled(let sig): throw WardError("\(name): killed by signal \(sig); the container was not started")
            case .timedOut(let t): throw WardError("\(name): timed out after \(t) s and was killed; raise its timeout or fix the hook")
            case .failed(let why): throw WardError("\(name): \(why)")
            }
    }

    /// poststart and poststop: a failure is a warning, and the rest still run (runtime-spec).
    public static func runWarning(_ hooks: [Hook]?, phase: String, state: JSONValue?, log: Log) {
        for (i, hook) in (hooks ?? []).enumerated() {
            do {
                try runOne(hook, name: "hooks.\(phase)[\(i)] \(hook.path)", state: state, enterPID: nil, log: log)
            } catch {
                log.warning(error.message)
            }
        }
    }

    enum Status: Equatable { case exited(Int32), signaled(Int32), timedOut(Int), failed(String) }

    static func runOnHost(_ hook: Hook, state: JSONValue?) -> Status {
        var pipefd: [Int32] = [-1, -1]
        guard ward_pipe(&pipefd) == 0 else { return .failed("pipe: \(ErrnoName.of(errno))") }
        // args has execv's argv semantics: args[0] is the hook's own choice of name.
        let argv = (hook.args?.isEmpty == false ? hook.args : nil) ?? [hook.path]
        guard let pid = Spawn.spawn(path: hook.path, argv: argv, env: hook.env ?? [], stdin: pipefd[0]) else {
            let e = errno
            close(pipefd[0]); close(pipefd[1])
            return .failed("cannot execute: \(ErrnoName.of(e))")
        }
        close(pipefd[0])
        feed(pipefd[1], state)
        return wait(pid, timeout: hook.timeout)
    }

    static func runInContainer(_ hook: Hook, pid: Int32, state: JSONValue?, log: Log) -> Status {
        var request = EnterRequest(namespaces: Namespaces.differing(from: pid), args: hook.args ?? [hook.path], env: hook.env ?? [])
        request.args = request.args.isEmpty ? [hook.path] : request.args
        var plan: LaunchPlan
        do { plan = try PlanBuilder.enter(request) } catch { return .failed(error.description) }
        if case .exec(var e)? = plan.steps.last {
            e.path = hook.path
            plan.steps[plan.steps.count - 1] = .exec(e)
        }
        var pipefd: [Int32] = [-1, -1]
        guard ward_pipe(&pipefd) == 0 else { return .failed("pipe: \(ErrnoName.of(errno))") }
        // The clone child inherits our fd 0: point it at the pipe just for the clone.
        let saved = dup(0)
        dup2(pipefd[0], 0)
        let launched = try? Launcher.launch(plan, environment: [:], timeout: hook.timeout.map(Double.init), log: log, handles: .init())
        dup2(saved, 0)
        close(saved)
        close(pipefd[0])
        guard let supervisor = launched else { close(pipefd[1]); return .failed("could not enter the container's namespaces") }
        feed(pipefd[1], state)
        do {
            let outcome = try supervisor.wait()
            if outcome.timedOut { return .timedOut(hook.timeout ?? 0) }
            if let sig = outcome.signal { return .signaled(sig) }
            return .exited(outcome.exitCode)
        } catch {
            return .failed(error.message)
        }
    }

    static func feed(_ fd: Int32, _ state: JSONValue?) {
        // A hook that does not read its stdin must not block us: ignore EPIPE (SIGPIPE is
        // blocked in ward's supervisor loop only, so set it aside here).
        let old = signal(SIGPIPE, SIG_IGN)
        _ = Sys.writeAll(fd: fd, (state ?? .object([:])).jsonText)
        signal(SIGPIPE, old)
        close(fd)
    }

    static func wait(_ pid: pid_t, timeout: Int?) -> Status {
        let deadline = timeout.map { Clock.now() + UInt64($0) * 1_000_000 }
        var st: Int32 = 0
        while true {
            let r = waitpid(pid, &st, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return .failed("waitpid: \(ErrnoName.of(errno))") }
            if let deadline, Clock.now() >= deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
                return .timedOut(timeout ?? 0)
            }
            usleep(1000)
        }
        return st & 0x7f == 0 ? .exited((st >> 8) & 0xff) : .signaled(st & 0x7f)
    }
}

/// Which of a process's namespaces differ from ward's own (those are the ones to enter).
public enum Namespaces {
    static let files: [(file: String, type: String)] = [
        ("user", "user"), ("mnt", "mount"), ("pid", "pid"), ("net", "network"), ("ipc", "ipc"),
        ("uts", "uts"), ("cgroup", "cgroup"), ("time", "time"),
    ]

    public static func differing(from pid: Int32) -> [(type: String, path: String)] {
        files.compactMap { entry in
            var mine = stat(), theirs = stat()
            let path = "/proc/\(pid)/ns/\(entry.file)"
            guard stat("/proc/self/ns/\(entry.file)", &mine) == 0, stat(path, &theirs) == 0 else { return nil }
            return mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev ? nil : (entry.type, path)
        }
    }
}
