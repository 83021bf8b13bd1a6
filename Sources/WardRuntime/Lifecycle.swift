import CWardShim
import WardPlan
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// A container's entry under `--root` while ward works on it.
public final class Registration {
    public let store: StateStore
    public private(set) var record: ContainerRecord
    var lock: ContainerLock?

    /// Claims `id` (mkdir is the exclusive step). A container that outlives this ward process
    /// (create) gets a copy of its config for exec and hooks: the config as it runs (with --profile,
    /// --env, ... applied; for `--image`, the one built in memory); a foreground run points at the
    /// bundle's own. No lock is held across clone: the container's init would inherit it.
    public static func register(store: StateStore, id: String, bundle: BundleDirectory,
                                copyConfig: Bool = false) throws(WardError) -> Registration {
        let record = ContainerRecord(id: id, bundle: bundle.path, rootfs: bundle.rootfs,
                                     annotations: bundle.spec.annotations ?? [:],
                                     configPath: copyConfig ? store.directory(id) + "/config.json" : bundle.configFile)
        // Locked until the first state write, so `ward gc` keeps an entry still being set up.
        let registration = Registration(store: store, record: record, lock: try store.claimHeld(id))
        guard copyConfig else { return registration }
        do {
            try store.atomicWrite(record.configPath, try JSONValue.encoding(bundle.spec).prettyJSONText)
        } catch let error as WardError {
            registration.remove()
            throw error
        } catch {
            registration.remove()
            throw WardError("\(bundle.configFile): \(error)")
        }
        return registration
    }

    init(store: StateStore, record: ContainerRecord, lock: ContainerLock?) {
        self.store = store; self.record = record; self.lock = lock
    }

    /// The runtime-spec state document, as hooks read it on stdin.
    public func state(pid: Int32, _ status: String) -> JSONValue {
        var r = record
        r.pid = pid
        return r.stateDocument(status: status)
    }

    public func update(pid: Int32, status: String) {
        record.pid = pid
        record.pidStartTime = ProcessInfoLite.stat(pid: pid)?.startTime ?? 0
        record.status = status
        try? store.write(record)
        lock = nil  // the creator's lock (GarbageCollect.swift): the state speaks for itself now
    }

    public func remove() {
        store.remove(record.id)
        lock = nil
    }

    /// Lets go of the lock (the state stays).
    public func release() { lock = nil }
}

/// The runc-compatible verbs over the state store.
public enum Lifecycle {
    public struct CreateOptions {
        public var id: String
        public var pidFile: String?
        public var consoleSocket: String?
        public init(id: String) { self.id = id }
    }

    /// `create`: every namespace and mount in place, the init blocked before exec on the exec
    /// fifo until `start`. Returns once the init is waiting (ward then exits; the init lives on).
    public static func create(_ request: RunRequest, options: CreateOptions, store: StateStore, log: Log) throws(WardError) -> Registration {
        let registration = try Registration.register(store: store, id: options.id, bundle: request.bundle, copyConfig: true)
        // Secrets ride in the child's op array like in a foreground run; the init writes them
        // before pivot_root, long before it waits for `start`.
        var handles = Launcher.Handles(secrets: request.secrets)
        defer {
            if handles.execFifo >= 0 { close(handles.execFifo) }
            if handles.consoleSocket >= 0 { close(handles.consoleSocket) }
        }
        do throws(WardError) {
            let fifo = store.directory(options.id) + "/exec.fifo"
            guard mkfifo(fifo, 0o600) == 0 else { throw WardError("\(fifo): mkfifo: \(ErrnoName.of(errno))") }
            // O_RDWR: the child's read then blocks until `start` writes, whoever holds the other end.
            handles.execFifo = open(fifo, O_RDWR | O_CLOEXEC)
            guard handles.execFifo >= 0 else { throw WardError("\(fifo): open: \(ErrnoName.of(errno))") }
            if let path = options.consoleSocket { handles.consoleSocket = try ConsoleSocket.connect(path) }
            var req = request
            req.options.waitForStart = true
            req.options.detached = true
            req.options.consoleSocket = options.consoleSocket != nil
            let plan = try Launcher.plan(req)
            guard !plan.terminal || options.consoleSocket != nil else {
                throw WardError("config.json: process.terminal: a detached container with a terminal needs --console-socket")
            }
            let supervisor = try Launcher.launch(plan, environment: req.environment, timeout: nil, log: log, handles: handles)
            do throws(WardError) {
                // "creating" while the init sets itself up and the create-time hooks run.
                registration.update(pid: supervisor.pid, status: "creating")
                try Launcher.runCreateHooks(supervisor, hooks: request.bundle.spec.hooks, registration: registration, log: log)
                try supervisor.waitFor(message: Int32(WARD_MSG_READY.rawValue))
                registration.update(pid: supervisor.pid, status: "created")
                if let pidFile = options.pidFile { try writePidFile(pidFile, pid: supervisor.pid) }
            } catch {
                supervisor.killAndReap()
                throw error
            }
            supervisor.detach()
        } catch {
            registration.remove()
            throw error
        }
        registration.release()
        return registration
    }

    /// `start`: startContainer hooks in the container, release the init, poststart hooks.
    public static func start(id: String, store: StateStore, log: Log) throws(WardError) {
        let lock = try store.lock(id)
        var record = try store.read(id)
        let status = record.liveStatus
        guard status == "created" else {
            throw WardError("container \"\(id)\" is \(status), not created; only a created container can be started")
        }
        let hooks = try storedSpec(record).hooks
        do {
            try HookRunner.run(hooks?.startContainer, phase: "startContainer", state: record.stateDocument(status: "created"),
                               enterPID: record.pid, log: log)
        } catch {
            Glibc.kill(record.pid, SIGKILL)
            throw error
        }
        let fifo = store.directory(id) + "/exec.fifo"
        let fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw WardError("container \"\(id)\": \(fifo): \(ErrnoName.of(errno)); its init is not waiting any more")
        }
        let released = Sys.writeAll(fd: fd, "0")
        close(fd)
        unlink(fifo)
        guard released else { throw WardError("container \"\(id)\": releasing the init: \(ErrnoName.of(errno))") }
        record.status = "running"
        try store.write(record)
        HookRunner.runWarning(hooks?.poststart, phase: "poststart", state: record.stateDocument(status: "running"), log: log)
        _ = lock
    }

    public static func state(id: String, store: StateStore) throws(WardError) -> JSONValue {
        let record = try store.read(id)
        return record.stateDocument(status: record.liveStatus)
    }

    public static func kill(id: String, signal: Int32, all: Bool, store: StateStore) throws(WardError) {
        let record = try store.read(id)
        let status = record.liveStatus
        guard status == "created" || status == "running" else {
            throw WardError("container \"\(id)\" is \(status); there is nothing to signal")
        }
        let targets = all ? processes(of: record) : [record.pid]
        for pid in targets where Glibc.kill(pid, signal) != 0 && errno != ESRCH {
            throw WardError("kill \(pid) (container \"\(id)\"): \(ErrnoName.of(errno))")
        }
    }

    /// `delete`: refuses a live container unless forced; forced, kills it and waits for it.
    public static func delete(id: String, force: Bool, store: StateStore, log: Log) throws(WardError) {
        try StateStore.validate(id: id)
        guard access(store.directory(id), F_OK) == 0 else {
            throw WardError("container \"\(id)\" does not exist (no state in \(store.root))")
        }
        let lock = try store.lock(id)
        let record: ContainerRecord
        do {
            record = try store.read(id)
        } catch {
            // A half-written entry (a creator that died): only --force removes it.
            guard force else { throw WardError("\(error.message)") }
            store.remove(id)
            return
        }
        let status = record.liveStatus
        if status != "stopped" {
            guard force else {
                throw WardError("container \"\(id)\" is \(status); stop it first ('ward kill \(id) KILL') or use 'ward delete --force \(id)'")
            }
            for pid in processes(of: record) { Glibc.kill(pid, SIGKILL) }
            waitUntilGone(record)
        }
        if let hooks = try? storedSpec(record).hooks {
            HookRunner.runWarning(hooks.poststop, phase: "poststop", state: record.stateDocument(status: "stopped"), log: log)
        }
        store.remove(id)
        _ = lock
    }

    /// Every process of the container: with its own pid namespace, all of them; else the init.
    public static func processes(of record: ContainerRecord) -> [Int32] {
        guard ProcessInfoLite.isAlive(pid: record.pid, startTime: record.pidStartTime) else { return [] }
        var initNS = stat(), mine = stat()
        guard stat("/proc/\(record.pid)/ns/pid", &initNS) == 0, stat("/proc/self/ns/pid", &mine) == 0,
              initNS.st_ino != mine.st_ino, let names = Sys.directoryEntries("/proc") else { return [record.pid] }
        return names.compactMap { Int32($0) }.filter { pid in
            var ns = stat()
            return stat("/proc/\(pid)/ns/pid", &ns) == 0 && ns.st_ino == initNS.st_ino && ns.st_dev == initNS.st_dev
        }.sorted()
    }

    static func waitUntilGone(_ record: ContainerRecord) {
        for _ in 0..<2000 where ProcessInfoLite.isAlive(pid: record.pid, startTime: record.pidStartTime) {
            // Our own child (run --detach in this process) needs reaping to stop being a zombie.
            var st: Int32 = 0
            _ = waitpid(record.pid, &st, WNOHANG)
            usleep(5000)
        }
    }

    static func storedSpec(_ record: ContainerRecord) throws(WardError) -> Spec {
        let bytes: [UInt8]
        do { bytes = try Sys.readFile(record.configPath, noFollow: true, limit: 16 << 20) } catch {
            throw WardError("container \"\(record.id)\": \(record.configPath): \(ErrnoName.of(error.errno))")
        }
        do { return try Spec.decode(bytes, file: record.configPath) } catch { throw WardError(error.description) }
    }

    static func writePidFile(_ path: String, pid: Int32) throws(WardError) {
        let tmp = path + ".ward-tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WardError("--pid-file \(path): \(ErrnoName.of(errno))") }
        let ok = Sys.writeAll(fd: fd, String(pid))
        close(fd)
        guard ok, rename(tmp, path) == 0 else { unlink(tmp); throw WardError("--pid-file \(path): \(ErrnoName.of(errno))") }
    }

    /// A fresh id for `run` without one: "ward-" and 12 random hex digits.
    public static func generatedID() -> String {
        var bytes = [UInt8](repeating: 0, count: 6)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return "ward-" + SHA256.hex(bytes)
    }

    static let signalNames: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
        "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17,
        "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25,
        "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
    ]

    /// "TERM", "SIGTERM", "sigterm" or "15".
    public static func signal(named text: String) -> Int32? {
        if let n = Int32(text) { return n >= 1 && n <= 64 ? n : nil }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if name.hasPrefix("RTMIN+"), let k = Int32(name.dropFirst(6)), k >= 0, k <= 30 { return 34 + k }
        return signalNames[name]
    }
}

/// The console socket handshake: one SCM_RIGHTS message carrying the pty master (go-runc and
/// conmon read exactly this).
enum ConsoleSocket {
    static func connect(_ path: String) throws(WardError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw WardError("--console-socket \(path): socket: \(ErrnoName.of(errno))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw WardError("--console-socket \(path): path too long for a unix socket")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw WardError("--console-socket \(path): connect: \(ErrnoName.of(e)); is the listener running?")
        }
        return fd
    }
}
