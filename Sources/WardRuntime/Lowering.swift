import CCap
import CWardShim
import WardPlan
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// C memory for the child: every string, array and capability state the ops point at. Built in
/// the parent before clone; the child reads its copy-on-write image of it and allocates nothing.
final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var caps: [cap_t] = []

    func string(_ s: String) -> UnsafePointer<CChar> {
        guard let p = strdup(s) else { outOfMemory() }
        blocks.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }

    func optionalString(_ s: String?) -> UnsafePointer<CChar>? { s.map(string) }

    /// A NULL-terminated char*[] (argv/envp).
    func stringArray(_ items: [String]) -> UnsafeRawPointer {
        let p = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: items.count + 1)
        for (i, item) in items.enumerated() { p[i] = string(item) }
        p[items.count] = nil
        blocks.append(UnsafeMutableRawPointer(p))
        return UnsafeRawPointer(p)
    }

    func array<T>(_ items: [T]) -> UnsafeRawPointer {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(items.count, 1))
        p.initialize(from: items, count: items.count)
        blocks.append(UnsafeMutableRawPointer(p))
        return UnsafeRawPointer(p)
    }

    func bytes(_ data: [UInt8]) -> UnsafeRawPointer { array(data) }

    func capState(_ c: ChildStep.Capabilities) -> UnsafeRawPointer? {
        guard let cap = cap_init() else { return nil }
        caps.append(cap)
        func set(_ flag: cap_flag_t, _ values: [Int32]) {
            guard !values.isEmpty else { return }
            var v = values.map { cap_value_t($0) }
            _ = cap_set_flag(cap, flag, Int32(v.count), &v, CAP_SET)
        }
        set(CAP_EFFECTIVE, c.effective)
        set(CAP_PERMITTED, c.permitted)
        set(CAP_INHERITABLE, c.inheritable)
        return UnsafeRawPointer(cap)
    }

    private func outOfMemory() -> Never {
        Sys.stderr("ward: out of memory while preparing the launch")
        exit(125)
    }

    deinit {
        for b in blocks { free(b) }
        for c in caps { cap_free(UnsafeMutableRawPointer(c)) }
    }
}

/// Lowers the plan's steps to the C shim's op array. One case per step; no policy here.
struct Lowering {
    let arena = Arena()
    private(set) var ops: [ward_op] = []

    init(plan: LaunchPlan, seccompProgram: [UInt8]?, joinFDs: [Int32], consoleSocketFD: Int32, execFifoFD: Int32 = -1,
         secrets: SecretStore? = nil) throws(SystemError) {
        for step in plan.steps {
            var op = ward_op()
            op.fd = -1
            op.label = arena.string(step.label)
            switch step {
            case .joinNamespace(let index):
                op.kind = WARD_OP_SETNS.rawValue
                op.fd = joinFDs[index]
                op.num = Int32(truncatingIfNeeded: plan.joinPaths[index].flag)
            case .writeOwnIDMaps(let uid, let gid):
                op.kind = WARD_OP_WRITE_IDMAPS.rawValue
                op.source = arena.string(uid)
                op.fstype = arena.string(gid)
                op.data = arena.string("deny")
            case .waitForParent: op.kind = WARD_OP_WAIT_PARENT.rawValue
            case .unshare(let flags):
                op.kind = WARD_OP_UNSHARE.rawValue
                op.a = flags
            case .timeNamespace(let offsets):
                op.kind = WARD_OP_TIMENS.rawValue
                op.source = arena.string(offsets)
            case .fork: op.kind = WARD_OP_FORK.rawValue
            case .makeMountsPrivate(let propagation):
                op.kind = WARD_OP_MAKE_PRIVATE.rawValue
                op.a = propagation
            case .bindRootfs(let path):
                op.kind = WARD_OP_BIND_ROOTFS.rawValue
                op.path = arena.string(path)
            case .overlayRootfs(let o):
                op.kind = WARD_OP_OVERLAY_ROOTFS.rawValue
                op.path = arena.string(o.mountpoint)
                op.source = arena.string(o.layers.joined(separator: "\n"))
                op.fstype = arena.string(o.tmpfsOptions)
                op.data = arena.optionalString(o.legacyMountData)
            case .mount(let m):
                op.kind = WARD_OP_MOUNT.rawValue
                op.path = arena.string(m.destination)
                op.source = arena.string(m.source)
                op.fstype = arena.string(m.type)
                op.data = arena.optionalString(m.data)
                op.a = m.flags
                op.b = m.propagation
                op.attr_set = m.attrSet
                op.attr_clr = m.attrClear
            case .bind(let b):
                op.kind = WARD_OP_BIND.rawValue
                op.path = arena.string(b.destination)
                op.source = arena.string(b.source)
                op.a = b.flags
                op.b = b.propagation
                op.attr_set = b.attrSet
                op.attr_clr = b.attrClear
            case .bindDevice(let destination, let host):
                op.kind = WARD_OP_DEVICE_BIND.rawValue
                op.path = arena.string(destination)
                op.source = arena.string(host)
            case .makeDevice(let destination, let mode, let major, let minor, let uid, let gid):
                op.kind = WARD_OP_MKNOD.rawValue
                op.path = arena.string(destination)
                op.a = UInt64(mode)
                op.b = UInt64(major) << 32 | UInt64(minor)
                op.c = uid.map(UInt64.init) ?? UInt64.max
                op.d = gid.map(UInt64.init) ?? UInt64.max
            case .symlink(let target, let destination):
                op.kind = WARD_OP_SYMLINK.rawValue
                op.source = arena.string(target)
                op.path = arena.string(destination)
            case .pivotRoot: op.kind = WARD_OP_PIVOT.rawValue
            case .chrootNoPivot: op.kind = WARD_OP_CHROOT.rawValue
            case .maskPath(let path):
                op.kind = WARD_OP_MASK.rawValue
                op.path = arena.string(path)
            case .readonlyPath(let path):
                op.kind = WARD_OP_READONLY.rawValue
                op.path = arena.string(path)
            case .remountRoot(let flags):
                op.kind = WARD_OP_REMOUNT_ROOT.rawValue
                op.a = flags
            case .rootPropagation(let flags):
                op.kind = WARD_OP_ROOT_PROPAGATION.rawValue
                op.a = flags
            case .setHostname(let name):
                op.kind = WARD_OP_SETHOSTNAME.rawValue
                op.source = arena.string(name)
            case .setDomainname(let name):
                op.kind = WARD_OP_SETDOMAINNAME.rawValue
                op.source = arena.string(name)
            case .writeFile(let path, let value, _):
                op.kind = WARD_OP_WRITE_FILE.rawValue
                op.path = arena.string(path)
                op.source = arena.string(value)
            case .terminal(let consoleSocket):
                op.kind = WARD_OP_TERMINAL.rawValue
                op.fd = consoleSocket ? consoleSocketFD : -1
            case .rlimit(_, let resource, let soft, let hard):
                op.kind = WARD_OP_RLIMIT.rawValue
                op.num = resource
                op.a = soft
                op.b = hard
            case .seccomp(let flags):
                guard let program = seccompProgram else { throw SystemError("load seccomp filter", errno: EINVAL) }
                op.kind = WARD_OP_SECCOMP.rawValue
                op.a = UInt64(flags)
                op.len = Int32(program.count / 8)
                op.ptr = arena.bytes(program)
            case .setGroups(let gids):
                op.kind = WARD_OP_SETGROUPS.rawValue
                op.len = Int32(gids.count)
                op.ptr = arena.array(gids.map { gid_t($0) })
            case .setIDs(let uid, let gid):
                op.kind = WARD_OP_SETID.rawValue
                op.a = UInt64(uid)
                op.b = UInt64(gid)
            case .capabilities(let caps):
                op.kind = WARD_OP_CAPS.rawValue
                op.len = Int32(caps.dropBounding.count)
                op.ptr = arena.array(caps.dropBounding.map { Int32($0) })
                guard let state = arena.capState(caps) else { throw SystemError("cap_init", errno: ENOMEM) }
                op.ptr2 = state
                op.len3 = Int32(caps.ambient.count)
                op.ptr3 = arena.array(caps.ambient.map { Int32($0) })
            case .dropBoundingSet(let caps):
                op.kind = WARD_OP_CAPS.rawValue
                op.len = Int32(caps.count)
                op.ptr = arena.array(caps)
            case .noNewPrivileges: op.kind = WARD_OP_NO_NEW_PRIVS.rawValue
            case .parentDeathSignal(let signal):
                op.kind = WARD_OP_PDEATHSIG.rawValue
                op.num = signal
            case .closeFileDescriptors(let preserve):
                op.kind = WARD_OP_CLOSE_FDS.rawValue
                op.num = Int32(preserve)
            case .chdir(let path):
                op.kind = WARD_OP_CHDIR.rawValue
                op.path = arena.string(path)
            case .umask(let mask):
                op.kind = WARD_OP_UMASK.rawValue
                op.a = UInt64(mask)
            case .resetSignals: op.kind = WARD_OP_SIGNALS_RESET.rawValue
            case .syncReady:
                op.kind = WARD_OP_SYNC_READY.rawValue
                op.fd = execFifoFD
            case .hookPoint:
                op.kind = WARD_OP_SYNC_READY.rawValue
                op.num = Int32(WARD_MSG_HOOKS.rawValue)
            case .newSessionKeyring: op.kind = WARD_OP_NEW_KEYRING.rawValue
            case .secret(let s): try Self.lowerSecret(s, into: &op, arena: arena, secrets: secrets)
            case .exec(let e):
                op.kind = WARD_OP_EXEC.rawValue
                op.path = arena.string(e.path)
                op.source = arena.string(e.searchPath)
                op.ptr = arena.stringArray(e.args)
                Self.lowerEnvironment(e.env, into: &op, arena: arena, secrets: secrets)
            }
            ops.append(op)
        }
    }
}
