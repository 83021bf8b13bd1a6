import CWardShim
import WardPlan
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// ward itself inside a user namespace mapped with the caller's /etc/subuid and /etc/subgid
/// ranges: container id 0 is the caller, 1... the first delegated range. This is how image files
/// keep their owners rootless (uid 33 in the image is uid 33 in the sandbox, a subordinate id on
/// the host), as podman stores rootless images; `ward unshare` gives a shell there, to remove or
/// inspect such files.
///
/// The re-exec is `/proc/self/exe __userns ARGS...` with two pipes at fds 3 (go) and 4 (ready):
/// the child unshares its user namespace and says ready, the parent runs newuidmap/newgidmap on
/// it and says go, the child carries on as root of the namespace with ARGS.
public enum SubIDNamespace {
    public static let marker = "__userns"

    /// The maps: 0 -> the caller, 1..N -> the first /etc/subuid (subgid) range (N at most 65535).
    public static func maps() throws(WardError) -> (uid: [IDMapping], gid: [IDMapping]) {
        let uid = geteuid(), gid = getegid()
        guard uid != 0 else { throw WardError("--subuid: root needs no subordinate ids; run without --subuid") }
        let name = Launcher.hostUserName(uid)
        func range(_ file: String, _ id: UInt32) throws(WardError) -> SubIDRange {
            let text = (try? Sys.readFile(file)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            guard let r = SubIDRange.parse(text, name: name, id: id).first else {
                throw WardError("--subuid: \(file) delegates no range to \(name ?? String(id)) (ENOENT); add one with usermod --add-subuids/--add-subgids")
            }
            return r
        }
        let u = try range("/etc/subuid", uid), g = try range("/etc/subgid", gid)
        return ([IDMapping(containerID: 0, hostID: uid, size: 1), IDMapping(containerID: 1, hostID: u.start, size: min(u.count, 65535))],
                [IDMapping(containerID: 0, hostID: gid, size: 1), IDMapping(containerID: 1, hostID: g.start, size: min(g.count, 65535))])
    }

    /// Runs `ward ARGS` in the mapped namespace and waits for it: its exit status.
    public static func run(_ args: [String], environment: [String: String], log: Log) throws(WardError) -> Int32 {
        let (uidMaps, gidMaps) = try maps()
        var go: [Int32] = [-1, -1], ready: [Int32] = [-1, -1]
        guard ward_pipe(&go) == 0, ward_pipe(&ready) == 0 else {
            throw WardError("--subuid: pipe2: \(ErrnoName.of(errno))")
        }
        defer { for fd in go + ready where fd >= 0 { close(fd) } }
        let env = environment.map { "\($0.key)=\($0.value)" }
        guard let pid = Spawn.spawn(path: "/proc/self/exe", argv: ["ward", marker] + args, env: env,
                                    dup2: [(go[0], 3), (ready[1], 4)]) else {
            throw WardError("--subuid: spawning ward: \(ErrnoName.of(errno))")
        }
        close(go[0]); go[0] = -1
        close(ready[1]); ready[1] = -1
        var byte: UInt8 = 0
        var mapped = false
        if read(ready[0], &byte, 1) == 1 {
            do throws(WardError) {
                try Launcher.runHelper("newuidmap", pid: pid, maps: uidMaps, db: "/etc/subuid", log: log)
                try Launcher.runHelper("newgidmap", pid: pid, maps: gidMaps, db: "/etc/subgid", log: log)
                mapped = true
            } catch {
                log.error(error.message)
            }
        }
        if mapped { _ = write(go[1], &byte, 1) }
        close(go[1]); go[1] = -1  // EOF without a byte: the child gives up
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if !mapped { return 125 }
        if status & 0x7f != 0 { return 128 + (status & 0x7f) }
        return (status >> 8) & 0xff
    }

    /// In the re-exec'd child: unshare, wait for the maps, become root of the namespace.
    public static func enter() throws(WardError) {
        guard ward_unshare_user() == 0 else {
            throw WardError("--subuid: unshare(CLONE_NEWUSER): \(ErrnoName.of(errno)); user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone)")
        }
        var byte: UInt8 = 1
        guard write(4, &byte, 1) == 1 else { throw WardError("--subuid: sync: \(ErrnoName.of(errno))") }
        close(4)
        guard read(3, &byte, 1) == 1 else { throw WardError("--subuid: the id maps were not written (see the error above)") }
        close(3)
        guard ward_become_root() == 0 else {
            throw WardError("--subuid: becoming root of the user namespace: \(ErrnoName.of(errno))")
        }
    }

    /// Whether this process runs in a namespace `enter` made (set by main).
    nonisolated(unsafe) public static var inside = false
}
