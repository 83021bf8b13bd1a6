import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn. Output goes to files (not pipes), so a workload
/// that leaves a process holding stdout can't make a test block; the wait has a hard deadline.
///
/// Foundation's `Process` is not used: it closes every fd but 0-2 in the child (the fd-leak test
/// needs to hand ward extra fds), and its SIGCHLD handling would compete with our waitpid.
final class Child: @unchecked Sendable {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    let started = Date()

    struct Result: Sendable, CustomStringConvertible {
        /// The exit status, or 128+N when killed by signal N (as a shell reports it).
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool
        var elapsed: TimeInterval
        var description: String {
            "status \(status)\(timedOut ? " (TIMED OUT, killed)" : "") after \(String(format: "%.2f", elapsed)) s\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)"
        }
    }

    /// - Parameters:
    ///   - argv: argv[0] is looked up in PATH when it has no slash.
    ///   - environment: the child's whole environment (nil: this process's).
    ///   - stdin: text for fd 0 (nil: /dev/null).
    ///   - extraFDs: child fd -> an fd of ours, dup2'd into place (so without FD_CLOEXEC).
    ///   - outputDirectory: where stdout/stderr files go.
    init(_ argv: [String], environment: [String]? = nil, stdin: String? = nil,
         extraFDs: [Int32: Int32] = [:], outputDirectory: String) throws {
        let tag = "\(getpid())-\(UUID().uuidString.prefix(8))"
        stdoutPath = "\(outputDirectory)/.out-\(tag)"
        stderrPath = "\(outputDirectory)/.err-\(tag)"
        let inPath = "\(outputDirectory)/.in-\(tag)"
        let out = open(stdoutPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let err = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        var input: Int32
        if let stdin {
            try stdin.write(toFile: inPath, atomically: false, encoding: .utf8)
            input = open(inPath, O_RDONLY | O_CLOEXEC)
            unlink(inPath)
        } else {
            input = open("/dev/null", O_RDONLY | O_CLOEXEC)
        }
        defer { for fd in [out, err, input] where fd >= 0 { close(fd) } }
        guard out >= 0, err >= 0, input >= 0 else { throw TestFailure("open output files in \(outputDirectory): errno \(errno)") }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input, 0)
        posix_spawn_file_actions_adddup2(&actions, out, 1)
        posix_spawn_file_actions_adddup2(&actions, err, 2)
        for (target, source) in extraFDs.sorted(by: { $0.key < $1.key }) {
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Own process group (so a hard timeout can kill the lot), no blocked or ignored signals
        // inherited from the test runner's threads.
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)

        var cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargv { free(p) } }
        var pid: pid_t = 0
        let rc: Int32
        if let environment {
            var cenv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
            defer { for p in cenv { free(p) } }
            rc = posix_spawnp(&pid, argv[0], &actions, &attr, &cargv, &cenv)
        } else {
            rc = posix_spawnp(&pid, argv[0], &actions, &attr, &cargv, environ)
        }
        guard rc == 0 else { throw TestFailure("posix_spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    deinit {
        unlink(stdoutPath)
        unlink(stderrPath)
    }

    func signal(_ signo: Int32) { kill(pid, signo) }

    var stdoutSoFar: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderrSoFar: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Polls until `text` shows up in stdout (true) or the deadline passes (false).
    func waitForOutput(_ text: String, timeout: TimeInterval = 20) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stdoutSoFar.contains(text) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return stdoutSoFar.contains(text)
    }

    /// Waits for the child to exit; after `timeout` seconds kills its process group, reaps it and
    /// reports `timedOut`, so a hung ward fails its test instead of hanging CI.
    func wait(timeout: TimeInterval = 30) async -> Result {
        let deadline = started.addingTimeInterval(timeout)
        var status: Int32 = 0
        var timedOut = false
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { status = -1; break }
            if !timedOut && Date() > deadline {
                timedOut = true
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        let elapsed = Date().timeIntervalSince(started)
        let code: Int32
        if status < 0 { code = -1 }
        else if status & 0x7f == 0 { code = (status >> 8) & 0xff }
        else { code = 128 + (status & 0x7f) }
        return Result(status: code, stdout: stdoutSoFar, stderr: stderrSoFar, timedOut: timedOut, elapsed: elapsed)
    }

    /// Spawns and waits, synchronously (for one-time setup in static initialisers only).
    static func runSync(_ argv: [String], environment: [String]? = nil) throws -> Result {
        let child = try Child(argv, environment: environment, outputDirectory: NSTemporaryDirectory())
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: code, stdout: child.stdoutSoFar, stderr: child.stderrSoFar, timedOut: false,
                      elapsed: Date().timeIntervalSince(child.started))
    }

    /// Runs a setup command without blocking a thread of the test runner's pool (tests run in
    /// parallel on it); throws with its output if it fails.
    @discardableResult
    static func check(_ argv: [String], environment: [String]? = nil, in directory: String) async throws -> String {
        let child = try Child(argv, environment: environment, outputDirectory: directory)
        let r = await child.wait(timeout: 60)
        guard r.status == 0 else { throw TestFailure("\(argv.joined(separator: " ")) failed: \(r)") }
        return r.stdout
    }

    /// Runs a setup command and throws with its output if it fails (blocking: one-time setup).
    @discardableResult
    static func check(_ argv: [String], environment: [String]? = nil) throws -> String {
        let r = try runSync(argv, environment: environment)
        guard r.status == 0 else { throw TestFailure("\(argv.joined(separator: " ")) failed: \(r)") }
        return r.stdout
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
