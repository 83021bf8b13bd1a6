import CWardShim
import WardPlan
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// Secret steps -> ward_op (see ward_shim.h: WARD_OP_WRITE_SECRET, WARD_OP_BIND_IN_ROOT,
/// WARD_OP_REMOUNT). The bytes come from the SecretStore's C memory by pointer; the arena only
/// ever holds paths and labels.
extension Lowering {
    static let secretMountFlags = MountFlag.nosuid | MountFlag.nodev | MountFlag.noexec

    static func lowerSecret(_ step: SecretStep, into op: inout ward_op, arena: Arena, secrets: SecretStore?) throws(SystemError) {
        switch step {
        case .mountFilesystem(let type, let data):
            op.kind = WARD_OP_MOUNT.rawValue
            op.path = arena.string(SecretLayout.directory)
            op.source = arena.string("ward-secrets")
            op.fstype = arena.string(type)
            op.data = arena.string(data)
            op.a = secretMountFlags
        case .write(let index, let name, let path, let mode, let uid, let gid):
            guard let payload = secrets?.payload(index) else { throw SystemError("write secret \"\(name)\"", errno: EINVAL) }
            op.kind = WARD_OP_WRITE_SECRET.rawValue
            op.path = arena.string(path)
            op.ptr = payload.bytes
            op.a = UInt64(payload.count)
            op.b = UInt64(mode)
            op.c = UInt64(uid)
            op.d = UInt64(gid)
        case .remountReadOnly:
            op.kind = WARD_OP_REMOUNT.rawValue
            op.path = arena.string(SecretLayout.directory)
            op.a = MountFlag.rdonly | secretMountFlags
        case .bind(_, let source, let target):
            op.kind = WARD_OP_BIND_IN_ROOT.rawValue
            op.source = arena.string(source)
            op.path = arena.string(target)
            op.a = MountFlag.bind | MountFlag.rdonly | secretMountFlags
        }
    }

    /// WARD_OP_EXEC's envp: with --secret-env variables from the store (ptr3 lists the entries
    /// that hold secret bytes), else plain.
    static func lowerEnvironment(_ env: [String], into op: inout ward_op, arena: Arena, secrets: SecretStore?) {
        if let lowered = secrets?.environment(base: env) {
            op.ptr2 = lowered.envp
            op.ptr3 = lowered.secretEntries
        } else {
            op.ptr2 = arena.stringArray(env)
        }
    }
}

extension SecretStep {
    /// What to do about a failure of this step in the child (shown after the errno).
    func hint(errno: Int32) -> String? {
        switch (self, errno) {
        case (_, EXDEV):
            return "the target leaves the rootfs through a symlink (or is not on the secrets filesystem); ward resolves secret targets inside the rootfs only, choose another target"
        case (.mountFilesystem, EROFS), (.bind, EROFS):
            return "the mount point can't be created on a read-only filesystem; create it in the image, or mount a tmpfs on its parent (e.g. /run) in config.json"
        case (.write, EINVAL):
            return "uid=/gid= must be mapped in the container's user namespace"
        case (.write, EEXIST), (.write, ENOTDIR), (.bind, ENOTDIR):
            return "two secrets' targets collide, or a target's parent is a file; give each secret its own target="
        case (.bind, _):
            return "the mount point for the target can't be created there; choose a target on a writable filesystem of the rootfs"
        default:
            return nil
        }
    }
}
