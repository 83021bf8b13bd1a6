/// Host-mounted secrets, as the plan sees them: names, targets, sizes and owners. Never the
/// bytes: those stay in the runtime's C memory (WardRuntime/Secrets.swift) and reach the child's
/// op array only when the plan is lowered, so a LaunchPlan can be logged, compared or stored
/// without carrying secret material.
public struct SecretMount: Equatable, Sendable {
    /// For messages and `--secret-env` (a file name, never content).
    public var name: String
    /// Absolute container path, normalized (no empty, "." or ".." component).
    public var target: String
    /// Byte count of the content.
    public var size: Int
    public var mode: UInt32
    /// nil: the container process's uid/gid.
    public var uid: UInt32?
    public var gid: UInt32?
    /// Index of the bytes in the runtime's secret store.
    public var payload: Int

    public init(name: String, target: String, size: Int, mode: UInt32 = 0o400, uid: UInt32? = nil, gid: UInt32? = nil, payload: Int) {
        self.name = name; self.target = target; self.size = size; self.mode = mode
        self.uid = uid; self.gid = gid; self.payload = payload
    }
}

/// The secrets part of `PlanInput`.
public struct SecretsInput: Equatable, Sendable {
    public var mounts: [SecretMount] = []
    /// The kernel's tmpfs takes `noswap` (Linux >= 6.4; the runtime decides from uname). The
    /// kernel refuses it outside the initial user namespace, so it is only used there.
    public var tmpfsNoSwap = false
    /// Whether the host has an active swap device (/proc/swaps lists one).
    public var hostHasSwap = true
    public init() {}
}

/// Where secrets live in the container.
public enum SecretLayout {
    public static let directory = "/run/secrets"
    /// Files for targets outside `directory`, bind-mounted from here onto their targets.
    public static let hidden = "/run/secrets/.ward"
    /// Per-file allowance on top of the content in the tmpfs size (inode, directory entries).
    public static let fileSlack = 4096
    public static let pageSize = 4096
}

/// One step of putting secrets in place; lowered to WARD_OP_MOUNT / WARD_OP_WRITE_SECRET /
/// WARD_OP_REMOUNT / WARD_OP_BIND_IN_ROOT.
public enum SecretStep: Equatable, Sendable {
    /// The secrets filesystem on `SecretLayout.directory`, nosuid,nodev,noexec: tmpfs with
    /// `noswap` and a size cap where the kernel allows noswap, else ramfs (never swapped; it has no
    /// size option, but ward writes only the bytes it read and then makes it read-only).
    case mountFilesystem(type: String, data: String)
    /// Writes payload `payload` to `path` (on the secrets filesystem) as uid:gid, mode.
    case write(payload: Int, name: String, path: String, mode: UInt32, uid: UInt32, gid: UInt32)
    /// The whole secrets superblock becomes read-only (every mount of it, binds included).
    case remountReadOnly
    /// Binds `source` (on the secrets filesystem) read-only onto `target` (an empty file is
    /// created for it, as for any file bind).
    case bind(name: String, source: String, target: String)

    public var label: String {
        switch self {
        case .mountFilesystem(let type, _): return "mount secrets (\(type)) on \(SecretLayout.directory)"
        case .write(_, let name, let path, _, _, _): return "write secret \"\(name)\" to \(path)"
        case .remountReadOnly: return "remount \(SecretLayout.directory) read-only"
        case .bind(let name, _, let target): return "bind secret \"\(name)\" on \(target)"
        }
    }
}

extension PlanBuilder {
    /// The secrets' steps: after the config's mounts, before pivot_root. Mount the secrets
    /// filesystem, write each file, make the filesystem read-only, then bind the files whose target
    /// is outside /run/secrets.
    static func secretSteps(input: PlanInput, plan: LaunchPlan, identity: Identity,
                            newFlags: UInt64, joinsUser: Bool) throws(PlanError) -> [ChildStep] {
        let mounts = input.secrets.mounts
        guard !mounts.isEmpty else { return [] }
        let dir = SecretLayout.directory
        for m in mounts {
            let parts = m.target.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard m.target.hasPrefix("/"), !parts.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                throw PlanError(file: "secret \"\(m.name)\"", path: "", message: "target \"\(m.target)\" is not a normalized absolute path")
            }
        }
        // uid=/gid= (and the defaults) must exist in the container's user namespace.
        let maps: (uid: [IDMapping], gid: [IDMapping])?
        switch plan.idMaps {
        case .childWritesOwn(let u, let g): maps = ([u], [g])
        case .parentWrites(let u, let g), .helpers(let u, let g): maps = (u, g)
        case .none: maps = nil
        }
        if let maps {
            func mapped(_ id: UInt32, _ maps: [IDMapping]) -> Bool {
                maps.contains { UInt64(id) >= UInt64($0.containerID) && UInt64(id) < UInt64($0.containerID) + UInt64($0.size) }
            }
            for m in mounts {
                for (key, id, list, field) in [("uid", m.uid ?? identity.uid, maps.uid, "linux.uidMappings"),
                                               ("gid", m.gid ?? identity.gid, maps.gid, "linux.gidMappings")] where !mapped(id, list) {
                    throw PlanError(file: "secret \"\(m.name)\"", path: "\(key) \(id)",
                                    message: "EINVAL; not mapped in the container's user namespace (\(field)); give \(key)= an id mapped there")
                }
            }
        }

        // A size-capped tmpfs, kept out of swap: with `noswap` where the kernel allows it, which is
        // only outside a user namespace ("Turning off swap in unprivileged tmpfs mounts
        // unsupported"); in a user namespace on a host with no swap device there is nothing to
        // swap to; otherwise ramfs, which is never swapped (and has no size option: ward writes
        // only the bytes it read, then makes it read-only).
        let inUserNS = newFlags & NamespaceFlag.user != 0 || joinsUser || !input.caller.isRoot || !input.inInitialUserNamespace
        let noswap = input.secrets.tmpfsNoSwap && !inUserNS
        let fs: SecretStep
        if noswap || !input.secrets.hostHasSwap {
            var dirs = Set<String>([SecretLayout.hidden])
            for m in mounts where m.target.hasPrefix(dir + "/") {
                let rel = m.target.dropFirst(dir.count + 1).split(separator: "/")
                for k in 1..<max(rel.count, 1) { dirs.insert(rel[0..<k].joined(separator: "/")) }
            }
            let files = mounts.count + dirs.count + 1
            let raw = mounts.reduce(0) { $0 + $1.size } + SecretLayout.fileSlack * files
            let size = (raw + SecretLayout.pageSize - 1) / SecretLayout.pageSize * SecretLayout.pageSize
            fs = .mountFilesystem(type: "tmpfs", data: "size=\(size),nr_inodes=\(files + 8),mode=0755" + (noswap ? ",noswap" : ""))
        } else {
            fs = .mountFilesystem(type: "ramfs", data: "mode=0755")
        }

        var steps: [ChildStep] = [.secret(fs)]
        var binds: [ChildStep] = []
        for (i, m) in mounts.enumerated() {
            let inside = m.target.hasPrefix(dir + "/")
            let path = inside ? m.target : "\(SecretLayout.hidden)/\(i)"
            steps.append(.secret(.write(payload: m.payload, name: m.name, path: path, mode: m.mode,
                                        uid: m.uid ?? identity.uid, gid: m.gid ?? identity.gid)))
            if !inside { binds.append(.secret(.bind(name: m.name, source: path, target: m.target))) }
        }
        steps.append(.secret(.remountReadOnly))
        return steps + binds
    }
}
