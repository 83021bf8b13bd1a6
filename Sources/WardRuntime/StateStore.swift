import CWardShim
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// One container's record under `--root`: `<root>/<id>/state.json`, written atomically
/// (temp file + rename) and guarded by flock on the container's directory. There is no global
/// lock: containers never contend with each other, however many start at once.
public struct ContainerRecord: Equatable, Sendable {
    public var id: String
    public var pid: Int32
    /// Start time of `pid` (field 22 of /proc/PID/stat): a recycled pid is not our container.
    public var pidStartTime: UInt64
    /// "creating", "created", "running" or "stopped" as last written; `liveStatus` checks the pid.
    public var status: String
    public var bundle: String
    public var rootfs: String
    public var created: String
    public var owner: String
    public var annotations: [String: String]
    /// The container's config file (a copy kept in the state directory), for exec and hooks.
    public var configPath: String
    /// Read from an entry with no state.json yet whose creator still holds its lock.
    public var beingCreated = false

    public var json: JSONValue {
        .object([
            "ociVersion": .string(Spec.currentVersion), "id": .string(id), "pid": .int(Int64(pid)),
            "pidStartTime": .uint(pidStartTime), "status": .string(status), "bundle": .string(bundle),
            "rootfs": .string(rootfs), "created": .string(created), "owner": .string(owner),
            "annotations": .object(annotations.mapValues { .string($0) }), "configPath": .string(configPath),
        ])
    }

    /// The runtime-spec state document (what `ward state` prints and hooks read on stdin).
    public func stateDocument(status: String) -> JSONValue {
        var members: [String: JSONValue] = [
            "ociVersion": .string(Spec.currentVersion), "id": .string(id), "status": .string(status),
            "bundle": .string(bundle), "rootfs": .string(rootfs), "created": .string(created), "owner": .string(owner),
            "annotations": .object(annotations.mapValues { .string($0) }),
        ]
        if status != "stopped" && pid > 0 { members["pid"] = .int(Int64(pid)) }
        return .object(members)
    }

    init(json: JSONValue) throws(WardError) {
        func string(_ key: String) throws(WardError) -> String {
            guard case .string(let s)? = json[key] else { throw WardError("state.json: \(key): missing or not a string; the state is damaged, remove it with 'ward delete --force'") }
            return s
        }
        func integer(_ key: String) -> Int64 {
            switch json[key] {
            case .int(let i)?: return i
            case .uint(let u)?: return Int64(truncatingIfNeeded: u)
            default: return 0
            }
        }
        id = try string("id")
        pid = Int32(truncatingIfNeeded: integer("pid"))
        pidStartTime = UInt64(truncatingIfNeeded: integer("pidStartTime"))
        status = try string("status")
        bundle = try string("bundle")
        rootfs = (try? string("rootfs")) ?? ""
        created = (try? string("created")) ?? ""
        owner = (try? string("owner")) ?? ""
        configPath = (try? string("configPath")) ?? ""
        var notes: [String: String] = [:]
        if case .object(let a)? = json["annotations"] {
            for (k, v) in a { if case .string(let s) = v { notes[k] = s } }
        }
        annotations = notes
    }

    public init(id: String, bundle: String, rootfs: String, annotations: [String: String], configPath: String) {
        self.id = id; self.pid = 0; self.pidStartTime = 0; self.status = "creating"
        self.bundle = bundle; self.rootfs = rootfs; self.annotations = annotations; self.configPath = configPath
        self.created = Timestamp.rfc3339Now()
        self.owner = String(geteuid())
    }

    /// The status as it is now: a created/running container whose init is gone is "stopped".
    public var liveStatus: String {
        switch status {
        case "created", "running":
            return ProcessInfoLite.isAlive(pid: pid, startTime: pidStartTime) ? status : "stopped"
        case "creating":
            if beingCreated { return "creating" }
            // A creator that died half-way leaves "creating" behind with no live init.
            return pid > 0 && ProcessInfoLite.isAlive(pid: pid, startTime: pidStartTime) ? "creating" : "stopped"
        default:
            return status
        }
    }
}

public struct StateStore {
    public let root: String

    /// `--root`, else `$XDG_RUNTIME_DIR/ward`, else `/run/ward` for root, else `/tmp/ward-UID`.
    public init(root: String?, environment: [String: String]) {
        if let root, !root.isEmpty {
            self.root = root
        } else if let xdg = environment["XDG_RUNTIME_DIR"], xdg.hasPrefix("/") {
            self.root = xdg + "/ward"
        } else if geteuid() == 0 {
            self.root = "/run/ward"
        } else {
            self.root = "/tmp/ward-\(geteuid())"
        }
    }

    /// Container ids name a directory: letters, digits and `_ . + -`, not starting with a dot.
    public static func validate(id: String) throws(WardError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-")
        guard !id.isEmpty, id.count <= 1024, !id.hasPrefix("."), id.allSatisfy({ allowed.contains($0) }) else {
            throw WardError("container id \"\(id)\": invalid; use letters, digits and _ . + - (no '/', not starting with '.')")
        }
    }

    public func directory(_ id: String) -> String { "\(root)/\(id)" }

    /// Creates the root (0700) if needed, and refuses one that another user could write.
    func prepareRoot() throws(WardError) {
        if let problem = Sys.makePrivateDirectory(root) {
            throw WardError("state root \(root): \(problem); pass --root a private directory you can write")
        }
    }

    /// Makes `<root>/<id>` exclusively: a second create with the same id fails here. The first
    /// state.json is written once the init exists (a directory without one reads as "creating",
    /// or as stale once its creator is gone): one write per launch, and never a rename over an
    /// existing file on the start path (ext4 flushes data on replace-by-rename).
    public func claim(_ id: String) throws(WardError) {
        try Self.validate(id: id)
        try prepareRoot()
        let dir = directory(id)
        guard mkdir(dir, 0o700) == 0 else {
            let e = errno
            if e == EEXIST { throw WardError("container \"\(id)\" already exists; pick another id or 'ward delete \(id)'") }
            throw WardError("state \(dir): mkdir: \(ErrnoName.of(e))")
        }
    }

    public func lock(_ id: String) throws(WardError) -> ContainerLock {
        try Self.validate(id: id)
        let dir = directory(id)
        guard access(dir, F_OK) == 0 else { throw WardError("container \"\(id)\" does not exist (no state in \(root))") }
        return try ContainerLock(directory: dir)
    }

    public func write(_ record: ContainerRecord) throws(WardError) {
        try atomicWrite(directory(record.id) + "/state.json", record.json.jsonText)
    }

    public func read(_ id: String) throws(WardError) -> ContainerRecord {
        try Self.validate(id: id)
        let path = directory(id) + "/state.json"
        let bytes: [UInt8]
        do {
            bytes = try Sys.readFile(path, noFollow: true, limit: 1 << 20)
        } catch {
            if error.errno == ENOENT && access(directory(id), F_OK) != 0 {
                throw WardError("container \"\(id)\" does not exist (no state in \(root))")
            }
            // No state yet while its creator still holds the entry's lock: it is being created.
            if error.errno == ENOENT && (try? ContainerLock(directory: directory(id), wait: false)) == nil {
                var record = ContainerRecord(id: id, bundle: "", rootfs: "", annotations: [:], configPath: "")
                record.created = ""
                record.owner = ""
                record.beingCreated = true
                return record
            }
            throw WardError("container \"\(id)\": \(path): \(ErrnoName.of(error.errno)); the state is damaged, remove it with 'ward delete --force \(id)'")
        }
        let value: JSONValue
        do { value = try JSONFile.parse(bytes, file: path) } catch { throw WardError(error.description) }
        return try ContainerRecord(json: value)
    }

    public func ids() -> [String] {
        (Sys.directoryEntries(root) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Removes the container's directory and everything ward put in it.
    public func remove(_ id: String) {
        Sys.removeFlatDirectory(directory(id))
    }

    func atomicWrite(_ path: String, _ text: String) throws(WardError) {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WardError("state \(tmp): \(ErrnoName.of(errno))") }
        let ok = Sys.writeAll(fd: fd, text)
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw WardError("state \(path): \(ErrnoName.of(e))")
        }
    }
}

/// flock(LOCK_EX) on a container's directory, released on deinit (or when the process dies).
/// With `wait: false` a lock someone holds is EWOULDBLOCK (`ward gc` skips such an entry).
/// deinit unlocks explicitly: a clone child that has not exec'd yet still holds a copy of the fd.
public final class ContainerLock {
    let fd: Int32
    init(directory: String, wait: Bool = true) throws(WardError) {
        fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw WardError("state \(directory): \(ErrnoName.of(errno))") }
        while flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0 {
            if errno != EINTR { let e = errno; close(fd); throw WardError("state \(directory): flock: \(ErrnoName.of(e))") }
        }
    }
    deinit { _ = flock(fd, LOCK_UN); close(fd) }
}

/// Just enough of /proc/PID/stat.
public enum ProcessInfoLite {
    /// Field 22 (starttime) and field 3 (state) of /proc/PID/stat.
    public static func stat(pid: Int32) -> (state: Character, startTime: UInt64)? {
        guard pid > 0, let bytes = try? Sys.readFile("/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        // The command name (field 2) may contain spaces and parens: split after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        return (state, start)
    }

    public static func isAlive(pid: Int32, startTime: UInt64) -> Bool {
        guard let s = stat(pid: pid) else { return false }
        return s.state != "Z" && s.state != "X" && (startTime == 0 || s.startTime == startTime)
    }
}
