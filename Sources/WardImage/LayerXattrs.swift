import CArchive
import WardSystem

#if canImport(Glibc)
import Glibc
#endif

/// Extended attributes a layer carries (pax `SCHILY.xattr.*` / `LIBARCHIVE.xattr.*` records).
///
/// - `user.*` is set with fsetxattr on the fd of the regular file or directory just created
///   (an unprivileged process may set those on what it owns). Not on symlinks, fifos or
///   devices: the kernel allows `user.*` only on regular files and directories.
/// - `user.overlay.*` is dropped: with overlayfs's `userxattr` option (rootless overlay mounts)
///   those names are overlay metadata, and a layer must not forge whiteouts or redirects.
/// - Every other namespace (`security.capability`, `trusted.*`, `security.selinux`, ...) is
///   dropped: unprivileged, the kernel refuses them, and file capabilities would be ours.
///
/// Counted, then reported once per layer (`report`).
struct LayerXattrs {
    var kept = 0
    var dropped: [String: Int] = [:]
    var notSettable = 0
    var failed = 0
    var failedErrno: Int32 = 0

    /// The entry's xattrs, by name (nil when it has none: the common case costs one call).
    static func list(_ entry: OpaquePointer) -> [(String, UnsafeRawPointer?, Int)]? {
        guard archive_entry_xattr_reset(entry) > 0 else { return nil }
        var out: [(String, UnsafeRawPointer?, Int)] = []
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK {
            if let name { out.append((String(cString: name), value, size)) }
        }
        return out
    }

    /// Whether `name` may be set; counts it as dropped when not.
    mutating func allowed(_ name: String) -> Bool {
        if name.hasPrefix("user.") && !name.hasPrefix("user.overlay.") { return true }
        let namespace = name.hasPrefix("user.overlay.") ? "user.overlay.*"
            : name == "security.capability" ? name
            : (name.split(separator: ".").first.map { $0 + ".*" } ?? name)
        dropped[namespace, default: 0] += 1
        return false
    }

    /// Sets the entry's `user.*` xattrs on `fd` (a regular file or a directory).
    mutating func apply(_ entry: OpaquePointer, fd: Int32) {
        guard let attrs = Self.list(entry) else { return }
        for (name, value, size) in attrs where allowed(name) {
            if fsetxattr(fd, name, value, size, 0) == 0 {
                kept += 1
            } else {
                failed += 1
                failedErrno = errno
            }
        }
    }

    /// Sets the xattrs of the directory `name` in `parent` (opened only when it has any).
    mutating func applyToDirectory(_ entry: OpaquePointer, parent: Int32, name: String) {
        guard archive_entry_xattr_count(entry) > 0 else { return }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { failed += 1; failedErrno = errno; return }
        apply(entry, fd: fd)
        close(fd)
    }

    /// An entry that cannot hold `user.*` (symlink, fifo, skipped device).
    mutating func skip(_ entry: OpaquePointer) {
        guard let attrs = Self.list(entry) else { return }
        for (name, _, _) in attrs where allowed(name) { notSettable += 1 }
    }

    func report(_ label: String, warn: (String) -> Void) {
        if !dropped.isEmpty {
            let list = dropped.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            warn("\(label): dropped \(dropped.values.reduce(0, +)) extended attribute(s) outside user.* (\(list)): a rootless unpack cannot set them, and file capabilities would be yours on the host")
        }
        if notSettable > 0 {
            warn("\(label): skipped \(notSettable) user.* attribute(s) on symlinks, fifos or device nodes: the kernel allows user.* only on regular files and directories")
        }
        if failed > 0 {
            warn("\(label): could not set \(failed) user.* attribute(s): fsetxattr: \(ErrnoName.of(failedErrno)) (does this filesystem support user xattrs?)")
        }
    }
}
