import WardPlan
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// Content-addressed cache of compiled seccomp programs, so a hit never enters libseccomp.
///
/// Key: SHA-256 of the resolved filter (names already numbers, actions resolved), the arch set
/// and the libseccomp version. Entries live in `$XDG_CACHE_HOME/ward/seccomp/` (0700), each
/// written atomically and 0600 as: "WARDBPF1" | sha256(program) | program. Before use an entry is
/// opened O_NOFOLLOW and checked for owner, mode, size and hash: anything else is rebuilt, never
/// trusted (another user's or a corrupted program would become our sandbox's filter).
public struct SeccompCache {
    public enum Outcome: Equatable, Sendable { case hit, compiled, uncached(reason: String) }

    static let magic = Array("WARDBPF1".utf8)
    let directory: String?

    public init(environment: [String: String]) {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            directory = xdg + "/ward/seccomp"
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            directory = home + "/.cache/ward/seccomp"
        } else {
            directory = nil
        }
    }

    public init(directory: String?) { self.directory = directory }

    /// The program for `filter`, from the cache or compiled (and then stored).
    public func program(for filter: ResolvedSeccomp) throws(SeccompCompiler.Failure) -> (program: [UInt8], outcome: Outcome, key: String) {
        var material = Array("libseccomp \(SeccompResolver.libseccompVersion)\n".utf8)
        material += filter.cacheMaterial
        let key = SHA256.hex(SHA256.hash(material))
        guard let dir = directory, prepare(dir) else {
            return (try SeccompCompiler.compile(filter), .uncached(reason: "no usable cache directory"), key)
        }
        let path = "\(dir)/\(key).bpf"
        if let program = load(path) { return (program, .hit, key) }
        let program = try SeccompCompiler.compile(filter)
        store(program, at: path, in: dir)
        return (program, .compiled, key)
    }

    /// Creates the directory chain 0700; refuses a directory that is not ours or is open to others.
    func prepare(_ dir: String) -> Bool {
        var prefix = ""
        for part in dir.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { return false }
        }
        var st = stat()
        guard lstat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == geteuid(),
              st.st_mode & 0o077 == 0 else { return false }
        return true
    }

    func load(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        let header = Self.magic.count + 32
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == geteuid(),
              st.st_mode & 0o077 == 0, st.st_size > header, (Int(st.st_size) - header) % 8 == 0,
              st.st_size < 4 << 20 else { return nil }
        guard let bytes = try? Sys.readAll(fd: fd, limit: Int(st.st_size)), bytes.count == Int(st.st_size),
              Array(bytes[0..<Self.magic.count]) == Self.magic else { return nil }
        let program = Array(bytes[header...])
        guard SHA256.hash(program) == Array(bytes[Self.magic.count..<header]) else { return nil }
        return program
    }

    func store(_ program: [UInt8], at path: String, in dir: String) {
        let tmp = "\(dir)/.tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let ok = Sys.writeAll(fd: fd, Self.magic + SHA256.hash(program) + program)
        close(fd)
        if !ok || rename(tmp, path) != 0 { unlink(tmp) }
    }
}
