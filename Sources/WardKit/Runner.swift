import FoundationEssentials
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One `Sandbox.run`: temp files for the record and the output (created close-on-exec and
/// unlinked at once, so nothing is left on disk whatever happens), sockets for the secrets, one
/// posix_spawn of ward, and a wait on a thread of its own (never on the caller's executor: a
/// hundred sandboxes at once must not starve the test runner's cooperative pool).
///
/// ward's fds: 0 /dev/null, 1 and 2 ward's own messages (a temp file), 3 the result record,
/// 4 the workload's stdout, 5 its stderr, 6 its stdin (when given), then one per secret.
struct Runner {
    let sandbox: Sandbox
    let args: [String]

    static let resultFD: Int32 = 3, stdoutFD: Int32 = 4, stderrFD: Int32 = 5, stdinFD: Int32 = 6

    func run() async throws -> SandboxResult {
        guard case .bundle(let bundle) = sandbox.source else {
            throw WardKitError.unsupported("images are not supported yet; use Sandbox(bundle:)")
        }
        try validate()
        let id = sandbox.containerID ?? "wardkit-" + Self.randomHex(6)

        let fds = FDSet()
        defer { fds.closeAll() }
        let firstSecret = Self.stdinFD + 1
        // Every fd we pass sits above the highest target, so no dup2 in the child clobbers a
        // source it still needs.
        let floor = firstSecret + Int32(sandbox.secrets.count)
        let devNull = try fds.add(Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC), "open /dev/null", floor: floor)
        let wardLog = try fds.add(Self.anonymousFile(id, "ward"), "temp file", floor: floor)
        let result = try fds.add(Self.anonymousFile(id, "result"), "temp file", floor: floor)
        let out = try fds.add(Self.anonymousFile(id, "stdout"), "temp file", floor: floor)
        let err = try fds.add(Self.anonymousFile(id, "stderr"), "temp file", floor: floor)
        var childFDs: [(target: Int32, source: Int32)] = [
            (0, devNull), (1, wardLog), (2, wardLog), (Self.resultFD, result), (Self.stdoutFD, out), (Self.stderrFD, err),
        ]
        var argv = sandbox.launcherPrefix + [wardBinary]
        if let root = sandbox.stateRootPath { argv += ["--root", root] }
        argv += ["run", "--bundle", bundle, "--result", "fd:\(Self.resultFD)",
                 "--stdout", "fd:\(Self.stdoutFD)", "--stderr", "fd:\(Self.stderrFD)"]
        if let bytes = sandbox.stdinBytes {
            let input = try fds.add(Self.anonymousFile(id, "stdin"), "temp file", floor: floor)
            guard Self.writeAll(input, bytes), lseek(input, 0, SEEK_SET) == 0 else {
                throw WardKitError.spawnFailed("writing the stdin temp file: errno \(errno)")
            }
            childFDs.append((Self.stdinFD, input))
            argv += ["--stdin", "fd:\(Self.stdinFD)"]
        }
        if let t = sandbox.timeoutSeconds { argv += ["--timeout", "\(t)s"] }
        for (key, value) in sandbox.environment { argv += ["--env", "\(key)=\(value)"] }
        for m in sandbox.mounts { argv += ["--mount", "\(m.source):\(m.destination)\(m.readOnly ? ":ro" : "")"] }
        var feeds: [(fd: Int32, bytes: [UInt8])] = []
        for (i, secret) in sandbox.secrets.enumerated() {
            var pair: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                throw WardKitError.spawnFailed("socketpair: errno \(errno)")
            }
            let readEnd = try fds.add(pair[0], "socketpair", floor: floor)
            let writeEnd = try fds.add(pair[1], "socketpair", floor: floor)
            _ = shutdown(readEnd, Int32(SHUT_WR))
            let target = firstSecret + Int32(i)
            childFDs.append((target, readEnd))
            feeds.append((writeEnd, secret.value))
            argv += ["--secret", "source=fd:\(target),target=\(secret.name)"]
        }
        if let profile = sandbox.profileName { argv += ["--profile", profile] }
        argv += sandbox.extraWardArguments + [id]
        if !args.isEmpty { argv += ["--"] + args }

        let childEnds = childFDs.map(\.source).filter { s in !feeds.contains { $0.fd == s } && s != wardLog && s != result && s != out && s != err }
        let status = try await Self.spawnAndWait(argv, childFDs: childFDs, closeFrom: floor, feeds: feeds,
                                                 closeAfterSpawn: childEnds, fds: fds)

        let record = Self.readAll(result)
        let wardMessages = String(decoding: Self.readAll(wardLog), as: UTF8.self)
        guard !record.isEmpty, let decoded = try? JSONDecoder().decode(ResultRecord.self, from: Data(record)) else {
            throw Self.failureWithoutRecord(status: status, messages: wardMessages)
        }
        if let message = decoded.launchError { throw WardKitError.launchFailed(message: message) }
        return SandboxResult(
            id: decoded.id ?? id, exitCode: decoded.exitCode, signal: decoded.signal, timedOut: decoded.timedOut,
            oomKilled: decoded.oomKilled, seccompDenials: decoded.seccompDenials, profile: decoded.profile,
            timing: decoded.timing, usage: decoded.usage, wardExitCode: decoded.wardExitCode,
            stdout: Data(Self.readAll(out)), stderr: Data(Self.readAll(err)), record: Data(record))
    }

    var wardBinary: String {
        if let path = sandbox.wardPath { return path }
        if let env = getenv("WARD_BIN"), env.pointee != 0 { return String(cString: env) }
        return "ward"
    }

    func validate() throws(WardKitError) {
        for s in sandbox.secrets where s.name.isEmpty || s.name.contains(where: { "/,=:".contains($0) }) || s.name.hasPrefix(".") {
            throw .invalidArgument("secret name \"\(s.name)\": use a plain file name (no '/', ',', '=' or ':', not starting with '.')")
        }
        for (key, value) in sandbox.environment where key.isEmpty || key.contains("=") || key.utf8.contains(0) || value.utf8.contains(0) {
            throw .invalidArgument("env \"\(key)\": the name must be non-empty without '=', and neither may hold a NUL byte")
        }
        for m in sandbox.mounts where m.source.contains(":") || m.destination.contains(":") || !m.destination.hasPrefix("/") {
            throw .invalidArgument("mount \(m.source) -> \(m.destination): no ':' in either path, and an absolute destination")
        }
        if let t = sandbox.timeoutSeconds, !(t > 0 && t.isFinite) { throw .invalidArgument("timeout \(t): must be a positive number of seconds") }
        if sandbox.secrets.count > 64 { throw .invalidArgument("more than 64 secrets") }
    }

    /// ward wrote no record: a usage error (its message is on its stderr) or it was killed.
    static func failureWithoutRecord(status: Int32, messages: String) -> WardKitError {
        let lines = messages.split(separator: "\n").map(String.init)
        if lines.contains(where: { $0.contains("unknown option --profile") }) {
            return .unsupported("this ward has no hardening profiles yet (--profile); drop .profile(_:) or update ward")
        }
        if status == 125 || status == 126 || status == 127, let last = lines.last(where: { $0.hasPrefix("ward: ") }) {
            return .launchFailed(message: String(last.dropFirst(6)))
        }
        return .noResult(status: status, stderr: messages)
    }

    // MARK: - spawning

    /// Spawns ward on a thread of its own, feeds the secrets, waits. Returns the status as a
    /// shell reports it. Cancelling the task kills ward (its sandbox dies with it).
    static func spawnAndWait(_ argv: [String], childFDs: [(target: Int32, source: Int32)], closeFrom: Int32,
                             feeds: [(fd: Int32, bytes: [UInt8])], closeAfterSpawn: [Int32],
                             fds: FDSet) async throws -> Int32 {
        let control = SpawnControl()
        let outcome: Result<Int32, WardKitError>? = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let started = detachThread {
                    continuation.resume(returning: spawnWaitBlocking(argv, childFDs: childFDs, closeFrom: closeFrom,
                                                                     feeds: feeds, closeAfterSpawn: closeAfterSpawn,
                                                                     control: control))
                }
                if !started { continuation.resume(returning: nil) }
            }
        } onCancel: {
            control.cancel()
        }
        guard let outcome else { throw WardKitError.spawnFailed("pthread_create failed") }
        // The thread closed these exactly once (the secrets' ends before feeding: a ward that
        // died must give EPIPE, not a full socket); they are no longer ours.
        fds.forget(closeAfterSpawn + feeds.map(\.fd))
        return try outcome.get()
    }

    static func spawnWaitBlocking(_ argv: [String], childFDs: [(target: Int32, source: Int32)], closeFrom: Int32,
                                  feeds: [(fd: Int32, bytes: [UInt8])], closeAfterSpawn: [Int32],
                                  control: SpawnControl) -> Result<Int32, WardKitError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, source) in childFDs { posix_spawn_file_actions_adddup2(&actions, source, target) }
        // Whatever else the test process has open without close-on-exec stays out of ward.
        _ = addCloseFrom?(&actions, closeFrom)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargv { free(p) } }

        let spawned = control.spawn {
            var pid: pid_t = 0
            let rc = posix_spawnp(&pid, cargv[0]!, &actions, &attr, &cargv, environ)
            return rc == 0 ? .success(pid) : .failure(SpawnErrno(code: rc))
        }
        for fd in closeAfterSpawn { close(fd) }
        let pid: pid_t
        switch spawned {
        case .none:
            for f in feeds { close(f.fd) }
            return .failure(.spawnFailed("cancelled before ward started"))
        case .some(.failure(let e)):
            for f in feeds { close(f.fd) }
            return .failure(.spawnFailed("\(argv[0]): \(String(cString: strerror(e.code)))"))
        case .some(.success(let p)):
            pid = p
        }
        for f in feeds {
            feed(f.fd, f.bytes)
            close(f.fd)
        }
        // Wait without reaping, close the cancel window, then reap: a late cancel must never
        // signal a pid the kernel has already handed to someone else.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        control.exited()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return .success(status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
    }

    /// Sends a secret and closes our end: ward reads to EOF. A ward that gave up (EPIPE) ends it.
    static func feed(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; return }
            offset += n
        }
    }

    // MARK: - files

    /// A fresh file in $TMPDIR (else /tmp), close-on-exec from the start, unlinked at once.
    static func anonymousFile(_ id: String, _ kind: String) -> Int32 {
        let dir = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        for _ in 0..<8 {
            let path = "\(dir)/.\(id)-\(kind)-\(randomHex(6))"
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 { unlink(path); return fd }
            if errno != EEXIST { return -1 }
        }
        return -1
    }

    static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buffer[0..<n]
            offset += off_t(n)
        }
        return out
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return false }
            offset += n
        }
        return true
    }

    static func randomHex(_ bytes: Int) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        for _ in 0..<bytes {
            let b = UInt8.random(in: 0...255)
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 15)])
        }
        return s
    }
}

/// The fds one run owns; all closed at the end, whatever happens.
final class FDSet {
    private var fds: [Int32] = []

    /// Takes ownership of `fd`, moved to a number >= `floor` (close-on-exec).
    func add(_ fd: Int32, _ what: String, floor: Int32) throws(WardKitError) -> Int32 {
        guard fd >= 0 else { throw .spawnFailed("\(what): \(String(cString: strerror(errno)))") }
        if fd >= floor { fds.append(fd); return fd }
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, floor)
        let e = errno
        close(fd)
        guard moved >= 0 else { throw .spawnFailed("\(what): dup: \(String(cString: strerror(e)))") }
        fds.append(moved)
        return moved
    }

    func forget(_ list: [Int32]) { fds.removeAll { list.contains($0) } }

    func closeAll() {
        for fd in fds { close(fd) }
        fds = []
    }
}

/// Cancellation against a spawn happening on another thread: a cancel before the spawn stops
/// it, one after kills ward (SIGKILL: ward's parent-death signal then takes the sandbox down).
final class SpawnControl: Sendable {
    private enum State { case idle, running(pid_t), cancelled, done }
    private let state = Mutex<State>(.idle)

    /// Runs `body` (the spawn) unless cancelled (nil).
    func spawn(_ body: () -> Result<pid_t, SpawnErrno>) -> Result<pid_t, SpawnErrno>? {
        state.withLock { s in
            if case .cancelled = s { return nil }
            let r = body()
            if case .success(let pid) = r { s = .running(pid) } else { s = .done }
            return r
        }
    }

    func exited() { state.withLock { $0 = .done } }

    func cancel() {
        state.withLock { s in
            switch s {
            case .idle: s = .cancelled
            case .running(let pid): kill(pid, SIGKILL)
            case .cancelled, .done: break
            }
        }
    }
}

struct SpawnErrno: Error { var code: Int32 }

/// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift's Glibc module does not
/// declare (it is a GNU extension): looked up once. Without it, ward still closes every fd but
/// the ones it is told about before the workload runs; only ward itself would see the strays.
let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32)? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32).self)
}()

/// A detached pthread running `body`.
private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

func detachThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { arg in
        Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue().body()
        return nil
    }, box)
    guard rc == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(box).release()
        return false
    }
    pthread_detach(thread)
    return true
}
