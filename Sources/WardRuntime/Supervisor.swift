import CWardShim
import WardPlan
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// --debug / --log output. Never given secret material.
/// With `--log FILE` every message also goes to FILE, as text or (`--log-format json`) as JSON
/// lines `{"level","msg","time"}`, which is what podman and containerd read back on failure.
public final class Log {
    public var debugEnabled: Bool
    let fd: Int32
    let file: Int32
    let json: Bool

    public init(debug: Bool, fd: Int32 = 2, file: String? = nil, json: Bool = false) {
        self.debugEnabled = debug
        self.fd = fd
        self.json = json
        self.file = file.map { open($0, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600) } ?? -1
    }

    deinit { if file >= 0 { close(file) } }

    public func debug(_ message: @autoclosure () -> String) {
        guard debugEnabled else { return }
        emit("debug", message())
    }

    public func warning(_ message: String) { emit("warning", message) }

    public func error(_ message: String) { emit("error", message) }

    func emit(_ level: String, _ message: String) {
        let text = level == "error" ? "ward: \(message)\n" : "ward: \(level): \(message)\n"
        // With a log file, errors still go to stderr too (a person may be watching), the rest only to the file.
        if file < 0 || level == "error" { _ = Sys.writeAll(fd: fd, text) }
        guard file >= 0 else { return }
        if json {
            let line = JSONValue.object(["level": .string(level == "warning" ? "warn" : level), "msg": .string(message),
                                         "time": .string(Timestamp.rfc3339Now())]).jsonText
            _ = Sys.writeAll(fd: file, line + "\n")
        } else {
            _ = Sys.writeAll(fd: file, text)
        }
    }
}

/// The parent's side after clone: one poll loop over the signalfd, the sync socket, the timeout
/// timer and (with a terminal) the pty. Forwards signals, reports setup errors by step name,
/// enforces the lifetime, and turns the workload's wait status into ward's exit code.
final class Supervisor {
    let pid: pid_t
    let sync: Int32
    let signalFD: Int32
    let plan: LaunchPlan
    let log: Log
    var timerFD: Int32 = -1
    var master: Int32 = -1
    var stdinOpen = false
    var savedTermios: termios?
    var setupError: ward_msg?
    var received: Set<Int32> = []
    /// --seccomp-report: the user-notification fd, and what it reported.
    var listener: Int32 = -1
    var denials: [SeccompDenial] = []
    var detached = false
    var syncOpen = true
    var status: Int32?
    var timedOut = false
    /// For --result: the init's rusage (wait4), when the sync socket closed (exec) and when it was reaped.
    var usage: rusage?
    var syncClosedAt: UInt64?
    var reapedAt: UInt64?

    init(pid: pid_t, sync: Int32, signalFD: Int32, plan: LaunchPlan, timeout: Double?, log: Log) {
        self.pid = pid; self.sync = sync; self.signalFD = signalFD; self.plan = plan; self.log = log
        if let timeout { timerFD = ward_timerfd(timeout) }
    }

    deinit {
        restoreTerminal()
        if !detached { for fd in [sync, signalFD, timerFD, listener] where fd >= 0 { close(fd) } }
        if master >= 0 { close(master) }
    }

    /// Runs the loop until the child has been reaped and the pty drained.
    func wait() throws(WardError) -> RunOutcome {
        loop { $0.status != nil && $0.master < 0 }
        while syncOpen { handleSync() }  // an error message may still be queued after the child exited
        var result = try outcome()
        if plan.seccompReport != nil { result.denials = denials }
        result.usage = usage.map(ResourceUsage.init)
        // Both may be seen in one poll round, the reap first: exec was no later than the exit.
        result.execAt = syncClosedAt.map { min($0, reapedAt ?? $0) }
        result.exitedAt = reapedAt
        return result
    }

    /// Runs the loop until the child sends `message` (it then waits for `sendGo`). A setup error
    /// or the child's death before that is thrown as the launch's error.
    func waitFor(message: Int32) throws(WardError) {
        loop { $0.received.contains(message) || $0.setupError != nil || $0.status != nil || !$0.syncOpen }
        if received.contains(message) && setupError == nil { return }
        killAndReap()
        _ = try outcome()  // throws the setup error if there is one
        throw WardError("the container's init exited during setup (status \(status ?? -1))")
    }

    /// Lets the child go on without us (create): it must not be killed when we exit.
    func detach() {
        status = status ?? 0
        for fd in [sync, signalFD, timerFD] where fd >= 0 { close(fd) }
        detached = true
    }

    /// Releases the child from a sync point (id maps written, hooks run, started).
    func sendGo() {
        var go = ward_msg()
        go.type = Int32(WARD_MSG_GO.rawValue)
        _ = ward_send_msg(sync, &go)
    }

    /// For failures of ward's own after clone: the child (pid 1 of its namespace, with it every
    /// process in it) goes, and is reaped so nothing is left behind.
    func killAndReap() {
        if status == nil {
            kill(pid, SIGKILL)
            var st: Int32 = 0
            while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
            status = st
        }
    }

    func loop(until done: (Supervisor) -> Bool) {
        while !done(self) {
            var fds: [pollfd] = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
            if syncOpen { fds.append(pollfd(fd: sync, events: Int16(POLLIN), revents: 0)) }
            if timerFD >= 0 { fds.append(pollfd(fd: timerFD, events: Int16(POLLIN), revents: 0)) }
            if master >= 0 { fds.append(pollfd(fd: master, events: Int16(POLLIN), revents: 0)) }
            if master >= 0 && stdinOpen { fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
            if listener >= 0 { fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
            // Once the child is gone, only drain what the pty still holds.
            let n = poll(&fds, nfds_t(fds.count), status == nil ? -1 : 100)
            if n < 0 { if errno == EINTR { continue }; break }
            if n == 0 { closeMaster(); continue }
            for p in fds where p.revents != 0 {
                switch p.fd {
                case signalFD: handleSignal()
                case sync: handleSync()
                case timerFD: handleTimeout()
                case master: copyFromMaster()
                case 0: copyToMaster()
                case listener: answerNotification(p.revents)
                default: break
                }
            }
        }
    }

    func handleSignal() {
        let signo = ward_read_signal(signalFD)
        guard signo > 0 else { return }
        switch signo {
        case SIGCHLD:
            reap()
        case SIGWINCH:
            resizePty()
        default:
            log.debug("forwarding signal \(signo) to \(pid)")
            kill(pid, signo)
        }
    }

    func reap() {
        var st: Int32 = 0
        while true {
            var ru = rusage()
            let r = wait4(pid, &st, WNOHANG, &ru)
            if r == pid {
                status = st
                usage = ru
                reapedAt = Clock.now()
                log.debug("container init reaped at \(Clock.sinceStart()) µs")
                return
            }
            if r < 0 && errno == EINTR { continue }
            return
        }
    }

    func handleSync() {
        var msg = ward_msg()
        var fd: Int32 = -1
        let n = ward_recv_msg(sync, &msg, &fd)
        if n <= 0 {
            if n < 0 && (errno == EINTR || errno == EAGAIN) && status == nil { return }
            syncOpen = false
            syncClosedAt = Clock.now()
            log.debug("setup finished (sync socket closed) at \(Clock.sinceStart()) µs")
            return
        }
        received.insert(msg.type)
        switch msg.type {
        case Int32(WARD_MSG_ERROR.rawValue):
            setupError = msg
        case Int32(WARD_MSG_TTY.rawValue) where fd >= 0:
            master = fd
            setUpTerminal()
        case Int32(WARD_MSG_LISTENER.rawValue) where fd >= 0:
            listener = fd
        default:
            if fd >= 0 { close(fd) }
        }
    }

    func handleTimeout() {
        var expirations: UInt64 = 0
        _ = read(timerFD, &expirations, 8)
        log.debug("timeout: killing \(pid)")
        timedOut = true
        kill(pid, SIGKILL)  // the pid namespace's init: every process in it goes with it
        close(timerFD)
        timerFD = -1
    }

    // MARK: - seccomp report

    /// One refused syscall: record it, and answer with the errno the filter would have returned
    /// (the workload sees no difference).
    func answerNotification(_ revents: Int16) {
        var id: UInt64 = 0, nr: Int32 = 0, arch: UInt32 = 0
        var args = [UInt64](repeating: 0, count: 6)
        guard revents & Int16(POLLIN) != 0, ward_notif_recv(listener, &id, &nr, &arch, &args) == 0 else {
            // POLLHUP: every task using the filter is gone.
            if revents & Int16(POLLHUP | POLLERR) != 0 { close(listener); listener = -1 }
            return
        }
        let name = SeccompResolver.name(arch: arch, number: nr)
        if plan.seccompReport?.learn == true {
            // The workload's calls only: until the exec closes the sync socket, these are ward's
            // own last setup steps (each waits for this answer, so the order is exact).
            if syncOpen { syncClosedIfHungUp() }
            _ = ward_notif_continue(listener, id)
            if syncOpen { return }
            record(name: name, arch: arch, errno: "", args: args)
            return
        }
        let errnoValue = plan.seccompReport.map { $0.errnoByName[name] ?? $0.defaultErrno } ?? EPERM
        _ = ward_notif_send(listener, id, errnoValue)  // ENOENT: the caller died meanwhile
        record(name: name, arch: arch, errno: ErrnoName.of(errnoValue), args: args)
    }

    func record(name: String, arch: UInt32, errno: String, args: [UInt64]) {
        if let i = denials.firstIndex(where: { $0.syscall == name }) {
            denials[i].count += 1
        } else {
            denials.append(SeccompDenial(syscall: name, count: 1, errno: errno, firstArgs: Array(args.prefix(3)), arch: arch))
        }
    }

    /// Notes the exec (the sync socket's close-on-exec) without waiting for it.
    func syncClosedIfHungUp() {
        var p = pollfd(fd: sync, events: Int16(POLLIN), revents: 0)
        if poll(&p, 1, 0) == 1 { handleSync() }
    }

    // MARK: - terminal

    func setUpTerminal() {
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        if isatty(0) == 1 {
            var t = termios()
            if tcgetattr(0, &t) == 0 {
                savedTermios = t
                cfmakeraw(&t)
                _ = tcsetattr(0, TCSANOW, &t)
            }
            resizePty()
        }
        stdinOpen = true
    }

    func resizePty() {
        guard master >= 0 else { return }
        var size = winsize()
        if ioctl(0, UInt(TIOCGWINSZ), &size) == 0 { _ = ioctl(master, UInt(TIOCSWINSZ), &size) }
    }

    func copyFromMaster() {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
        if n > 0 { _ = Sys.writeAll(fd: 1, Array(buffer[0..<n])) } else if n == 0 || errno != EAGAIN { closeMaster() }
    }

    func copyToMaster() {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n > 0 { _ = Sys.writeAll(fd: master, Array(buffer[0..<n])) } else { stdinOpen = false }
    }

    func closeMaster() {
        if master >= 0 { close(master); master = -1 }
        restoreTerminal()
    }

    func restoreTerminal() {
        if var t = savedTermios { _ = tcsetattr(0, TCSANOW, &t); savedTermios = nil }
    }

    // MARK: - result

    func outcome() throws(WardError) -> RunOutcome {
        if let error = setupError {
            throw WardError(describe(error), exitCode: exitCode(for: error))
        }
        guard let st = status else { throw WardError("waitpid \(pid): lost the container's init") }
        if timedOut { return RunOutcome(exitCode: 124, signal: SIGKILL, timedOut: true) }
        let termsig = st & 0x7f
        if termsig == 0 { return RunOutcome(exitCode: (st >> 8) & 0xff) }
        return RunOutcome(exitCode: 128 + termsig, signal: termsig)
    }

    /// "mount tmpfs on /dev: EPERM (Operation not permitted): <detail>; <hint>"
    func describe(_ msg: ward_msg) -> String {
        let index = Int(msg.op_index)
        let step = index >= 0 && index < plan.steps.count ? plan.steps[index] : nil
        var detail = withUnsafeBytes(of: msg.detail) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        let label = step?.label ?? "setup step \(index)"
        // The shim's detail is "LABEL: what it was working on"; the label is already said.
        if detail.hasPrefix(label + ": ") { detail.removeFirst(label.count + 2) }
        if detail == label || label.hasSuffix(" " + detail) { detail = "" }
        if !detail.isEmpty { detail = ": " + detail }
        var text = "\(label): \(ErrnoName.of(msg.err)) (\(String(cString: strerror(msg.err))))\(detail)"
        if let hint = Self.hint(step: step, err: msg.err) { text += "; " + hint }
        return text
    }

    /// 127 when the program is missing and 126 when it can't be executed, as shells and podman
    /// do; 125 for every other failure of ward's own.
    func exitCode(for msg: ward_msg) -> Int32 {
        let index = Int(msg.op_index)
        guard index >= 0 && index < plan.steps.count, case .exec = plan.steps[index] else { return 125 }
        return msg.err == ENOENT ? 127 : 126
    }

    static func hint(step: ChildStep?, err: Int32) -> String? {
        switch (step, err) {
        case (.secret(let s)?, _) where s.hint(errno: err) != nil:
            return s.hint(errno: err)
        case (.exec(let e)?, ENOENT):
            return "process.args[0] \"\(e.path)\" was not found in the rootfs (PATH=\(e.searchPath))"
        case (.exec?, EACCES):
            return "the program is not executable, or sits on a noexec mount"
        case (.mount?, EXDEV), (.bind?, EXDEV), (.bindDevice?, EXDEV), (.symlink?, EXDEV), (.makeDevice?, EXDEV):
            return "the destination leaves the rootfs through a symlink; ward resolves mount destinations inside the rootfs only, so point it at a real directory"
        case (.mount?, EPERM), (.bind?, EPERM):
            return "a user namespace can't make this mount; see the README's rootless notes"
        case (.bind?, ENOENT):
            return "the bind source does not exist on the host"
        case (.setIDs?, EINVAL):
            return "process.user is not mapped in the user namespace"
        case (.rlimit?, EPERM):
            return "a hard limit above ward's own needs privilege; lower it in process.rlimits"
        case (.chdir?, _):
            return "process.cwd must exist in the rootfs and be reachable by process.user"
        case (.seccomp?, EACCES):
            return "loading a filter needs no_new_privs or CAP_SYS_ADMIN; set process.noNewPrivileges"
        case (.writeFile(let path, _, _)?, ENOENT) where path.hasPrefix("/proc/sys"):
            return "no such sysctl in this kernel or namespace"
        default:
            return nil
        }
    }
}

/// One syscall the filter refused during a `--seccomp-report` run.
public struct SeccompDenial: Equatable, Sendable {
    public var syscall: String
    public var count: Int
    public var errno: String
    /// The first three arguments of its first refusal.
    public var firstArgs: [UInt64]
    /// AUDIT_ARCH_* of the first call (x86_64, or a compat arch such as i386).
    public var arch: UInt32 = 0

    /// "unshare ×1 EPERM (first args 0x10000000, 0x0, 0x0)"
    public var summary: String {
        "\(syscall) ×\(count) \(errno) (first args \(firstArgs.map { "0x" + String($0, radix: 16) }.joined(separator: ", ")))"
    }
}
