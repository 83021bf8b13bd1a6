/// The resolved launch: everything the executor needs, as data. Built by `PlanBuilder` without a
/// single syscall, so tests can assert on it without privileges.
public struct LaunchPlan: Equatable, Sendable {
    /// CLONE_NEW* flags for clone(2).
    public var cloneFlags: UInt64 = 0
    /// How the new user namespace gets its id maps (if there is one).
    public var idMaps: IDMapPlan = .none
    /// The child's setup, in order. The last step is `.exec`.
    public var steps: [ChildStep] = []
    /// The resolved seccomp filter, compiled to BPF by `SeccompCompiler` in the parent.
    public var seccomp: ResolvedSeccomp?
    /// With --seccomp-report: the errno to answer each notification with.
    public var seccompReport: SeccompReportMap?
    /// Namespace files to open in the parent and hand to the child (CLONE_NEW* type, path).
    public var joinPaths: [NamespaceJoin] = []
    /// Things to tell the user once on stderr (e.g. "added a user namespace").
    public var notices: [String] = []
    public var terminal = false
    /// Container process identity after setup.
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    public var rootfs = ""
    public var hostname: String?

    public init() {}
}

public struct NamespaceJoin: Equatable, Sendable {
    public var type: String
    public var flag: UInt64
    public var path: String
}

public struct IDMapping: Equatable, Sendable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32
    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID; self.hostID = hostID; self.size = size
    }
    /// One line of a /proc/PID/uid_map file.
    public var line: String { "\(containerID) \(hostID) \(size)\n" }
}

public enum IDMapPlan: Equatable, Sendable {
    /// No new user namespace (joined one, or root running without one).
    case none
    /// The child writes its own single-id maps: no round trip to the parent (user_namespaces(7):
    /// an unprivileged process may map its own euid/egid once setgroups is denied).
    case childWritesOwn(uid: IDMapping, gid: IDMapping)
    /// The parent writes /proc/PID/{uid,gid}_map itself (it is root) then releases the child.
    case parentWrites(uid: [IDMapping], gid: [IDMapping])
    /// The parent runs newuidmap/newgidmap (setuid helpers from Debian's uidmap, which check
    /// /etc/subuid and /etc/subgid) then releases the child.
    case helpers(uid: [IDMapping], gid: [IDMapping])
}

/// The rootfs of `ward run --image`: the image store's layer directories, topmost first, as the
/// lower layers of an overlayfs whose upper (and work) directory is on a tmpfs mounted at
/// `mountpoint`, an empty directory seen only inside the container's mount namespace. Nothing is
/// copied: the layers stay read-only and shared by every sandbox of the image.
public struct OverlayRootfs: Equatable, Sendable {
    public var mountpoint: String
    public var layers: [String]
    /// The tmpfs holding the upper: its size bounds what the container can write to `/`.
    public var tmpfsOptions: String
    /// The classic `lowerdir=...` option string for kernels before 6.8 (no "lowerdir+"); nil
    /// when it does not fit one page or a path holds a character the string form can't carry.
    public var legacyMountData: String? {
        guard !layers.contains(where: { $0.contains(",") || $0.contains(":") || $0.contains("\\") }),
              !mountpoint.contains(",") && !mountpoint.contains(":") else { return nil }
        let text = "lowerdir=\(layers.joined(separator: ":")),upperdir=\(mountpoint)/upper,workdir=\(mountpoint)/work,userxattr"
        return text.utf8.count < 4096 ? text : nil
    }
    public init(mountpoint: String, layers: [String], tmpfsOptions: String) {
        self.mountpoint = mountpoint; self.layers = layers; self.tmpfsOptions = tmpfsOptions
    }
}

/// One step of the child between clone and exec. Each maps to one `ward_op` of the C shim.
public enum ChildStep: Equatable, Sendable {
    case joinNamespace(index: Int)                       // setns(fd of joinPaths[index])
    case writeOwnIDMaps(uid: String, gid: String)         // setgroups "deny", then the two maps
    case waitForParent                                    // maps written by the parent
    case unshare(flags: UInt64)
    case timeNamespace(offsets: String)
    case fork                                             // after joining a pid namespace
    case makeMountsPrivate(propagation: UInt64)
    case bindRootfs(path: String)
    case overlayRootfs(OverlayRootfs)                     // `run --image`: image-store layers + a tmpfs upper
    case mount(Mount)
    case bind(Bind)
    case bindDevice(destination: String, host: String)
    case makeDevice(destination: String, mode: UInt32, major: UInt32, minor: UInt32, uid: UInt32?, gid: UInt32?)
    case symlink(target: String, destination: String)
    case pivotRoot
    case chrootNoPivot
    case maskPath(String)
    case readonlyPath(String)
    case remountRoot(flags: UInt64)
    case rootPropagation(flags: UInt64)
    case setHostname(String)
    case setDomainname(String)
    case writeFile(path: String, value: String, label: String)
    case terminal(consoleSocket: Bool)
    case rlimit(name: String, resource: Int32, soft: UInt64, hard: UInt64)
    case seccomp(flags: UInt32)
    case setGroups([UInt32])
    case setIDs(uid: UInt32, gid: UInt32)
    case capabilities(Capabilities)
    case dropBoundingSet([Int32])
    case noNewPrivileges
    case parentDeathSignal(Int32)
    case closeFileDescriptors(preserve: Int)
    case chdir(String)
    case umask(UInt32)
    case resetSignals
    case syncReady
    case hookPoint
    case newSessionKeyring
    case secret(SecretStep)                               // secrets (WardPlan/SecretPlan.swift)
    case exec(Exec)

    public struct Mount: Equatable, Sendable {
        public var destination: String
        public var source: String
        public var type: String
        public var flags: UInt64
        public var data: String?
        public var propagation: UInt64
        public var attrSet: UInt32
        public var attrClear: UInt32
    }

    public struct Bind: Equatable, Sendable {
        public var destination: String
        public var source: String
        public var flags: UInt64          // MS_BIND [|MS_REC] | remount flags
        public var propagation: UInt64
        public var attrSet: UInt32
        public var attrClear: UInt32
    }

    public struct Capabilities: Equatable, Sendable {
        /// Capability numbers to drop from the bounding set.
        public var dropBounding: [Int32]
        public var effective: [Int32]
        public var permitted: [Int32]
        public var inheritable: [Int32]
        public var ambient: [Int32]
    }

    public struct Exec: Equatable, Sendable {
        public var path: String
        public var args: [String]
        public var env: [String]
        public var searchPath: String
    }

    /// The name a person sees when this step fails, e.g. "mount /proc".
    public var label: String {
        switch self {
        case .joinNamespace: return "setns"
        case .writeOwnIDMaps: return "write /proc/self/uid_map"
        case .waitForParent: return "wait for id maps"
        case .unshare: return "unshare"
        case .timeNamespace: return "time namespace"
        case .fork: return "fork into pid namespace"
        case .makeMountsPrivate: return "make mounts private"
        case .bindRootfs(let path): return "bind rootfs \(path)"
        case .overlayRootfs(let o): return "mount overlay rootfs (\(o.layers.count) layer(s)) on \(o.mountpoint)/root"
        case .mount(let m): return "mount \(m.type) on \(m.destination)"
        case .bind(let b): return "bind \(b.source) on \(b.destination)"
        case .bindDevice(let d, _): return "bind device \(d)"
        case .makeDevice(let d, _, _, _, _, _): return "mknod \(d)"
        case .symlink(_, let d): return "symlink \(d)"
        case .pivotRoot: return "pivot_root"
        case .chrootNoPivot: return "chroot (--no-pivot)"
        case .maskPath(let p): return "mask \(p)"
        case .readonlyPath(let p): return "readonly \(p)"
        case .remountRoot: return "remount / read-only"
        case .rootPropagation: return "rootfsPropagation"
        case .setHostname: return "sethostname"
        case .setDomainname: return "setdomainname"
        case .writeFile(_, _, let label): return label
        case .terminal: return "set up terminal"
        case .rlimit(let name, _, _, _): return "setrlimit \(name)"
        case .seccomp: return "load seccomp filter"
        case .setGroups: return "setgroups"
        case .setIDs(let uid, let gid): return "setresuid \(uid) / setresgid \(gid)"
        case .capabilities: return "set capabilities"
        case .dropBoundingSet: return "drop capabilities from the bounding set"
        case .noNewPrivileges: return "set no_new_privs"
        case .parentDeathSignal: return "set parent-death signal"
        case .closeFileDescriptors: return "close inherited fds"
        case .chdir(let path): return "chdir \(path)"
        case .umask: return "umask"
        case .resetSignals: return "reset signals"
        case .syncReady: return "wait for start"
        case .hookPoint: return "wait for createRuntime/createContainer hooks"
        case .newSessionKeyring: return "join a new session keyring"
        case .secret(let s): return s.label
        case .exec(let e): return "exec \(e.path)"
        }
    }
}
