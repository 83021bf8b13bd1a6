import CWardShim

#if canImport(Glibc)
import Glibc
#endif

/// errno values by name ("EPERM"), for messages.
public enum ErrnoName {
    public static func of(_ err: Int32) -> String { String(cString: ward_errno_name(err)) }
}

/// A failed system call: the step, the errno, and an optional hint for the person reading it.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public var step: String
    public var errno: Int32
    public var hint: String?

    public init(_ step: String, errno: Int32 = Glibc.errno, hint: String? = nil) {
        self.step = step; self.errno = errno; self.hint = hint
    }

    public var description: String {
        var text = "\(step): \(ErrnoName.of(errno)) (\(String(cString: strerror(errno))))"
        if let hint { text += "; \(hint)" }
        return text
    }
}

/// Thin wrappers over Glibc. Each retries EINTR where the call can be interrupted.
public enum Sys {
    /// openat2(2) with RESOLVE_* flags.
    public static func openat2(_ dirfd: Int32, _ path: String, flags: Int32, mode: UInt32 = 0, resolve: UInt64) -> Int32 {
        ward_openat2(dirfd, path, UInt64(UInt32(bitPattern: flags)), UInt64(mode), resolve)
    }

    public static let resolveNoXdev: UInt64 = 0x01
    public static let resolveNoMagiclinks: UInt64 = 0x02
    public static let resolveNoSymlinks: UInt64 = 0x04
    public static let resolveBeneath: UInt64 = 0x08
    public static let resolveInRoot: UInt64 = 0x10

    /// Reads a whole file through an open fd (pread loop).
    public static func readAll(fd: Int32, limit: Int = 64 << 20) throws(SystemError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read")
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
            if result.count > limit { throw SystemError("read", errno: EFBIG) }
        }
        return result
    }

    /// Reads a file by path (O_CLOEXEC, optionally O_NOFOLLOW).
    public static func readFile(_ path: String, noFollow: Bool = false, limit: Int = 64 << 20) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (noFollow ? O_NOFOLLOW : 0))
        guard fd >= 0 else { throw SystemError("open \(path)") }
        defer { close(fd) }
        return try readAll(fd: fd, limit: limit)
    }

    /// Writes all bytes (retrying short writes and EINTR).
    public static func writeAll(fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return false }
            offset += n
        }
        return true
    }

    public static func writeAll(fd: Int32, _ text: String) -> Bool { writeAll(fd: fd, Array(text.utf8)) }

    /// Writes a line to stderr, unbuffered (no stdio: this also runs just before/after clone).
    public static func stderr(_ text: String) { _ = writeAll(fd: 2, text + "\n") }

    /// The names in the directory open at `fd`, but "." and "..", in directory order; `fd` stays
    /// open (a duplicate is read). nil if it can't be read.
    public static func directoryEntries(fd: Int32) -> [String]? {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)  // fdopendir takes over the fd it is given
        guard copy >= 0 else { return nil }
        guard let dir = fdopendir(copy) else { close(copy); return nil }
        defer { closedir(dir) }
        rewinddir(dir)  // a duplicate shares the offset: start from the top whatever came before
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The names in the directory at `path` (see `directoryEntries(fd:)`).
    public static func directoryEntries(_ path: String) -> [String]? {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return directoryEntries(fd: fd)
    }

    /// Unlinks every entry of the flat directory `path`, then the directory.
    public static func removeFlatDirectory(_ path: String) {
        for name in directoryEntries(path) ?? [] { unlink(path + "/" + name) }
        rmdir(path)
    }

    /// Creates `path` and its missing parents (0700), then checks it is a directory of ours that
    /// no one else can write. Returns what is wrong (the step and errno name), nil when usable.
    public static func makePrivateDirectory(_ path: String) -> String? {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { return "mkdir \(prefix): \(ErrnoName.of(errno))" }
        }
        var st = stat()
        guard lstat(path, &st) == 0 else { return "lstat: \(ErrnoName.of(errno))" }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return "not a directory (ENOTDIR)" }
        guard st.st_uid == geteuid(), st.st_mode & 0o022 == 0 else {
            return "owned by uid \(st.st_uid) or writable by others (EPERM)"
        }
        return nil
    }
}

public enum Timestamp {
    /// RFC 3339 UTC with nanoseconds, as runc writes `created`.
    public static func rfc3339Now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let nanos = String(ts.tv_nsec)
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(String(repeating: "0", count: 9 - nanos.count) + nanos)Z"
    }
}
