/// OCI mount options -> mount(2) flags, propagation, recursive attributes and fs data.
///
/// The table follows the option names of mount(8) and the runtime-spec's list (which includes the
/// recursive `r*` forms applied with mount_setattr(2), kernel >= 5.12). Unknown words are passed to
/// the filesystem as data, as runc and crun do (`mode=755`, `size=64k`, `newinstance`, ...).
public enum MountFlag {
    public static let rdonly: UInt64 = 0x1
    public static let nosuid: UInt64 = 0x2
    public static let nodev: UInt64 = 0x4
    public static let noexec: UInt64 = 0x8
    public static let synchronous: UInt64 = 0x10
    public static let remount: UInt64 = 0x20
    public static let mandlock: UInt64 = 0x40
    public static let dirsync: UInt64 = 0x80
    public static let nosymfollow: UInt64 = 0x100
    public static let noatime: UInt64 = 0x400
    public static let nodiratime: UInt64 = 0x800
    public static let bind: UInt64 = 0x1000
    public static let move: UInt64 = 0x2000
    public static let rec: UInt64 = 0x4000
    public static let silent: UInt64 = 0x8000
    public static let unbindable: UInt64 = 0x20000
    public static let `private`: UInt64 = 0x40000
    public static let slave: UInt64 = 0x80000
    public static let shared: UInt64 = 0x100000
    public static let relatime: UInt64 = 0x200000
    public static let iversion: UInt64 = 0x800000
    public static let strictatime: UInt64 = 0x1000000
    public static let lazytime: UInt64 = 0x2000000
}

/// MOUNT_ATTR_* for mount_setattr(2).
public enum MountAttr {
    public static let rdonly: UInt32 = 0x1
    public static let nosuid: UInt32 = 0x2
    public static let nodev: UInt32 = 0x4
    public static let noexec: UInt32 = 0x8
    public static let atimeMask: UInt32 = 0x70
    public static let relatime: UInt32 = 0x0
    public static let noatime: UInt32 = 0x10
    public static let strictatime: UInt32 = 0x20
    public static let nodiratime: UInt32 = 0x80
    public static let nosymfollow: UInt32 = 0x200000
}

public struct ParsedMountOptions: Equatable, Sendable {
    public var flags: UInt64 = 0
    public var propagation: UInt64 = 0
    public var attrSet: UInt32 = 0
    public var attrClear: UInt32 = 0
    public var data: [String] = []
    public var isBind: Bool { flags & MountFlag.bind != 0 }
    public var isRecursiveBind: Bool { flags & (MountFlag.bind | MountFlag.rec) == (MountFlag.bind | MountFlag.rec) }
    public var dataString: String? { data.isEmpty ? nil : data.joined(separator: ",") }
}

public enum MountOptions {
    /// option -> (flags to set, flags to clear)
    public static let flagTable: [String: (set: UInt64, clear: UInt64)] = [
        "async": (0, MountFlag.synchronous), "sync": (MountFlag.synchronous, 0),
        "atime": (0, MountFlag.noatime), "noatime": (MountFlag.noatime, 0),
        "bind": (MountFlag.bind, 0), "rbind": (MountFlag.bind | MountFlag.rec, 0),
        "defaults": (0, 0),
        "dev": (0, MountFlag.nodev), "nodev": (MountFlag.nodev, 0),
        "diratime": (0, MountFlag.nodiratime), "nodiratime": (MountFlag.nodiratime, 0),
        "dirsync": (MountFlag.dirsync, 0),
        "exec": (0, MountFlag.noexec), "noexec": (MountFlag.noexec, 0),
        "iversion": (MountFlag.iversion, 0), "noiversion": (0, MountFlag.iversion),
        "lazytime": (MountFlag.lazytime, 0), "nolazytime": (0, MountFlag.lazytime),
        "loud": (0, MountFlag.silent), "silent": (MountFlag.silent, 0),
        "mand": (MountFlag.mandlock, 0), "nomand": (0, MountFlag.mandlock),
        "relatime": (MountFlag.relatime, 0), "norelatime": (0, MountFlag.relatime),
        "strictatime": (MountFlag.strictatime, 0), "nostrictatime": (0, MountFlag.strictatime),
        "ro": (MountFlag.rdonly, 0), "rw": (0, MountFlag.rdonly),
        "suid": (0, MountFlag.nosuid), "nosuid": (MountFlag.nosuid, 0),
        "symfollow": (0, MountFlag.nosymfollow), "nosymfollow": (MountFlag.nosymfollow, 0),
        "remount": (MountFlag.remount, 0),
    ]

    public static let propagationTable: [String: UInt64] = [
        "private": MountFlag.private, "rprivate": MountFlag.private | MountFlag.rec,
        "shared": MountFlag.shared, "rshared": MountFlag.shared | MountFlag.rec,
        "slave": MountFlag.slave, "rslave": MountFlag.slave | MountFlag.rec,
        "unbindable": MountFlag.unbindable, "runbindable": MountFlag.unbindable | MountFlag.rec,
    ]

    /// Recursive attributes (runtime-spec "rro", "rnosuid", ...): option -> (set, clear).
    public static let recursiveTable: [String: (set: UInt32, clear: UInt32)] = [
        "rro": (MountAttr.rdonly, 0), "rrw": (0, MountAttr.rdonly),
        "rnosuid": (MountAttr.nosuid, 0), "rsuid": (0, MountAttr.nosuid),
        "rnodev": (MountAttr.nodev, 0), "rdev": (0, MountAttr.nodev),
        "rnoexec": (MountAttr.noexec, 0), "rexec": (0, MountAttr.noexec),
        "rnodiratime": (MountAttr.nodiratime, 0), "rdiratime": (0, MountAttr.nodiratime),
        "rrelatime": (MountAttr.relatime, MountAttr.atimeMask), "rnorelatime": (0, 0),
        "rnoatime": (MountAttr.noatime, MountAttr.atimeMask), "ratime": (0, MountAttr.noatime),
        "rstrictatime": (MountAttr.strictatime, MountAttr.atimeMask), "rnostrictatime": (0, 0),
        "rnosymfollow": (MountAttr.nosymfollow, 0), "rsymfollow": (0, MountAttr.nosymfollow),
    ]

    /// Options that engines pass for their own bookkeeping; they change nothing in the kernel call.
    /// `tmpcopyup` (podman) asks to copy the image's directory into the new tmpfs: not done, see README.
    public static let ignored: Set<String> = ["tmpcopyup", "notmpcopyup", "copy-symlink", "nocopyup", "z", "Z", "U", "idmap-none"]

    /// Options ward refuses rather than silently ignoring, with the reason.
    static let unsupported: [String: String] = [
        "idmap": "idmapped mounts are not supported yet; chown the source instead",
        "ridmap": "idmapped mounts are not supported yet; chown the source instead",
    ]

    public enum Problem: Error, Equatable { case unsupported(option: String, reason: String) }

    public static func parse(_ options: [String]) -> Result<ParsedMountOptions, Problem> {
        var parsed = ParsedMountOptions()
        for option in options {
            if let (set, clear) = flagTable[option] {
                parsed.flags = (parsed.flags & ~clear) | set
            } else if let propagation = propagationTable[option] {
                parsed.propagation = propagation
            } else if let (set, clear) = recursiveTable[option] {
                parsed.attrClear |= clear
                parsed.attrSet = (parsed.attrSet & ~clear) | set
                parsed.attrClear &= ~set
            } else if ignored.contains(option) {
                continue
            } else if let reason = unsupported[option] {
                return .failure(.unsupported(option: option, reason: reason))
            } else {
                parsed.data.append(option)
            }
        }
        return .success(parsed)
    }
}
