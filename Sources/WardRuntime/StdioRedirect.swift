import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// `ward run --stdin/--stdout/--stderr FILE|fd:N`: the workload's fds 0-2.
///
/// The files are opened here, in ward, as the caller and before clone (so a bad path is ward's
/// error, reported before anything starts, and the container's user never needs access to the
/// path). They reach the child the way its stdio always does: ward points its own fds 0-2 at
/// them for exactly the duration of the clone(2) call (`around`), and the child inherits them
/// like any other stdio. No shim op and no plan step: the audited op stream is unchanged, the
/// child's CLOSE_FDS / preserve-fds rules apply as before, and `process.terminal` (whose pty
/// replaces fds 0-2) is refused with them. The parent is single-threaded and does nothing but
/// the clone between the swap and the restore, so nothing of ward's own goes to these files.
/// (Hooks.runInContainer feeds a hook's stdin the same way.)
public struct StdioRedirect {
    /// Targets 0, 1, 2 -> fds of ward's (always >= 3, close-on-exec), or -1.
    public private(set) var fds: [Int32] = [-1, -1, -1]

    public init() {}

    public var isEmpty: Bool { fds.allSatisfy { $0 < 0 } }

    /// Opens the three (any may be nil). `--stdout` and `--stderr` naming the same file share
    /// one open file (like `>f 2>&1`), so neither overwrites the other.
    public static func open(stdin: String?, stdout: String?, stderr: String?) throws(WardError) -> StdioRedirect {
        var r = StdioRedirect()
        do throws(WardError) {
            if let stdin { r.fds[0] = try source(stdin, flag: "--stdin", write: false) }
            if let stdout { r.fds[1] = try source(stdout, flag: "--stdout", write: true) }
            if let stderr {
                if stderr == stdout, r.fds[1] >= 0 {
                    r.fds[2] = fcntl(r.fds[1], F_DUPFD_CLOEXEC, 3)
                } else {
                    r.fds[2] = try source(stderr, flag: "--stderr", write: true)
                }
            }
        } catch {
            r.close()
            throw error
        }
        return r
    }

    static func source(_ spec: String, flag: String, write: Bool) throws(WardError) -> Int32 {
        let fd: Int32
        if spec.hasPrefix("fd:") {
            guard let n = Int32(spec.dropFirst(3)), n >= 0 else {
                throw WardError("\(flag) \(spec): expected fd:N with N an open fd, e.g. fd:3")
            }
            guard fcntl(n, F_GETFD) >= 0 else { throw WardError("\(flag) \(spec): \(ErrnoName.of(errno)); the fd is not open") }
            fd = n
        } else {
            guard !spec.isEmpty else { throw WardError("\(flag): empty path") }
            let opened = write ? openOutput(spec) : Glibc.open(spec, O_RDONLY | O_CLOEXEC)
            guard opened >= 0 else { throw WardError("\(flag) \(spec): \(openError(errno))") }
            fd = opened
        }
        // A private copy above 2 (ward's own stdio may be closed, and an inherited fd stays the caller's).
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)
        let e = errno
        if !spec.hasPrefix("fd:") { Glibc.close(fd) }
        guard copy >= 0 else { throw WardError("\(flag) \(spec): dup: \(ErrnoName.of(e))") }
        return copy
    }

    /// Created 0644 (less the umask) and truncated; a symlink as the last component is refused.
    static func openOutput(_ path: String) -> Int32 {
        Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
    }

    static func openError(_ e: Int32) -> String {
        e == ELOOP ? "ELOOP; it is a symlink, and ward does not follow one here: give the real path"
            : "\(ErrnoName.of(e)); check the path and its directory's permissions"
    }

    /// Runs `body` (the clone) with ward's fds 0-2 pointing at the redirections, then puts them
    /// back. errno is preserved across the restore.
    public func around<T>(_ body: () -> T) -> T {
        guard !isEmpty else { return body() }
        var saved: [(target: Int32, copy: Int32)] = []
        for target in 0..<3 where fds[target] >= 0 {
            let t = Int32(target)
            saved.append((t, fcntl(t, F_DUPFD_CLOEXEC, 3)))  // -1: ward's own fd was closed
            _ = dup2(fds[target], t)
        }
        let result = body()
        let e = errno
        for (target, copy) in saved.reversed() {
            if copy >= 0 { _ = dup2(copy, target); Glibc.close(copy) } else { Glibc.close(target) }
        }
        errno = e
        return result
    }

    public mutating func close() {
        for i in fds.indices where fds[i] >= 0 { Glibc.close(fds[i]); fds[i] = -1 }
    }
}
