import WardPlan
import WardSpec
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// `ward exec`: a new process in every namespace of a running container, with its own
/// capabilities, seccomp filter and no_new_privs (from --process, or the container's process
/// adjusted by the flags).
public struct ExecRequest {
    public var id: String
    public var processFile: String?
    public var args: [String] = []
    public var env: [String] = []
    public var cwd: String?
    public var user: String?
    public var addCaps: [String] = []
    public var noNewPrivileges = false
    public var tty = false
    public var preserveFDs = 0
    public var pidFile: String?
    public var consoleSocket: String?
    public var detach = false
    public init(id: String) { self.id = id }
}

extension Lifecycle {
    public static func exec(_ r: ExecRequest, store: StateStore, environment: [String: String], log: Log) throws(WardError) -> Int32 {
        let record = try store.read(r.id)
        let status = record.liveStatus
        guard status == "running" || status == "created" else {
            throw WardError("exec: container \"\(r.id)\" is \(status); exec needs a running container")
        }
        let spec = try storedSpec(record)
        var process: Process
        if let file = r.processFile {
            let bytes: [UInt8]
            do { bytes = try Sys.readFile(file, limit: 4 << 20) } catch { throw WardError("--process \(file): \(ErrnoName.of(error.errno))") }
            do { process = try JSONFile.decode(Process.self, from: bytes, file: file) } catch { throw WardError(error.description) }
        } else {
            guard let base = spec.process else { throw WardError("exec: the container has no process to take defaults from; pass --process") }
            guard !r.args.isEmpty else { throw WardError("exec: missing the command; usage: ward exec [OPTIONS] ID COMMAND [ARGS...]") }
            process = base
            process.args = r.args
            process.terminal = r.tty
        }
        process.env = (process.env ?? []) + r.env
        if let cwd = r.cwd { process.cwd = cwd }
        if let user = r.user { process.user = try resolveUser(user, rootfs: record.rootfs) }
        if !r.addCaps.isEmpty {
            var caps = process.capabilities ?? LinuxCapabilities()
            for name in r.addCaps {
                let cap = name.uppercased().hasPrefix("CAP_") ? name.uppercased() : "CAP_" + name.uppercased()
                guard Capabilities.byName[cap] != nil else { throw WardError("exec: --cap \"\(name)\": unknown capability") }
                for keyPath in [\LinuxCapabilities.bounding, \.effective, \.permitted] {
                    if !(caps[keyPath: keyPath] ?? []).contains(cap) { caps[keyPath: keyPath] = (caps[keyPath: keyPath] ?? []) + [cap] }
                }
            }
            process.capabilities = caps
        }
        if r.noNewPrivileges { process.noNewPrivileges = true }

        var request = EnterRequest(namespaces: Namespaces.differing(from: record.pid), args: process.args ?? [], env: process.env ?? [])
        request.cwd = process.cwd
        request.user = process.user
        request.capabilities = process.capabilities
        request.noNewPrivileges = process.noNewPrivileges ?? false
        request.terminal = process.terminal ?? false
        request.consoleSocket = r.consoleSocket != nil
        request.preserveFDs = r.preserveFDs
        request.detached = r.detach
        if let text = try? Sys.readFile("/proc/\(record.pid)/setgroups") {
            request.setgroupsAllowed = !String(decoding: text, as: UTF8.self).hasPrefix("deny")
        }
        if let text = try? Sys.readFile("/proc/sys/kernel/cap_last_cap"),
           let last = Int32(String(decoding: text.filter { $0 >= 48 && $0 <= 57 }, as: UTF8.self)) {
            request.capLastCap = last
        }
        do {
            if let seccomp = spec.linux?.seccomp { request.seccomp = try SeccompResolver.resolve(seccomp, file: record.configPath) }
        } catch {
            throw WardError(error.description)
        }
        let plan: LaunchPlan
        do { plan = try PlanBuilder.enter(request, file: r.processFile ?? "process") } catch { throw WardError(error.description) }
        if request.terminal && r.detach && r.consoleSocket == nil {
            throw WardError("exec: --tty with --detach needs --console-socket")
        }
        var handles = Launcher.Handles()
        if let socket = r.consoleSocket { handles.consoleSocket = try ConsoleSocket.connect(socket) }
        defer { if handles.consoleSocket >= 0 { close(handles.consoleSocket) } }
        let supervisor = try Launcher.launch(plan, environment: environment, timeout: nil, log: log, handles: handles)
        if let pidFile = r.pidFile { try writePidFile(pidFile, pid: supervisor.pid) }
        if r.detach {
            supervisor.detach()
            return 0
        }
        return try supervisor.wait().exitCode
    }

    /// "uid", "uid:gid", or a name from the container's own /etc/passwd.
    static func resolveUser(_ text: String, rootfs: String) throws(WardError) -> User {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let passwd = UserDatabase.parsePasswd(BundleDirectory.readInRoot(rootfs, "etc/passwd") ?? "")
        let group = UserDatabase.parseGroup(BundleDirectory.readInRoot(rootfs, "etc/group") ?? "")
        guard let first = parts.first else { throw WardError("--user \"\(text)\": expected UID[:GID] or a user name") }
        let entry = UInt32(first).map { id in passwd.first { $0.uid == id } } ?? passwd.first { $0.name == first }
        guard let uid = UInt32(first) ?? entry?.uid else {
            throw WardError("--user \"\(text)\": no user \"\(first)\" in the container's /etc/passwd; use a numeric uid")
        }
        var gid = entry?.gid ?? 0
        if parts.count == 2 {
            guard let g = UInt32(parts[1]) ?? group.first(where: { $0.name == parts[1] })?.gid else {
                throw WardError("--user \"\(text)\": no group \"\(parts[1])\" in the container's /etc/group; use a numeric gid")
            }
            gid = g
        }
        let extra = entry.map { e in group.filter { $0.members.contains(e.name) && $0.gid != gid }.map(\.gid) } ?? []
        return User(uid: uid, gid: gid, additionalGids: extra.isEmpty ? nil : extra)
    }
}
