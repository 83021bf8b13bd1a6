import WardSpec

public typealias PlanError = SpecError

/// Who runs ward.
public struct Caller: Equatable, Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public var name: String?
    public var isRoot: Bool { uid == 0 }
    public init(uid: UInt32, gid: UInt32, name: String? = nil) { self.uid = uid; self.gid = gid; self.name = name }
}

/// One /etc/subuid or /etc/subgid range delegated to the caller.
public struct SubIDRange: Equatable, Sendable {
    public var start: UInt32
    public var count: UInt32
    public init(start: UInt32, count: UInt32) { self.start = start; self.count = count }

    /// Parses /etc/subuid-format text, keeping the lines for `name` or the numeric `id`.
    public static func parse(_ text: String, name: String?, id: UInt32) -> [SubIDRange] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            let owner = String(f.first ?? "")
            guard f.count == 3, owner == name || owner == String(id),
                  let start = UInt32(f[1]), let count = UInt32(f[2]), count > 0 else { return nil }
            return SubIDRange(start: start, count: count)
        }
    }
}

/// Command-line choices that shape the launch.
public struct LaunchOptions: Equatable, Sendable {
    public var noPivot = false
    public var preserveFDs = 0
    public var consoleSocket = false
    /// create/start split: stop before exec until released.
    public var waitForStart = false
    /// The container outlives this ward process (create, run --detach): no parent-death signal.
    public var detached = false
    /// Join a fresh session keyring (runc's default; --no-new-keyring turns it off).
    public var newKeyring = true
    /// --seccomp-report: refusals go through ward (user notification) and are reported.
    public var seccompReport = false
    /// `ward profile learn`: record every syscall the workload makes, refuse none.
    public var seccompLearn = false
    public init() {}
}

/// Everything the plan is built from. The runtime gathers it (reads files, asks the kernel);
/// the builder itself makes no syscall.
public struct PlanInput: Sendable {
    public var spec: Spec
    public var file = "config.json"
    public var bundle: String
    /// The rootfs, absolute and already checked to be inside the bundle (or given absolute).
    public var rootfs: String
    public var caller: Caller
    public var subuid: [SubIDRange] = []
    public var subgid: [SubIDRange] = []
    /// The rootfs's own /etc/passwd and /etc/group, read when a user name needs resolving.
    public var passwd: String?
    public var group: String?
    /// /proc/sys/kernel/cap_last_cap.
    public var capLastCap: Int32 = 40
    /// false when ward itself already runs inside a user namespace (e.g. rootless podman's):
    /// then even uid 0 can't mknod, and devices are bind-mounted.
    public var inInitialUserNamespace = true
    /// Linux security modules enabled on this host ("apparmor", "selinux"). A label ward can't
    /// apply on a host that enforces that LSM is refused; on a host without it there is nothing to
    /// apply it to.
    public var enabledLSMs: Set<String> = []
    public var options = LaunchOptions()
    /// `run --image`: the image store's layer directories, topmost first (the rootfs is an overlay
    /// of them, mounted at `rootfs`, an empty directory) instead of a bundle's rootfs directory.
    public var imageLayers: [String]?
    /// Host-mounted secrets (--secret): targets, sizes, owners; never the bytes.
    public var secrets = SecretsInput()

    public init(spec: Spec, bundle: String, rootfs: String, caller: Caller) {
        self.spec = spec; self.bundle = bundle; self.rootfs = rootfs; self.caller = caller
    }
}

public enum NamespaceFlag {
    public static let byType: [String: UInt64] = [
        "mount": 0x0002_0000, "uts": 0x0400_0000, "ipc": 0x0800_0000, "user": 0x1000_0000,
        "pid": 0x2000_0000, "network": 0x4000_0000, "cgroup": 0x0200_0000, "time": 0x0000_0080,
    ]
    public static let user: UInt64 = 0x1000_0000
    public static let pid: UInt64 = 0x2000_0000
    public static let network: UInt64 = 0x4000_0000
    public static let mount: UInt64 = 0x0002_0000
    public static let ipc: UInt64 = 0x0800_0000
    public static let time: UInt64 = 0x0000_0080
}
