import CWardShim
import WardPlan
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

// Host-mounted secrets: read on the host before clone, carried to the child in C memory, written
// by the child on a memory-backed filesystem in the container's mount namespace.
//
// Where the bytes go, and where they never go:
//   * read straight into malloc'd memory (never a Swift String or Array, which would leave copies
//     we can't wipe), handed to the child's op array by pointer, wiped in ward right after clone;
//   * the child writes them with WARD_OP_WRITE_SECRET and wipes its copy; the WARD_OP_FORK
//     intermediate (which never execs) wipes its copy too;
//   * never in the LaunchPlan (it holds sizes and payload indices), in a message, a log line, the
//     state directory, argv or ward's environment; only `--secret-env` puts them in the workload's
//     environment, with a warning.

/// One `--secret`, as the command line gave it (the CLI parses, WardRuntime reads).
public struct SecretRequest: Equatable, Sendable {
    public enum Source: Equatable, Sendable {
        case file(String)
        /// An fd ward inherited (a pipe or a file): read to EOF, then closed.
        case fd(Int32)
    }
    /// A file name, for messages and `--secret-env`.
    public var name: String
    public var source: Source
    /// Absolute container path, normalized (the CLI makes NAME into /run/secrets/NAME).
    public var target: String
    public var mode: UInt32 = 0o400
    public var uid: UInt32?
    public var gid: UInt32?

    public init(name: String, source: Source, target: String, mode: UInt32 = 0o400, uid: UInt32? = nil, gid: UInt32? = nil) {
        self.name = name; self.source = source; self.target = target; self.mode = mode; self.uid = uid; self.gid = gid
    }
}

/// `--secret-env VAR=NAME`.
public struct SecretEnvRequest: Equatable, Sendable {
    public var variable: String
    public var name: String
    public init(variable: String, name: String) { self.variable = variable; self.name = name }
}

/// Every secret flag of one command.
public struct SecretOptions: Equatable, Sendable {
    public static let defaultMaxSize = 1 << 20
    public var secrets: [SecretRequest] = []
    public var environment: [SecretEnvRequest] = []
    public var maxSize = SecretOptions.defaultMaxSize
    /// --secret-dir, or the default ($XDG_CONFIG_HOME/ward/secrets, $HOME/.config/ward/secrets);
    /// nil when neither is known.
    public var directory: String?
    public var isEmpty: Bool { secrets.isEmpty && environment.isEmpty }
    public init() {}
}

/// The secrets' bytes, in C memory, between reading and clone.
public final class SecretStore {
    struct Payload {
        var name: String
        var bytes: UnsafeMutableRawPointer
        var count: Int
        var capacity: Int
    }

    private(set) var payloads: [Payload] = []
    public private(set) var mounts: [SecretMount] = []
    /// (VAR, payload index) for --secret-env.
    private var environment: [(variable: String, payload: Int)] = []
    /// C memory holding "VAR=content" entries (wiped) and the envp arrays built for lowering.
    private var secretEntries: [(UnsafeMutableRawPointer, Int)] = []
    private var blocks: [UnsafeMutableRawPointer] = []
    /// How long a pipe (source=fd:N) may take to reach EOF.
    static let pipeTimeoutMilliseconds: Int32 = 30_000

    private init() {}

    deinit {
        wipe()
        for p in payloads { free(p.bytes) }
        for (p, _) in secretEntries { free(p) }
        for b in blocks { free(b) }
    }

    /// Zeroes every secret byte ward holds. Called right after clone: the child has its own copy.
    public func wipe() {
        for p in payloads where p.capacity > 0 { explicit_bzero(p.bytes, p.capacity) }
        for (p, n) in secretEntries { explicit_bzero(p, n) }
    }

    /// The plan's view: targets, sizes, owners; never the bytes.
    public func planInput() -> SecretsInput {
        var input = SecretsInput()
        input.mounts = mounts
        input.tmpfsNoSwap = Self.kernelHasTmpfsNoSwap()
        input.hostHasSwap = Self.hostHasSwap()
        return input
    }

    /// /proc/swaps has a header line, then one line per active swap device.
    public static func hostHasSwap() -> Bool {
        guard let bytes = try? Sys.readFile("/proc/swaps") else { return true }  // unknown: assume so
        return bytes.split(separator: UInt8(ascii: "\n")).count > 1
    }

    /// tmpfs `noswap` came with Linux 6.4.
    public static func kernelHasTmpfsNoSwap() -> Bool {
        var u = utsname()
        guard uname(&u) == 0 else { return false }
        let release = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard numbers.count == 2 else { return false }
        return numbers[0] > 6 || (numbers[0] == 6 && numbers[1] >= 4)
    }

    // MARK: - loading

    /// Validates every secret flag against the bundle, then reads every source. Throws before
    /// anything is created; returns nil when no secret was asked for.
    public static func load(_ options: SecretOptions, bundle: BundleDirectory, preserveFDs: Int, log: Log) throws(WardError) -> SecretStore? {
        guard !options.isEmpty else { return nil }
        let started = Clock.now()
        try checkTargets(options.secrets, bundle: bundle)
        try checkFDs(options.secrets, preserveFDs: preserveFDs)

        let store = SecretStore()
        for (i, s) in options.secrets.enumerated() {
            let payload: Payload
            switch s.source {
            case .file(let path): payload = try readFile(path, name: s.name, maxSize: options.maxSize)
            case .fd(let fd): payload = try readFD(fd, name: s.name, maxSize: options.maxSize)
            }
            store.payloads.append(payload)
            store.mounts.append(SecretMount(name: s.name, target: s.target, size: payload.count, mode: s.mode,
                                            uid: s.uid, gid: s.gid, payload: i))
        }
        try store.loadEnvironment(options)
        log.debug("secrets: \(store.mounts.count) to mount, \(store.environment.count) for the environment, read in \(Clock.since(started)) µs")
        return store
    }

    static func failure(_ name: String, _ what: String, _ err: Int32, _ fix: String) -> WardError {
        WardError("secret \"\(name)\": \(what): \(ErrnoName.of(err)) (\(String(cString: strerror(err)))); \(fix)")
    }

    /// Targets: one per secret, none inside another, not ward's own directories, inside the
    /// rootfs (a symlink out of it is refused, as for every mount destination), not in a bind
    /// mount from the host (the mount point would be created in the host's directory).
    static func checkTargets(_ secrets: [SecretRequest], bundle: BundleDirectory) throws(WardError) {
        guard !secrets.isEmpty else { return }
        let namespaces = bundle.spec.linux?.namespaces ?? []
        guard namespaces.contains(where: { $0.type == "mount" && ($0.path ?? "").isEmpty }) else {
            throw failure(secrets[0].name, "no mount namespace of ward's own", EINVAL,
                          "secrets are mounted in the container's mount namespace; add {\"type\": \"mount\"} (without a path) to linux.namespaces")
        }
        let dir = SecretLayout.directory
        var seen: [String: String] = [:]
        for s in secrets {
            let t = s.target
            let parts = t.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard t.hasPrefix("/"), !parts.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                throw failure(s.name, "target \"\(t)\"", EINVAL, "give an absolute path without \"..\", \".\" or empty components")
            }
            if t == dir || t == SecretLayout.hidden || t.hasPrefix(SecretLayout.hidden + "/") {
                throw failure(s.name, "target \(t)", EINVAL, "\(t) is ward's own; choose a file name under \(dir) or another path")
            }
            if let other = seen[t] {
                throw failure(s.name, "target \(t)", EEXIST, "it is also the target of secret \"\(other)\"; give each secret its own target=")
            }
            for (o, otherName) in seen where o.hasPrefix(t + "/") || t.hasPrefix(o + "/") {
                throw failure(s.name, "target \(t)", ENOTDIR, "it overlaps the target \(o) of secret \"\(otherName)\"; a secret is a file, not a directory")
            }
            seen[t] = s.name
        }

        let mounts = (bundle.spec.mounts ?? []).map { m -> (destination: String, bind: Bool) in
            let bind = m.type == "bind" || (m.options ?? []).contains { $0 == "bind" || $0 == "rbind" }
            return (normalize(m.destination), bind)
        }
        let root = open(bundle.rootfs, WARD_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { throw failure(secrets[0].name, "rootfs \(bundle.rootfs)", errno, "check root.path") }
        defer { close(root) }
        for s in secrets {
            if let m = mounts.last(where: { $0.bind && (s.target == $0.destination || s.target.hasPrefix($0.destination + "/")) }),
               !s.target.hasPrefix(dir + "/") {
                throw failure(s.name, "target \(s.target)", EXDEV,
                              "it is inside the bind mount \(m.destination) from the host, where its mount point would be created; choose a target outside it")
            }
            try checkInRootfs(s, root: root, mountDestinations: Set(mounts.filter { !$0.bind }.map(\.destination)))
        }
    }

    /// Walks the target's existing prefix beneath the rootfs the way the child will (openat2
    /// RESOLVE_BENEATH), up to a filesystem the config mounts fresh (whose content is not the
    /// rootfs's) or the first missing component (created in the child).
    static func checkInRootfs(_ s: SecretRequest, root: Int32, mountDestinations: Set<String>) throws(WardError) {
        let parts = s.target.split(separator: "/")
        var prefix = ""
        for (i, part) in parts.enumerated() {
            prefix += (prefix.isEmpty ? "" : "/") + part
            if mountDestinations.contains("/" + prefix) { return }
            let fd = Sys.openat2(root, prefix, flags: WARD_O_PATH | O_CLOEXEC, resolve: Sys.resolveBeneath | Sys.resolveNoMagiclinks)
            if fd < 0 {
                let e = errno
                switch e {
                case ENOENT: return
                case EXDEV, ELOOP:
                    throw failure(s.name, "target \(s.target)", e,
                                  "/\(prefix) leaves the rootfs through a symlink; ward resolves targets inside the rootfs only, choose another target")
                case ENOTDIR:
                    throw failure(s.name, "target \(s.target)", e, "a component of it is not a directory in the rootfs; choose another target")
                default:
                    throw failure(s.name, "target \(s.target)", e, "/\(prefix) can't be looked up in the rootfs; choose another target")
                }
            }
            var st = stat()
            let isDir = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            close(fd)
            if i == parts.count - 1 && isDir {
                throw failure(s.name, "target \(s.target)", EISDIR, "it is a directory in the rootfs; a secret is a file, give a file path")
            }
        }
    }

    static func normalize(_ path: String) -> String {
        "/" + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }

    static func checkFDs(_ secrets: [SecretRequest], preserveFDs: Int) throws(WardError) {
        var seen: [Int32: String] = [:]
        for s in secrets {
            guard case .fd(let fd) = s.source else { continue }
            if fd == 1 || fd == 2 {
                throw failure(s.name, "source fd:\(fd)", EINVAL, "fd 1 and 2 are ward's output; pass the secret on another fd (e.g. 3<file)")
            }
            if fd >= 3 && Int(fd) < 3 + preserveFDs {
                throw failure(s.name, "source fd:\(fd)", EINVAL, "fd \(fd) is also passed to the workload by --preserve-fds; use an fd above 3+N-1")
            }
            if let other = seen[fd] {
                throw failure(s.name, "source fd:\(fd)", EINVAL, "secret \"\(other)\" reads fd \(fd) too; each fd is read once")
            }
            seen[fd] = s.name
        }
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symlink"
        default: return "not a regular file"
        }
    }

    /// A regular file, opened without following it anywhere a FIFO or device could block or
    /// act: O_PATH first, check the type, then re-open that very inode for reading (which checks
    /// the caller's permission on it, through a symlink too).
    static func readFile(_ path: String, name: String, maxSize: Int) throws(WardError) -> Payload {
        let fix = "create it, or pass source=PATH (the default directory is --secret-dir)"
        let pathFD = open(path, WARD_O_PATH | O_CLOEXEC)
        guard pathFD >= 0 else {
            let e = errno
            throw failure(name, path, e, e == ENOENT ? fix : e == EACCES ? "a directory on the way is not searchable by uid \(geteuid()); fix its permissions" : "check the path")
        }
        defer { close(pathFD) }
        var st = stat()
        guard fstat(pathFD, &st) == 0 else { throw failure(name, path, errno, "check the path") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            let e: Int32 = (st.st_mode & S_IFMT) == S_IFDIR ? EISDIR : EINVAL
            throw failure(name, path, e, "it is \(kind(st.st_mode)), a secret source must be a regular file (a pipe can be passed as source=fd:N)")
        }
        guard Int(st.st_size) <= maxSize else {
            throw failure(name, path, EFBIG, "it is \(st.st_size) bytes, more than --secret-max-size \(maxSize); raise --secret-max-size or shrink the secret")
        }
        var fd = open("/proc/self/fd/\(pathFD)", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        if fd < 0 && errno == ENOENT { fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }  // no /proc
        guard fd >= 0 else {
            let e = errno
            throw failure(name, path, e, e == EACCES
                ? "ward reads secrets as the calling user (uid \(geteuid())), who can't read it; make it readable by that user (chmod/chown)"
                : "check the file")
        }
        defer { close(fd) }
        var again = stat()
        guard fstat(fd, &again) == 0, again.st_dev == st.st_dev, again.st_ino == st.st_ino else {
            throw failure(name, path, ESTALE, "it changed while being opened; try again")
        }
        return try readAll(fd, name: name, what: path, maxSize: maxSize, sizeHint: Int(st.st_size), positional: true)
    }

    /// source=fd:N: a regular file (read from offset 0) or a pipe/socket (read to EOF); closed
    /// afterwards (fd 0 becomes /dev/null, so nothing else takes its number).
    static func readFD(_ fd: Int32, name: String, maxSize: Int) throws(WardError) -> Payload {
        let what = "source fd:\(fd)"
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw failure(name, what, errno, "fd \(fd) is not open in ward; pass it (e.g. \(fd)<file or a pipe)")
        }
        // Every fd ward opens itself is close-on-exec, and none inherited across exec can be: so
        // this one is ward's own (state, cache...), not the caller's. Never read or close it.
        let fdFlags = fcntl(fd, F_GETFD)
        guard fdFlags >= 0, fdFlags & FD_CLOEXEC == 0 else {
            throw failure(name, what, EBADF, "fd \(fd) was not passed to ward; pass it (e.g. \(fd)<file or a pipe)")
        }
        defer {
            if fd == 0 {
                let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
                if null >= 0 { dup2(null, 0); close(null) } else { close(0) }
            } else {
                close(fd)
            }
        }
        let type = st.st_mode & S_IFMT
        switch type {
        case S_IFREG:
            guard Int(st.st_size) <= maxSize else {
                throw failure(name, what, EFBIG, "it is \(st.st_size) bytes, more than --secret-max-size \(maxSize); raise --secret-max-size or shrink the secret")
            }
            return try readAll(fd, name: name, what: what, maxSize: maxSize, sizeHint: Int(st.st_size), positional: true)
        case S_IFIFO, S_IFSOCK:
            return try readAll(fd, name: name, what: what, maxSize: maxSize, sizeHint: 4096, positional: false)
        default:
            throw failure(name, what, EINVAL, "it is \(kind(st.st_mode)); pass a pipe or a regular file")
        }
    }

    /// Reads to EOF into C memory (grown by copying and wiping, never realloc), at most maxSize.
    static func readAll(_ fd: Int32, name: String, what: String, maxSize: Int, sizeHint: Int, positional: Bool) throws(WardError) -> Payload {
        var capacity = max(1, min(sizeHint, maxSize) + 1)
        guard var buffer = malloc(capacity) else { throw failure(name, what, ENOMEM, "lower --secret-max-size") }
        var count = 0
        func discard() { explicit_bzero(buffer, capacity); free(buffer) }
        while true {
            if count == capacity {
                guard capacity <= maxSize else { break }
                let bigger = min(capacity * 2, maxSize + 1)
                guard let next = malloc(bigger) else { discard(); throw failure(name, what, ENOMEM, "lower --secret-max-size") }
                memcpy(next, buffer, count)
                discard()
                buffer = next
                capacity = bigger
            }
            if !positional {
                // A writer that never closes its end must not hang ward forever.
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let r = poll(&p, 1, pipeTimeoutMilliseconds)
                if r < 0 && errno == EINTR { continue }
                if r == 0 {
                    discard()
                    throw failure(name, what, ETIMEDOUT, "nothing read and no end of file for \(pipeTimeoutMilliseconds / 1000) s; close the pipe's write end once the secret is written")
                }
            }
            let n = positional ? pread(fd, buffer + count, capacity - count, off_t(count)) : read(fd, buffer + count, capacity - count)
            if n > 0 { count += n; continue }
            if n == 0 { break }
            let e = errno
            if e == EINTR || (e == EAGAIN && !positional) { continue }
            discard()
            throw failure(name, what, e, "check that it is readable")
        }
        if count > maxSize {
            discard()
            throw failure(name, what, EFBIG, "it is more than --secret-max-size \(maxSize) bytes; raise --secret-max-size or shrink the secret")
        }
        return Payload(name: name, bytes: buffer, count: count, capacity: capacity)
    }

    // MARK: - environment (--secret-env)

    private func loadEnvironment(_ options: SecretOptions) throws(WardError) {
        var variables = Set<String>()
        for e in options.environment {
            guard variables.insert(e.variable).inserted else {
                throw Self.failure(e.name, "--secret-env \(e.variable)=\(e.name)", EINVAL, "\(e.variable) is set twice; give each variable once")
            }
            let matches = mounts.filter { $0.name == e.name }
            let index: Int
            if let first = matches.first {
                guard matches.allSatisfy({ payloads[$0.payload].count == payloads[first.payload].count &&
                                             memcmp(payloads[$0.payload].bytes, payloads[first.payload].bytes, payloads[first.payload].count) == 0 }) else {
                    throw Self.failure(e.name, "--secret-env \(e.variable)=\(e.name)", EINVAL,
                                       "several --secret flags are named \"\(e.name)\" with different content; rename one (target=)")
                }
                index = first.payload
            } else {
                // Not mounted: read it from the secrets directory for the environment only.
                guard let dir = options.directory else {
                    throw Self.failure(e.name, "--secret-env \(e.variable)=\(e.name)", ENOENT,
                                       "no --secret named \"\(e.name)\" and no secrets directory (set --secret-dir, XDG_CONFIG_HOME or HOME)")
                }
                payloads.append(try Self.readFile(dir + "/" + e.name, name: e.name, maxSize: options.maxSize))
                index = payloads.count - 1
            }
            let p = payloads[index]
            if memchr(p.bytes, 0, p.count) != nil {
                throw Self.failure(e.name, "--secret-env \(e.variable)=\(e.name)", EINVAL,
                                   "the secret holds a NUL byte, which an environment variable can't; mount it as a file instead")
            }
            environment.append((e.variable, index))
        }
        if !environment.isEmpty {
            let list = environment.map { "\($0.variable) (secret \"\(payloads[$0.payload].name)\")" }.joined(separator: ", ")
            Sys.stderr("ward: warning: --secret-env puts \(list) in the workload's environment, which its processes pass on to their children and which is readable in /proc/PID/environ; prefer the file under \(SecretLayout.directory)")
        }
    }

    /// envp for WARD_OP_EXEC with the --secret-env variables (replacing any of the same name),
    /// and the NULL-terminated list of the entries that hold secret bytes (WARD_OP_EXEC ptr3).
    /// nil when no variable was asked for. The memory is the store's, wiped with it.
    func environment(base: [String]) -> (envp: UnsafeRawPointer, secretEntries: UnsafeRawPointer)? {
        guard !environment.isEmpty else { return nil }
        let names = Set(environment.map(\.variable))
        let kept = base.filter { entry in
            let key = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? entry
            return !names.contains(key)
        }
        let envp = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: kept.count + environment.count + 1)
        let secrets = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: environment.count + 1)
        blocks.append(UnsafeMutableRawPointer(envp))
        blocks.append(UnsafeMutableRawPointer(secrets))
        var i = 0
        for entry in kept {
            let p = UnsafeMutableRawPointer(strdup(entry)!)
            blocks.append(p)
            envp[i] = p
            i += 1
        }
        for (j, (variable, index)) in environment.enumerated() {
            let payload = payloads[index]
            let key = Array((variable + "=").utf8)
            let size = key.count + payload.count + 1
            guard let p = malloc(size) else { Sys.stderr("ward: out of memory while preparing the launch"); exit(125) }
            key.withUnsafeBytes { _ = memcpy(p, $0.baseAddress!, key.count) }
            memcpy(p + key.count, payload.bytes, payload.count)
            p.storeBytes(of: 0, toByteOffset: size - 1, as: UInt8.self)
            secretEntries.append((p, size))
            envp[i] = p
            secrets[j] = p
            i += 1
        }
        envp[i] = nil
        secrets[environment.count] = nil
        return (UnsafeRawPointer(envp), UnsafeRawPointer(secrets))
    }

    /// The bytes of payload `index` for WARD_OP_WRITE_SECRET.
    func payload(_ index: Int) -> (bytes: UnsafeRawPointer, count: Int)? {
        guard payloads.indices.contains(index) else { return nil }
        return (UnsafeRawPointer(payloads[index].bytes), payloads[index].count)
    }
}
